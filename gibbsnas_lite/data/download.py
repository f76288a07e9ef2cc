"""Cache folder, checksums and a download that never leaves a half-written file behind.

Nothing here runs at import time. Downloads happen only when a loader is called with
``download=True``; they stream into a temporary file in the destination folder, hash
while writing, and are renamed into place only after the checksum matched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO, Callable, Optional, Union

from ..runs import progress as progress_bar
from .errors import ChecksumError, DatasetNotFoundError

__all__ = [
    "DEFAULT_CACHE",
    "ENV_VAR",
    "cache_dir",
    "file_digest",
    "verify_file",
    "download_url",
    "Opener",
]

ENV_VAR = "GIBBSNAS_DATA"
DEFAULT_CACHE = Path("~/.cache/gibbsnas-lite")

PathLike = Union[str, os.PathLike]
#: ``opener(url, timeout) -> binary file-like`` ; the default is ``urllib.request.urlopen``.
Opener = Callable[[str, float], BinaryIO]

_CHUNK = 1 << 20


def cache_dir(root: Optional[PathLike] = None) -> Path:
    """The data folder: ``root`` if given, else ``$GIBBSNAS_DATA``, else ``~/.cache/gibbsnas-lite``.

    The folder is not created here (a loader creates it only when it writes something).
    """
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    return DEFAULT_CACHE.expanduser()


def file_digest(path: PathLike, algorithm: str = "md5") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_file(path: PathLike, md5: str, *, url: Optional[str] = None, what: str = "file") -> None:
    """Raise :class:`ChecksumError` (with the fix) unless ``md5(path) == md5``."""
    actual = file_digest(path, "md5")
    if actual != md5.lower():
        fix = f"delete {path} and call again with download=True"
        if url:
            fix += f" (it is fetched from {url})"
        fix += ", or pass root= a folder that holds a good copy"
        raise ChecksumError(
            f"checksum mismatch for {what} {path}: expected md5 {md5.lower()}, got {actual}. "
            f"The file is corrupt, truncated or not the published one. Fix: {fix}."
        )


def _default_opener(url: str, timeout: float) -> BinaryIO:
    return urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 (http/https/file only)


def download_url(
    url: str,
    dest: PathLike,
    md5: Optional[str],
    *,
    opener: Optional[Opener] = None,
    timeout: float = 60.0,
    progress: bool = False,
    manual_hint: str = "",
    validate: Optional[Callable[[Path], None]] = None,
) -> Path:
    """Download ``url`` to ``dest`` atomically and check its md5.

    The bytes go to a temporary file next to ``dest`` and are hashed on the way; the file
    is renamed to ``dest`` only when the md5 matches (``md5=None`` skips the check), so an
    interrupted or corrupt download never leaves a file under the final name.

    Raises :class:`DatasetNotFoundError` when the URL cannot be reached (offline, HTTP
    error), with the URL and how to place the file by hand, and :class:`ChecksumError`
    when the bytes do not match. ``validate(tmp_path)``, if given, runs on the complete
    temporary file before the rename (raise to reject it).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    opener = opener or _default_opener
    h = hashlib.md5()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        try:
            src = opener(url, timeout)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DatasetNotFoundError(
                f"could not download {url} ({exc}). If this machine is offline, download the "
                f"file elsewhere and place it at {dest}"
                + (f"; {manual_hint}" if manual_hint else "")
                + ". Then call again (download=False is enough)."
            ) from exc
        total = _content_length(src)
        bar = progress_bar(progress, total, desc=dest.name, unit="B", unit_scale=True)
        try:
            with os.fdopen(fd, "wb") as out:
                fd = -1
                while True:
                    chunk = src.read(_CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise DatasetNotFoundError(
                f"download of {url} failed midway ({exc}); nothing was written to {dest}. "
                f"Retry, or place the file at {dest} by hand."
            ) from exc
        finally:
            bar.close()
            close = getattr(src, "close", None)
            if close is not None:
                close()
        actual = h.hexdigest()
        if md5 is not None and actual != md5.lower():
            raise ChecksumError(
                f"checksum mismatch for the download of {url}: expected md5 {md5.lower()}, "
                f"got {actual}; the file was discarded and {dest} was not written. Fix: retry "
                f"(the transfer may have been cut), or download it by hand and place it at "
                f"{dest}, or pass root= a folder that holds a good copy."
            )
        if validate is not None:
            validate(tmp)
        os.replace(tmp, dest)
        return dest
    finally:
        if fd != -1:
            os.close(fd)
        if tmp.exists():
            tmp.unlink()


def _content_length(src) -> Optional[int]:
    headers = getattr(src, "headers", None)
    try:
        n = headers.get("Content-Length") if headers is not None else None
        return int(n) if n is not None else None
    except (TypeError, ValueError):
        return None


def copy_atomic(src: PathLike, dest: PathLike) -> Path:
    """Copy a local file to ``dest`` via a temporary file and a rename."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    os.close(fd)
    try:
        shutil.copyfile(src, tmp_name)
        os.replace(tmp_name, dest)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return dest
