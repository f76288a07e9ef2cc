"""The seed study: many searches per strategy, summarised as distributions (mean ± std, min, strip plots).

One search is one draw: on the CPU stage the same strategy ends on cells 10 to 30 points
apart from one seed to the next (docs/search.md). This module turns a folder of finished runs
(a sweep's ``trials/`` folder, ``gibbsnas-lite sweep``; or the older ``scripts/run_cpu_study.sh``) into a small JSON file that ships with the kit
(``data/seed_study/``), and draws it, so that a notebook can show the distribution beside the
learner's own live run without rerunning the study.

A row per run: strategy, seed, the derived arch, its NAS-Bench-201 accuracies, per epoch the
derived cell's CIFAR-10 test accuracy and its share of parameter-free ops (the paper's Fig. 3),
CPU seconds and peak memory (from a sweep trial's ``trial.json``, or the run's ``time.txt``).
"""
from __future__ import annotations

import json
import math
import os
import site
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ..search.history import atomic_write_text

PARAMETER_FREE = ("none", "skip_connect", "avg_pool_3x3")
CONVOLUTIONS = ("nor_conv_1x1", "nor_conv_3x3")
METRIC = "cifar10_test"
ORDER = ("gibbs2", "gibbs2-mean", "gibbs1", "gibbs1-mean", "darts-v1", "darts-v2", "gdas", "rsps")
_FOLDER = "seed_study"


# ----------------------------------------------------------------------------- cells
def cell_edges(arch: str) -> list[tuple[str, int, int]]:
    """``|op~0|+|op~0|op~1|+...`` -> [(op, source node, target node)] for the 6 edges of an NB201 cell."""
    edges = []
    for target, node in enumerate(arch.strip("|").split("|+|"), start=1):
        for item in node.strip("|").split("|"):
            op, _, source = item.partition("~")
            if not source.isdigit():
                raise ValueError(f"not an NB201 arch string: {arch!r} (an edge reads {item!r}; "
                                 "expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2|)")
            edges.append((op, int(source), target))
    return edges


def parameter_free_share(arch: str) -> float:
    """Share of the cell's edges that carry no weights (none, skip_connect, avg_pool_3x3)."""
    edges = cell_edges(arch)
    return sum(op in PARAMETER_FREE for op, _, _ in edges) / len(edges)


def has_parameterised_path(arch: str) -> bool:
    """Whether some path from the cell's input (node 0) to its output passes through a convolution.

    A path may use ``skip_connect`` and ``avg_pool_3x3`` edges but no ``none`` edge. A cell
    without one computes its output from pooling and identities only (or nothing at all, the
    10 % = chance cells of NAS-Bench-201): the collapse the paper's Fig. 3 is about.
    """
    edges = cell_edges(arch)
    output = max(t for _, _, t in edges)
    # reach[node] = (reachable without a conv, reachable through at least one conv)
    reach = {0: (True, False)}
    for node in range(1, output + 1):
        plain = conv = False
        for op, source, target in edges:
            if target != node or op == "none" or source not in reach:
                continue
            src_plain, src_conv = reach[source]
            if op in CONVOLUTIONS:
                conv = conv or src_plain or src_conv
            else:
                plain, conv = plain or src_plain, conv or src_conv
        reach[node] = (plain, conv)
    return reach[output][1]


# ----------------------------------------------------------------------------- rows from runs
def run_row(folder: str | os.PathLike) -> dict[str, Any]:
    """One finished run folder (summary.json, history.jsonl; trial.json or time.txt) -> one study row."""
    folder = Path(folder)
    summary = json.loads((folder / "summary.json").read_text())
    records = [json.loads(line) for line in (folder / "history.jsonl").read_text().splitlines() if line.strip()]
    epochs = [r for r in records if r.get("kind") == "epoch"]
    row: dict[str, Any] = {
        "run": folder.name, "strategy": summary["strategy"], "seed": summary["seed"], "arch": summary["arch"],
        "benchmark": summary["benchmark"], "parameter_free_share": parameter_free_share(summary["arch"]),
        "parameterised_path": has_parameterised_path(summary["arch"]),
        "final_train_loss": summary.get("final", {}).get("train_loss"),
        "epochs": [{"epoch": r["epoch"], METRIC: r["benchmark"].get(METRIC),
                    "parameter_free_share": parameter_free_share(r["arch"]), "arch": r["arch"]} for r in epochs],
        "cpu_seconds": None, "wall_seconds": summary.get("seconds"), "peak_rss_mb": None,
    }
    trial = folder / "trial.json"  # a sweep's trial (gibbsnas_lite.sweep): its process's measurements
    timing = folder / "time.txt"  # /usr/bin/time -f "%e %M %U %S" (scripts/run_cpu_study.sh)
    if trial.exists():
        measured = json.loads(trial.read_text())
        row["wall_seconds"] = measured.get("search_seconds")
        row["peak_rss_mb"] = measured.get("peak_rss_mb")
        row["cpu_seconds"] = measured.get("cpu_seconds")
    elif timing.exists():
        fields = timing.read_text().split()
        if len(fields) >= 4:
            row["wall_seconds"] = float(fields[0])
            row["peak_rss_mb"] = int(fields[1]) / 1024
            row["cpu_seconds"] = float(fields[2]) + float(fields[3])
    return row


def collect(folders: Iterable[str | os.PathLike]) -> list[dict[str, Any]]:
    """Rows of every finished run among ``folders`` (unfinished ones, without summary.json, are skipped)."""
    return [run_row(f) for f in sorted(map(Path, folders)) if (Path(f) / "summary.json").exists()]


def save(rows: Sequence[Mapping[str, Any]], path: str | os.PathLike, **about: Any) -> Path:
    """Write ``{"about": {...}, "runs": rows}`` atomically (``about``: command, git commit, stage)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"about": about, "runs": list(rows)}, indent=1, default=float) + "\n")
    return path


# ----------------------------------------------------------------------------- the shipped study
def find_study(name: str = "cpu") -> Path:
    """The shipped study ``data/seed_study/<name>.json`` (repository checkout, then installed data files)."""
    candidates = [Path(__file__).resolve().parents[2] / "data" / _FOLDER,
                  Path(sys.prefix) / "share" / "gibbsnas-lite" / _FOLDER]
    user_base = getattr(site, "USER_BASE", None)
    if user_base:
        candidates.append(Path(user_base) / "share" / "gibbsnas-lite" / _FOLDER)
    for folder in candidates:
        if (folder / f"{name}.json").is_file():
            return folder / f"{name}.json"
    looked = ", ".join(str(c / f"{name}.json") for c in candidates)
    raise FileNotFoundError(f"seed study {name!r} not found (looked at {looked}); work from a checkout "
                            "installed with `pip install -e .`, or pass a path to load()")


def load(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """``{"about": ..., "runs": [rows]}`` of a study file (default: the shipped ``cpu`` study)."""
    path = Path(path) if path is not None else find_study()
    return json.loads(path.read_text())


# ----------------------------------------------------------------------------- summaries
def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return mean, std


def strategies_in(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    names = {r["strategy"] for r in rows}
    return [s for s in ORDER if s in names] + sorted(names - set(ORDER))


def summarize(rows: Sequence[Mapping[str, Any]], metric: str = METRIC) -> list[dict[str, Any]]:
    """Per strategy: n, mean, std (sample, n-1), min, max of ``metric``; cells without a
    parameterised path; mean parameter-free share; mean CPU seconds; largest peak RSS."""
    out = []
    for strategy in strategies_in(rows):
        mine = [r for r in rows if r["strategy"] == strategy]
        values = [float(r["benchmark"][metric]) for r in mine]
        mean, std = _mean_std(values)
        cpu = [r["cpu_seconds"] for r in mine if r.get("cpu_seconds") is not None]
        rss = [r["peak_rss_mb"] for r in mine if r.get("peak_rss_mb") is not None]
        out.append({
            "strategy": strategy, "n": len(mine), "mean": mean, "std": std, "min": min(values), "max": max(values),
            "no_path": sum(not r["parameterised_path"] for r in mine),
            "parameter_free_share": sum(r["parameter_free_share"] for r in mine) / len(mine),
            "cpu_seconds": sum(cpu) / len(cpu) if cpu else None, "peak_rss_mb": max(rss) if rss else None,
            "seeds": sorted(r["seed"] for r in mine),
        })
    return out


def gap(rows: Sequence[Mapping[str, Any]], a: str, b: str, metric: str = METRIC) -> dict[str, float]:
    """Mean of ``a`` minus mean of ``b``, and the std of the per-seed differences over the seeds both have."""
    by = {(r["strategy"], r["seed"]): float(r["benchmark"][metric]) for r in rows}
    seeds = sorted({s for (name, s) in by if name == a} & {s for (name, s) in by if name == b})
    diffs = [by[(a, s)] - by[(b, s)] for s in seeds]
    mean, std = _mean_std(diffs) if diffs else (float("nan"), float("nan"))
    return {"mean": mean, "std": std, "n": len(diffs)}


def markdown_table(summary: Sequence[Mapping[str, Any]]) -> str:
    lines = ["| strategy | seeds | NB201 CIFAR-10 test, mean ± std | min | max | cells without a parameterised path "
             "| parameter-free share | CPU s per search | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        cpu = f"{s['cpu_seconds']:.0f}" if s["cpu_seconds"] is not None else "-"
        rss = f"{s['peak_rss_mb']:.0f}" if s["peak_rss_mb"] is not None else "-"
        lines.append(f"| {s['strategy']} | {s['n']} | {s['mean']:.2f} ± {s['std']:.2f} | {s['min']:.2f} | "
                     f"{s['max']:.2f} | {s['no_path']} | {s['parameter_free_share']:.2f} | {cpu} | {rss} |")
    return "\n".join(lines)


def epoch_curves(rows: Sequence[Mapping[str, Any]], value: str = METRIC) -> dict[str, dict[str, list[float]]]:
    """Per strategy, per epoch: mean and std over seeds of ``value`` (``cifar10_test`` or ``parameter_free_share``)."""
    curves = {}
    for strategy in strategies_in(rows):
        runs = [r["epochs"] for r in rows if r["strategy"] == strategy and r["epochs"]]
        length = min(len(e) for e in runs) if runs else 0
        means, stds = [], []
        for i in range(length):
            mean, std = _mean_std([float(e[i][value]) for e in runs])
            means.append(mean)
            stds.append(std)
        curves[strategy] = {"epoch": list(range(1, length + 1)), "mean": means, "std": stds}
    return curves


# ----------------------------------------------------------------------------- figures
_COLORS = {"gibbs2": "#1f77b4", "gibbs2-mean": "#aec7e8", "gibbs1": "#17becf", "gibbs1-mean": "#9edae5",
           "darts-v1": "#d62728", "darts-v2": "#ff9896", "gdas": "#2ca02c", "rsps": "#9467bd"}


def strip_figure(rows: Sequence[Mapping[str, Any]], live: Mapping[str, float] | None = None,
                 metric: str = METRIC, title: str | None = None):
    """Every seed as a dot per strategy, with a box; ``live`` ({strategy: accuracy}) adds the learner's runs as stars."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for strategy in strategies_in(rows):
        mine = [r for r in rows if r["strategy"] == strategy]
        fig.add_trace(go.Box(
            y=[r["benchmark"][metric] for r in mine], name=strategy, boxpoints="all", jitter=0.4, pointpos=0,
            marker=dict(color=_COLORS.get(strategy, "#7f7f7f"), size=8), line=dict(width=1),
            text=[f"seed {r['seed']}: {r['arch']}" for r in mine], hovertemplate="%{text}<br>%{y:.2f} %<extra></extra>",
            showlegend=False))
    if live:
        names = [s for s in live if live[s] is not None]
        fig.add_trace(go.Scatter(
            x=names, y=[live[s] for s in names], mode="markers", name="your run (one draw)",
            marker=dict(symbol="star", size=16, color="black", line=dict(color="white", width=1))))
    fig.update_layout(title=title or "NAS-Bench-201 CIFAR-10 test accuracy of the derived cell, one dot per seed",
                      yaxis_title=f"{metric} (%)", height=420, legend=dict(orientation="h", y=-0.15))
    return fig


def epochs_figure(rows: Sequence[Mapping[str, Any]], title: str | None = None):
    """Per epoch, mean ± std over seeds: the derived cell's accuracy (left) and its parameter-free share (right)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("derived cell: NB201 CIFAR-10 test (%)",
                                                        "derived cell: share of parameter-free edges"))
    for col, value in ((1, METRIC), (2, "parameter_free_share")):
        for strategy, curve in epoch_curves(rows, value).items():
            color = _COLORS.get(strategy, "#7f7f7f")
            upper = [m + s for m, s in zip(curve["mean"], curve["std"])]
            lower = [m - s for m, s in zip(curve["mean"], curve["std"])]
            fig.add_trace(go.Scatter(x=curve["epoch"] + curve["epoch"][::-1], y=upper + lower[::-1], fill="toself",
                                     fillcolor=color, opacity=0.15, line=dict(width=0), showlegend=False,
                                     hoverinfo="skip"), row=1, col=col)
            fig.add_trace(go.Scatter(x=curve["epoch"], y=curve["mean"], mode="lines+markers", name=strategy,
                                     line=dict(color=color), showlegend=col == 1), row=1, col=col)
    fig.update_xaxes(title_text="search epoch")
    fig.update_layout(title=title or "Over the search (mean ± std over seeds): the paper's Fig. 3 on the CPU stage",
                      height=420)
    return fig
