"""Figures of the sample-mean-order ablation (:mod:`gibbsnas_lite.course.ablation`, notebook 05):
accuracy per variant and seed, and the curves over the search epochs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ...search.registry import color as strategy_color
from ..ablation import aggregate, ordered_strategies, variant_info

__all__ = ["accuracy_box_figure", "curves_figure"]


def accuracy_box_figure(
    rows: Sequence[dict[str, Any]],
    value: str = "accuracy",
    title: str = "Derived cell's NAS-Bench-201 CIFAR-10 test accuracy, per variant and seed",
):
    """Box per variant with every seed as a point (hover: seed and arch)."""
    fig = go.Figure()
    for strategy in ordered_strategies(rows):
        sub = [r for r in rows if r["strategy"] == strategy and r.get(value) is not None]
        fig.add_trace(
            go.Box(
                y=[r[value] for r in sub],
                name=variant_info().get(strategy, {}).get("label", strategy),
                boxpoints="all",
                jitter=0.4,
                pointpos=0,
                marker=dict(size=9, color=strategy_color(strategy, None)),
                line=dict(color=strategy_color(strategy, None)),
                text=[f"seed {r['seed']}<br>{r.get('arch')}" for r in sub],
                hovertemplate="%{y:.2f}<br>%{text}",
            )
        )
    fig.update_layout(
        title=title,
        yaxis_title="NB201 CIFAR-10 test accuracy (%)",
        showlegend=False,
        height=430,
        margin=dict(t=60, l=60, r=20, b=40),
    )
    return fig


def curves_figure(
    epoch_table: Sequence[dict[str, Any]],
    values: Sequence[str] = ("accuracy", "train_loss"),
    titles: Sequence[str] = ("derived cell: NB201 CIFAR-10 test %", "search train loss"),
    group: str = "strategy",
    title: str = "Over the search epochs: mean ± std over seeds",
):
    """Fig. 2-style curves: per ``group`` the mean over seeds per epoch with a ± std band, one panel per value."""
    fig = make_subplots(rows=1, cols=len(values), subplot_titles=list(titles)[: len(values)])
    groups = []
    for r in epoch_table:
        if r[group] not in groups:
            groups.append(r[group])
    if group == "strategy":
        groups = ordered_strategies(epoch_table)
    for col, value in enumerate(values, start=1):
        for g in groups:
            stats = aggregate([r for r in epoch_table if r[group] == g], "epoch", value)
            stats = [s for s in stats if s["mean"] is not None]
            xs = [s["epoch"] for s in stats]
            mean = [s["mean"] for s in stats]
            std = [s["std"] or 0.0 for s in stats]
            color = strategy_color(g, None) if group == "strategy" else None
            name = variant_info().get(g, {}).get("label", str(g)) if group == "strategy" else f"{group} {g}"
            fig.add_trace(
                go.Scatter(
                    x=xs + xs[::-1],
                    y=[m + s for m, s in zip(mean, std)] + [m - s for m, s in zip(mean, std)][::-1],
                    fill="toself",
                    line=dict(width=0),
                    fillcolor=color,
                    opacity=0.15,
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=str(g),
                ),
                row=1,
                col=col,
            )
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=mean,
                    mode="lines+markers",
                    name=name,
                    legendgroup=str(g),
                    line=dict(color=color),
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="search epoch", row=1, col=col)
    fig.update_layout(title=title, height=430, margin=dict(t=70, l=60, r=20, b=40))
    return fig
