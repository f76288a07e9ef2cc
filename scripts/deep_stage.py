"""Runs of the deep stage (docs/deep_stage.md): GibbsNAS candidates on the tuning seeds, and baselines.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/deep_stage.py --candidate A --seed 0 --out runs/deep/tune
    OMP_NUM_THREADS=1 .venv/bin/python scripts/deep_stage.py --candidate darts-v1 --seed 0 --out runs/deep/tune
    .venv/bin/python scripts/deep_stage.py --report data/seed_study/deep.json            # the held-out verdict
    .venv/bin/python scripts/deep_stage.py --report runs/deep/tune --seeds 0-2 --as A=gibbs2   # a candidate
    .venv/bin/python scripts/deep_stage.py --ship runs/deep-study/*/trials/*-s4   # the replayed runs

Each run goes to ``OUT/<candidate>-s<seed>/`` and resumes from its checkpoint when killed
(run the same command again). The candidates are the table of docs/deep_stage.md ("The rule for
GibbsNAS's settings"), written down before any of them ran; a name that is a strategy runs that
strategy at the ``cpu-deep`` profile's defaults. Values set to None here (no cap on H, T_ω the
same as T) cannot be given with ``--set``, which treats None as "keep the default".
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gibbsnas_lite.runs import CHECKPOINT  # noqa: E402
from gibbsnas_lite.search import STRATEGIES, make_config, run_search  # noqa: E402

#: name -> (strategy, config values on top of the cpu-deep profile), docs/deep_stage.md
CANDIDATES = {
    "A": ("gibbs2", dict(temperature=1.0, w_temperature=None, alpha_h_max=None)),
    "B": ("gibbs2", dict(temperature=1.0, w_temperature=0.01, alpha_h_max=None)),
    "C": ("gibbs2", dict(temperature=1.0, w_temperature=0.01, alpha_h_max=1.0)),
}


def build(candidate: str, seed: int, epochs: int | None = None):
    if candidate in CANDIDATES:
        strategy, values = CANDIDATES[candidate]
    elif candidate in STRATEGIES:
        strategy, values = candidate, {}
    else:
        known = ", ".join([*CANDIDATES, *STRATEGIES])
        raise SystemExit(f"unknown candidate {candidate!r}; known: {known}")
    config = make_config(strategy, "cpu-deep", seed=seed, device="cpu")
    for key, value in values.items():
        setattr(config, key, value)
    if epochs is not None:
        config.epochs = epochs
    return config.validate()


def fmt(value, digits=2):
    return "" if value is None else (f"{value:.{digits}f}" if isinstance(value, float) else str(value))


def report(source: str, seeds: list[int], renames: dict[str, str]) -> int:
    """Per-seed lines and the issue's verdict (gibbsnas_lite.course.deep_study) as markdown."""
    from gibbsnas_lite.course import deep_study, seed_study

    path = Path(source)
    if path.is_file():
        rows = seed_study.load(path)["runs"]
    else:
        rows = seed_study.collect(sorted(p for p in path.iterdir() if p.is_dir()))
        for row in rows:  # candidate folders are named <candidate>-s<seed>
            name = row["run"].rsplit("-s", 1)[0]
            row["strategy"] = renames.get(name, name)
    lines = deep_study.per_seed(rows, seeds)
    print(deep_study.per_seed_markdown(lines))
    print()
    print("| seed | DARTS-V1's cell | GibbsNAS-2nd's cell | its noise-only control | the mean twin's cell |")
    print("|---|---|---|---|---|")
    for line in lines:
        cells = [line.get(k) for k in ("darts_arch", "gibbs_arch", "control_arch", "mean_arch")]
        escaped = ["`" + c.replace("|", "\\|") + "`" if c else "–" for c in cells]  # a | inside a table cell
        print(f"| {line['seed']} | " + " | ".join(escaped) + " |")
    print()
    result = deep_study.verdict(rows, seeds)
    for text in deep_study.verdict_lines(result):
        print(f"* {text}")
    control = deep_study.random_cells()
    print(
        f"* NAS-Bench-201's 15,625 cells: {control['mean']:.2f} ± {control['std']:.2f}, "
        f"median {control['median']:.2f}, quartiles {control['q25']:.2f}-{control['q75']:.2f}; "
        f"{100 * control['no_path_share']:.1f} % without a parameterised path"
    )
    return 0


def ship(folders: list[str], dest: Path) -> int:
    """Copy finished runs' histories, gzipped reproducibly (mtime 0), to ``dest/<strategy>-s<seed>.jsonl.gz``:
    the example runs notebooks 04-05 replay (gibbsnas_lite.course.deep_study.example_history)."""
    from gibbsnas_lite.runs import HISTORY, SUMMARY

    dest.mkdir(parents=True, exist_ok=True)
    for folder in map(Path, folders):
        summary = json.loads((folder / SUMMARY).read_text())
        target = dest / f"{summary['strategy']}-s{summary['seed']}.jsonl.gz"
        target.write_bytes(gzip.compress((folder / HISTORY).read_bytes(), compresslevel=9, mtime=0))
        print(f"{folder} -> {target} ({target.stat().st_size:,} bytes)")
    return 0


def seed_list(text: str) -> list[int]:
    seeds = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds += list(range(int(low), int(high or low) + 1))
    return seeds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--candidate")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", default="runs/deep/tune")
    p.add_argument("--epochs", type=int, default=None, help="default: the profile's 20")
    p.add_argument("--report", default=None, help="a study file or a folder of run folders: print the verdict")
    p.add_argument("--seeds", default="3-9", help="with --report: the seeds to judge (default: the held-out 3-9)")
    p.add_argument("--as", dest="renames", action="append", default=[], help="with --report: CANDIDATE=STRATEGY")
    p.add_argument("--ship", nargs="+", default=None, help="finished run folders: ship their histories (gzipped)")
    p.add_argument("--ship-to", default=str(Path(__file__).resolve().parents[1] / "data/seed_study/deep_runs"))
    args = p.parse_args(argv)
    if args.ship:
        return ship(args.ship, Path(args.ship_to))
    if args.report:
        return report(args.report, seed_list(args.seeds), dict(item.split("=", 1) for item in args.renames))
    if args.candidate is None or args.seed is None:
        p.error("give --candidate and --seed (or --report)")
    folder = Path(args.out) / f"{args.candidate}-s{args.seed}"
    if (folder / CHECKPOINT).exists():
        result = run_search(resume=folder, echo=print)
    else:
        result = run_search(build(args.candidate, args.seed, args.epochs), out_dir=folder, echo=print)
    print(
        result.arch, result.benchmark.get("cifar10_test"), result.summary().get("drive", {}).get("noise_only_agreement")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
