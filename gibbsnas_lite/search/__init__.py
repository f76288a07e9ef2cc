"""The search engine: Algorithm 1 and the one-shot baselines on one shared loop.

    from gibbsnas_lite.search import make_config, run_search
    result = run_search(make_config("gibbs2", profile="smoke"), out_dir="runs/demo")
    result.arch, result.benchmark

Modules: ``registry`` (the strategy table: name -> class, order, mode, labels, defaults; a new
strategy is one file plus one ``register`` line there), ``config`` (profiles, defaults and their
sources), ``base`` (the strategy interface, DARTS's shared optimizers), ``gibbs`` (GibbsNAS
1st/2nd order, sample/mean), ``darts`` (DARTS-V1/V2), ``gdas``, ``rsps``, ``data`` (search
splits on the device), ``history``, ``checkpoint``, ``loop``, ``drive`` (did the data or the
noise move alpha: the drift/noise split and the noise-only control). Run-folder helpers (atomic writes,
RNG states, progress bars) are in :mod:`gibbsnas_lite.runs`.
"""

from ..runs import NonFiniteLossError
from .config import PROFILES, SearchConfig, make_config
from .history import History
from .loop import SearchResult, StopSearch, run_search
from .registry import strategy_names

__all__ = [
    "History",
    "NonFiniteLossError",
    "PROFILES",
    "STRATEGIES",
    "SearchConfig",
    "SearchResult",
    "StopSearch",
    "make_config",
    "run_search",
]


def __getattr__(name: str):
    """``STRATEGIES``: the registry's names in its order, read on each access (a strategy registered
    later is in it)."""
    if name == "STRATEGIES":
        return strategy_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
