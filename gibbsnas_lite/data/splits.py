"""Search splits: which images train the weights ω and which train the architecture α.

Protocols (``search_splits(..., protocol=...)``):

``"nb201"`` (default) - what AutoDL-Projects' ``get_nas_search_loaders`` does for
NAS-Bench-201 searches:

* cifar10: the 50,000 training images are split into two disjoint halves of 25,000, ω on
  ``train`` and α on ``valid`` of NB201's ``cifar-split.txt``; the test set is the 10,000
  test images. That file is not shipped here (it is data we could not copy in); pass
  ``split_file=`` or put it at ``<data folder>/splits/cifar-split.txt``. Without it a
  seeded, class-stratified half split of the training set is used instead, and
  ``SearchSplits.source`` says so.
* cifar100 and ImageNet16-120: ω on the **whole** training set and α on the ``xvalid`` half
  of the test set (NB201's ``cifar100-test-split.txt`` /
  ``imagenet-16-120-test-split.txt``, 5,000 / 3,000 images); ``test`` is the other
  (``xtest``) half, the set NB201 reports test accuracy on. Without the file, a seeded
  class-stratified half split of the test set stands in.
* fashion-mnist and synthetic (not in NB201): the training set halved (as for cifar10,
  seeded and stratified); test = the test set.

``"halves"`` - the training set halved for every dataset (seeded, stratified; for cifar10
the NB201 file is used when available); test = the whole test set.

``"darts"`` - DARTS' ``train_search.py`` with ``train_portion=0.5``: the first half of the
training set (in file order) for ω, the second half for α; test = the whole test set.

In both reference codes the α images get the same training augmentation as the ω images.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .base import ImageDataset
from .download import cache_dir
from .errors import DatasetError

__all__ = [
    "SearchSplits",
    "PROTOCOLS",
    "stratified_halves",
    "read_split_file",
    "write_split_file",
    "make_search_splits",
    "NB201_SPLIT_FILES",
]

PathLike = Union[str, os.PathLike]
PROTOCOLS = ("nb201", "halves", "darts")

#: NB201's split files (AutoDL-Projects, configs/nas-benchmark/) and the keys they hold.
NB201_SPLIT_FILES = {
    "cifar10": ("cifar-split.txt", ("train", "valid")),
    "cifar100": ("cifar100-test-split.txt", ("xvalid", "xtest")),
    "ImageNet16-120": ("imagenet-16-120-test-split.txt", ("xvalid", "xtest")),
}
# The first ten entries of each list in NB201's cifar-split.txt (read from the published
# file), used to tell the official file from another one.
_NB201_CIFAR10_HEAD = {
    "train": (0, 5, 7, 11, 13, 15, 16, 17, 20, 24),
    "valid": (1, 2, 3, 4, 6, 8, 9, 10, 12, 14),
}


@dataclass
class SearchSplits:
    """train: the ω set; valid: the α set; test: held out; source: how the split was made."""

    train: ImageDataset
    valid: ImageDataset
    test: ImageDataset
    source: str
    protocol: str

    def __repr__(self) -> str:
        return (f"SearchSplits(protocol={self.protocol!r}, train={len(self.train)}, "
                f"valid={len(self.valid)}, test={len(self.test)}, source={self.source!r})")


def stratified_halves(labels: Union[torch.Tensor, np.ndarray, Sequence[int]], seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """Split ``range(len(labels))`` into two disjoint, covering halves, class by class.

    Each class's indices are shuffled with a ``torch.Generator`` seeded with ``seed`` (classes
    in increasing order) and dealt alternately to the two halves, so every class is split
    evenly (±1) and the halves differ in size by at most 1. Both index arrays are sorted.
    """
    y = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels, dtype=np.int64)
    g = torch.Generator().manual_seed(int(seed))
    order = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        perm = torch.randperm(len(idx), generator=g).numpy()
        order.append(idx[perm])
    order_arr = np.concatenate(order) if order else np.zeros(0, dtype=np.int64)
    return np.sort(order_arr[0::2]), np.sort(order_arr[1::2])


def read_split_file(path: PathLike) -> Dict[str, np.ndarray]:
    """Read a split file in AutoDL-Projects' format: ``{"key": ["int", ["0", "5", ...]], ...}``.

    Plain JSON lists of ints (``{"train": [0, 5, ...]}``) are accepted too.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read it as a JSON split file ({exc}).") from exc
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: a split file is a JSON object of index lists.")
    out = {}
    for key, value in data.items():
        if isinstance(value, list) and len(value) == 2 and value[0] == "int" and isinstance(value[1], list):
            value = value[1]
        try:
            out[key] = np.asarray([int(v) for v in value], dtype=np.int64)
        except (TypeError, ValueError) as exc:
            raise DatasetError(f"{path}: entry {key!r} is not a list of integers ({exc}).") from None
    return out


def write_split_file(path: PathLike, splits: Dict[str, Sequence[int]]) -> Path:
    """Write index lists in AutoDL-Projects' format (readable by :func:`read_split_file`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {k: ["int", [str(int(i)) for i in v]] for k, v in splits.items()}
    path.write_text(json.dumps(body))
    return path


def _check_partition(a: np.ndarray, b: np.ndarray, n: int, what: str, covering: bool = True) -> None:
    for name, idx in (("first", a), ("second", b)):
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise DatasetError(f"{what}: {name} index list has entries outside 0..{n - 1}.")
        if np.unique(idx).size != idx.size:
            raise DatasetError(f"{what}: {name} index list has repeated entries.")
    if np.intersect1d(a, b).size:
        raise DatasetError(f"{what}: the two index lists overlap.")
    if covering and a.size + b.size != n:
        raise DatasetError(f"{what}: the two lists hold {a.size} + {b.size} indices, expected {n} in all.")


def _find_split_file(dataset: str, root: Optional[PathLike], split_file: Optional[PathLike]) -> Optional[Path]:
    if split_file is not None:
        p = Path(split_file).expanduser()
        if not p.is_file():
            raise DatasetError(f"split file {p} does not exist.")
        return p
    entry = NB201_SPLIT_FILES.get(dataset)
    if entry is None:
        return None
    p = cache_dir(root) / "splits" / entry[0]
    return p if p.is_file() else None


def _two_way(dataset: str, path: Path, n: int) -> Tuple[np.ndarray, np.ndarray, str]:
    keys = NB201_SPLIT_FILES[dataset][1]
    d = read_split_file(path)
    if keys[0] not in d:
        raise DatasetError(f"{path}: no {keys[0]!r} list (keys found: {sorted(d)}); expected NB201's {NB201_SPLIT_FILES[dataset][0]}.")
    a = d[keys[0]]
    b = d[keys[1]] if keys[1] in d else np.setdiff1d(np.arange(n), a)
    _check_partition(a, b, n, str(path))
    official = dataset == "cifar10" and all(
        tuple(d.get(k, np.zeros(0))[:10].tolist()) == head for k, head in _NB201_CIFAR10_HEAD.items()
    )
    tag = "NAS-Bench-201 split file" + (" (matches the published cifar-split.txt)" if official else "")
    return a, b, f"{tag} {path}: {keys[0]}={a.size}, {keys[1]}={b.size}"


def make_search_splits(
    dataset: str,
    train: ImageDataset,
    test: ImageDataset,
    protocol: str = "nb201",
    *,
    root: Optional[PathLike] = None,
    split_file: Optional[PathLike] = None,
    seed: int = 0,
) -> SearchSplits:
    """Build the ω / α / test sets of ``dataset`` from its (train, test) pair (see module doc)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown split protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if protocol == "darts" and split_file is not None:
        raise ValueError("the 'darts' protocol splits by file order; split_file applies to 'nb201' and 'halves'")
    n_train, n_test = len(train), len(test)

    def sub(ds, idx, tag):
        return ds.subset(idx, name=f"{dataset}-{tag}")

    if protocol == "darts":
        half = n_train // 2  # int(floor(0.5 * n)) as in DARTS
        a, b = np.arange(half), np.arange(half, n_train)
        return SearchSplits(sub(train, a, "search-train"), sub(train, b, "search-valid"), test,
                            f"DARTS train_search.py split (train_portion=0.5): first {half} / last {n_train - half} "
                            f"training images in file order", protocol)

    test_split = protocol == "nb201" and dataset in ("cifar100", "ImageNet16-120")
    if test_split:
        path = _find_split_file(dataset, root, split_file)
        if path is not None:
            xv, xt, src = _two_way(dataset, path, n_test)
        else:
            xv, xt = stratified_halves(test.labels, seed)
            src = (f"seeded (seed={seed}) class-stratified halves of the test set standing in for "
                   f"NB201's {NB201_SPLIT_FILES[dataset][0]} (not found; see docs/data.md)")
        return SearchSplits(
            train,
            sub(test, xv, "search-valid"),
            sub(test, xt, "x-test"),
            f"ω: the whole training set ({n_train}); α: x-valid ({xv.size}); test: x-test ({xt.size}); {src}",
            protocol,
        )

    path = _find_split_file(dataset, root, split_file) if dataset == "cifar10" else None
    if split_file is not None and dataset != "cifar10":
        path = Path(split_file)
        d = read_split_file(path)
        if not {"train", "valid"} <= set(d):
            raise DatasetError(f"{path}: a training-set split file needs 'train' and 'valid' lists (found {sorted(d)}).")
        a, b = d["train"], d["valid"]
        _check_partition(a, b, n_train, str(path))
        src = f"split file {path}: train={a.size}, valid={b.size}"
    elif path is not None:
        a, b, src = _two_way("cifar10", path, n_train)
    else:
        a, b = stratified_halves(train.labels, seed)
        src = f"seeded (seed={seed}) class-stratified halves of the training set"
        if dataset == "cifar10":
            src += " standing in for NB201's cifar-split.txt (not found; see docs/data.md)"
    return SearchSplits(sub(train, a, "search-train"), sub(train, b, "search-valid"), test, src, protocol)
