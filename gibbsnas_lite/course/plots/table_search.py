"""Plotly figure of the table searches' anytime curves (:mod:`gibbsnas_lite.table_search`): best-so-far
accuracy vs budget, mean ± std per algorithm."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from ...table_search import TableSearchResult, anytime_curves

__all__ = ["anytime_figure"]

_COLORS = {"RS": "#7f7f7f", "REA": "#d62728", "REINFORCE": "#1f77b4", "BOHB": "#2ca02c"}
_PALETTE = ("#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#ff7f0e")


def anytime_figure(
    runs: dict[str, Sequence[TableSearchResult]],
    metric: str = "valid",
    x: str = "cost",
    grid: Sequence[float] | np.ndarray | None = None,
    title: str | None = None,
    optimum: float | None = None,
) -> go.Figure:
    """Best-so-far accuracy (``metric``: "valid" / "test" of the incumbent, or "signal") against
    the budget (``x``: "cost" in full evaluations, or "queries"), one line per algorithm with a
    mean ± std band over its runs. ``runs``: ``{name: [TableSearchResult, ...]}`` (e.g.
    :func:`run_many`'s output). ``optimum``: draw the table's best as a dotted line."""
    if not runs:
        raise ValueError("no runs to plot")
    if grid is None:
        top = max((r.cost_used if x == "cost" else r.n_queries) for rs in runs.values() for r in rs)
        grid = np.linspace(0.0, top, 201)[1:]
    fig = go.Figure()
    for k, (name, rs) in enumerate(runs.items()):
        g, mean, std = anytime_curves(rs, grid, metric, x)
        color = _COLORS.get(name, _PALETTE[k % len(_PALETTE)])
        r, gg, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
        fig.add_trace(
            go.Scatter(
                x=np.concatenate([g, g[::-1]]),
                y=np.concatenate([mean + std, (mean - std)[::-1]]),
                fill="toself",
                fillcolor=f"rgba({r},{gg},{b},0.18)",
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                legendgroup=name,
                name=f"{name} ± std",
            )
        )
        fig.add_trace(
            go.Scatter(
                x=g,
                y=mean,
                mode="lines",
                line={"color": color, "width": 2},
                name=f"{name} (n={len(rs)})",
                legendgroup=name,
            )
        )
    if optimum is not None:
        fig.add_hline(y=optimum, line={"dash": "dot", "color": "black"}, annotation_text="table best")
    first = next(iter(runs.values()))[0]
    split = {"valid": first.valid_split, "test": first.test_split}.get(metric)
    # a short y title (a long one was clipped at a notebook's height); the split goes under the title
    what = f"{split[0]} {split[1]} accuracy, 200 epochs; " if split else ""
    fig.update_layout(
        title=(title or f"Anytime {metric} accuracy on {first.dataset}") + f"<br><sup>{what}mean ± std over runs</sup>",
        xaxis_title="budget spent (full 200-epoch evaluations)" if x == "cost" else "queries",
        yaxis_title=f"incumbent's {metric} acc. (%)",
        template="plotly_white",
        hovermode="x unified",
        height=450,
        margin={"l": 70, "t": 80},
    )
    return fig
