"""Figure of a training run (:mod:`gibbsnas_lite.train`): train loss, train and test accuracy per epoch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from ...runs import read_history
from ...train import TrainResult


def training_figure(history: Any, title: str | None = None):
    """Plotly figure of a training run: train loss (left axis), train and test accuracy (right).

    ``history``: a :class:`TrainResult`, its ``history`` list, or a run folder (or its history.jsonl),
    read by :func:`gibbsnas_lite.runs.read_history`.
    """
    if isinstance(history, TrainResult):
        history = history.history
    elif isinstance(history, (str, Path)):
        history = read_history(history, what="training")
    epochs = [r["epoch"] + 1 for r in history]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=epochs,
            y=[r["train_loss"] for r in history],
            name="train loss",
            mode="lines+markers",
            line=dict(color="#d62728"),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=epochs,
            y=[r["train_acc"] for r in history],
            name="train acc (%)",
            mode="lines+markers",
            yaxis="y2",
            line=dict(color="#1f77b4", dash="dot"),
        )
    )
    tested = [r for r in history if r.get("test_acc") is not None]
    fig.add_trace(
        go.Scatter(
            x=[r["epoch"] + 1 for r in tested],
            y=[r["test_acc"] for r in tested],
            name="test acc (%)",
            mode="lines+markers",
            yaxis="y2",
            line=dict(color="#1f77b4"),
        )
    )
    fig.update_layout(
        title=title or "training the evaluation network",
        xaxis=dict(title="epoch", dtick=1),
        yaxis=dict(title="train loss (incl. 0.4 x auxiliary)"),
        yaxis2=dict(title="accuracy (%)", overlaying="y", side="right", range=[0, 100]),
        legend=dict(orientation="h", y=-0.2),
        height=380,
        margin=dict(l=60, r=60, t=60, b=40),
    )
    return fig
