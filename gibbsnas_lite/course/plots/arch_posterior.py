"""Figures of the architecture posterior (:mod:`gibbsnas_lite.course.arch_posterior`, notebook 07):
the accuracy of the posterior's cells, and P(op wins edge)."""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go

from ...spaces.nb201.arch import OPS, parse_arch
from ..arch_posterior import ACCURACY_COLUMNS, ArchPosterior, canonical_arch
from .cells import NB201_ROW_LABELS

__all__ = ["accuracy_histogram_figure", "temperature_figure", "win_probability_figure"]


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
    # the vertical lines are named in the legend, not by annotations (those overlapped when the
    # cells' accuracies were close)
    colors = ("#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
    lines = []
    for i, (label, arch) in enumerate((marks or {}).items()):
        if canonical_arch(arch) in posterior.archs:
            a = posterior.accuracy(arch, key)
            style = {"color": colors[i % len(colors)], "width": 3, "dash": "dash" if i else "solid"}
            lines.append((a, style, f"{label}: {a:.2f} (p = {posterior.prob(arch):.2f})"))
    mean = posterior.expected(key)
    lines.append((mean, {"color": "#555", "width": 1}, f"posterior mean: {mean:.2f}"))
    if optimum is not None:
        lines.append((optimum, {"color": "black", "dash": "dot"}, f"table best: {optimum:.2f}"))
    for x, style, name in lines:
        fig.add_vline(x=x, line=style)
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line=style, name=name))
    dataset, split = ACCURACY_COLUMNS.get(key, (key, ""))
    fig.update_layout(
        title=title
        or f"NAS-Bench-201 {dataset} {split} accuracy of {posterior.num_samples} posterior draws "
        f"({posterior.num_distinct} distinct cells)",
        xaxis_title=f"{dataset} {split} accuracy (%), 200 epochs",
        yaxis_title="draws",
        template="plotly_white",
        bargap=0.02,
    )
    fig.data[0].showlegend = False
    return fig


def win_probability_figure(posterior: ArchPosterior, title: str | None = None, colorscale: str = "Blues"):
    """Heat map of P(op wins edge) (edges x ops); ✕ marks the argmax of the centre, ○ the modal cell,
    each in a corner of its square so that the probability stays readable."""

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
    for arch, mark, symbol, name, color, dx in (
        (posterior.mean_arch, "✕", "x-thin-open", "argmax of mean", "#d62728", -0.36),
        (posterior.modal_arch, "○", "circle-open", "modal cell", "#2ca02c", 0.36),
    ):
        if arch is None:
            continue
        for row, op in enumerate(parse_arch(arch)):  # category axes: positions are indices
            fig.add_annotation(
                x=cols.index(op) + dx,
                y=row - 0.22,
                text=f"<b>{mark}</b>",
                showarrow=False,
                font={"size": 19, "color": color},
            )
        legend_marker = {"symbol": symbol, "size": 12, "color": color, "line": {"width": 2}}
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name, marker=legend_marker))
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


def temperature_figure(sweep: list[dict], title: str = "The posterior over cells vs temperature"):
    """P(argmax cell) (left axis) and the posterior mean CIFAR-10 test accuracy (right axis)
    against the temperature, from :func:`~gibbsnas_lite.course.arch_posterior.temperature_sweep`."""
    temps = [r["temperature"] for r in sweep]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=temps, y=[r["p_argmax"] for r in sweep], name="P(argmax cell)", mode="lines+markers"))
    fig.add_trace(
        go.Scatter(
            x=temps,
            y=[r["expected_cifar10_test"] for r in sweep],
            name="posterior mean C10 test (%)",
            mode="lines+markers",
            yaxis="y2",
        )
    )
    fig.update_layout(
        title=title,
        xaxis={"type": "log", "title": "T"},
        yaxis={"title": "P(argmax cell)", "range": [0, 1.05]},
        # its own ticks, two decimals (synced to the left axis' grid it read "92, 92, 92.257")
        yaxis2={
            "title": "C10 test (%)",
            "overlaying": "y",
            "side": "right",
            "tickformat": ".2f",
            "tickmode": "auto",
            "showgrid": False,
        },
        legend={"orientation": "h", "y": -0.2},
        template="plotly_white",
    )
    return fig
