"""The seed study: many searches per strategy, summarised as distributions (mean ± std, min, strip plots).

One search is one draw: on the CPU stage the same strategy ends on cells 10 to 30 points
apart from one seed to the next (docs/search.md). This module turns a folder of finished runs
(a sweep's ``trials/`` folder, ``gibbsnas-lite sweep``; or the older ``scripts/run_cpu_study.sh``)
into a small JSON file that ships with the kit (``data/seed_study/``), drawn by
:mod:`gibbsnas_lite.course.plots.seed_study`, so that a notebook can show the distribution beside
the learner's own live run without rerunning the study.

A row per run: strategy, seed, the derived arch, its NAS-Bench-201 accuracies, per epoch the
derived cell's CIFAR-10 test accuracy and its share of parameter-free ops (the paper's Fig. 3),
CPU seconds and peak memory (from a sweep trial's ``trial.json``, or the run's ``time.txt``),
and for GibbsNAS what moved α (``drive``: the drift share and the noise-only control's cell,
its accuracies and its agreement with the searched cell; :mod:`gibbsnas_lite.search.drive`),
per epoch too; ``data_sha256`` names the pictures the run searched on.
"""

from __future__ import annotations

import json
import os
import site
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..runs import SUMMARY, atomic_write_text, read_run
from ..search.config import SearchConfig
from ..search.registry import strategy_names

# the cell properties and row statistics live in the core (a sweep's rows use them too); re-exported here
from ..spaces.nb201.cell_stats import (  # noqa: F401
    CONVOLUTIONS,
    PARAMETER_FREE,
    cell_edges,
    has_parameterised_path,
    parameter_free_share,
)
from ..spaces.registry import get as get_space
from ..sweep.stats import (  # noqa: F401
    METRIC,
    epoch_curves,
    gap,
    mean_and_band,
    mean_std,
    strategies_in,
    strategy_summary,
    summarize,
)

_FOLDER = "seed_study"


def __getattr__(name: str) -> Any:
    """``ORDER`` (as ``sweep.stats.ORDER``): the registry's strategy names, read on each access."""
    if name == "ORDER":
        return strategy_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ----------------------------------------------------------------------------- rows from runs
def run_row(folder: str | os.PathLike) -> dict[str, Any]:
    """One finished run folder (summary.json, history.jsonl; trial.json or time.txt) -> one study row
    (read by :func:`gibbsnas_lite.runs.read_run`)."""
    run = read_run(folder)
    summary = run.finished_summary()
    measured = run.measured or {"wall_seconds": summary.get("seconds"), "peak_rss_mb": None, "cpu_seconds": None}
    return {
        "run": run.folder.name,
        "strategy": summary["strategy"],
        "seed": summary["seed"],
        "arch": summary["arch"],
        "benchmark": summary["benchmark"],
        "parameter_free_share": parameter_free_share(summary["arch"]),
        "parameterised_path": has_parameterised_path(summary["arch"]),
        "final_train_loss": summary.get("final", {}).get("train_loss"),
        "epochs": [
            {
                "epoch": r["epoch"],
                METRIC: r["benchmark"].get(METRIC),
                "parameter_free_share": parameter_free_share(r["arch"]),
                "arch": r["arch"],
                **_epoch_drive(r.get("drive") or {}),
            }
            for r in run.epochs
        ],
        "drive": drive_row(summary.get("drive") or {}, summary.get("space", SearchConfig.space)),
        "data_sha256": (summary.get("data") or {}).get("sha256"),
        "cpu_seconds": measured["cpu_seconds"],
        "wall_seconds": measured["wall_seconds"],
        "peak_rss_mb": measured["peak_rss_mb"],
    }


def drive_row(report: Mapping[str, Any], space: str = SearchConfig.space) -> dict[str, Any]:
    """The run's drive report with the noise-only control's benchmark accuracies in ``space``
    (NAS-Bench-201's for nb201; {} if no report)."""
    if not report:
        return {}
    row = {k: report.get(k) for k in ("drift_share", "drift_norm", "noise_norm", "noise_only_agreement")}
    arch = report.get("noise_only_arch")
    if arch:
        row["noise_only_arch"] = arch
        row["noise_only_benchmark"] = get_space(space).benchmark_accuracies(arch)
    return row


def _epoch_drive(report: Mapping[str, Any]) -> dict[str, Any]:
    if not report:
        return {}
    return {"drift_share": report.get("drift_share"), "noise_only_agreement": report.get("noise_only_agreement")}


def collect(folders: Iterable[str | os.PathLike]) -> list[dict[str, Any]]:
    """Rows of every finished run among ``folders`` (unfinished ones, without summary.json, are skipped)."""
    return [run_row(f) for f in sorted(map(Path, folders)) if (Path(f) / SUMMARY).exists()]


def save(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike, **about: Any) -> Path:
    """Write ``{"about": {...}, "runs": rows}`` atomically (``about``: command, git commit, stage)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"about": about, "runs": list(rows)}, indent=1, default=float) + "\n")
    return path


# ----------------------------------------------------------------------------- the shipped study
def find_study(name: str = "cpu") -> Path:
    """The shipped study ``data/seed_study/<name>.json`` (repository checkout, then installed data files)."""
    candidates = [
        Path(__file__).resolve().parents[2] / "data" / _FOLDER,
        Path(sys.prefix) / "share" / "gibbsnas-lite" / _FOLDER,
    ]
    user_base = getattr(site, "USER_BASE", None)
    if user_base:
        candidates.append(Path(user_base) / "share" / "gibbsnas-lite" / _FOLDER)
    for folder in candidates:
        if (folder / f"{name}.json").is_file():
            return folder / f"{name}.json"
    looked = ", ".join(str(c / f"{name}.json") for c in candidates)
    raise FileNotFoundError(
        f"seed study {name!r} not found (looked at {looked}); work from a checkout "
        "installed with `pip install -e .`, or pass a path to load()"
    )


def load(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """``{"about": ..., "runs": [rows]}`` of a study file (default: the shipped ``cpu`` study)."""
    path = Path(path) if path is not None else find_study()
    return json.loads(path.read_text())


# ----------------------------------------------------------------------------- summaries
def markdown_table(summary: Sequence[Mapping[str, Any]]) -> str:
    lines = [
        "| strategy | seeds | NB201 CIFAR-10 test, mean ± std | min | max | cells without a parameterised path "
        "| parameter-free share | CPU s per search | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        cpu = f"{s['cpu_seconds']:.0f}" if s["cpu_seconds"] is not None else "-"
        rss = f"{s['peak_rss_mb']:.0f}" if s["peak_rss_mb"] is not None else "-"
        lines.append(
            f"| {s['strategy']} | {s['n']} | {s['mean']:.2f} ± {s['std']:.2f} | {s['min']:.2f} | "
            f"{s['max']:.2f} | {s['no_path']} | {s['parameter_free_share']:.2f} | {cpu} | {rss} |"
        )
    return "\n".join(lines)
