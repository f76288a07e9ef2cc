"""Sweeps: many searches (strategies x datasets x seeds) on Ray, on one machine or a cluster, resumable.

    from gibbsnas_lite.sweep import grid, run_sweep
    from gibbsnas_lite.course.plots.sweep import strip_figure
    trials = grid("gibbs2,darts-v1", seeds="0-4", profile="cpu")
    sweep = run_sweep(trials, "runs/sweep", workers=2)
    strip_figure(sweep.rows)

Modules: ``trials`` (what runs: grids and sweep files), ``runner`` (one trial on a worker, the
Ray driver), ``results`` (rows, results.json/csv; :func:`strategy_summary`), ``stats`` (per-strategy
summaries of rows); the figures are in :mod:`gibbsnas_lite.course.plots.sweep`. Ray is an optional dependency
(``pip install -e '.[sweep]'``): everything but :func:`run_sweep` works without it. The
command line: ``gibbsnas-lite sweep``; the guide: docs/sweeps.md.
"""

from .results import load_results, strategy_summary, summarize, write_results
from .runner import SweepResult, load_trials, run_sweep, run_trial, trial_folder
from .trials import Trial, grid, load_sweep_file, parse_seeds

__all__ = [
    "SweepResult",
    "Trial",
    "grid",
    "load_results",
    "load_sweep_file",
    "load_trials",
    "parse_seeds",
    "run_sweep",
    "run_trial",
    "strategy_summary",
    "summarize",
    "trial_folder",
    "write_results",
]
