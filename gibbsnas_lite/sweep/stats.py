"""Statistics over study rows (one row per finished search, as ``sweep.results`` and
``course.seed_study`` write them): per-strategy summaries, paired gaps, per-epoch curves.

The row fields read here: ``strategy``, ``seed``, ``benchmark`` ({metric: accuracy}),
``parameterised_path``, ``parameter_free_share``, ``cpu_seconds``, ``peak_rss_mb`` and
``epochs`` ([{epoch, metric..., parameter_free_share}]).

Every mean and std here is :func:`gibbsnas_lite.stats.describe`'s (sample std, n - 1); a strategy
with one seed is drawn and tabled with a std of 0.0 (:func:`mean_and_band`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..search.registry import strategy_names
from ..stats import describe

METRIC = "cifar10_test"


def __getattr__(name: str) -> Any:
    """``ORDER``: the registry's strategy names in its order (gibbs2, gibbs2-mean, gibbs1, ...), read
    on each access."""
    if name == "ORDER":
        return strategy_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def mean_and_band(values: Sequence[float]) -> tuple[float, float]:
    """(mean, std) of :func:`~gibbsnas_lite.stats.describe` for a table cell or a plotted band: the std
    of a single value (undefined there) is drawn as 0.0, a band of zero width."""
    d = describe(values)
    return d["mean"], (d["std"] if d["std"] is not None else 0.0)


mean_std = mean_and_band  # the name before issue 21 (deep_study and seed_study import it)


def strategies_in(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    names = {r["strategy"] for r in rows}
    order = strategy_names()
    return [s for s in order if s in names] + sorted(names - set(order))


def strategy_summary(rows: Sequence[Mapping[str, Any]], metric: str = METRIC) -> list[dict[str, Any]]:
    """One summary row per strategy (in the registry's order): n, mean, std (:func:`mean_and_band`),
    min, max of ``metric``; cells without a parameterised path; mean parameter-free share; mean CPU
    seconds; largest peak RSS. (``summarize`` is its name before issue 21.)"""
    out = []
    for strategy in strategies_in(rows):
        mine = [r for r in rows if r["strategy"] == strategy]
        values = [float(r["benchmark"][metric]) for r in mine]
        mean, std = mean_and_band(values)
        cpu = [r["cpu_seconds"] for r in mine if r.get("cpu_seconds") is not None]
        rss = [r["peak_rss_mb"] for r in mine if r.get("peak_rss_mb") is not None]
        out.append(
            {
                "strategy": strategy,
                "n": len(mine),
                "mean": mean,
                "std": std,
                "min": min(values),
                "max": max(values),
                "no_path": sum(not r["parameterised_path"] for r in mine),
                "parameter_free_share": sum(r["parameter_free_share"] for r in mine) / len(mine),
                "cpu_seconds": sum(cpu) / len(cpu) if cpu else None,
                "peak_rss_mb": max(rss) if rss else None,
                "seeds": sorted(r["seed"] for r in mine),
            }
        )
    return out


summarize = strategy_summary  # the name before issue 21


def gap(rows: Sequence[Mapping[str, Any]], a: str, b: str, metric: str = METRIC) -> dict[str, float]:
    """Mean of ``a`` minus mean of ``b``, and the std of the per-seed differences over the seeds both have."""
    by = {(r["strategy"], r["seed"]): float(r["benchmark"][metric]) for r in rows}
    seeds = sorted({s for (name, s) in by if name == a} & {s for (name, s) in by if name == b})
    diffs = [by[(a, s)] - by[(b, s)] for s in seeds]
    mean, std = mean_and_band(diffs) if diffs else (float("nan"), float("nan"))
    return {"mean": mean, "std": std, "n": len(diffs)}


def epoch_curves(rows: Sequence[Mapping[str, Any]], value: str = METRIC) -> dict[str, dict[str, list[float]]]:
    """Per strategy, per epoch: mean and std over seeds of ``value`` (``cifar10_test`` or ``parameter_free_share``)."""
    curves = {}
    for strategy in strategies_in(rows):
        runs = [r["epochs"] for r in rows if r["strategy"] == strategy and r["epochs"]]
        length = min(len(e) for e in runs) if runs else 0
        means, stds = [], []
        for i in range(length):
            mean, std = mean_and_band([float(e[i][value]) for e in runs])
            means.append(mean)
            stds.append(std)
        curves[strategy] = {"epoch": list(range(1, length + 1)), "mean": means, "std": stds}
    return curves
