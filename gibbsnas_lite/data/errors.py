"""Error types of the data module: each message says what is wrong and how to fix it."""

from __future__ import annotations

__all__ = ["DatasetError", "DatasetNotFoundError", "ChecksumError"]


class DatasetError(RuntimeError):
    """Base class of the data module's errors."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """A data file is missing (and was not, or could not be, downloaded)."""


class ChecksumError(DatasetError):
    """A file's checksum differs from the published one (corrupt or wrong file)."""
