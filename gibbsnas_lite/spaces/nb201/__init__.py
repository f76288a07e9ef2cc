"""NAS-Bench-201 search space (Dong & Yang, ICLR 2020): ops, arch strings, supernet, discrete network.

The arch-string helpers import without torch (the table lookup and the table-based searches
only need them); the networks load on first use.
"""

from importlib import import_module

from .arch import EDGES, NUM_EDGES, NUM_OPS, OPS, derive_arch, format_arch, parse_arch

_LAZY = {
    "NB201Cell": "model",
    "NB201Network": "model",
    "count_parameters": "model",
    "NB201SearchNetwork": "model_search",
    "SearchCell": "model_search",
    "OPERATIONS": "ops",
    "ResNetBasicBlock": "ops",
    "make_op": "ops",
}

__all__ = ["EDGES", "NUM_EDGES", "NUM_OPS", "OPS", "derive_arch", "format_arch", "parse_arch", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
