"""Readers for the on-disk formats: pickled batches (CIFAR, downsampled ImageNet) and IDX.

Pickles are read with a restricted unpickler that only rebuilds numpy arrays, numpy
scalars and plain Python containers; any other global in the stream is refused, so a
tampered or wrong file cannot run code. Both Python 2 pickles (what the CIFAR archives
and the downsampled-ImageNet batches are) and Python 3 pickles load; dict keys come back
as ``str`` either way.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import struct
from pathlib import Path
from typing import Any, Union

import numpy as np

from .errors import DatasetError

__all__ = ["load_pickle", "read_idx", "IDX_DTYPES"]

PathLike = Union[str, os.PathLike]

_RECONSTRUCT = np.empty(0).__reduce__()[0]
_SCALAR = np.int64(0).__reduce__()[0]
_FROMBUFFER = np.empty(1).__reduce_ex__(5)[0]

_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.multiarray", "scalar"): _SCALAR,
    ("numpy._core.multiarray", "scalar"): _SCALAR,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, name: str):
        super().__init__(file, encoding="latin1")
        self._name = name

    def find_class(self, module: str, name: str) -> Any:
        obj = _ALLOWED.get((module, name))
        if obj is not None:
            return obj
        if (module, name) == ("_codecs", "encode"):  # Python 3 bytes under protocol 2
            import codecs

            return codecs.encode
        raise DatasetError(
            f"{self._name}: refusing to unpickle {module}.{name}; a data batch holds only numpy "
            f"arrays, numbers, strings and lists. The file is not in the expected format "
            f"(or was tampered with): replace it with the published file."
        )


def _str_keys(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in obj.items()}
    return obj


def load_pickle(source: Union[PathLike, bytes], name: str = "") -> Any:
    """Load a pickled data batch (a dict) safely; ``source`` is a path or the raw bytes."""
    if isinstance(source, (bytes, bytearray)):
        buf = io.BytesIO(source)
        label = name or "<bytes>"
    else:
        buf = open(source, "rb")
        label = name or str(source)
    try:
        with buf:
            obj = _RestrictedUnpickler(buf, label).load()
    except DatasetError:
        raise
    except Exception as exc:  # truncated or not a pickle
        raise DatasetError(
            f"{label}: cannot read it as a pickled data batch ({type(exc).__name__}: {exc}). "
            f"The file is corrupt or not in the published format: delete it and fetch it again."
        ) from exc
    return _str_keys(obj)


#: IDX type codes (third byte of the magic number) -> numpy dtype (big-endian).
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(source: Union[PathLike, bytes], name: str = "") -> np.ndarray:
    """Read an IDX file (the MNIST / Fashion-MNIST format), gzip-compressed or not.

    Layout: 2 zero bytes, a type code, the number of dimensions ``d``, then ``d`` big-endian
    uint32 sizes, then the data in row-major order.
    """
    if isinstance(source, (bytes, bytearray)):
        raw = bytes(source)
        label = name or "<bytes>"
    else:
        label = name or str(source)
        raw = Path(source).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DatasetError(f"{label}: corrupt gzip stream ({exc}); delete it and fetch it again.") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
        raise DatasetError(f"{label}: not an IDX file (bad magic {raw[:4].hex() or 'empty'}).")
    dtype = IDX_DTYPES[raw[2]]
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{label}: IDX header truncated.")
    shape = struct.unpack(">" + "I" * ndim, raw[4:header])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise DatasetError(
            f"{label}: IDX size mismatch: header says shape {shape} ({expected} bytes in all), "
            f"file has {len(raw)} bytes. The file is truncated or corrupt."
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)
