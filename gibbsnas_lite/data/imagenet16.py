"""ImageNet16-120 (NAS-Bench-201) from user-supplied downsampled-ImageNet 16×16 files.

The files are the pickled batches of Downsampled ImageNet 16×16 (Chrabaszcz, Loshchilov &
Hutter 2017, "A Downsampled Variant of ImageNet as an Alternative to the CIFAR datasets"):
``train_data_batch_1`` … ``train_data_batch_10`` and ``val_data``, each a pickled dict with
``data`` (uint8, N×768: the 16×16 red plane, then green, then blue) and ``labels`` (ints
1..1000, **1-based**). They cannot be downloaded here (ImageNet needs a login): get them
from image-net.org (downsampled ImageNet, 16×16, the pickle version) or the link in the
NAS-Bench-201 README, and put them in ``<root>/ImageNet16/`` (or pass ``root=`` the folder).

ImageNet16-120 keeps the images whose label is in 1..120 and shifts the labels to 0..119,
exactly as AutoDL-Projects' ``ImageNet16(root, train, transform, 120)`` does (it keeps
``1 <= label <= 120`` and returns ``label - 1``): 151,700 training and 6,000 validation
images. NAS-Bench-201 uses the 6,000 ``val_data`` images as its test set.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np
import torch

from .augment import Augment
from .base import ImageDataset
from .download import cache_dir, verify_file
from .errors import DatasetError, DatasetNotFoundError
from .formats import load_pickle

__all__ = ["load_imagenet16", "IMAGENET16_FILES", "IMAGENET16_MEAN", "IMAGENET16_STD", "IMAGENET16_COUNTS"]

PathLike = Union[str, os.PathLike]

#: md5 of each file, as listed in AutoDL-Projects (lib/datasets/DownsampledImageNet.py).
IMAGENET16_FILES = {
    "train_data_batch_1": "27846dcaa50de8e21a7d1a35f30f0e91",
    "train_data_batch_2": "c7254a054e0e795c69120a5727050e3f",
    "train_data_batch_3": "4333d3df2e5ffb114b05d2ffc19b1e87",
    "train_data_batch_4": "1620cdf193304f4a92677b695d70d10f",
    "train_data_batch_5": "348b3c2fdbb3940c4e9e834affd3b18d",
    "train_data_batch_6": "6e765307c242a1b3d7d5ef9139b48945",
    "train_data_batch_7": "564926d8cbf8fc4818ba23d2faac7564",
    "train_data_batch_8": "f4755871f718ccb653440b9dd0ebac66",
    "train_data_batch_9": "bb6dd660c38c58552125b1a92f86b5d4",
    "train_data_batch_10": "8f03f34ac4b42271a294f91bf480f29b",
    "val_data": "3410e3017fdaefba8d5073aaa65e4bd6",
}
TRAIN_FILES = tuple(f"train_data_batch_{i}" for i in range(1, 11))
VALID_FILES = ("val_data",)

#: (train, test) sizes after keeping the first k classes, as AutoDL-Projects asserts them.
IMAGENET16_COUNTS = {120: (151700, 6000), 150: (190272, 7500), 200: (254775, 10000), 1000: (1281167, 50000)}

# NAS-Bench-201's normalization constants for ImageNet16 (AutoDL-Projects).
IMAGENET16_MEAN = tuple(x / 255 for x in (122.68, 116.66, 104.01))
IMAGENET16_STD = tuple(x / 255 for x in (63.22, 61.26, 65.09))

_WHERE = (
    "ImageNet16 cannot be downloaded automatically (ImageNet needs a login). Get the pickle "
    "version of Downsampled ImageNet 16x16 (files train_data_batch_1..10 and val_data) from "
    "image-net.org (download page, downsampled images) or the link in the NAS-Bench-201 README, "
    "and put the files in {folder} (or pass root= the folder that holds them)."
)


def _folder(root: Optional[PathLike]) -> Path:
    base = cache_dir(root)
    if (base / "val_data").is_file() or (base / "train_data_batch_1").is_file():
        return base
    return base / "ImageNet16"


def load_imagenet16(
    root: Optional[PathLike] = None,
    num_classes: int = 120,
    *,
    verify: bool = True,
) -> Tuple[ImageDataset, ImageDataset]:
    """(train, test) of ImageNet16-``num_classes`` as uint8 N×3×16×16 tensors, labels 0-based.

    ``root`` is the folder with the 11 files (or its parent holding ``ImageNet16/``).
    ``verify`` checks each file's md5 against the published list first (about 1.3 GB to
    hash) and, for 120/150/200/1000 classes, the image counts AutoDL-Projects asserts.
    """
    if not (1 <= num_classes <= 1000):
        raise ValueError(f"num_classes must be in 1..1000, got {num_classes}")
    folder = _folder(root)
    missing = [f for f in TRAIN_FILES + VALID_FILES if not (folder / f).is_file()]
    if missing:
        raise DatasetNotFoundError(
            f"ImageNet16 file(s) missing in {folder}: {', '.join(missing)}. " + _WHERE.format(folder=folder)
        )
    if verify:
        for f in TRAIN_FILES + VALID_FILES:
            verify_file(folder / f, IMAGENET16_FILES[f], what="ImageNet16 file")
    out = []
    for split, files in (("train", TRAIN_FILES), ("test", VALID_FILES)):
        xs, ys = [], []
        for f in files:
            d = load_pickle(folder / f)
            try:
                data = np.asarray(d["data"], dtype=np.uint8)
                labels = np.asarray(d["labels"], dtype=np.int64)
            except KeyError as exc:
                raise DatasetError(f"{folder / f}: no key {exc}; not a downsampled-ImageNet batch.") from None
            if data.ndim != 2 or data.shape[1] != 3 * 16 * 16 or data.shape[0] != labels.shape[0]:
                raise DatasetError(
                    f"{folder / f}: data has shape {data.shape} and {labels.shape[0]} labels; "
                    f"expected N×768 (3×16×16) and N labels."
                )
            if labels.size and (labels.min() < 1 or labels.max() > 1000):
                raise DatasetError(f"{folder / f}: labels outside 1..1000 (the files use 1-based labels).")
            keep = labels <= num_classes
            xs.append(data[keep].reshape(-1, 3, 16, 16))
            ys.append(labels[keep] - 1)
        x, y = np.concatenate(xs), np.concatenate(ys)
        out.append(
            ImageDataset(
                images=torch.from_numpy(np.ascontiguousarray(x)),
                labels=torch.from_numpy(y),
                name=f"ImageNet16-{num_classes}-{split}",
                num_classes=num_classes,
                mean=IMAGENET16_MEAN,
                std=IMAGENET16_STD,
                augment=Augment(crop_padding=2, flip=True),
            )
        )
    if verify and num_classes in IMAGENET16_COUNTS:
        want = IMAGENET16_COUNTS[num_classes]
        got = (len(out[0]), len(out[1]))
        if got != want:
            raise DatasetError(f"ImageNet16-{num_classes} in {folder}: {got} (train, test) images, expected {want}.")
    return out[0], out[1]
