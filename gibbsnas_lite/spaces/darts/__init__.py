"""DARTS search space (Liu, Simonyan & Yang, "DARTS: Differentiable Architecture Search",
ICLR 2019): 8 candidate ops, normal and reduction cells with 4 intermediate nodes
(14 edges), the search network (8 cells, C=16) and the evaluation networks for CIFAR
(20 cells, C=36) and ImageNet (14 cells, C=48).

- ``operations``: the ops (``OPS``, ``make_op``, ``SepConv``, ``DilConv``, ...).
- ``genotypes``: ``Genotype``, ``PRIMITIVES``, published genotypes, validation,
  derivation from alpha, text/JSON forms.
- ``model_search``: ``Network``, the supernet with ``alpha_normal`` / ``alpha_reduce``.
- ``model``: ``NetworkCIFAR``, ``NetworkImageNet``, ``count_parameters``.
"""

from importlib import import_module

from .genotypes import (
    DARTS_V1,
    DARTS_V2,
    EDGES,
    GENOTYPES,
    NUM_EDGES,
    NUM_OPS,
    PRIMITIVES,
    Genotype,
    derive_genotype,
    format_genotype,
    genotype_from_dict,
    genotype_to_dict,
    parse_genotype,
    validate_genotype,
)

# the networks and ops load on first use (the genotype helpers import without torch, as NB201's)
_LAZY = {
    "NetworkCIFAR": "model",
    "NetworkImageNet": "model",
    "count_parameters": "model",
    "Network": "model_search",
    "OPS": "operations",
    "make_op": "operations",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DARTS_V1",
    "DARTS_V2",
    "EDGES",
    "GENOTYPES",
    "NUM_EDGES",
    "NUM_OPS",
    "OPS",
    "PRIMITIVES",
    "Genotype",
    "Network",
    "NetworkCIFAR",
    "NetworkImageNet",
    "count_parameters",
    "derive_genotype",
    "format_genotype",
    "genotype_from_dict",
    "genotype_to_dict",
    "make_op",
    "parse_genotype",
    "validate_genotype",
]
