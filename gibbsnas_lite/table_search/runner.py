"""Run the table-based searches by name, over seeds, and aggregate them (a Table-3-like block)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..nasbench import NB201Table
from ..stats import describe
from ._common import TableSearchResult, check_budget, check_dataset, check_seed
from .search_bohb import bohb
from .search_rea import regularized_evolution
from .search_reinforce import reinforce
from .search_rs import random_search

__all__ = [
    "ALGORITHMS",
    "TABLE3_DATASETS",
    "PAPER_TABLE3",
    "Stat",
    "get_algorithm",
    "run_table_search",
    "run_many",
    "result_stats",
    "summarize",
    "table3_block",
    "format_table3",
    "anytime_curves",
]

#: name -> search function; names as in GibbsNAS Table 3.
ALGORITHMS: dict[str, Callable[..., TableSearchResult]] = {
    "RS": random_search,
    "REA": regularized_evolution,
    "REINFORCE": reinforce,
    "BOHB": bohb,
}
_ALIASES = {
    "random": "RS",
    "random_search": "RS",
    "rs": "RS",
    "rea": "REA",
    "regularized_evolution": "REA",
    "reinforce": "REINFORCE",
    "bohb": "BOHB",
}

#: the three datasets of Table 3 (CIFAR-10 is searched on cifar10-valid, tested on cifar10).
TABLE3_DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "ImageNet16-120")

#: GibbsNAS (Xue et al., AAAI 2021) Table 3, second block, copied from the paper (which takes
#: them from NAS-Bench-201, Dong & Yang, ICLR 2020): {method: {dataset: ((valid mean, std),
#: (test mean, std))}}.
PAPER_TABLE3: dict[str, dict[str, tuple[tuple[float, float], tuple[float, float]]]] = {
    "REA": {
        "cifar10": ((91.19, 0.31), (93.92, 0.30)),
        "cifar100": ((71.81, 1.12), (71.84, 0.99)),
        "ImageNet16-120": ((45.15, 0.89), (45.54, 1.03)),
    },
    "RS": {
        "cifar10": ((90.93, 0.36), (93.70, 0.36)),
        "cifar100": ((70.93, 1.09), (71.04, 1.07)),
        "ImageNet16-120": ((44.45, 1.10), (44.57, 1.25)),
    },
    "REINFORCE": {
        "cifar10": ((91.09, 0.37), (93.85, 0.37)),
        "cifar100": ((71.61, 1.12), (71.71, 1.09)),
        "ImageNet16-120": ((45.05, 1.02), (45.24, 1.18)),
    },
    "BOHB": {
        "cifar10": ((90.82, 0.53), (93.61, 0.52)),
        "cifar100": ((70.74, 1.29), (70.85, 1.28)),
        "ImageNet16-120": ((44.26, 1.36), (44.42, 1.49)),
    },
}


def get_algorithm(name: Any) -> tuple[str, Callable[..., TableSearchResult]]:
    """(canonical name, function) of an algorithm name (case-insensitive aliases allowed)."""
    if isinstance(name, str):
        key = name if name in ALGORITHMS else _ALIASES.get(name.lower())
        if key is None and name.upper() in ALGORITHMS:
            key = name.upper()
        if key is not None:
            return key, ALGORITHMS[key]
    raise ValueError(f"unknown algorithm {name!r}; valid: {', '.join(ALGORITHMS)}")


def run_table_search(
    algorithm: str,
    dataset: str = "cifar10",
    budget: float = 100,
    seed: int = 0,
    *,
    table: NB201Table | None = None,
    **params: Any,
) -> TableSearchResult:
    """Run one algorithm by name (``"RS"``, ``"REA"``, ``"REINFORCE"``, ``"BOHB"``).

    ``params`` go to the algorithm (e.g. ``fidelity=12``, ``sample_size=3``, ``eta=3``);
    an unknown one raises ``ValueError``.
    """
    name, fn = get_algorithm(algorithm)
    try:
        return fn(dataset, budget, seed, table=table, **params)
    except TypeError as e:  # an unknown keyword
        raise ValueError(f"{name}: {e}") from None


def run_many(
    algorithms: Iterable[str] | str = tuple(ALGORITHMS),
    dataset: str = "cifar10",
    budget: float = 100,
    seeds: int | Sequence[int] = 10,
    *,
    table: NB201Table | None = None,
    params: dict[str, dict[str, Any]] | None = None,
) -> dict[str, list[TableSearchResult]]:
    """Each algorithm for each seed: ``{name: [TableSearchResult per seed]}``.

    ``seeds``: a count K (seeds 0..K-1) or explicit seeds. ``params``: per-algorithm keyword
    arguments, e.g. ``{"REA": {"sample_size": 3}}``.
    """
    if isinstance(algorithms, str):
        algorithms = [algorithms]
    names = [get_algorithm(a)[0] for a in algorithms]
    if not names:
        raise ValueError("no algorithm given")
    check_dataset(dataset)
    check_budget(budget)
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds must be a count >= 1 or a list of seeds, got {seeds!r}")
        seed_list = list(range(int(seeds)))
    else:
        seed_list = [check_seed(s) for s in seeds]
        if not seed_list:
            raise ValueError("seeds is empty")
    params = dict(params or {})
    for key in params:
        get_algorithm(key)
    by_name = {get_algorithm(k)[0]: v for k, v in params.items()}
    table = NB201Table.load() if table is None else table
    return {
        n: [run_table_search(n, dataset, budget, s, table=table, **by_name.get(n, {})) for s in seed_list]
        for n in names
    }


@dataclass(frozen=True)
class Stat:
    mean: float
    std: float
    n: int

    def __format__(self, spec: str) -> str:
        spec = spec or ".2f"
        return f"{self.mean:{spec}}±{self.std:{spec}}"


def result_stats(results: Sequence[TableSearchResult]) -> dict[str, Stat]:
    """Mean ± std over runs of the found cell's valid / test accuracy, the queries made and the
    cost spent: ``{"valid", "test", "queries", "cost"}``. The std is the population std (ddof=0),
    as NAS-Bench-201's tables: :func:`gibbsnas_lite.stats.describe` with ``ddof=0``.
    ``summarize`` is its name before issue 21."""
    if not results:
        raise ValueError("no results to summarize")

    def stat(x: list[float]) -> Stat:
        d = describe(x, ddof=0)
        return Stat(d["mean"], d["std"], d["n"])

    return {
        "valid": stat([r.valid for r in results]),
        "test": stat([r.test for r in results]),
        "queries": stat([r.n_queries for r in results]),
        "cost": stat([r.cost_used for r in results]),
    }


summarize = result_stats  # the name before issue 21


def table3_block(
    algorithms: Iterable[str] = tuple(ALGORITHMS),
    budget: float = 100,
    seeds: int | Sequence[int] = 10,
    datasets: Sequence[str] = TABLE3_DATASETS,
    *,
    table: NB201Table | None = None,
    params: dict[str, dict[str, Any]] | None = None,
) -> dict[str, dict[str, dict[str, Stat]]]:
    """``{algorithm: {dataset: summarize(...)}}``: each algorithm searched on each dataset."""
    for d in datasets:
        check_dataset(d)
    out: dict[str, dict[str, dict[str, Stat]]] = {}
    for d in datasets:
        runs = run_many(algorithms, d, budget, seeds, table=table, params=params)
        for name, res in runs.items():
            out.setdefault(name, {})[d] = result_stats(res)
    return out


_LABELS = {
    "cifar10": "CIFAR-10",
    "cifar10-valid": "CIFAR-10 (valid split)",
    "cifar100": "CIFAR-100",
    "ImageNet16-120": "ImageNet16-120",
}


def format_table3(block: dict[str, dict[str, dict[str, Stat]]], *, paper: bool = True) -> str:
    """Plain-text table: one row per algorithm, valid and test per dataset; with ``paper``,
    the paper's row under each of ours."""
    datasets = list(next(iter(block.values())).keys()) if block else []
    head = ["Method"] + [f"{_LABELS.get(d, d)} {s}" for d in datasets for s in ("valid", "test")]
    rows = []
    for name, per in block.items():
        rows.append([f"{name} (ours)"] + [f"{per[d][s]:.2f}" for d in datasets for s in ("valid", "test")])
        if paper and name in PAPER_TABLE3:
            cells = []
            for d in datasets:
                pv = PAPER_TABLE3[name].get(d)
                cells += [f"{m:.2f}±{s:.2f}" for m, s in pv] if pv else ["-", "-"]
            rows.append([f"{name} (paper)"] + cells)
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in rows])


def anytime_curves(
    results: Sequence[TableSearchResult],
    grid: Sequence[float] | np.ndarray | None = None,
    metric: str = "valid",
    x: str = "cost",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(grid, mean, std) over runs of :meth:`TableSearchResult.curve_at`; NaN where no run has
    queried yet; the mean at a grid point uses the runs that have. The semantics of
    :func:`gibbsnas_lite.stats.describe` with ``ddof=0`` (the population std, as :func:`result_stats`),
    computed for the whole grid at once with numpy."""
    if not results:
        raise ValueError("no results")
    if grid is None:
        top = max((r.cost_used if x == "cost" else r.n_queries) for r in results)
        grid = np.linspace(0.0, top, 201)[1:]
    grid = np.asarray(grid, dtype=float)
    ys = np.stack([r.curve_at(grid, metric, x) for r in results])
    have = ~np.isnan(ys)
    n = have.sum(axis=0)
    mean = np.full(grid.shape, np.nan)
    std = np.full(grid.shape, np.nan)
    ok = n > 0
    mean[ok] = np.nansum(ys[:, ok], axis=0) / n[ok]
    std[ok] = np.sqrt(np.nansum((ys[:, ok] - mean[ok]) ** 2, axis=0) / n[ok])
    return grid, mean, std
