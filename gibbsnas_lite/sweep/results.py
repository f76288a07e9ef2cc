"""A sweep's results: one row per trial, written as results.json and results.csv, and drawn.

A row holds what the paper's tables compare (strategy, dataset, seed, the derived cell and
its NAS-Bench-201 accuracies) and what a user pays (search seconds, peak memory), plus, per
epoch, the derived cell's benchmark accuracy and its share of parameter-free edges: the
curves of the paper's Fig. 3. Rows have the fields of :mod:`gibbsnas_lite.course.seed_study`, so
its summaries (:mod:`.stats`) and figures (:mod:`gibbsnas_lite.course.plots.sweep`) apply to a sweep
as they do to the shipped study.
"""

from __future__ import annotations

import csv
import io
import json
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..runs import SUMMARY, atomic_write_text, read_run
from ..search.config import SearchConfig
from ..spaces import registry as spaces
from . import stats
from .trials import Trial

BENCHMARK_KEYS = ("cifar10_valid", "cifar10_test", "cifar100_test", "ImageNet16-120_test")
CSV_COLUMNS = (
    "name",
    "status",
    "strategy",
    "dataset",
    "seed",
    "profile",
    "space",
    "arch",
    *BENCHMARK_KEYS,
    "parameterised_path",
    "parameter_free_share",
    "epochs_done",
    "search_seconds",
    "cpu_seconds",
    "peak_rss_mb",
    "peak_gpu_mb",
    "error",
)
RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"


def summary_is_complete(folder: Path) -> bool:
    """Whether ``folder`` holds a search that ran all its epochs (summary.json written at the end)."""
    path = Path(folder) / SUMMARY
    if not path.is_file():
        return False
    summary = json.loads(path.read_text())
    return not summary.get("stopped_early") and summary.get("epochs_done") == summary.get("config", {}).get("epochs")


def row_from_folder(folder: Path, trial: Trial) -> dict[str, Any]:
    """The row of a finished trial, read from its run folder (summary.json and history.jsonl) by
    :func:`gibbsnas_lite.runs.read_run`."""
    run = read_run(folder)
    summary, epochs = run.finished_summary(), run.epochs
    arch, space = summary["arch"], spaces.get(summary["space"])
    row = _base_row(trial)
    row.update(
        status="ok",
        space=summary["space"],
        dataset=summary["dataset"],
        arch=arch,
        benchmark=summary.get("benchmark") or {},
        epochs_done=summary["epochs_done"],
        # the sum of the epochs' own times: the same for a trial that ran in one go or in pieces
        search_seconds=round(sum(float(r.get("seconds", 0.0)) for r in epochs), 3),
        **space.cell_statistics(arch),  # parameterised_path, parameter_free_share (None where undefined)
        epochs=[
            {
                "epoch": r["epoch"],
                "arch": r["arch"],
                stats.METRIC: (r.get("benchmark") or {}).get(stats.METRIC),
                "parameter_free_share": space.cell_statistics(r["arch"])["parameter_free_share"],
            }
            for r in epochs
        ],
    )
    row.update({k: row["benchmark"].get(k) for k in BENCHMARK_KEYS})
    return row


def failed_row(trial: Trial, error: BaseException) -> dict[str, Any]:
    """The row of a trial that raised: its error in one line, and the traceback."""
    row = _base_row(trial)
    row.update(
        status="failed",
        error=f"{type(error).__name__}: {error}".strip().splitlines()[0][:500],
        traceback="".join(traceback.format_exception(error))[-4000:],
    )
    return row


def _base_row(trial: Trial) -> dict[str, Any]:
    return {
        "name": trial.name,
        "status": None,
        "strategy": trial.strategy,
        "dataset": trial.dataset_name,
        "seed": trial.seed,
        "profile": trial.profile,
        "space": trial.overrides.get("space", SearchConfig.space),
        "overrides": dict(trial.overrides),
        "arch": None,
        "benchmark": {},
        **{k: None for k in BENCHMARK_KEYS},
        "parameterised_path": None,
        "parameter_free_share": None,
        "epochs_done": 0,
        "search_seconds": None,
        "cpu_seconds": None,
        "peak_rss_mb": None,
        "peak_gpu_mb": None,
        "error": None,
        "epochs": [],
    }


def write_results(folder: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """results.json (every field) and results.csv (one line per trial, no per-epoch lists), atomically."""
    folder = Path(folder)
    atomic_write_text(folder / RESULTS_JSON, json.dumps({"trials": list(rows)}, indent=1, default=float) + "\n")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in CSV_COLUMNS})
    atomic_write_text(folder / RESULTS_CSV, out.getvalue())


def load_results(folder: str | Path) -> list[dict[str, Any]]:
    """The rows of a sweep folder's results.json."""
    path = Path(folder) / RESULTS_JSON
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: run the sweep first (gibbsnas-lite sweep --out {folder})")
    return json.loads(path.read_text())["trials"]


# ----------------------------------------------------------------------------- summaries
def ok_rows(rows: Sequence[Mapping[str, Any]], dataset: str | None = None) -> list[Mapping[str, Any]]:
    """Finished NB201 rows (those with a benchmark accuracy), of one dataset if given."""
    return [
        r
        for r in rows
        if r.get("status") == "ok" and r.get("benchmark") and (dataset is None or r["dataset"] == dataset)
    ]


def one_dataset(
    rows: Sequence[Mapping[str, Any]], dataset: str | None = None
) -> tuple[list[Mapping[str, Any]], str | None]:
    """The finished rows of the one dataset the sweep searched on (or of ``dataset``), and its name."""
    mine = ok_rows(rows, dataset)
    datasets = sorted({r["dataset"] for r in mine})
    if len(datasets) > 1:
        raise ValueError(f"the sweep searched on {datasets}: pass dataset=... to draw one of them")
    return mine, (datasets[0] if datasets else dataset)


def strategy_summary(rows: Sequence[Mapping[str, Any]], dataset: str | None = None) -> list[dict[str, Any]]:
    """:func:`.stats.strategy_summary` of a sweep's finished rows of one dataset (:func:`one_dataset`):
    per strategy n, mean ± std, min, max of the NB201 CIFAR-10 test accuracy."""
    return stats.strategy_summary(one_dataset(rows, dataset)[0])


summarize = strategy_summary  # the name before issue 21
