"""Figures of the NB201 search report (:mod:`gibbsnas_lite.course.report`): Table 3 as a table,
and the derived cell's benchmark accuracy after each search epoch."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

from ...nasbench import TABLE3_COLUMNS, NB201Table
from ...search.registry import color as strategy_color
from ..report import LABELS, epoch_curve, format_cell, paper_row, paper_table3, run_rows

__all__ = ["epochs_figure", "table3_figure"]


def table3_figure(rows: Sequence[Mapping[str, Any]], title: str | None = None):
    """A plotly ``go.Table`` of :func:`comparison_rows`: one line per method, Table 3's columns.

    The arch string is broken after each node (``|a~0|+`` / ``|b~0|c~1|+`` / ...), so the whole
    cell shows in its column, and the figure has a fixed width that holds every column."""
    header = ["method", "cell (arch string)"] + [label.replace(" ", "<br>", 1) for label in LABELS]
    ours = [not str(r["method"]).endswith("(paper)") for r in rows]
    archs = [str(r.get("arch") or "").replace("|+|", "|+<br>|") for r in rows]
    columns = [[r["method"] for r in rows], archs]
    columns += [[format_cell(r["values"].get(label)) for r in rows] for label in LABELS]
    fill = [["#eef4fb" if o else "white" for o in ours]] * len(header)
    lines = [max(a.count("<br>") + 1, 1) for a in archs]
    fig = go.Figure(
        go.Table(
            columnwidth=[1.3, 3.7] + [1.05] * len(LABELS),
            header=dict(values=[f"<b>{h}</b>" for h in header], fill_color="#dde3ea", align="left", font=dict(size=11)),
            cells=dict(values=columns, fill_color=fill, align="left", font=dict(size=11), height=22),
        )
    )
    fig.update_layout(
        title=title or "NAS-Bench-201 accuracy (%) of the derived cells, beside the paper's Table 3",
        width=1060,
        height=130 + sum(18 * n + 12 for n in lines),
        margin=dict(l=10, r=10, t=50, b=10),
    )
    return fig


def epochs_figure(
    runs: Mapping[str, Any] | Iterable[Any],
    table: NB201Table | None = None,
    column: str = "CIFAR-10 test",
    paper: bool = True,
    title: str | None = None,
):
    """The derived cell's benchmark accuracy after each search epoch, one line per run; the
    paper's mean for the same strategy as a dotted line (a CIFAR-10 search, for orientation)."""
    table = table or NB201Table.load()
    rows = run_rows(runs, table)
    fig = go.Figure()
    paper_rows = paper_table3("oneshot")
    drawn: set[str] = set()
    for r in rows:
        color = strategy_color(r.strategy, None)  # plotly's own for an unregistered name
        x, y, archs = epoch_curve(r, table, column)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines+markers",
                name=f"{r.name} (seed {r.seed})",
                line=dict(color=color),
                customdata=archs,
                hovertemplate="epoch %{x}<br>%{y:.2f} %<br>%{customdata}<extra>" + r.name + "</extra>",
            )
        )
        name = paper_row(r.strategy)
        if paper and name in paper_rows and name not in drawn and len(x):
            drawn.add(name)
            mean = paper_rows[name][column][0]
            fig.add_trace(
                go.Scatter(
                    x=[1, max(int(x.max()), 1)],
                    y=[mean, mean],
                    mode="lines",
                    name=f"{name} (paper, CIFAR-10 search)",
                    line=dict(color=color, dash="dot", width=1.5),
                    hoverinfo="name+y",
                )
            )
    best = table.best(*TABLE3_COLUMNS[LABELS.index(column)][1:]).accuracy
    fig.add_hline(
        y=best,
        line=dict(color="black", dash="dash", width=1),
        annotation_text=f"optimum {best:.2f}",
        annotation_position="bottom right",
    )
    fig.update_layout(
        title=title or f"Derived cell's NAS-Bench-201 {column} accuracy after each search epoch",
        xaxis_title="search epoch",
        yaxis_title=f"{column} accuracy (%)",
        height=420,
        hovermode="closest",
        legend=dict(orientation="h", y=-0.2),
    )
    return fig
