"""Collect finished search runs into a shipped seed-study file and print its tables.

    # the study (docs/search.md, "The seed study"): 7 strategies x 5 seeds of the cpu profile, on Ray
    gibbsnas-lite sweep --strategies gibbs2,gibbs2-mean,gibbs1,darts-v1,darts-v2,gdas,rsps --seeds 0-4 \\
        --profile cpu --workers 2 --out runs/seed-study-sweep
    .venv/bin/python scripts/seed_study.py runs/seed-study-sweep/trials --save data/seed_study/cpu.json \\
        --command 'gibbsnas-lite sweep ...'

Prints the per-strategy summary (mean ± std, min, max, cells without a parameterised path, CPU
seconds, peak RSS), the per-seed cells, the sample-vs-mean and GibbsNAS-vs-DARTS gaps, and the
per-epoch means (the paper's Fig. 3).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gibbsnas_lite.course import seed_study as S  # noqa: E402


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "folders", nargs="+", help="study folders (each holding one run folder per search) or run folders"
    )
    parser.add_argument("--save", default=None, help="write the rows here (JSON), e.g. data/seed_study/cpu.json")
    parser.add_argument("--command", default="", help="the command that made the runs, stored in the file")
    parser.add_argument("--stage", default="", help="a line describing the stage, stored in the file")
    parser.add_argument("--code", default=None, help="the code version every row comes from, stored in the file")
    parser.add_argument("--status", default=None, help="e.g. 'PARTIAL: ...' while a study is not finished")
    parser.add_argument(
        "--by-run-name",
        action="store_true",
        help="group by run folder name without its -s<seed> suffix (candidate studies) instead of strategy",
    )
    args = parser.parse_args()
    runs = []
    for folder in map(Path, args.folders):
        runs += [folder] if (folder / "summary.json").exists() else sorted(p for p in folder.iterdir() if p.is_dir())
    rows = S.collect(runs)
    if args.by_run_name:
        for r in rows:
            r["strategy"] = r["run"].rsplit("-s", 1)[0]
    if not rows:
        print("no finished runs (summary.json) under", ", ".join(args.folders))
        return 1
    print(S.markdown_table(S.strategy_summary(rows)))
    print()
    print("| strategy | seed | derived arch | NB201 CIFAR-10 test | parameterised path | CPU s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (S.strategies_in(rows).index(r["strategy"]), r["seed"])):
        arch = r["arch"].replace("|", "\\|")
        cpu = f"{r['cpu_seconds']:.0f}" if r["cpu_seconds"] is not None else "-"
        rss = f"{r['peak_rss_mb']:.0f}" if r["peak_rss_mb"] is not None else "-"
        print(
            f"| {r['strategy']} | {r['seed']} | `{arch}` | {r['benchmark'][S.METRIC]:.2f} | "
            f"{'yes' if r['parameterised_path'] else '**no**'} | {cpu} | {rss} |"
        )
    print()
    names = {r["strategy"] for r in rows}
    for a, b in (("gibbs2", "gibbs2-mean"), ("gibbs2", "darts-v1"), ("gibbs1", "darts-v1"), ("gibbs2", "gibbs1")):
        if a in names and b in names:
            g = S.gap(rows, a, b)
            print(f"{a} - {b}: {g['mean']:+.2f} ± {g['std']:.2f} (per-seed differences, n = {g['n']})")
    print()
    for value in (S.METRIC, "parameter_free_share"):
        print(f"per epoch, mean over seeds: {value}")
        for strategy, curve in S.epoch_curves(rows, value).items():
            print(f"  {strategy:12s} " + " ".join(f"{m:.2f}" for m in curve["mean"]))
    if args.save:
        about = dict(command=args.command, stage=args.stage, git=git_commit())
        about.update({k: v for k, v in (("code", args.code), ("status", args.status)) if v})
        path = S.save(rows, args.save, **about)
        print("\nwrote", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
