"""Figures of the architecture posterior (:mod:`gibbsnas_lite.course.arch_posterior`, notebook 07):
the accuracy of the posterior's cells, and P(op wins edge)."""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go

from ...spaces.nb201.arch import OPS, parse_arch
from ..arch_posterior import ACCURACY_COLUMNS, ArchPosterior, canonical_arch
from .cells import NB201_ROW_LABELS

__all__ = ["accuracy_histogram_figure", "win_probability_figure"]


def accuracy_histogram_figure(
    posterior: ArchPosterior,
    key: str = "cifar10_test",
    marks: Mapping[str, str] | None = None,
    optimum: float | None = None,
    title: str | None = None,
    nbins: int = 60,
):
    """Histogram of the accuracy (``key``) of the cells of all K draws, with vertical lines at
    the cells in ``marks`` ({label: arch}, e.g. argmax and the uncertainty-aware choice)."""
    if key not in posterior.accuracies:
        raise ValueError(f"no {key!r} accuracies (pass table= to architecture_posterior)")
    # one point per distinct cell, weighted by its draws: the figure's size does not grow with K
    fig = go.Figure(
        go.Histogram(
            x=posterior.accuracies[key],
            y=posterior.counts,
            histfunc="sum",
            nbinsx=nbins,
            marker_color="#9ecae1",
            name="posterior draws",
            hovertemplate="accuracy %{x}<br>%{y} draws<extra></extra>",
        )
    )
    colors = ("#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
    for i, (label, arch) in enumerate((marks or {}).items()):
        a = posterior.accuracy(arch, key) if canonical_arch(arch) in posterior.archs else None
        if a is None:
            continue
        fig.add_vline(
            x=a,
            line={"color": colors[i % len(colors)], "width": 3, "dash": "dash" if i else "solid"},
            annotation_text=f"{label}: {a:.2f} (p={posterior.prob(arch):.2f})",
            annotation_position="top left" if i % 2 else "top right",
        )
    if optimum is not None:
        fig.add_vline(
            x=optimum,
            line={"color": "black", "dash": "dot"},
            annotation_text="table best",
            annotation_position="bottom right",
        )
    dataset, split = ACCURACY_COLUMNS.get(key, (key, ""))
    fig.add_vline(
        x=posterior.expected(key),
        line={"color": "#555", "width": 1},
        annotation_text=f"posterior mean {posterior.expected(key):.2f}",
        annotation_position="bottom left",
    )
    fig.update_layout(
        title=title
        or f"NAS-Bench-201 {dataset} {split} accuracy of {posterior.num_samples} posterior draws "
        f"({posterior.num_distinct} distinct cells)",
        xaxis_title=f"{dataset} {split} accuracy (%), 200 epochs",
        yaxis_title="draws",
        template="plotly_white",
        bargap=0.02,
        showlegend=False,
    )
    return fig


def win_probability_figure(posterior: ArchPosterior, title: str | None = None, colorscale: str = "Blues"):
    """Heat map of P(op wins edge) (edges x ops); ✕ marks the argmax of the centre, ○ the modal cell."""

    rows, cols = list(NB201_ROW_LABELS), list(OPS)
    fig = go.Figure(
        go.Heatmap(
            z=posterior.win_probs,
            x=cols,
            y=rows,
            zmin=0.0,
            zmax=1.0,
            colorscale=colorscale,
            texttemplate="%{z:.2f}",
            colorbar={"title": "P(wins)"},
            hovertemplate="edge %{y}<br>op %{x}<br>P(wins) = %{z:.3f}<extra></extra>",
        )
    )
    for arch, symbol, name, color in (
        (posterior.mean_arch, "x-thin-open", "argmax of mean", "#d62728"),
        (posterior.modal_arch, "circle-open", "modal cell", "#2ca02c"),
    ):
        if arch is None:
            continue
        ops = parse_arch(arch)
        fig.add_trace(
            go.Scatter(
                x=list(ops),
                y=rows,
                mode="markers",
                name=name,
                marker={"symbol": symbol, "size": 26, "color": color, "line": {"width": 3}},
                hoverinfo="skip",
            )
        )
    fig.update_layout(
        title=title or f"P(op wins edge) over {posterior.num_samples} alpha draws",
        yaxis={"autorange": "reversed", "title": "edge", "type": "category"},
        xaxis={"title": "op", "type": "category", "side": "top"},
        template="plotly_white",
        legend={"orientation": "h", "y": -0.05},
        margin={"l": 80, "r": 20, "t": 90, "b": 40},
        height=420,
    )
    return fig
