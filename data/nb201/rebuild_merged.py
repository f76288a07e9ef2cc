"""Rebuild ``nb201_200ep_merged.csv`` from the raw upstream CSVs and check it byte for byte.

The merged table is derived data: it takes the NASGraph files (cifar10-valid, cifar100,
ImageNet16-120: train / valid / test accuracy) and the CIFAR-10 test column of the
nats-bench-landscape file, rounds every value to 4 decimals (``repr(round(x, 4))``) and writes
one row per NB201 architecture index. The raw files are not shipped (see PROVENANCE.md for
where to get them at the pinned commits). Usage::

    python data/nb201/rebuild_merged.py RAW_DIR            # compare with the shipped file
    python data/nb201/rebuild_merged.py RAW_DIR --write OUT

RAW_DIR must hold ``nasgraph/nasbench201_{cifar10,cifar100,ImageNet16-120}.csv`` and
``nats-bench-landscape/nats_bench.csv``. Standard library only.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import io
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = [
    "arch_index", "arch_str",
    "c10v_train", "c10v_valid", "c10v_test", "c10_test",
    "c100_train", "c100_valid", "c100_test",
    "in16_train", "in16_valid", "in16_test",
]
NASGRAPH_HEADER = ["file id", "arch str", "cfg name", "C", "N",
                   "train accuracy", "validation accuracy", "test accuracy"]
VTAO_HEADER = ["CIFAR10TestAccuracy200Epochs", "CIFAR100TestAccuracy200Epochs",
               "ImageNetTestAccuracy200Epochs", "ArchitectureString", "UniqueString"]
NUM_ARCHS = 15625


def _rows(path: Path, header: list[str]) -> list[list[str]]:
    with open(path, newline="") as f:
        reader = csv.reader(f)
        got = next(reader)
        if got != header:
            raise SystemExit(f"{path}: header {got} != expected {header}")
        rows = list(reader)
    if len(rows) != NUM_ARCHS:
        raise SystemExit(f"{path}: {len(rows)} rows, expected {NUM_ARCHS}")
    return rows


def rebuild(raw_dir: Path) -> bytes:
    ng = {ds: _rows(raw_dir / "nasgraph" / f"nasbench201_{ds}.csv", NASGRAPH_HEADER)
          for ds in ("cifar10", "cifar100", "ImageNet16-120")}
    vt = _rows(raw_dir / "nats-bench-landscape" / "nats_bench.csv", VTAO_HEADER)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for i in range(NUM_ARCHS):
        arch = ng["cifar10"][i][1]
        for ds, rows in ng.items():
            if int(rows[i][0]) != i or rows[i][1] != arch:
                raise SystemExit(f"nasgraph {ds} row {i} is not arch {i} / {arch}")
        if vt[i][3] != arch:
            raise SystemExit(f"nats_bench.csv row {i} is {vt[i][3]}, expected {arch}")
        values = [*ng["cifar10"][i][5:8], vt[i][0], *ng["cifar100"][i][5:8],
                  *ng["ImageNet16-120"][i][5:8]]
        writer.writerow([i, arch, *(repr(round(float(v), 4)) for v in values)])
    return out.getvalue().encode()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("raw_dir", type=Path)
    p.add_argument("--write", type=Path, default=None, help="write the rebuilt table here")
    args = p.parse_args(argv)
    data = rebuild(args.raw_dir)
    print(f"rebuilt: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    if args.write:
        args.write.write_bytes(data)
        return 0
    shipped = (HERE / "nb201_200ep_merged.csv").read_bytes()
    same = shipped == data
    print("identical to the shipped nb201_200ep_merged.csv" if same else "DIFFERS from the shipped file")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
