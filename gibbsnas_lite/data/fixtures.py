"""Tiny files in the exact published formats, for tests, demos and offline smoke runs.

* :func:`py2_pickle` writes a dict the way Python 2 + numpy pickled the CIFAR and
  downsampled-ImageNet batches (protocol 2, ``str`` as 8-bit strings, arrays through
  ``numpy.core.multiarray._reconstruct``), so the readers are tested on that byte layout,
  not on a Python 3 re-pickling.
* :func:`write_cifar_archive` builds a ``cifar-10-python.tar.gz`` / ``cifar-100-python.tar.gz``
  with the real member names; :func:`write_imagenet16` the 11 ImageNet16 files;
  :func:`write_idx` / :func:`write_fashion_mnist` gzip IDX files.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import tarfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["py2_pickle", "write_cifar_archive", "write_imagenet16", "write_idx", "write_fashion_mnist", "random_images"]

PathLike = Union[str, os.PathLike]


def _str(b: bytes) -> bytes:
    return (b"U" + bytes([len(b)]) + b) if len(b) < 256 else (b"T" + struct.pack("<i", len(b)) + b)


def _int(v: int) -> bytes:
    if 0 <= v < 256:
        return b"K" + bytes([v])
    return b"J" + struct.pack("<i", v)


def _tuple(parts: List[bytes]) -> bytes:
    return b"(" + b"".join(parts) + b"t"


def _ndarray(a: np.ndarray) -> bytes:
    if a.dtype != np.uint8:
        raise TypeError("only uint8 arrays (what the image batches hold)")
    a = np.ascontiguousarray(a)
    dtype = (
        b"cnumpy\ndtype\n" + _str(b"u1") + _int(0) + _int(1) + b"\x87R"
        + _tuple([_int(3), _str(b"|"), b"N", b"N", b"N", b"J" + struct.pack("<i", -1),
                  b"J" + struct.pack("<i", -1), _int(0)]) + b"b"
    )
    state = _tuple([_int(1), _tuple([_int(int(s)) for s in a.shape]), dtype, b"\x89", _str(a.tobytes())])
    return (b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n" + _int(0) + b"\x85"
            + _str(b"b") + b"\x87R" + state + b"b")


def _value(v) -> bytes:
    if isinstance(v, np.ndarray):
        return _ndarray(v)
    if isinstance(v, (bool, np.bool_)):
        raise TypeError("bool not needed")
    if isinstance(v, (int, np.integer)):
        return _int(int(v))
    if isinstance(v, str):
        return _str(v.encode("latin1"))
    if isinstance(v, bytes):
        return _str(v)
    if isinstance(v, (list, tuple)):
        return b"]" + (b"(" + b"".join(_value(x) for x in v) + b"e" if len(v) else b"")
    raise TypeError(f"cannot write {type(v).__name__} in a py2 pickle")


def py2_pickle(d: Dict[str, object]) -> bytes:
    """A dict pickled as Python 2 did it (protocol 2): str keys, ints, strs, lists, uint8 arrays."""
    body = b"".join(_str(k.encode("latin1")) + _value(v) for k, v in d.items())
    return b"\x80\x02}" + (b"(" + body + b"u" if d else b"") + b"."


def random_images(n: int, c: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, c, h, w), dtype=np.uint8)


def _add(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tf.addfile(info, io.BytesIO(data))


def write_cifar_archive(
    path: PathLike,
    variant: str = "cifar10",
    train: Sequence[Tuple[np.ndarray, Sequence[int]]] = (),
    test: Optional[Tuple[np.ndarray, Sequence[int]]] = None,
    label_names: Optional[Sequence[str]] = None,
) -> Path:
    """A CIFAR "python version" tar.gz with the published member names and batch layout.

    ``train`` holds (images N×3×32×32 uint8, labels) per batch: 5 batches for cifar10
    (``data_batch_1..5``), 1 for cifar100 (``train``); ``test`` one batch.
    """
    path = Path(path)
    if variant == "cifar10":
        folder, names = "cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)]
        test_name, meta_name, label_key = "test_batch", "batches.meta", "labels"
        label_names = list(label_names or ["airplane", "automobile", "bird", "cat", "deer",
                                           "dog", "frog", "horse", "ship", "truck"])
        meta = {"num_cases_per_batch": 10000, "label_names": label_names, "num_vis": 3072}
    elif variant == "cifar100":
        folder, names = "cifar-100-python", ["train"]
        test_name, meta_name, label_key = "test", "meta", "fine_labels"
        label_names = list(label_names or [f"class{i}" for i in range(100)])
        meta = {"fine_label_names": label_names, "coarse_label_names": [f"super{i}" for i in range(20)]}
    else:
        raise ValueError(variant)
    if len(train) != len(names) or test is None:
        raise ValueError(f"{variant} needs {len(names)} training batches and a test batch")

    def batch(x, y, label):
        x = np.asarray(x, dtype=np.uint8)
        d = {"batch_label": label, label_key: [int(v) for v in y], "data": x.reshape(len(x), -1),
             "filenames": [f"img_{i}.png" for i in range(len(x))]}
        if variant == "cifar100":
            d["coarse_labels"] = [int(v) // 5 for v in y]
        return py2_pickle(d)

    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tf:
        for i, (name, (x, y)) in enumerate(zip(names, train)):
            _add(tf, f"{folder}/{name}", batch(x, y, f"training batch {i + 1} of {len(names)}"))
        _add(tf, f"{folder}/{test_name}", batch(test[0], test[1], "testing batch 1 of 1"))
        _add(tf, f"{folder}/{meta_name}", py2_pickle(meta))
        _add(tf, f"{folder}/readme.html", b"<html>fixture</html>")
    return path


def write_imagenet16(folder: PathLike, train: Sequence[Tuple[np.ndarray, Sequence[int]]],
                     val: Tuple[np.ndarray, Sequence[int]]) -> Path:
    """The 11 ImageNet16 files (``train_data_batch_1..10``, ``val_data``); labels 1-based."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if len(train) != 10:
        raise ValueError("ImageNet16 has 10 training batches")
    for i, (x, y) in enumerate(train, 1):
        x = np.asarray(x, dtype=np.uint8)
        d = {"data": x.reshape(len(x), -1), "labels": [int(v) for v in y],
             "mean": np.zeros(768, dtype=np.uint8)}
        (folder / f"train_data_batch_{i}").write_bytes(py2_pickle(d))
    x, y = val
    x = np.asarray(x, dtype=np.uint8)
    (folder / "val_data").write_bytes(py2_pickle({"data": x.reshape(len(x), -1), "labels": [int(v) for v in y]}))
    return folder


def write_idx(path: PathLike, array: np.ndarray, compress: bool = True) -> Path:
    """An IDX file of a uint8 array (gzip-compressed when ``compress``)."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    raw = bytes([0, 0, 0x08, a.ndim]) + struct.pack(">" + "I" * a.ndim, *a.shape) + a.tobytes()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def write_fashion_mnist(folder: PathLike, train_x: np.ndarray, train_y: np.ndarray,
                        test_x: np.ndarray, test_y: np.ndarray) -> Path:
    """The four Fashion-MNIST .gz files (images N×28×28, labels N)."""
    folder = Path(folder)
    write_idx(folder / "train-images-idx3-ubyte.gz", train_x)
    write_idx(folder / "train-labels-idx1-ubyte.gz", train_y)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", test_x)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", test_y)
    return folder
