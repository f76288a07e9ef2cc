"""Candidate operations of the DARTS search space (Liu, Simonyan & Yang, ICLR 2019).

Every op maps a tensor of ``C`` channels to ``C`` channels; with ``stride=2`` it halves
the spatial size (the first two edges of a reduction cell). The eight ops of the search
space are listed, in DARTS order, by :data:`gibbsnas_lite.spaces.darts.genotypes.PRIMITIVES`.
``OPS`` also builds ``sep_conv_7x7`` and ``conv_7x1_1x7``, which the NASNet and
AmoebaNet genotypes (kept for comparison, as DARTS keeps them) use.

Definitions follow the DARTS reference code:

- ``sep_conv_kxk``: two stacked (ReLU, depthwise k x k, pointwise 1x1, BN) blocks, the
  first carrying the stride.
- ``dil_conv_kxk``: one (ReLU, depthwise k x k with dilation 2, pointwise 1x1, BN) block.
- pools: 3x3, padding 1; average pooling does not count the padding.
- ``skip_connect``: identity, or :class:`FactorizedReduce` when ``stride == 2``.
- ``none``: :class:`Zero`, a zero tensor of the output shape.

``affine`` switches the learnable BatchNorm scale/shift; the search network uses
``affine=False`` (as DARTS does), the evaluation networks ``affine=True``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    "OPS",
    "ReLUConvBN",
    "DilConv",
    "SepConv",
    "FactorizedReduce",
    "Zero",
    "make_op",
]


class ReLUConvBN(nn.Module):
    """ReLU -> Conv2d (no bias) -> BatchNorm2d."""

    def __init__(self, C_in: int, C_out: int, kernel_size: int, stride: int, padding: int, affine: bool = True):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


def _relu_dw_pw_bn(
    C_in: int, C_out: int, kernel_size: int, stride: int, padding: int, dilation: int, affine: bool
) -> list[nn.Module]:
    """ReLU -> depthwise k x k conv -> pointwise 1x1 conv -> BN, as a list of modules."""
    return [
        nn.ReLU(inplace=False),
        nn.Conv2d(C_in, C_in, kernel_size, stride=stride, padding=padding, dilation=dilation, groups=C_in, bias=False),
        nn.Conv2d(C_in, C_out, 1, bias=False),
        nn.BatchNorm2d(C_out, affine=affine),
    ]


class DilConv(nn.Module):
    """ReLU -> depthwise conv (with ``dilation``) -> pointwise 1x1 conv -> BatchNorm2d."""

    def __init__(
        self, C_in: int, C_out: int, kernel_size: int, stride: int, padding: int, dilation: int, affine: bool = True
    ):
        super().__init__()
        self.op = nn.Sequential(*_relu_dw_pw_bn(C_in, C_out, kernel_size, stride, padding, dilation, affine))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class SepConv(nn.Module):
    """Separable conv as DARTS defines it: two DilConv-style blocks with dilation 1.

    The first block keeps ``C_in`` channels and carries the stride; the second maps to
    ``C_out`` with stride 1. The eight layers sit in one flat ``op`` sequence, as in the
    DARTS code, so parameter names match its checkpoints.
    """

    def __init__(self, C_in: int, C_out: int, kernel_size: int, stride: int, padding: int, affine: bool = True):
        super().__init__()
        self.op = nn.Sequential(
            *_relu_dw_pw_bn(C_in, C_in, kernel_size, stride, padding, 1, affine),
            *_relu_dw_pw_bn(C_in, C_out, kernel_size, 1, padding, 1, affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class FactorizedReduce(nn.Module):
    """Halve the spatial size with two stride-2 1x1 convs, the second offset by one pixel.

    ReLU -> [conv_1(x), conv_2(x shifted by (1, 1))] concatenated on channels -> BN.
    ``C_out`` must be even. For an odd input size DARTS' version fails on the
    concatenation; here the shifted input is zero-padded at the bottom/right so both
    halves have the same size (even sizes, the only ones DARTS uses, are unchanged).
    """

    def __init__(self, C_in: int, C_out: int, affine: bool = True):
        super().__init__()
        if C_out % 2:
            raise ValueError(f"FactorizedReduce needs an even C_out, got {C_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        shifted = x[:, :, 1:, 1:]
        if x.shape[-2] % 2 or x.shape[-1] % 2:
            shifted = F.pad(shifted, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2))
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


class Zero(nn.Module):
    """The ``none`` op: zeros of the output shape (spatially subsampled when strided)."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)

    def extra_repr(self) -> str:
        return f"stride={self.stride}"


def _conv_7x1_1x7(C: int, stride: int, affine: bool) -> nn.Module:
    return nn.Sequential(
        nn.ReLU(inplace=False),
        nn.Conv2d(C, C, (1, 7), stride=(1, stride), padding=(0, 3), bias=False),
        nn.Conv2d(C, C, (7, 1), stride=(stride, 1), padding=(3, 0), bias=False),
        nn.BatchNorm2d(C, affine=affine),
    )


#: name -> constructor ``(C, stride, affine) -> nn.Module``.
OPS: dict[str, Callable[[int, int, bool], nn.Module]] = {
    "none": lambda C, stride, affine: Zero(stride),
    "avg_pool_3x3": lambda C, stride, affine: nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False),
    "max_pool_3x3": lambda C, stride, affine: nn.MaxPool2d(3, stride=stride, padding=1),
    "skip_connect": lambda C, stride, affine: nn.Identity() if stride == 1 else FactorizedReduce(C, C, affine=affine),
    "sep_conv_3x3": lambda C, stride, affine: SepConv(C, C, 3, stride, 1, affine=affine),
    "sep_conv_5x5": lambda C, stride, affine: SepConv(C, C, 5, stride, 2, affine=affine),
    "sep_conv_7x7": lambda C, stride, affine: SepConv(C, C, 7, stride, 3, affine=affine),
    "dil_conv_3x3": lambda C, stride, affine: DilConv(C, C, 3, stride, 2, 2, affine=affine),
    "dil_conv_5x5": lambda C, stride, affine: DilConv(C, C, 5, stride, 4, 2, affine=affine),
    "conv_7x1_1x7": _conv_7x1_1x7,
}


def make_op(name: str, C: int, stride: int, affine: bool = True) -> nn.Module:
    """Build op ``name`` on ``C`` channels; unknown name -> ``ValueError`` listing the ops."""
    try:
        factory = OPS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown op {name!r}; known ops: {', '.join(OPS)}") from None
    if stride not in (1, 2):
        raise ValueError(f"stride must be 1 or 2, got {stride!r} (op {name!r})")
    return factory(C, stride, affine)
