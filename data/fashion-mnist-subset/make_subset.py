"""Rebuild the embedded Fashion-MNIST subset from the full files (Debian's dataset-fashion-mnist).

    python data/fashion-mnist-subset/make_subset.py [/usr/share/datasets/fashion-mnist]

Selection (deterministic, no randomness): the first TRAIN_PER_CLASS training images of each
class and the first TEST_PER_CLASS test images of each class, in file order, kept in file
order. Written as gzip IDX files with the upstream names (gzip mtime 0, so the bytes are
reproducible), then SHA256SUMS. See PROVENANCE.md.
"""
from __future__ import annotations

import gzip
import hashlib
import struct
import sys
from pathlib import Path

import numpy as np

TRAIN_PER_CLASS = 820  # 8,200 images: two stratified halves of 4,100 >= the cpu profile's 4,096
TEST_PER_CLASS = 200   # 2,000 images
HERE = Path(__file__).resolve().parent


def read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    with open(path, "wb") as fh:
        with gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz:
            gz.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def first_per_class(labels: np.ndarray, k: int) -> np.ndarray:
    keep = np.concatenate([np.flatnonzero(labels == c)[:k] for c in range(10)])
    return np.sort(keep)


def main(src: Path) -> None:
    sums = []
    for split, per_class in (("train", TRAIN_PER_CLASS), ("t10k", TEST_PER_CLASS)):
        images = read_idx(src / f"{split}-images-idx3-ubyte.gz")
        labels = read_idx(src / f"{split}-labels-idx1-ubyte.gz")
        keep = first_per_class(labels, per_class)
        for kind, array in (("images-idx3", images[keep]), ("labels-idx1", labels[keep])):
            out = HERE / f"{split}-{kind}-ubyte.gz"
            write_idx(out, array)
            sums.append(f"{hashlib.sha256(out.read_bytes()).hexdigest()}  {out.name}")
        print(f"{split}: kept {len(keep)} of {len(labels)} (indices {keep[0]}..{keep[-1]})")
    (HERE / "SHA256SUMS").write_text("\n".join(sums) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"))
