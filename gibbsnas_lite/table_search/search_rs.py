"""Random search (RS; Bergstra & Bengio 2012) on the NAS-Bench-201 table.

Cells are drawn uniformly **without replacement** (a random permutation of the 15,625
indices) and each is queried once at ``fidelity`` until the budget or the space runs out;
the result is the best cell seen. NAS-Bench-201's script draws with replacement; at the
budgets of Table 3 (~100 cells) the two differ by well under one repeated cell per run, and
without replacement a budget of 15,625 full evaluations provably finds the table's best.
"""

from __future__ import annotations

from ..nasbench import NUM_ARCHS, NB201Table
from ._common import HIGH, OutOfBudget, TableSearchResult, check_fidelity, make_result, start

__all__ = ["random_search"]


def random_search(
    dataset: str = "cifar10",
    budget: float = 100,
    seed: int = 0,
    *,
    fidelity: int = HIGH,
    table: NB201Table | None = None,
) -> TableSearchResult:
    """Random search with ``budget`` full evaluations; see the module docstring.

    ``fidelity``: 200 (query the final table) or 12 (the 12-epoch table; each query costs 0.06).
    """
    fidelity = check_fidelity(fidelity)
    table, oracle, rng, seed = start(table, dataset, budget, seed, fidelity)
    order = rng.permutation(NUM_ARCHS)
    try:
        for index in order:
            oracle.query(index, fidelity)
    except OutOfBudget:
        pass
    return make_result("RS", oracle, seed, budget, {"fidelity": fidelity})
