"""Figures of the seed study (:mod:`gibbsnas_lite.course.seed_study`): every seed as a dot per
strategy, and the per-epoch means ± std of the paper's Fig. 3."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ...search.registry import color as strategy_color
from ...sweep.stats import METRIC, epoch_curves, strategies_in


def strip_figure(
    rows: Sequence[Mapping[str, Any]],
    live: Mapping[str, float] | None = None,
    metric: str = METRIC,
    title: str | None = None,
):
    """Every seed as a dot per strategy, with a box; ``live`` ({strategy: accuracy}) adds the learner's runs
    as stars."""
    fig = go.Figure()
    for strategy in strategies_in(rows):
        mine = [r for r in rows if r["strategy"] == strategy]
        fig.add_trace(
            go.Box(
                y=[r["benchmark"][metric] for r in mine],
                name=strategy,
                boxpoints="all",
                jitter=0.4,
                pointpos=0,
                marker=dict(color=strategy_color(strategy), size=8),
                line=dict(width=1),
                text=[f"seed {r['seed']}: {r['arch']}" for r in mine],
                hovertemplate="%{text}<br>%{y:.2f} %<extra></extra>",
                showlegend=False,
            )
        )
    if live:
        names = [s for s in live if live[s] is not None]
        fig.add_trace(
            go.Scatter(
                x=names,
                y=[live[s] for s in names],
                mode="markers",
                name="your run (one draw)",
                marker=dict(symbol="star", size=16, color="black", line=dict(color="white", width=1)),
            )
        )
    fig.update_layout(
        title=title or "NAS-Bench-201 CIFAR-10 test accuracy of the derived cell, one dot per seed",
        yaxis_title=f"{metric} (%)",
        height=420,
        legend=dict(orientation="h", y=-0.15),
    )
    return fig


def epochs_figure(rows: Sequence[Mapping[str, Any]], title: str | None = None):
    """Per epoch, mean ± std over seeds: the derived cell's accuracy (left) and its parameter-free share (right)."""
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("derived cell: NB201 CIFAR-10 test (%)", "derived cell: share of parameter-free edges"),
    )
    for col, value in ((1, METRIC), (2, "parameter_free_share")):
        for strategy, curve in epoch_curves(rows, value).items():
            color = strategy_color(strategy)
            upper = [m + s for m, s in zip(curve["mean"], curve["std"])]
            lower = [m - s for m, s in zip(curve["mean"], curve["std"])]
            fig.add_trace(
                go.Scatter(
                    x=curve["epoch"] + curve["epoch"][::-1],
                    y=upper + lower[::-1],
                    fill="toself",
                    fillcolor=color,
                    opacity=0.15,
                    line=dict(width=0),
                    showlegend=False,
                    hoverinfo="skip",
                ),
                row=1,
                col=col,
            )
            fig.add_trace(
                go.Scatter(
                    x=curve["epoch"],
                    y=curve["mean"],
                    mode="lines+markers",
                    name=strategy,
                    line=dict(color=color),
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
    fig.update_xaxes(title_text="search epoch")
    fig.update_layout(
        title=title or "Over the search (mean ± std over seeds): the paper's Fig. 3 on the CPU stage", height=420
    )
    return fig
