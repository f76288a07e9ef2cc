"""CIFAR-10 and CIFAR-100 from the canonical "python version" archives (Krizhevsky 2009).

The archive is fetched only when asked (``download=True``), into the data folder
(``root``, else ``$GIBBSNAS_DATA``, else ``~/.cache/gibbsnas-lite``), written atomically
and checked against the md5 published on the CIFAR page; then the pickled batches are
extracted (only the expected members, each checked against its own published md5) into
``<root>/cifar-10-batches-py/`` or ``<root>/cifar-100-python/``.

Each batch is a Python 2 pickle of a dict whose ``data`` is a uint8 array N×3072: 1024 red,
then 1024 green, then 1024 blue values, row-major within each 32×32 plane. Reshaping to
N×3×32×32 therefore gives channel-first images with no transpose.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple, Union

import numpy as np
import torch

from .augment import Augment
from .base import ImageDataset
from .download import Opener, cache_dir, download_url, verify_file
from .errors import DatasetError, DatasetNotFoundError
from .formats import load_pickle

__all__ = ["CIFAR10", "CIFAR100", "CifarSpec", "load_cifar", "CIFAR10_MEAN", "CIFAR10_STD",
           "CIFAR100_MEAN", "CIFAR100_STD", "DARTS_CIFAR10_MEAN", "DARTS_CIFAR10_STD"]

PathLike = Union[str, os.PathLike]

# Normalization constants used by NAS-Bench-201 (AutoDL-Projects, get_dataset_with_transform.py).
CIFAR10_MEAN = tuple(x / 255 for x in (125.3, 123.0, 113.9))
CIFAR10_STD = tuple(x / 255 for x in (63.0, 62.1, 66.7))
CIFAR100_MEAN = tuple(x / 255 for x in (129.3, 124.1, 112.4))
CIFAR100_STD = tuple(x / 255 for x in (68.2, 65.4, 70.4))
# The constants of the DARTS code (utils.py, _data_transforms_cifar10), for the DARTS space.
DARTS_CIFAR10_MEAN = (0.49139968, 0.48215827, 0.44653124)
DARTS_CIFAR10_STD = (0.24703233, 0.24348505, 0.26158768)


@dataclass(frozen=True)
class CifarSpec:
    name: str
    url: str
    filename: str
    md5: str
    folder: str
    train: Tuple[Tuple[str, str], ...]  # (member file, md5)
    test: Tuple[Tuple[str, str], ...]
    meta: Tuple[str, str]
    label_key: str
    names_key: str
    num_classes: int
    mean: Tuple[float, ...]
    std: Tuple[float, ...]


CIFAR10 = CifarSpec(
    name="cifar10",
    url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    filename="cifar-10-python.tar.gz",
    md5="c58f30108f718f92721af3b95e74349a",
    folder="cifar-10-batches-py",
    train=(
        ("data_batch_1", "c99cafc152244af753f735de768cd75f"),
        ("data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"),
        ("data_batch_3", "54ebc095f3ab1f0389bbae665268c751"),
        ("data_batch_4", "634d18415352ddfa80567beed471001a"),
        ("data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"),
    ),
    test=(("test_batch", "40351d587109b95175f43aff81a1287e"),),
    meta=("batches.meta", "5ff9c542aee3614f3951f8cda6e48888"),
    label_key="labels",
    names_key="label_names",
    num_classes=10,
    mean=CIFAR10_MEAN,
    std=CIFAR10_STD,
)

CIFAR100 = CifarSpec(
    name="cifar100",
    url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    filename="cifar-100-python.tar.gz",
    md5="eb9058c3a382ffc7106e4002c42a8d85",
    folder="cifar-100-python",
    train=(("train", "16019d7e3df5f24257cddd939b257f8d"),),
    test=(("test", "f0ef6b0ae62326f3e7ffdfab6717acfc"),),
    meta=("meta", "7973b15100ade9c7d40fb424638fde48"),
    label_key="fine_labels",
    names_key="fine_label_names",
    num_classes=100,
    mean=CIFAR100_MEAN,
    std=CIFAR100_STD,
)

_SPECS = {"cifar10": CIFAR10, "cifar100": CIFAR100}


def _members(spec: CifarSpec) -> List[Tuple[str, str]]:
    return list(spec.train) + list(spec.test) + [spec.meta]


def _batches_dir(root: Path, spec: CifarSpec) -> Optional[Path]:
    """The folder holding the extracted batches, if ``root`` has one."""
    for cand in (root / spec.folder, root):
        if all((cand / m).is_file() for m, _ in spec.train + spec.test):
            return cand
    return None


def _extract(archive: Path, dest: Path, spec: CifarSpec, verify: bool) -> None:
    """Extract the expected members of ``archive`` into ``dest`` (atomically, via a temp dir)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.folder}.", dir=dest.parent))
    try:
        try:
            with tarfile.open(archive, "r:gz") as tf:
                for member, md5 in _members(spec):
                    arcname = f"{spec.folder}/{member}"
                    try:
                        info = tf.getmember(arcname)
                    except KeyError:
                        raise DatasetError(
                            f"{archive}: member {arcname} is missing; this is not the published "
                            f"{spec.filename}. Delete it and download again."
                        ) from None
                    if not info.isfile():
                        raise DatasetError(f"{archive}: {arcname} is not a regular file.")
                    f = tf.extractfile(info)
                    assert f is not None
                    with f, open(tmp / member, "wb") as out:
                        shutil.copyfileobj(f, out)
                    if verify:
                        verify_file(tmp / member, md5, url=spec.url, what=f"{spec.name} batch")
        except (tarfile.TarError, EOFError, OSError) as exc:
            if isinstance(exc, DatasetError):
                raise
            raise DatasetError(
                f"{archive}: cannot read the archive ({exc}). Delete it and download again, "
                f"or pass root= a folder with a good copy."
            ) from exc
        if dest.exists():  # another process finished first
            shutil.rmtree(tmp)
            return
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _not_found(spec: CifarSpec, root: Path) -> DatasetNotFoundError:
    return DatasetNotFoundError(
        f"{spec.name} not found under {root}: expected {root / spec.filename} (the archive) or "
        f"the extracted folder {root / spec.folder}. Call again with download=True to fetch "
        f"{spec.url} (md5 {spec.md5}), or download it by hand and place the .tar.gz in {root} "
        f"(or point root= / ${'GIBBSNAS_DATA'} at the folder that has it)."
    )


def prepare_cifar(
    name: str,
    root: Optional[PathLike] = None,
    download: bool = False,
    *,
    url: Optional[str] = None,
    md5: Optional[str] = None,
    opener: Optional[Opener] = None,
    verify: bool = True,
    progress: bool = True,
) -> Path:
    """Make sure the batches of ``name`` are on disk; return the folder that holds them.

    ``url``/``md5`` override the published archive (a mirror, or a test file); ``verify=False``
    skips the per-batch md5 check (for archives that are not the published ones).
    """
    spec = _spec(name)
    root = cache_dir(root)
    found = _batches_dir(root, spec)
    if found is not None:
        return found
    archive = root / spec.filename
    url = url or spec.url
    md5 = md5 or spec.md5
    if archive.is_file():
        verify_file(archive, md5, url=url, what=f"{spec.name} archive")
    elif download:
        download_url(url, archive, md5, opener=opener, progress=progress,
                     manual_hint=f"the published md5 is {md5}")
    else:
        raise _not_found(spec, root)
    _extract(archive, root / spec.folder, spec, verify)
    return root / spec.folder


def _spec(name: str) -> CifarSpec:
    try:
        return _SPECS[name.lower().replace("-", "")]
    except KeyError:
        raise ValueError(f"unknown CIFAR variant {name!r}; use 'cifar10' or 'cifar100'") from None


def _read_batches(folder: Path, members, spec: CifarSpec) -> Tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for member, _ in members:
        d = load_pickle(folder / member)
        try:
            data = np.asarray(d["data"], dtype=np.uint8)
            labels = np.asarray(d[spec.label_key], dtype=np.int64)
        except KeyError as exc:
            raise DatasetError(f"{folder / member}: no key {exc} in the batch; not a {spec.name} batch.") from None
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.shape[0] != labels.shape[0]:
            raise DatasetError(
                f"{folder / member}: data has shape {data.shape} and {labels.shape[0]} labels; "
                f"expected N×3072 and N labels."
            )
        xs.append(data.reshape(-1, 3, 32, 32))
        ys.append(labels)
    x, y = np.concatenate(xs), np.concatenate(ys)
    if y.size and (y.min() < 0 or y.max() >= spec.num_classes):
        raise DatasetError(f"{folder}: labels outside 0..{spec.num_classes - 1}.")
    return x, y


def load_cifar(
    name: str = "cifar10",
    root: Optional[PathLike] = None,
    download: bool = False,
    **kwargs,
) -> Tuple[ImageDataset, ImageDataset]:
    """(train, test) of CIFAR-10 (50,000 / 10,000) or CIFAR-100 (50,000 / 10,000) as uint8 tensors.

    Keyword arguments go to :func:`prepare_cifar` (``url``, ``md5``, ``opener``, ``verify``,
    ``progress``).
    """
    spec = _spec(name)
    folder = prepare_cifar(spec.name, root, download, **kwargs)
    classes: Tuple[str, ...] = ()
    meta = folder / spec.meta[0]
    if meta.is_file():
        names = load_pickle(meta).get(spec.names_key)
        if names:
            classes = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    out = []
    for split, members in (("train", spec.train), ("test", spec.test)):
        x, y = _read_batches(folder, members, spec)
        out.append(
            ImageDataset(
                images=torch.from_numpy(np.ascontiguousarray(x)),
                labels=torch.from_numpy(y),
                name=f"{spec.name}-{split}",
                num_classes=spec.num_classes,
                mean=spec.mean,
                std=spec.std,
                classes=classes,
                augment=Augment(crop_padding=4, flip=True),
            )
        )
    return out[0], out[1]
