"""Regularized (aging) evolution, REA (Real et al., AAAI 2019), on the NAS-Bench-201 table.

Algorithm 1 of Real et al. as NAS-Bench-201 runs it: fill a population of
``population_size`` random cells (drawn with replacement); then, per cycle, draw
``sample_size`` members uniformly *with replacement*, take the best of them as parent,
mutate it (one uniformly chosen edge gets one of the 4 *other* ops, uniformly), query the
child, append it and drop the oldest member. The result is the best cell ever queried.

Defaults: population 10 (NAS-Bench-201's ``--ea_population 10``); sample size 10 (our default;
NAS-Bench-201 exposes it as a script argument, and its documented command line passes 3 -
pass ``sample_size=3`` for that).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from ..nasbench import NB201Table
from ._common import (
    HIGH,
    NUM_EDGES,
    NUM_OPS,
    OutOfBudget,
    TableSearchResult,
    check_fidelity,
    check_int,
    make_result,
    random_codes,
    start,
)

__all__ = ["regularized_evolution", "mutate"]


def mutate(codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of the (6,) op codes with one random edge switched to a different random op."""
    child = np.array(codes, dtype=np.int64, copy=True)
    edge = int(rng.integers(NUM_EDGES))
    shift = int(rng.integers(1, NUM_OPS))  # 1..4: never the same op
    child[edge] = (child[edge] + shift) % NUM_OPS
    return child


def regularized_evolution(
    dataset: str = "cifar10",
    budget: float = 100,
    seed: int = 0,
    *,
    population_size: int = 10,
    sample_size: int = 10,
    fidelity: int = HIGH,
    table: NB201Table | None = None,
) -> TableSearchResult:
    """REA with ``budget`` full evaluations; see the module docstring."""
    fidelity = check_fidelity(fidelity)
    population_size = check_int("population_size", population_size, 1)
    sample_size = check_int("sample_size", sample_size, 1)
    table, oracle, rng, seed = start(table, dataset, budget, seed, fidelity)
    codes = table.op_codes
    population: deque[tuple[int, float]] = deque()  # (index, fitness), oldest first
    try:
        for c in random_codes(rng, population_size):
            i = int(table.indices(c[None, :])[0])
            population.append((i, oracle.query(i, fidelity)))
        while True:
            picks = rng.integers(len(population), size=sample_size)
            parent = max((population[k] for k in picks), key=lambda m: m[1])  # first on ties
            child_codes = mutate(codes[parent[0]], rng)
            child = int(table.indices(child_codes[None, :])[0])
            population.append((child, oracle.query(child, fidelity)))
            population.popleft()
    except OutOfBudget:
        pass
    params = {"population_size": population_size, "sample_size": sample_size, "fidelity": fidelity}
    return make_result("REA", oracle, seed, budget, params)
