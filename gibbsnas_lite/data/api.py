"""One entry point for every dataset: ``load_dataset`` and ``search_splits``."""

from __future__ import annotations

import os
from typing import Any, Optional, Tuple, Union

from .base import ImageDataset
from .splits import SearchSplits, make_search_splits

__all__ = ["DATASETS", "load_dataset", "search_splits", "canonical_name"]

PathLike = Union[str, os.PathLike]

DATASETS = ("cifar10", "cifar100", "ImageNet16-120", "fashion-mnist", "synthetic")
_ALIASES = {
    "cifar10": "cifar10", "cifar-10": "cifar10",
    "cifar100": "cifar100", "cifar-100": "cifar100",
    "imagenet16-120": "ImageNet16-120", "imagenet16": "ImageNet16-120",
    "fashion-mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "fashion_mnist": "fashion-mnist",
    "synthetic": "synthetic",
}


def canonical_name(name: str) -> str:
    """The canonical spelling of a dataset name; ValueError listing the names if unknown."""
    key = str(name).strip().lower()
    if key not in _ALIASES:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}")
    return _ALIASES[key]


def load_dataset(
    name: str,
    root: Optional[PathLike] = None,
    download: bool = False,
    **options: Any,
) -> Tuple[ImageDataset, ImageDataset]:
    """(train, test) of a dataset as uint8 tensors, loaded from the data folder.

    name: one of ``cifar10``, ``cifar100``, ``ImageNet16-120``, ``fashion-mnist``, ``synthetic``.
    root: the data folder (default ``$GIBBSNAS_DATA`` or ``~/.cache/gibbsnas-lite``).
    download: fetch missing CIFAR / Fashion-MNIST files (ImageNet16 cannot be downloaded).
    options: passed to the dataset's loader, e.g. ``verify=False``; for fashion-mnist
        ``pad_to_32=True`` / ``rgb=True``; for synthetic ``num_train``, ``num_classes``,
        ``channels``, ``size``, ``noise``, ``seed``...; for ImageNet16 ``num_classes``.
    """
    canon = canonical_name(name)
    if canon in ("cifar10", "cifar100"):
        from .cifar import load_cifar

        return load_cifar(canon, root, download, **options)
    if canon == "ImageNet16-120":
        from .imagenet16 import load_imagenet16

        options.setdefault("num_classes", 120)
        return load_imagenet16(root, **options)
    if canon == "fashion-mnist":
        from .fashion_mnist import load_fashion_mnist

        return load_fashion_mnist(root, download, **options)
    from .synthetic import make_synthetic

    return make_synthetic(**options)


def search_splits(
    name: str,
    root: Optional[PathLike] = None,
    download: bool = False,
    *,
    protocol: str = "nb201",
    split_file: Optional[PathLike] = None,
    seed: int = 0,
    **options: Any,
) -> SearchSplits:
    """The ω (``train``), α (``valid``) and ``test`` sets of a search on ``name``.

    See :mod:`gibbsnas_lite.data.splits` and docs/data.md for the protocols
    (``"nb201"``, ``"halves"``, ``"darts"``) and where each split comes from.
    ``options`` go to :func:`load_dataset`.
    """
    canon = canonical_name(name)
    train, test = load_dataset(canon, root, download, **options)
    return make_search_splits(canon, train, test, protocol, root=root, split_file=split_file, seed=seed)
