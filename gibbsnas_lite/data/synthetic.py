"""A small, seeded, learnable image set for smoke runs (no files, no network).

Each class has a smooth random template (a C×4×4 Gaussian pattern upsampled bilinearly to
the image size). An image of class k is ``a * template_k`` shifted circularly by up to
``max_shift`` pixels, plus i.i.d. Gaussian noise, mapped to uint8 around grey 128. The
templates come from ``seed``; train and test draw their own samples from the same
templates, so what is learned on train carries over to test. With the defaults a linear
probe beats chance by far within a few dozen steps, and a small conv net does better
still; raising ``noise`` makes it harder.
"""

from __future__ import annotations

from typing import Tuple

import torch
import torch.nn.functional as F

from .augment import Augment
from .base import ImageDataset

__all__ = ["make_synthetic"]


def _templates(num_classes: int, channels: int, size: int, g: torch.Generator) -> torch.Tensor:
    low = torch.randn(num_classes, channels, 4, 4, generator=g, dtype=torch.float64)
    t = F.interpolate(low, size=(size, size), mode="bilinear", align_corners=False)
    t = t - t.mean(dim=(1, 2, 3), keepdim=True)
    return t / t.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)


def _sample(templates: torch.Tensor, n: int, noise: float, max_shift: int, g: torch.Generator):
    k, c, s, _ = templates.shape
    labels = torch.arange(n) % k
    labels = labels[torch.randperm(n, generator=g)]
    amp = 0.7 + 0.6 * torch.rand(n, generator=g, dtype=torch.float64)
    dy = torch.randint(-max_shift, max_shift + 1, (n,), generator=g)
    dx = torch.randint(-max_shift, max_shift + 1, (n,), generator=g)
    rows = (torch.arange(s)[None, :] - dy[:, None]) % s
    cols = (torch.arange(s)[None, :] - dx[:, None]) % s
    base = templates[labels]  # n×c×s×s
    bi = torch.arange(n)[:, None, None, None]
    ci = torch.arange(c)[None, :, None, None]
    shifted = base[bi, ci, rows[:, None, :, None], cols[:, None, None, :]]
    x = amp[:, None, None, None] * shifted + noise * torch.randn(n, c, s, s, generator=g, dtype=torch.float64)
    pixels = (128.0 + 48.0 * x).round().clamp(0, 255).to(torch.uint8)
    return pixels, labels


def make_synthetic(
    num_train: int = 1024,
    num_test: int = 512,
    *,
    num_classes: int = 10,
    channels: int = 3,
    size: int = 32,
    noise: float = 1.5,
    max_shift: int = 4,
    seed: int = 0,
) -> Tuple[ImageDataset, ImageDataset]:
    """(train, test) synthetic sets; same arguments -> bit-identical tensors."""
    if num_classes < 2 or channels < 1 or size < 4 or num_train < num_classes:
        raise ValueError("need num_classes >= 2, channels >= 1, size >= 4 and num_train >= num_classes")
    g = torch.Generator().manual_seed(int(seed))
    templates = _templates(num_classes, channels, size, g)
    train_x, train_y = _sample(templates, num_train, noise, max_shift, g)
    test_x, test_y = _sample(templates, num_test, noise, max_shift, g)
    xf = train_x.to(torch.float64) / 255.0
    mean = tuple(xf.mean(dim=(0, 2, 3)).tolist())
    std = tuple(xf.std(dim=(0, 2, 3)).tolist())
    classes = tuple(f"class{i}" for i in range(num_classes))
    # Templates are not mirror-symmetric, so flipping is off; small crops are harmless.
    aug = Augment(crop_padding=2, flip=False)
    common = dict(num_classes=num_classes, mean=mean, std=std, classes=classes, augment=aug)
    return (
        ImageDataset(train_x, train_y, name="synthetic-train", **common),
        ImageDataset(test_x, test_y, name="synthetic-test", **common),
    )
