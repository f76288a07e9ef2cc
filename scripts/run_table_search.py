"""Table-3-like block of the table-based searches (RS, REA, REINFORCE, BOHB-style) on NAS-Bench-201.

    .venv/bin/python scripts/run_table_search.py [--budget 100] [--seeds 10]
        [--algorithms RS REA REINFORCE BOHB] [--datasets cifar10 cifar100 ImageNet16-120]
        [--fidelity 200] [--rea-sample-size 10] [--reinforce-lr 0.01]
        [--figure curves.html] [--json block.json]

Each algorithm searches each dataset on its validation split (CIFAR-10: cifar10-valid valid)
with ``--budget`` full (200-epoch) evaluations, for seeds 0..K-1; printed: mean ± std over
seeds of the found cell's 200-epoch valid and test accuracy, next to the paper's Table 3 rows
(GibbsNAS, Xue et al., AAAI 2021, from NAS-Bench-201), then the queries each algorithm made.
``--fidelity 12`` lets RS / REA / REINFORCE search on the 12-epoch table (NAS-Bench-201's own
search signal) at 0.06 per query. ``--figure`` writes the anytime curves (valid, first
dataset) as HTML.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from gibbsnas_lite.course.plots.table_search import anytime_figure
from gibbsnas_lite.nasbench import NB201Table
from gibbsnas_lite.table_search import (
    ALGORITHMS,
    TABLE3_DATASETS,
    format_table3,
    result_stats,
    run_many,
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=float, default=100.0, help="full 200-epoch evaluations per run (default 100)")
    ap.add_argument("--seeds", type=int, default=10, help="runs per algorithm and dataset, seeds 0..K-1 (default 10)")
    ap.add_argument("--algorithms", nargs="+", default=list(ALGORITHMS))
    ap.add_argument("--datasets", nargs="+", default=list(TABLE3_DATASETS))
    ap.add_argument(
        "--fidelity", type=int, default=200, choices=(200, 12), help="table RS / REA / REINFORCE query (default 200)"
    )
    ap.add_argument("--rea-sample-size", type=int, default=10)
    ap.add_argument("--reinforce-lr", type=float, default=0.01)
    ap.add_argument("--figure", help="write the anytime curves of the first dataset to this HTML file")
    ap.add_argument("--json", help="write the block (means, stds) to this JSON file")
    args = ap.parse_args(argv)

    table = NB201Table.load()
    params = {
        "RS": {"fidelity": args.fidelity},
        "REA": {"fidelity": args.fidelity, "sample_size": args.rea_sample_size},
        "REINFORCE": {"fidelity": args.fidelity, "learning_rate": args.reinforce_lr},
    }
    t0 = time.perf_counter()
    block: dict = {}
    queries: dict = {}
    first_runs = None
    for d in args.datasets:
        runs = run_many(args.algorithms, d, args.budget, args.seeds, table=table, params=params)
        if first_runs is None:
            first_runs = runs
        for name, res in runs.items():
            block.setdefault(name, {})[d] = result_stats(res)
            n12 = np.mean([(r.fidelities == 12).sum() for r in res])
            n200 = np.mean([(r.fidelities == 200).sum() for r in res])
            queries.setdefault(name, {})[d] = (n200, n12, np.mean([r.n_unique for r in res]))
    elapsed = time.perf_counter() - t0

    print(
        f"# NAS-Bench-201 table searches: budget {args.budget:g} full evaluations, {args.seeds} seeds "
        f"(0..{args.seeds - 1}), RS/REA/REINFORCE at {args.fidelity} epochs; mean±std (ddof=0) of "
        f"the found cell's 200-epoch accuracy"
    )
    print(format_table3(block))
    print()
    print("# queries per run (mean): 200-epoch / 12-epoch / distinct cells")
    for name, per in queries.items():
        cells = "  ".join(f"{d}: {a:.0f} / {b:.0f} / {c:.0f}" for d, (a, b, c) in per.items())
        print(f"{name:10s} {cells}")
    print(f"# {sum(len(v) for v in queries.values()) * args.seeds} runs in {elapsed:.1f} s")

    if args.json:
        out = {
            name: {d: {k: [s.mean, s.std] for k, s in st.items()} for d, st in per.items()}
            for name, per in block.items()
        }
        out["_config"] = vars(args)
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    if args.figure and first_runs is not None:
        best = table.best(*first_runs[next(iter(first_runs))][0].valid_split).accuracy
        anytime_figure(first_runs, metric="valid", optimum=best).write_html(args.figure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
