"""Figures of a sweep's rows (:mod:`gibbsnas_lite.sweep.results`): the seed study's figures
(:mod:`.seed_study`) on the finished rows of the one dataset the sweep searched on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...sweep.results import one_dataset
from . import seed_study


def strip_figure(rows: Sequence[Mapping[str, Any]], dataset: str | None = None):
    """Per strategy, every seed as a dot with a box: the derived cells' NB201 CIFAR-10 test accuracy."""
    mine, name = one_dataset(rows, dataset)
    return seed_study.strip_figure(
        mine, title=f"Sweep on {name}: NB201 CIFAR-10 test accuracy of the derived cell, one dot per seed"
    )


def epochs_figure(rows: Sequence[Mapping[str, Any]], dataset: str | None = None):
    """Per epoch, mean ± std over seeds of the derived cell's accuracy and parameter-free share (Fig. 3)."""
    mine, name = one_dataset(rows, dataset)
    return seed_study.epochs_figure(mine, title=f"Sweep on {name}, mean ± std over seeds: the paper's Fig. 3")
