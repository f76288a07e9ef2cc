"""NAS-Bench-201 search space (Dong & Yang, ICLR 2020): ops, arch strings, supernet, discrete network."""
from .arch import EDGES, NUM_EDGES, NUM_OPS, OPS, derive_arch, format_arch, parse_arch

__all__ = ["EDGES", "NUM_EDGES", "NUM_OPS", "OPS", "derive_arch", "format_arch", "parse_arch"]
