"""The DARTS space as the search loop sees it: the entry's functions in :mod:`gibbsnas_lite.spaces.registry`.

- :func:`supernet`: DARTS's search network with ``3N - 1`` cells (``N = cells_per_stage``;
  N = 3 gives the 8-cell network of the paper);
- :func:`derive`: DARTS's derivation (top-2 inputs per node, best non-``none`` op), as a
  one-line genotype ``normal=|op~j|...;reduce=|...``.
"""

from __future__ import annotations

from typing import Any

from .genotypes import derive_genotype, format_genotype, parse_genotype


def supernet(config, num_classes: int, in_channels: int):
    from .model_search import Network

    # ``cells_per_stage`` N gives 3N - 1 cells (N=3 -> 8), so the smaller profiles shrink it the
    # same way as NB201's. At least 3 cells: with 2, both are reduction cells (layers // 3 = 0,
    # 2 * layers // 3 = 1) and alpha_normal would never be used; 3 gives normal, reduction, reduction.
    return Network(
        C=config.channels,
        layers=max(3, 3 * config.cells_per_stage - 1),
        num_classes=num_classes,
        in_channels=in_channels,
    )


def derive(alphas: list[Any]) -> str:
    normal, reduce = (a.detach() if hasattr(a, "detach") else a for a in alphas)
    return format_genotype(derive_genotype(normal, reduce))


def canonical(arch: str) -> str:
    return format_genotype(parse_genotype(arch, steps=None))
