"""Datasets, search splits and a device-resident loader for GibbsNAS searches.

Quick use::

    from gibbsnas_lite.data import load_dataset, search_splits, search_loaders

    train, test = load_dataset("synthetic")                       # no files needed
    splits = search_splits("cifar10", download=True)              # ω / α / test sets
    w_loader, a_loader, test_loader = search_loaders(splits, (64, 256), device="cuda")
    for x, y in w_loader:                                          # one epoch, on the GPU
        xa, ya = a_loader.next_batch()

Datasets: ``cifar10``, ``cifar100`` (downloaded on request, md5-checked), ``ImageNet16-120``
(user-supplied files), ``fashion-mnist`` (Debian package, a folder, or a download),
``synthetic`` (generated). Nothing is downloaded at import time. See docs/data.md.
"""

from .api import DATASETS, canonical_name, load_dataset, search_splits
from .augment import Augment, NO_AUGMENT, apply_augment, cutout, draw_augment, normalize, random_crop, random_flip
from .base import ImageDataset
from .download import cache_dir, download_url, file_digest, verify_file
from .errors import ChecksumError, DatasetError, DatasetNotFoundError
from .loader import DeviceLoader, search_loaders
from .splits import PROTOCOLS, SearchSplits, make_search_splits, read_split_file, stratified_halves, write_split_file

__all__ = [
    "DATASETS",
    "PROTOCOLS",
    "Augment",
    "NO_AUGMENT",
    "ChecksumError",
    "DatasetError",
    "DatasetNotFoundError",
    "DeviceLoader",
    "ImageDataset",
    "SearchSplits",
    "apply_augment",
    "cache_dir",
    "canonical_name",
    "cutout",
    "download_url",
    "draw_augment",
    "file_digest",
    "load_dataset",
    "make_search_splits",
    "normalize",
    "random_crop",
    "random_flip",
    "read_split_file",
    "search_loaders",
    "search_splits",
    "stratified_halves",
    "verify_file",
    "write_split_file",
]
