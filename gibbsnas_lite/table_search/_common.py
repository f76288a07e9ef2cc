"""What the table-based searches share: checks, the budgeted oracle, the result object.

Cost model. The shipped tables have no training-time column, so the budget is counted in
**full evaluations**: one 200-epoch query costs 1, one 12-epoch query costs 12/200 = 0.06.
Internally costs are kept as integer epochs (200 or 12 per query) so that sums are exact.
A query that would overrun the budget is not made and the search ends there (as the
NAS-Bench-201 scripts do with their simulated time). Every query is charged, a repeated one
too: on a real benchmark it would be trained again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..nasbench import NUM_ARCHS, NB201Table
from ..spaces.nb201.arch import NUM_EDGES, NUM_OPS, OPS

HIGH = 200  #: epochs of a high-fidelity (final benchmark) query
LOW = 12  #: epochs of a low-fidelity query (the 12-epoch table)
FIDELITIES = (HIGH, LOW)

#: dataset name -> (search dataset, split) read by the searches (the fitness signal).
#: CIFAR-10 is searched on ``cifar10-valid`` (25k train / 25k valid), as NAS-Bench-201 does.
SEARCH_SPLIT: dict[str, tuple[str, str]] = {
    "cifar10": ("cifar10-valid", "valid"),
    "cifar10-valid": ("cifar10-valid", "valid"),
    "cifar100": ("cifar100", "valid"),
    "ImageNet16-120": ("ImageNet16-120", "valid"),
}
#: dataset name -> (dataset, split) reported as "test" of the found cell (never searched on).
#: "cifar10": the cell retrained on all 50k training images (Table 3's "CIFAR-10 test").
TEST_SPLIT: dict[str, tuple[str, str]] = {
    "cifar10": ("cifar10", "test"),
    "cifar10-valid": ("cifar10-valid", "test"),
    "cifar100": ("cifar100", "test"),
    "ImageNet16-120": ("ImageNet16-120", "test"),
}
SEARCH_DATASETS: tuple[str, ...] = tuple(SEARCH_SPLIT)


# ----------------------------------------------------------------------------- checks
def check_dataset(dataset: Any) -> str:
    if not isinstance(dataset, str) or dataset not in SEARCH_SPLIT:
        raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(SEARCH_DATASETS)}")
    return dataset


def check_budget(budget: Any) -> int:
    """Budget in full evaluations (float > 0) -> integer epochs."""
    if isinstance(budget, (bool, np.bool_)) or not isinstance(budget, (int, float, np.integer, np.floating)):
        raise ValueError(f"budget must be a positive number of full (200-epoch) evaluations, got {budget!r}")
    if not math.isfinite(float(budget)) or budget <= 0:
        raise ValueError(f"budget must be a positive, finite number of full (200-epoch) evaluations, got {budget!r}")
    return int(round(float(budget) * HIGH))


def check_seed(seed: Any) -> int:
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def check_fidelity(fidelity: Any) -> int:
    if isinstance(fidelity, (bool, np.bool_)) or fidelity not in FIDELITIES:
        raise ValueError(f"unknown fidelity {fidelity!r}; valid: {HIGH} (full table) or {LOW} (12-epoch table)")
    return int(fidelity)


def check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    return int(value)


def check_float(
    name: str, value: Any, low: float, high: float, *, low_open: bool = False, high_open: bool = False
) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if ok:
        v = float(value)
        ok = math.isfinite(v) and (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok:
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"{name} must be a number in {lo}{low}, {high}{hi}, got {value!r}")
    return float(value)


# ----------------------------------------------------------------------------- oracle
class OutOfBudget(Exception):
    """Raised by :meth:`Oracle.query` when the next query would overrun the budget."""


class Oracle:
    """Answers "how good is this cell?" from the tables, charging the budget, logging queries.

    ``query(index, fidelity)`` returns the accuracy (%) of the search split at that fidelity.
    The incumbent is the best cell seen at the highest fidelity queried so far (ties: the
    first seen), as BOHB defines it; with one fidelity, simply the best cell seen.
    """

    def __init__(self, table: NB201Table, dataset: str, budget_epochs: int):
        self.table = table
        self.dataset = dataset
        sd, ss = SEARCH_SPLIT[dataset]
        self.signal = {HIGH: table.accuracies(sd, ss, HIGH), LOW: table.accuracies(sd, ss, LOW)}
        self.budget_epochs = budget_epochs
        self.spent = 0
        self.archs: list[int] = []
        self.fidelities: list[int] = []
        self.observed: list[float] = []
        self.spent_after: list[int] = []
        self.incumbents: list[int] = []
        self._inc = -1
        self._inc_fid = 0
        self._inc_acc = -math.inf

    @property
    def n_queries(self) -> int:
        return len(self.archs)

    def can_afford(self, fidelity: int) -> bool:
        return self.spent + fidelity <= self.budget_epochs

    def query(self, index: int, fidelity: int = HIGH) -> float:
        if not self.can_afford(fidelity):
            raise OutOfBudget
        index = int(index)
        acc = float(self.signal[fidelity][index])
        self.spent += fidelity
        self.archs.append(index)
        self.fidelities.append(fidelity)
        self.observed.append(acc)
        self.spent_after.append(self.spent)
        if fidelity > self._inc_fid or (fidelity == self._inc_fid and acc > self._inc_acc):
            self._inc, self._inc_fid, self._inc_acc = index, fidelity, acc
        self.incumbents.append(self._inc)
        return acc


# ----------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class TableSearchResult:
    """One seeded run of a table-based search.

    Per query ``q`` (arrays of length ``n_queries``, in query order):

    * ``archs[q]`` benchmark index queried, ``fidelities[q]`` its epochs (200 or 12),
      ``observed[q]`` the accuracy the search saw (search split at that fidelity);
    * ``cost[q]`` budget spent after it, in full evaluations (a 12-epoch query adds 0.06);
    * the anytime curve, about the incumbent after query ``q``: ``incumbent[q]`` (index),
      ``incumbent_signal[q]`` (what the search saw for it), ``incumbent_valid[q]`` and
      ``incumbent_test[q]`` (its 200-epoch valid / test accuracy: ``valid_split`` /
      ``test_split``). With the 200-epoch signal, ``incumbent_valid`` is the best-so-far
      validation accuracy (non-decreasing).

    The found cell is the last incumbent: ``arch_index``, ``arch``, ``valid``, ``test``.
    ``extras`` holds algorithm-specific traces (e.g. REINFORCE's policy probabilities).
    """

    algorithm: str
    dataset: str
    seed: int
    budget: float
    params: dict[str, Any]
    valid_split: tuple[str, str]
    test_split: tuple[str, str]
    archs: np.ndarray
    fidelities: np.ndarray
    observed: np.ndarray
    cost: np.ndarray
    incumbent: np.ndarray
    incumbent_signal: np.ndarray
    incumbent_valid: np.ndarray
    incumbent_test: np.ndarray
    arch_index: int
    arch: str
    valid: float
    test: float
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def n_queries(self) -> int:
        return int(self.archs.size)

    @property
    def cost_used(self) -> float:
        return float(self.cost[-1]) if self.cost.size else 0.0

    @property
    def n_unique(self) -> int:
        """Distinct cells queried (at any fidelity)."""
        return int(np.unique(self.archs).size)

    def fidelity_counts(self) -> dict[int, int]:
        """{epochs: number of queries at that fidelity}."""
        return {f: int((self.fidelities == f).sum()) for f in FIDELITIES if (self.fidelities == f).any()}

    def curve_at(self, grid: Any, metric: str = "valid", x: str = "cost") -> np.ndarray:
        """The anytime curve as a step function sampled on ``grid``.

        ``metric``: "valid" / "test" (200-epoch accuracy of the incumbent) or "signal";
        ``x``: "cost" (full evaluations) or "queries" (number of queries). NaN before the
        first query.
        """
        values = {"valid": self.incumbent_valid, "test": self.incumbent_test, "signal": self.incumbent_signal}
        if metric not in values:
            raise ValueError(f"unknown metric {metric!r}; valid: valid, test, signal")
        if x == "cost":
            xs = self.cost
        elif x == "queries":
            xs = np.arange(1, self.n_queries + 1, dtype=float)
        else:
            raise ValueError(f"unknown x {x!r}; valid: cost, queries")
        grid = np.asarray(grid, dtype=float)
        pos = np.searchsorted(xs, grid + 1e-12, side="right") - 1
        out = np.full(grid.shape, np.nan)
        ok = pos >= 0
        out[ok] = values[metric][pos[ok]]
        return out

    def summary(self) -> str:
        fc = ", ".join(f"{n} x {f} ep" for f, n in self.fidelity_counts().items())
        return (
            f"{self.algorithm} on {self.dataset} (seed {self.seed}, budget {self.budget:g}): "
            f"{self.n_queries} queries ({fc}), cost {self.cost_used:g}; found #{self.arch_index} "
            f"valid {self.valid:.2f} test {self.test:.2f}"
        )

    def __repr__(self) -> str:
        return f"TableSearchResult({self.summary()})"


def make_result(
    algorithm: str,
    oracle: Oracle,
    seed: int,
    budget: float,
    params: dict[str, Any],
    extras: dict[str, Any] | None = None,
) -> TableSearchResult:
    t, ds = oracle.table, oracle.dataset
    vd, vs = SEARCH_SPLIT[ds]
    td, ts = TEST_SPLIT[ds]
    valid200 = t.accuracies(vd, vs, HIGH)
    test200 = t.accuracies(td, ts, HIGH)
    inc = np.asarray(oracle.incumbents, dtype=np.int64)
    fid = np.asarray(oracle.fidelities, dtype=np.int64)
    # the signal of the incumbent: its accuracy at the fidelity it was judged on
    inc_fid = np.zeros_like(fid)
    if fid.size:
        inc_fid = np.maximum.accumulate(fid)
    low, high = oracle.signal[LOW], oracle.signal[HIGH]
    inc_signal = np.where(inc_fid == HIGH, high[inc], low[inc]) if inc.size else np.zeros(0)
    if inc.size:
        final = int(inc[-1])
    else:  # unreachable through the public functions (they refuse budgets below one query)
        raise ValueError("the search made no query")
    result = TableSearchResult(
        algorithm=algorithm,
        dataset=ds,
        seed=seed,
        budget=float(budget),
        params=dict(params),
        valid_split=(vd, vs),
        test_split=(td, ts),
        archs=np.asarray(oracle.archs, dtype=np.int64),
        fidelities=fid,
        observed=np.asarray(oracle.observed, dtype=float),
        cost=np.asarray(oracle.spent_after, dtype=float) / HIGH,
        incumbent=inc,
        incumbent_signal=np.asarray(inc_signal, dtype=float),
        incumbent_valid=valid200[inc].astype(float),
        incumbent_test=test200[inc].astype(float),
        arch_index=final,
        arch=t.arch(final),
        valid=float(valid200[final]),
        test=float(test200[final]),
        extras=dict(extras or {}),
    )
    for name in (
        "archs",
        "fidelities",
        "observed",
        "cost",
        "incumbent",
        "incumbent_signal",
        "incumbent_valid",
        "incumbent_test",
    ):
        getattr(result, name).setflags(write=False)
    return result


def start(
    table: NB201Table | None, dataset: Any, budget: Any, seed: Any, min_fidelity: int
) -> tuple[NB201Table, Oracle, np.random.Generator, int]:
    """Checks shared by every algorithm; returns (table, oracle, rng, seed)."""
    dataset = check_dataset(dataset)
    budget_epochs = check_budget(budget)
    seed = check_seed(seed)
    if budget_epochs < min_fidelity:
        raise ValueError(
            f"budget {budget!r} is less than one query ({min_fidelity}/{HIGH} = "
            f"{min_fidelity / HIGH:g} full evaluations)"
        )
    if table is None:
        table = NB201Table.load()
    elif not isinstance(table, NB201Table):
        raise ValueError(f"table must be an NB201Table, got {type(table).__name__}")
    return table, Oracle(table, dataset, budget_epochs), np.random.default_rng(seed), seed


def random_codes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` uniformly random cells as (n, 6) op codes."""
    return rng.integers(0, NUM_OPS, size=(n, NUM_EDGES))


__all__ = [
    "HIGH",
    "LOW",
    "FIDELITIES",
    "SEARCH_SPLIT",
    "TEST_SPLIT",
    "SEARCH_DATASETS",
    "NUM_ARCHS",
    "NUM_EDGES",
    "NUM_OPS",
    "OPS",
    "Oracle",
    "OutOfBudget",
    "TableSearchResult",
]
