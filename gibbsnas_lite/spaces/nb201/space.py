"""NAS-Bench-201 as the search loop sees it: the entry's functions in :mod:`gibbsnas_lite.spaces.registry`.

- :func:`supernet`: the one-shot network (``N`` cells per stage, ``C`` channels);
- :func:`derive`: alpha's argmax per edge (``none`` included), as the benchmark derives;
- :func:`benchmark`: the cell's 200-epoch accuracies from the shipped table (``data/nb201``);
- :func:`cell_stats`: whether a path passes a convolution, and the share of parameter-free edges.
"""

from __future__ import annotations

from typing import Any

from .arch import derive_arch, format_arch, parse_arch
from .cell_stats import has_parameterised_path, parameter_free_share


def supernet(config, num_classes: int, in_channels: int):
    from .model_search import NB201SearchNetwork

    return NB201SearchNetwork(
        C=config.channels, N=config.cells_per_stage, num_classes=num_classes, in_channels=in_channels
    )


def derive(alphas: list[Any]) -> str:
    (alpha,) = alphas
    return derive_arch(alpha.detach() if hasattr(alpha, "detach") else alpha)


def canonical(arch: str) -> str:
    return format_arch(parse_arch(arch))


def benchmark(arch: str) -> dict[str, float]:
    """The NAS-Bench-201 accuracies of a cell: CIFAR-10 valid/test, CIFAR-100 and ImageNet16-120 test."""
    from ...nasbench import NB201Table

    table = NB201Table.load()
    return {
        "cifar10_valid": table.accuracy(arch, "cifar10-valid", "valid"),
        "cifar10_test": table.accuracy(arch, "cifar10", "test"),
        "cifar100_test": table.accuracy(arch, "cifar100", "test"),
        "ImageNet16-120_test": table.accuracy(arch, "ImageNet16-120", "test"),
    }


def cell_stats(arch: str) -> dict[str, Any]:
    return {"parameterised_path": has_parameterised_path(arch), "parameter_free_share": parameter_free_share(arch)}
