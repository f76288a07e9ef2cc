"""Table-based NAS on NAS-Bench-201: random search, REA, REINFORCE and a BOHB-style search.

The non-weight-sharing block of GibbsNAS Table 3 (numbers from NAS-Bench-201), rebuilt on the
shipped tables (:class:`gibbsnas_lite.nasbench.NB201Table`): no training, every "evaluation"
is a look-up, so a search takes milliseconds::

    >>> from gibbsnas_lite.table_search import run_table_search, run_many, result_stats
    >>> r = run_table_search("REA", "cifar10", budget=100, seed=0)   # 100 full evaluations
    >>> r.arch, r.valid, r.test                                      # found cell, its valid / test %
    >>> r.incumbent_valid                                            # anytime curve, per query
    >>> runs = run_many(["RS", "REA"], "cifar100", budget=100, seeds=10)
    >>> result_stats(runs["REA"])["test"]                            # Stat(mean, std, n)

The figure of the anytime curves is :func:`gibbsnas_lite.course.plots.table_search.anytime_figure`.

Protocol (see ``docs/table_search.md``):

* **Selection by validation accuracy only**: CIFAR-10 is searched on ``cifar10-valid``'s valid
  split (and its found cell reported on ``cifar10`` test, trained on all 50k images, as
  NAS-Bench-201 and Table 3 do); CIFAR-100 / ImageNet16-120 on their valid split, reported on
  their test split. Test accuracy is only ever reported.
* **Budget** in full evaluations: a 200-epoch query costs 1, a 12-epoch query 12/200 (the
  tables have no training-time column, so NAS-Bench-201's simulated seconds become
  fidelity-weighted query counts). A query that would overrun the budget ends the search.
* RS / REA / REINFORCE query one fidelity (``fidelity=200`` default, ``12`` possible); the
  BOHB-style search mixes both.
* Seeded and deterministic: each run uses only ``numpy.random.default_rng(seed)``.
"""

from ._common import (
    FIDELITIES,
    HIGH,
    LOW,
    SEARCH_DATASETS,
    SEARCH_SPLIT,
    TEST_SPLIT,
    Oracle,
    TableSearchResult,
)
from .runner import (
    ALGORITHMS,
    PAPER_TABLE3,
    TABLE3_DATASETS,
    Stat,
    anytime_curves,
    format_table3,
    get_algorithm,
    result_stats,
    run_many,
    run_table_search,
    summarize,
    table3_block,
)
from .search_bohb import TPEModel, bohb
from .search_rea import mutate, regularized_evolution
from .search_reinforce import reinforce
from .search_rs import random_search

__all__ = [
    "ALGORITHMS",
    "FIDELITIES",
    "HIGH",
    "LOW",
    "PAPER_TABLE3",
    "SEARCH_DATASETS",
    "SEARCH_SPLIT",
    "TABLE3_DATASETS",
    "TEST_SPLIT",
    "Oracle",
    "TableSearchResult",
    "Stat",
    "TPEModel",
    "anytime_curves",
    "bohb",
    "format_table3",
    "get_algorithm",
    "mutate",
    "random_search",
    "regularized_evolution",
    "reinforce",
    "result_stats",
    "run_many",
    "run_table_search",
    "summarize",
    "table3_block",
]
