"""Plotly figures for the bi-level toy (notebook 03, :mod:`gibbsnas_lite.course.bilevel_toy`).

Every function takes the toy's plain data (:class:`~gibbsnas_lite.course.bilevel_toy.ToyRun`, the dicts of
:func:`~gibbsnas_lite.course.bilevel_toy.landscape` and :func:`~gibbsnas_lite.course.bilevel_toy.summarize`) and
returns a ``plotly.graph_objects.Figure`` without showing it (safe headless).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..bilevel_toy import OPS, RIGHT_OP

OP_COLORS = {"none": "#7f7f7f", "skip": "#d62728", "linear": "#1f77b4"}
RUN_COLORS = ["#000000", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
SAMPLE_COLOR = "#ff4fa3"  # GibbsNAS draws on the landscape

__all__ = ["OP_COLORS", "trajectory_figure", "landscape_figure", "outcome_figure", "sweep_figure"]


def _band(fig, x, low, high, color, name, row=None, col=None):
    """A filled band between ``low`` and ``high`` (one closed polygon)."""
    fig.add_trace(
        go.Scatter(
            x=np.concatenate([x, x[::-1]]),
            y=np.concatenate([high, low[::-1]]),
            fill="toself",
            fillcolor=color,
            opacity=0.18,
            line=dict(width=0),
            hoverinfo="skip",
            showlegend=False,
            name=name,
        ),
        row=row,
        col=col,
    )


def trajectory_figure(
    run: Any, *, title: str | None = None, k: float = 1.0, last_step: int | None = None, max_points: int = 1500
) -> go.Figure:
    """α per op (relative to the edge's mean, what the softmax sees) and softmax(α) over the steps.

    For a GibbsNAS run the top panel has a ±k·std band per op from the BFGS covariance (T/N)·H of
    the next draw (:attr:`ToyRun.alpha_std`): the sampler's own uncertainty about each α.
    ``last_step`` shows steps 0..last_step only (a zoom on the start).
    """
    end = None if last_step is None else last_step + 1
    alpha = np.asarray(run.alpha)[:end]
    centered = alpha - alpha.mean(1, keepdims=True)
    stride = max(1, len(alpha) // max_points)
    x = np.arange(len(alpha))[::stride]
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.07,
        row_heights=[0.55, 0.45],
        subplot_titles=(
            "α_k − mean_j α_j" + (f"  (band: ±{k:g} std from (T/N)·H)" if run.alpha_std is not None else ""),
            "softmax(α)",
        ),
    )
    for j, op in enumerate(OPS):
        y = centered[::stride, j]
        if run.alpha_std is not None:
            std = np.asarray(run.alpha_std)[:end][::stride, j]
            _band(fig, x, y - k * std, y + k * std, OP_COLORS[op], op, row=1, col=1)
        fig.add_trace(
            go.Scatter(x=x, y=y, mode="lines", name=op, legendgroup=op, line=dict(color=OP_COLORS[op], width=1.5)),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=np.asarray(run.probs)[:end][::stride, j],
                mode="lines",
                name=op,
                legendgroup=op,
                showlegend=False,
                line=dict(color=OP_COLORS[op], width=1.5),
            ),
            row=2,
            col=1,
        )
    fig.update_yaxes(range=[0, 1], row=2, col=1)
    fig.update_xaxes(title_text="step", row=2, col=1)
    fig.update_layout(
        title=title or f"{run.method}, seed {run.seed}: picks {run.picked}",
        template="plotly_white",
        height=560,
        legend=dict(orientation="h", yanchor="bottom", y=1.04, x=0),
    )
    return fig


def landscape_figure(
    land: Mapping[str, Any],
    runs: Sequence[Any] = (),
    *,
    names: Sequence[str] | None = None,
    title: str | None = None,
    max_points: int = 600,
) -> go.Figure:
    """Contours of the exact bi-level objective F(α) with the α paths of ``runs`` on top.

    Axes: ``u = α_skip − α_none`` and ``v = α_linear − α_none``. Colour: log10(F − F_min + 1e-3).
    Up is "linear", right is "skip"; the diagonal ``u = v`` separates the two.
    """
    u, v, f = np.asarray(land["u"]), np.asarray(land["v"]), np.asarray(land["F"])
    fig = go.Figure()
    fig.add_trace(
        go.Contour(
            x=u,
            y=v,
            z=np.log10(f - f.min() + 1e-3),
            colorscale="Viridis",
            ncontours=30,
            colorbar=dict(title="log10(F − F_min + 1e-3)"),
            name="F(α)",
            hovertemplate="u %{x:.2f}<br>v %{y:.2f}<br>log10 %{z:.2f}<extra></extra>",
        )
    )
    lim = float(np.max(np.abs(u)))
    fig.add_trace(
        go.Scatter(
            x=[-lim, lim],
            y=[-lim, lim],
            mode="lines",
            line=dict(color="white", dash="dot", width=1),
            name="skip = linear",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[land["argmin"][0]],
            y=[land["argmin"][1]],
            mode="markers",
            marker=dict(symbol="star", size=14, color="white", line=dict(color="black", width=1)),
            name=f"grid minimum of F ({land['argmin_op']} first)",
        )
    )
    for i, r in enumerate(runs):
        a = np.asarray(r.alpha)
        stride = max(1, len(a) // max_points)
        pu, pv = a[::stride, 1] - a[::stride, 0], a[::stride, 2] - a[::stride, 0]
        inside = (np.abs(pu) <= lim) & (np.abs(pv) <= lim)
        pu, pv = np.where(inside, pu, np.nan), np.where(inside, pv, np.nan)  # leave the box: a gap, not a fake line
        name = names[i] if names else f"{r.method} (picks {r.picked})"
        color = RUN_COLORS[i % len(RUN_COLORS)]
        if r.alpha_std is not None and not r.method.endswith("-mean"):  # a sampler: its draws as dots
            color = SAMPLE_COLOR
            fig.add_trace(
                go.Scatter(
                    x=pu,
                    y=pv,
                    mode="markers",
                    name=name + f", {inside.mean():.0%} of draws in view",
                    marker=dict(color=color, size=5, opacity=0.7, line=dict(color="white", width=0.5)),
                )
            )
        else:
            fig.add_trace(
                go.Scatter(
                    x=pu,
                    y=pv,
                    mode="lines",
                    name=name,
                    line=dict(color=color, width=3 - 0.4 * i, dash=["solid", "dash", "dot"][i % 3]),
                )
            )
        if inside[-1]:
            fig.add_trace(
                go.Scatter(
                    x=[pu[-1]],
                    y=[pv[-1]],
                    mode="markers",
                    showlegend=False,
                    hoverinfo="skip",
                    marker=dict(color=color, size=10, symbol="x", line=dict(color="white", width=1)),
                )
            )
    fig.update_layout(
        title=title or "The exact bi-level objective F(α) = L_val(w*(α), α)",
        template="plotly_white",
        height=560,
        xaxis_title="α_skip − α_none",
        yaxis_title="α_linear − α_none",
        legend=dict(orientation="h", yanchor="top", y=-0.15, x=0),
    )
    fig.update_xaxes(range=[-lim, lim])
    fig.update_yaxes(range=[-lim, lim], scaleanchor="x")
    return fig


def outcome_figure(summary: Mapping[str, Mapping[str, Any]], *, title: str | None = None) -> go.Figure:
    """Stacked bars: per method, how many seeds derived each op (from :func:`bilevel_toy.summarize`)."""
    methods = list(summary)
    fig = go.Figure()
    for op in OPS:
        fig.add_trace(
            go.Bar(x=methods, y=[summary[m]["picks"][op] for m in methods], name=op, marker_color=OP_COLORS[op])
        )
    labels = [f"{summary[m]['right']}/{summary[m]['n']} right" for m in methods]
    fig.add_trace(
        go.Scatter(
            x=methods,
            y=[summary[m]["n"] for m in methods],
            text=labels,
            mode="text",
            textposition="top center",
            showlegend=False,
            hoverinfo="skip",
        )
    )
    n_max = max(summary[m]["n"] for m in methods)
    fig.update_layout(
        barmode="stack",
        template="plotly_white",
        height=430,
        yaxis_title="seeds",
        yaxis_range=[0, n_max * 1.15],
        title=title or f"Derived op per seed (the right one is '{RIGHT_OP}')",
    )
    return fig


def sweep_figure(
    values: Sequence[float],
    fractions: Mapping[str, Sequence[float]],
    *,
    xlabel: str = "temperature T",
    references: Mapping[str, float] | None = None,
    title: str | None = None,
    log_x: bool = True,
) -> go.Figure:
    """Fraction of seeds that derive the right op vs a setting (one line per method; dotted references)."""
    fig = go.Figure()
    for i, (name, ys) in enumerate(fractions.items()):
        fig.add_trace(
            go.Scatter(
                x=list(values),
                y=list(ys),
                mode="lines+markers",
                name=name,
                line=dict(color=RUN_COLORS[(i + 1) % len(RUN_COLORS)]),
            )
        )
    for i, (name, y) in enumerate((references or {}).items()):
        fig.add_hline(
            y=y,
            line=dict(dash="dot", color=RUN_COLORS[i % len(RUN_COLORS)]),
            annotation_text=name,
            annotation_position="top left",
        )
    fig.update_layout(
        template="plotly_white",
        height=420,
        xaxis_title=xlabel,
        yaxis_title="fraction of seeds right",
        yaxis_range=[-0.02, 1.05],
        title=title or "Which op is derived, vs the setting",
    )
    if log_x:
        fig.update_xaxes(type="log")
    return fig
