"""Fashion-MNIST (Xiao, Rasul & Vollgraf 2017) from gzip IDX files.

Where the files are looked for, in order:

1. ``root`` if given (the four ``.gz`` files directly in it, or in ``root/fashion-mnist/``);
2. the data folder (``$GIBBSNAS_DATA`` or ``~/.cache/gibbsnas-lite``) ``/fashion-mnist/``;
3. Debian's package ``dataset-fashion-mnist``: ``/usr/share/datasets/fashion-mnist/``;
4. with ``download=True``: the upstream mirror, into the data folder;
``root="embedded"`` reads the embedded subset (below) and nothing else, on every machine: the
stage of the deep seed study (``cpu-deep``), so a learner's run sees the study's pictures
whether or not the full set is installed.

5. otherwise (no ``root`` given, no download asked for): the **embedded subset** shipped with the
   kit in ``data/fashion-mnist-subset/`` (8,200 training and 2,000 test images, the first 820 /
   200 of each class in file order; MIT licence, provenance in that folder), with a warning.
   It is what makes the notebooks' ``cpu`` profile run on a fresh clone or on Binder with no
   download; the cpu profile keeps 4,096 images per search half, which the subset covers.

Checksums are taken on the **decompressed** IDX bytes: Debian recompressed the ``.gz`` files,
so their md5 differs from upstream's while the content is identical. A download is accepted
when either the ``.gz`` md5 (upstream's published value) or the decompressed md5 matches.

Images are 1×28×28 uint8 (0 = background). ``pad_to_32=True`` zero-pads 2 pixels on every
side to 1×32×32 (the LeNet-5 convention for MNIST), so the 32×32 CIFAR protocol of the
NAS-Bench-201 macro network (crop 32 with padding 4) applies unchanged; ``rgb=True``
repeats the channel three times for networks whose stem expects 3 channels.

``size=16`` halves the resolution (2×2 mean pooling to 14×14, then 1 pixel of zero padding to
16×16; random crops pad by 2 instead of 4): the CPU search stage, where a step costs about a
quarter of a 32×32 step (docs/search.md). ``size=32`` is ``pad_to_32=True``; ``size=28`` (or
None) keeps the native images.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import warnings
from pathlib import Path
from typing import Optional, Tuple, Union

import numpy as np
import torch

from .augment import Augment
from .base import ImageDataset
from .download import Opener, cache_dir, download_url
from .errors import ChecksumError, DatasetError, DatasetNotFoundError
from .formats import read_idx

IMAGE_SIZES = (16, 28, 32)  # load_fashion_mnist(size=...): pooled, native, padded

__all__ = ["load_fashion_mnist", "FASHION_MNIST_FILES", "FASHION_MNIST_URL", "FASHION_MNIST_MEAN",
           "FASHION_MNIST_STD", "FASHION_MNIST_CLASSES", "DEBIAN_DIR", "SUBSET_FILES", "find_subset_dir",
           "EMBEDDED"]

PathLike = Union[str, os.PathLike]

FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
EMBEDDED = "embedded"  # load_fashion_mnist(root=EMBEDDED): the embedded subset, whatever else is installed

#: file -> (md5 of upstream's .gz, md5 of the decompressed IDX bytes).
FASHION_MNIST_FILES = {
    "train-images-idx3-ubyte.gz": ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
    "train-labels-idx1-ubyte.gz": ("25c81989df183df01b3e8a0aad5dffbe", "9018921c3c673c538a1fc5bad174d6f9"),
    "t10k-images-idx3-ubyte.gz": ("bef4ecab320f06d8554ea6380940ec79", "8181f5470baa50b63fa0f6fddb340f0a"),
    "t10k-labels-idx1-ubyte.gz": ("bb300cfdad3c16e7a12a480ee83cd310", "15d484375f8d13e6eb1aabb0c3f46965"),
}
#: the embedded subset: file -> md5 of the decompressed IDX bytes (data/fashion-mnist-subset/).
SUBSET_FILES = {
    "train-images-idx3-ubyte.gz": "e629cff74fda73f434a4cf4f2b93e7b4",
    "train-labels-idx1-ubyte.gz": "6995ef69a239c0202331b6ad7c3370bc",
    "t10k-images-idx3-ubyte.gz": "4bb4107a89a38933fbbdd67584195c68",
    "t10k-labels-idx1-ubyte.gz": "84e2038f7beda4c0f4093bde29339f63",
}
_SUBSET = "fashion-mnist-subset"
_SPLITS = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

# Mean and std of the 60,000 training images (28×28, pixel/255), computed here from the files.
FASHION_MNIST_MEAN = (0.2860,)
FASHION_MNIST_STD = (0.3530,)
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def _has_all(folder: Path) -> bool:
    return all((folder / f).is_file() for f in FASHION_MNIST_FILES)


def _candidates(root: Optional[PathLike]) -> list:
    if root is not None:
        r = Path(root).expanduser()
        return [r, r / "fashion-mnist"]
    return [cache_dir() / "fashion-mnist", DEBIAN_DIR]


def find_subset_dir() -> Optional[Path]:
    """The embedded subset's folder (repository checkout, then installed data files), or None."""
    import site
    import sys
    candidates = [Path(__file__).resolve().parents[2] / "data" / _SUBSET,
                  Path(sys.prefix) / "share" / "gibbsnas-lite" / _SUBSET]
    user_base = getattr(site, "USER_BASE", None)
    if user_base:
        candidates.append(Path(user_base) / "share" / "gibbsnas-lite" / _SUBSET)
    return next((c for c in candidates if _has_all(c)), None)


def _read_checked(path: Path, raw_md5: Optional[str]) -> np.ndarray:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DatasetError(f"{path}: corrupt gzip stream ({exc}); delete it and fetch it again.") from exc
    if raw_md5 is not None:
        actual = hashlib.md5(raw).hexdigest()
        if actual != raw_md5:
            raise ChecksumError(
                f"checksum mismatch for Fashion-MNIST file {path}: expected md5 {raw_md5} of the "
                f"decompressed content, got {actual}. Fix: delete it and call again with "
                f"download=True, install Debian's dataset-fashion-mnist, or pass root= a folder "
                f"with good copies."
            )
    return read_idx(raw, name=str(path))


def _download(folder: Path, base_url: str, opener: Optional[Opener], verify: bool) -> None:
    for fname, (gz_md5, raw_md5) in FASHION_MNIST_FILES.items():
        dest = folder / fname
        if dest.is_file():
            continue
        url = base_url + fname
        # Checked on the decompressed content (not the .gz md5), so a recompressed mirror works too.
        download_url(url, dest, None, opener=opener, progress=False,
                     manual_hint="or install Debian's package dataset-fashion-mnist",
                     validate=(lambda p, m=raw_md5: _read_checked(p, m)) if verify else None)


def load_fashion_mnist(
    root: Optional[PathLike] = None,
    download: bool = False,
    *,
    pad_to_32: bool = False,
    size: Optional[int] = None,
    rgb: bool = False,
    verify: bool = True,
    url: str = FASHION_MNIST_URL,
    opener: Optional[Opener] = None,
) -> Tuple[ImageDataset, ImageDataset]:
    """(train, test) of Fashion-MNIST: 60,000 / 10,000 uint8 images, 1×28×28 (see module doc).

    ``size``: 16, 28 or 32 (None: 28, or 32 with ``pad_to_32``); see the module doc.
    """
    if size is None:
        size = 32 if pad_to_32 else 28
    if size not in IMAGE_SIZES:
        raise ValueError(f"Fashion-MNIST size {size!r} is not supported; choose one of {IMAGE_SIZES} "
                         "(16: 2x2-pooled and padded, 28: native, 32: zero-padded)")
    checksums = {f: md5s[1] for f, md5s in FASHION_MNIST_FILES.items()}
    prefix = "fashion-mnist"
    if root == EMBEDDED:
        folder = find_subset_dir()
        if folder is None:
            raise DatasetNotFoundError(
                "Fashion-MNIST: root='embedded' asks for the kit's embedded subset, but "
                "data/fashion-mnist-subset/ was not found next to the package; use a repository "
                "checkout (or an install with its data files), or give root= a folder with the full set."
            )
        checksums, prefix = SUBSET_FILES, "fashion-mnist-subset"
    else:
        folder = next((c for c in _candidates(root) if _has_all(c)), None)
    if folder is None and root is None and not download:
        folder = find_subset_dir()
        if folder is not None:
            warnings.warn(
                f"Fashion-MNIST: the full set is not installed, using the kit's embedded subset "
                f"({folder}: 8,200 train / 2,000 test images). For all 70,000: "
                f"`apt-get install dataset-fashion-mnist` (Debian) or download=True.", stacklevel=2)
            checksums, prefix = SUBSET_FILES, "fashion-mnist-subset"
    if folder is None:
        if not download:
            looked = ", ".join(str(c) for c in _candidates(root))
            raise DatasetNotFoundError(
                f"Fashion-MNIST not found (looked in {looked}; need the four files "
                f"{', '.join(FASHION_MNIST_FILES)}). Fix: `apt-get install dataset-fashion-mnist` "
                f"(Debian), or call again with download=True to fetch them from {url}, or place "
                f"the files in {cache_dir(root) / 'fashion-mnist' if root is None else Path(root)}."
            )
        folder = (Path(root).expanduser() if root is not None else cache_dir()) / "fashion-mnist"
        _download(folder, url, opener, verify)
    out = []
    for split, (img_f, lab_f) in _SPLITS.items():
        x = _read_checked(folder / img_f, checksums[img_f] if verify else None)
        y = _read_checked(folder / lab_f, checksums[lab_f] if verify else None)
        if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0] or x.dtype != np.uint8:
            raise DatasetError(f"{folder}: {img_f} has shape {x.shape}, {lab_f} has {y.shape}; expected N×28×28 and N.")
        if y.size and y.max() > 9:
            raise DatasetError(f"{folder / lab_f}: labels outside 0..9.")
        imgs = torch.from_numpy(np.ascontiguousarray(x))[:, None]
        if size == 16:
            imgs = _pad(_halve(imgs), 16)
        elif size == 32:
            imgs = _pad(imgs, 32)
        if rgb:
            imgs = imgs.expand(-1, 3, -1, -1).contiguous()
        c = imgs.shape[1]
        out.append(
            ImageDataset(
                images=imgs,
                labels=torch.from_numpy(y.astype(np.int64)),
                name=f"{prefix}-{split}",
                num_classes=10,
                mean=FASHION_MNIST_MEAN * c,
                std=FASHION_MNIST_STD * c,
                classes=FASHION_MNIST_CLASSES,
                augment=Augment(crop_padding=2 if size == 16 else 4, flip=True),
            )
        )
    return out[0], out[1]


def _halve(imgs: torch.Tensor) -> torch.Tensor:
    """2×2 mean pooling of uint8 images (N×C×28×28 -> N×C×14×14), rounded half up."""
    n, c, h, w = imgs.shape
    blocks = imgs.reshape(n, c, h // 2, 2, w // 2, 2).to(torch.int32).sum(dim=(3, 5))
    return ((blocks + 2) // 4).to(torch.uint8)


def _pad(imgs: torch.Tensor, size: int) -> torch.Tensor:
    n, c, h, w = imgs.shape
    if h > size or w > size:
        raise ValueError(f"cannot pad {h}×{w} to {size}×{size}")
    top, left = (size - h) // 2, (size - w) // 2
    out = torch.zeros((n, c, size, size), dtype=imgs.dtype)
    out[:, :, top : top + h, left : left + w] = imgs
    return out
