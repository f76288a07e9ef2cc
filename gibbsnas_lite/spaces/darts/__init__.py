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
from .model import NetworkCIFAR, NetworkImageNet, count_parameters
from .model_search import Network
from .operations import OPS, make_op

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
