"""Batched data augmentation on whatever device the batch lives on.

The ops act on a whole batch at once (no per-image Python loop) and take their random
numbers from a CPU ``torch.Generator``, so a seeded run gives the same batches on CPU and
on CUDA. Drawing is split from applying: :func:`draw_augment` makes a batch's draws (the
numbers each op would draw, in the same order), and :func:`apply_augment` takes them as
``draws``, so a loader can draw a whole epoch's on the host and upload them at once instead
of copying a few small tensors to the device for every batch (on CUDA each copy from
pageable host memory makes the host wait for the device). Order, as in the NAS-Bench-201 /
DARTS CIFAR pipelines:

1. random crop with zero padding, on the uint8 pixels (padding is black, as torchvision's
   ``RandomCrop(size, padding=p)`` pads with 0 before ``ToTensor``),
2. random horizontal flip with probability 1/2,
3. scale to [0, 1] and normalize with the dataset's mean/std (float32),
4. optional cutout (DeVries & Taylor 2017; DARTS uses length 16): one square of side
   ``length`` per image, centre uniform over the image, clipped at the border, set to 0
   *after* normalization, as the DARTS and AutoDL code do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["Augment", "random_crop", "random_flip", "normalize", "cutout", "apply_augment", "draw_augment"]


@dataclass(frozen=True)
class Augment:
    """Training augmentation settings.

    crop_padding: pad each side by this many pixels, then crop back to the original size at a
        random offset (0 turns cropping off). CIFAR: 4; ImageNet16-120: 2 (NB201's values).
    flip: random horizontal flip with probability 1/2.
    cutout: side of the cutout square in pixels (0 = off; DARTS evaluation uses 16).
    """

    crop_padding: int = 4
    flip: bool = True
    cutout: int = 0

    def __post_init__(self):
        if self.crop_padding < 0 or self.cutout < 0:
            raise ValueError(f"crop_padding and cutout must be >= 0, got {self}")


NO_AUGMENT = Augment(crop_padding=0, flip=False, cutout=0)


def random_crop(
    x: torch.Tensor, padding: int, generator: torch.Generator | None = None, offsets: torch.Tensor | None = None
) -> torch.Tensor:
    """Zero-pad ``x`` (B×C×H×W) by ``padding`` on each side and crop back to H×W at random offsets.

    ``offsets``: 2×B int64 (row, column) offsets in ``[0, 2 padding]`` on ``x``'s device, drawn
    already (:func:`draw_augment`); otherwise they are drawn from ``generator`` here.
    """
    if padding <= 0:
        return x
    b, c, h, w = x.shape
    if offsets is None:
        oy = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(x.device)
        ox = torch.randint(0, 2 * padding + 1, (b,), generator=generator).to(x.device)
    else:
        oy, ox = offsets
    xp = F.pad(x, (padding, padding, padding, padding)) if x.dtype.is_floating_point else _pad_int(x, padding)
    rows = oy[:, None] + torch.arange(h, device=x.device)[None, :]  # B×H
    cols = ox[:, None] + torch.arange(w, device=x.device)[None, :]  # B×W
    bi = torch.arange(b, device=x.device)[:, None, None, None]
    ci = torch.arange(c, device=x.device)[None, :, None, None]
    return xp[bi, ci, rows[:, None, :, None], cols[:, None, None, :]]


def _pad_int(x: torch.Tensor, p: int) -> torch.Tensor:
    b, c, h, w = x.shape
    out = torch.zeros((b, c, h + 2 * p, w + 2 * p), dtype=x.dtype, device=x.device)
    out[:, :, p : p + h, p : p + w] = x
    return out


def random_flip(
    x: torch.Tensor, generator: torch.Generator | None = None, p: float = 0.5, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Flip each image of ``x`` left-right with probability ``p`` (or where ``mask``, B bool, is set)."""
    if mask is None:
        mask = (torch.rand(x.shape[0], generator=generator) < p).to(x.device)
    return torch.where(mask[:, None, None, None], x.flip(3), x)


def normalize(
    x: torch.Tensor, mean: Sequence[float] | torch.Tensor, std: Sequence[float] | torch.Tensor
) -> torch.Tensor:
    """uint8 (or [0,255] float) B×C×H×W -> float32 ``(x/255 - mean) / std`` per channel.

    ``mean``/``std`` may be float32 tensors on ``x``'s device already (a loader keeps them so:
    building them from numbers is a copy to the device per batch); the numbers are the same.
    """
    m = torch.as_tensor(mean, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=torch.float32, device=x.device).view(1, -1, 1, 1)
    return (x.to(torch.float32) / 255.0 - m) / s


def cutout(
    x: torch.Tensor, length: int, generator: torch.Generator | None = None, centres: torch.Tensor | None = None
) -> torch.Tensor:
    """Zero one ``length``×``length`` square per image (centre uniform, clipped at the border).

    ``centres``: 2×B int64 (row, column) centres on ``x``'s device, drawn already
    (:func:`draw_augment`); otherwise they are drawn from ``generator`` here.
    """
    if length <= 0:
        return x
    b, _, h, w = x.shape
    if centres is None:
        cy = torch.randint(0, h, (b,), generator=generator).to(x.device)
        cx = torch.randint(0, w, (b,), generator=generator).to(x.device)
    else:
        cy, cx = centres
    half = length // 2
    y1, y2 = (cy - half).clamp(0, h), (cy + half).clamp(0, h)
    x1, x2 = (cx - half).clamp(0, w), (cx + half).clamp(0, w)
    ys = torch.arange(h, device=x.device)[None, :]
    xs = torch.arange(w, device=x.device)[None, :]
    in_rows = (ys >= y1[:, None]) & (ys < y2[:, None])  # B×H
    in_cols = (xs >= x1[:, None]) & (xs < x2[:, None])  # B×W
    hole = in_rows[:, :, None] & in_cols[:, None, :]  # B×H×W
    return x.masked_fill(hole[:, None, :, :], 0.0)


def draw_augment(
    augment: Augment | None, batch: int, height: int, width: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The random numbers :func:`apply_augment` draws for one batch, drawn now, on the CPU.

    A K×B int64 tensor, one row per draw in the order the ops draw them: the crop's row and
    column offsets (if ``crop_padding``), the flip mask as 0/1 (if ``flip``), the cutout's row
    and column centres (if ``cutout``); K is 0 without augmentation. ``apply_augment(...,
    draws=draw_augment(augment, B, H, W, g))`` is ``apply_augment(..., generator=g)``, bit for bit.
    """
    rows = []
    if augment is not None:
        if augment.crop_padding > 0:
            for _ in range(2):
                rows.append(torch.randint(0, 2 * augment.crop_padding + 1, (batch,), generator=generator))
        if augment.flip:
            rows.append((torch.rand(batch, generator=generator) < 0.5).to(torch.int64))
        if augment.cutout > 0:
            rows.append(torch.randint(0, height, (batch,), generator=generator))
            rows.append(torch.randint(0, width, (batch,), generator=generator))
    return torch.stack(rows) if rows else torch.zeros((0, batch), dtype=torch.int64)


def apply_augment(
    x: torch.Tensor,
    augment: Augment | None,
    mean: Sequence[float] | torch.Tensor,
    std: Sequence[float] | torch.Tensor,
    generator: torch.Generator | None = None,
    draws: torch.Tensor | None = None,
) -> torch.Tensor:
    """uint8 batch -> augmented, normalized float32 batch (``augment=None``: normalize only).

    The random numbers come from ``draws`` (:func:`draw_augment`'s K×B rows, on ``x``'s
    device: no copy to the device here) or, without it, from ``generator``.
    """
    crop = flip = cut = None
    if draws is not None and augment is not None:
        rows = iter(draws)
        if augment.crop_padding > 0:
            crop = (next(rows), next(rows))
        if augment.flip:
            flip = next(rows).bool()
        if augment.cutout > 0:
            cut = (next(rows), next(rows))
    if augment is not None:
        x = random_crop(x, augment.crop_padding, generator, offsets=crop)
        if augment.flip:
            x = random_flip(x, generator, mask=flip)
    x = normalize(x, mean, std)
    if augment is not None and augment.cutout > 0:
        x = cutout(x, augment.cutout, generator, centres=cut)
    return x
