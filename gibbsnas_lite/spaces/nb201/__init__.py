"""NAS-Bench-201 search space (Dong & Yang, ICLR 2020): ops, arch strings, supernet, discrete network."""
from .arch import EDGES, NUM_EDGES, NUM_OPS, OPS, derive_arch, format_arch, parse_arch
from .model import NB201Cell, NB201Network, count_parameters
from .model_search import NB201SearchNetwork, SearchCell
from .ops import OPERATIONS, ResNetBasicBlock, make_op

__all__ = ["EDGES", "NUM_EDGES", "NUM_OPS", "OPS", "derive_arch", "format_arch", "parse_arch",
           "NB201Cell", "NB201Network", "count_parameters", "NB201SearchNetwork", "SearchCell",
           "OPERATIONS", "ResNetBasicBlock", "make_op"]
