"""The in-memory dataset record every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional, Sequence, Tuple

import numpy as np
import torch

from .augment import Augment

__all__ = ["ImageDataset"]


@dataclass
class ImageDataset:
    """A labelled image set held as tensors.

    images: uint8, N×C×H×W (pixels exactly as in the published files).
    labels: int64, N, in ``0 .. num_classes-1``.
    mean, std: per-channel normalization constants on the [0, 1] scale.
    augment: the training augmentation this dataset uses by default.
    indices: for a subset, the positions of its rows in the set it was taken from.
    """

    images: torch.Tensor
    labels: torch.Tensor
    name: str
    num_classes: int
    mean: Tuple[float, ...]
    std: Tuple[float, ...]
    classes: Tuple[str, ...] = ()
    augment: Augment = field(default_factory=Augment)
    indices: Optional[torch.Tensor] = None

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            raise ValueError(f"images must be uint8 N×C×H×W, got {self.images.dtype} {tuple(self.images.shape)}")
        self.labels = self.labels.to(torch.int64)
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"labels must have shape ({self.images.shape[0]},), got {tuple(self.labels.shape)}")
        if len(self.mean) != self.images.shape[1] or len(self.std) != self.images.shape[1]:
            raise ValueError("mean and std need one value per channel")
        self.mean = tuple(float(m) for m in self.mean)
        self.std = tuple(float(s) for s in self.std)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        n, c, h, w = self.images.shape
        return f"ImageDataset({self.name!r}, {n} images {c}×{h}×{w}, {self.num_classes} classes)"

    @property
    def image_shape(self) -> Tuple[int, int, int]:
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def subset(self, indices: Sequence[int] | np.ndarray | torch.Tensor, name: Optional[str] = None) -> "ImageDataset":
        """The rows at ``indices`` (in that order), remembering where they came from."""
        idx = torch.as_tensor(np.asarray(indices), dtype=torch.int64)
        base = idx if self.indices is None else self.indices[idx]
        return replace(
            self,
            images=self.images[idx],
            labels=self.labels[idx],
            name=name or self.name,
            indices=base,
        )

    def class_counts(self) -> torch.Tensor:
        return torch.bincount(self.labels, minlength=self.num_classes)
