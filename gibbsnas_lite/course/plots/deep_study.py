"""Figures of the deep stage's study (:mod:`gibbsnas_lite.course.deep_study`, notebooks 04-05): the
held-out seeds beside their two controls, and each seed's search epoch by epoch (the paper's Fig. 3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ...search.registry import color as strategy_color
from ...sweep.stats import METRIC
from ..deep_study import ALL_SKIP, HELD_OUT_SEEDS, by_seed, skip_edges_by_epoch

CONTROL_COLOR = "#8c8c8c"  # GibbsNAS-2nd's noise-only control (not a strategy)


def color(key: str) -> str:
    """A strategy's registry colour; the noise-only control's grey for ``"control"``."""
    return CONTROL_COLOR if key == "control" else strategy_color(key)


LABELS = {
    "darts-v1": "DARTS-V1",
    "gibbs2": "GibbsNAS-2nd",
    "gibbs2-mean": "GibbsNAS-2nd, mean twin",
    "control": "noise-only control",
}


def _column(rows, strategy, seeds):
    """(accuracies, hover texts) of one strategy's rows on ``seeds``, in seed order."""
    mine = by_seed(rows, strategy, seeds)
    seeds_run = sorted(mine)
    return [mine[s]["benchmark"][METRIC] for s in seeds_run], [f"seed {s}: {mine[s]['arch']}" for s in seeds_run]


def study_figure(
    rows: Sequence[Mapping[str, Any]],
    random_cells: Mapping[str, float] | None = None,
    live: Mapping[str, float] | None = None,
    seeds: Sequence[int] = HELD_OUT_SEEDS,
    title: str | None = None,
):
    """One dot per held-out seed: DARTS-V1, GibbsNAS-2nd, its mean twin and GibbsNAS-2nd's noise-only
    control; NAS-Bench-201's 15,625 cells as a box from its quartiles, whiskers at its worst and best cell
    (``random_cells``: :func:`deep_study.random_cells`); the all-skip cell as a line; ``live``
    ({strategy: accuracy}) adds the learner's runs as stars. The y axis starts 5 points below the
    lowest dot (at most at 45), so the boxes stay readable; a whisker that runs below it (NB201's
    worst cells, 10 %) is labelled with its end."""
    fig = go.Figure()
    columns = {s: _column(rows, s, seeds) for s in ("darts-v1", "gibbs2", "gibbs2-mean")}
    gibbs = by_seed(rows, "gibbs2", seeds)
    controls = [(s, (gibbs[s].get("drive") or {}).get("noise_only_benchmark") or {}) for s in sorted(gibbs)]
    columns["control"] = (
        [c[METRIC] for _, c in controls if METRIC in c],
        [f"seed {s}: {gibbs[s]['drive'].get('noise_only_arch')}" for s, c in controls if METRIC in c],
    )
    for key, (values, texts) in columns.items():
        if not values:
            continue
        fig.add_trace(
            go.Box(
                y=values,
                name=LABELS[key],
                boxpoints="all",
                jitter=0.35,
                pointpos=0,
                marker=dict(color=color(key), size=9),
                line=dict(width=1, color=color(key)),
                fillcolor="rgba(0,0,0,0)",
                text=texts,
                hovertemplate="%{text}<br>%{y:.2f} %<extra></extra>",
                showlegend=False,
            )
        )
    if random_cells:
        fig.add_trace(
            go.Box(
                name="NB201's 15,625 cells",
                x=["NB201's 15,625 cells"],
                q1=[random_cells["q25"]],
                median=[random_cells["median"]],
                q3=[random_cells["q75"]],
                mean=[random_cells["mean"]],
                lowerfence=[random_cells["min"]],
                upperfence=[random_cells["max"]],
                marker=dict(color="#555555"),
                line=dict(width=1, color="#555555"),
                hoverinfo="skip",
                showlegend=False,
            )
        )
    if live:
        names = [LABELS.get(s, s) for s in live if live[s] is not None]
        fig.add_trace(
            go.Scatter(
                x=names,
                y=[v for v in live.values() if v is not None],
                mode="markers",
                name="your run",
                marker=dict(symbol="star", size=17, color="black", line=dict(color="white", width=1)),
            )
        )
    fig.add_hline(
        y=ALL_SKIP,
        line=dict(dash="dot", color="#d62728", width=1),
        annotation_text=f"all skip_connect: {ALL_SKIP:.2f}",
        annotation_position="bottom left",
    )
    dots = [v for values, _ in columns.values() for v in values] + [v for v in (live or {}).values() if v is not None]
    low = min([45.0, *(v - 5 for v in dots), *([random_cells["q25"] - 5] if random_cells else [])])
    fig.update_yaxes(range=[low, 97])
    if random_cells and random_cells["min"] < low:
        fig.add_annotation(
            x="NB201's 15,625 cells",
            y=low,
            text=f"whisker runs on to {random_cells['min']:.2f} (the worst cells)",
            showarrow=False,
            yanchor="bottom",
            font=dict(size=11, color="#555555"),
            bgcolor="rgba(255,255,255,0.8)",
        )
    fig.update_layout(
        title=title or f"The deep stage, held-out seeds {seeds[0]}-{seeds[-1]}: one dot per seed",
        yaxis_title="derived cell: NB201 CIFAR-10 test (%)",
        height=460,
        margin=dict(t=60, b=40),
    )
    return fig


def epochs_by_seed_figure(
    rows: Sequence[Mapping[str, Any]],
    strategies: Sequence[str] = ("darts-v1", "gibbs2"),
    seeds: Sequence[int] = HELD_OUT_SEEDS,
    highlight: int | None = None,
    title: str | None = None,
):
    """Each seed's search epoch by epoch (the paper's Fig. 3, one thin line per seed rather than a mean a
    bimodal outcome would hide): the derived cell's NB201 accuracy, its ``skip_connect`` edges and its
    parameter-free edges (skip, none, pooling). ``highlight``: one seed drawn thick (the replayed run)."""
    fig = make_subplots(
        rows=1,
        cols=3,
        subplot_titles=("NB201 CIFAR-10 test (%)", "edges on skip_connect (of 6)", "parameter-free edges (of 6)"),
        horizontal_spacing=0.07,
    )
    for strategy in strategies:
        mine = by_seed(rows, strategy, seeds)
        for n, seed in enumerate(sorted(mine)):
            row = mine[seed]
            epochs = [e["epoch"] + 1 for e in row["epochs"]]  # epoch 1 is the first, as everywhere else
            thick = seed == highlight
            free = [round(6 * e["parameter_free_share"]) for e in row["epochs"]]
            for col, values in ((1, [e[METRIC] for e in row["epochs"]]), (2, skip_edges_by_epoch(row)), (3, free)):
                fig.add_trace(
                    go.Scatter(
                        x=epochs,
                        y=values,
                        mode="lines+markers" if thick else "lines",
                        name=LABELS.get(strategy, strategy),
                        legendgroup=strategy,
                        showlegend=col == 1 and n == 0,
                        line=dict(color=color(strategy), width=3.5 if thick else 1.2),
                        opacity=1.0 if thick or highlight is None else 0.55,
                        text=[f"seed {seed}: {e['arch']}" for e in row["epochs"]],
                        hovertemplate="%{text}<br>epoch %{x}: %{y}<extra></extra>",
                    ),
                    row=1,
                    col=col,
                )
    fig.add_hline(
        y=ALL_SKIP,
        line=dict(dash="dot", color="#d62728", width=1),
        annotation_text=f"all skip_connect: {ALL_SKIP:.2f}",
        annotation_position="bottom right",
        row=1,
        col=1,
    )
    fig.update_xaxes(title_text="search epoch")
    for col in (2, 3):
        fig.update_yaxes(range=[-0.2, 6.2], dtick=1, row=1, col=col)
    fig.update_layout(
        title=title
        or "Over the search, one line per held-out seed (the paper's Fig. 3 without the averaging)"
        + (f"; thick: seed {highlight}" if highlight is not None else ""),
        height=440,
        legend=dict(orientation="h", y=-0.2),
    )
    return fig


def per_seed_figure(lines: Sequence[Mapping[str, Any]], title: str | None = None):
    """Per held-out seed (:func:`deep_study.per_seed` lines), the four cells side by side: DARTS-V1,
    GibbsNAS-2nd, its mean twin and its noise-only control. A seed where the sampled search lands on
    its control's accuracy was decided by the noise; one where it beats its mean twin, by the draws."""
    fig = go.Figure()
    marks = {"darts": "x", "gibbs": "circle", "mean": "diamond", "control": "square-open"}
    names = {"darts": "darts-v1", "gibbs": "gibbs2", "mean": "gibbs2-mean", "control": "control"}
    for n, (key, strategy) in enumerate(names.items()):
        mine = [x for x in lines if x.get(key) is not None]
        fig.add_trace(
            go.Scatter(
                x=[x["seed"] + (n - 1.5) * 0.09 for x in mine],
                y=[x[key] for x in mine],
                mode="markers",
                name=LABELS[strategy],
                marker=dict(symbol=marks[key], size=11, color=color(strategy), line=dict(width=1.5)),
                text=[f"seed {x['seed']}: {x.get(key + '_arch')}" for x in mine],
                hovertemplate="%{text}<br>%{y:.2f} %<extra></extra>",
            )
        )
    fig.add_hline(y=ALL_SKIP, line=dict(dash="dot", color="#d62728", width=1))
    fig.update_xaxes(title_text="held-out seed", tickmode="array", tickvals=[x["seed"] for x in lines])
    fig.update_layout(
        title=title or "Each held-out seed's cells: the searches and GibbsNAS-2nd's noise-only control",
        yaxis_title="NB201 CIFAR-10 test (%)",
        height=430,
        legend=dict(orientation="h", y=-0.22),
    )
    return fig
