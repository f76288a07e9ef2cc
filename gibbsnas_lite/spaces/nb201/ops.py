"""NAS-Bench-201 operations, as the benchmark defines them (Dong & Yang, ICLR 2020).

The five candidate ops of a cell edge (``arch.OPS`` order)::

    none          Zero: the edge contributes nothing (``x * 0``)
    skip_connect  Identity
    nor_conv_1x1  ReLU -> Conv 1x1 (stride s, padding 0, no bias) -> BN
    nor_conv_3x3  ReLU -> Conv 3x3 (stride s, padding 1, dilation 1, no bias) -> BN
    avg_pool_3x3  AvgPool 3x3 (stride s, padding 1, count_include_pad=False)

and the ResNet basic block the macro skeleton uses between stages (stride 2, shortcut =
AvgPool 2x2 + Conv 1x1). BN options follow the benchmark: the discrete networks it trained
use ``affine=True, track_running_stats=True``; its weight-sharing search code builds the
cell ops with ``affine=False, track_running_stats=False``. The reduction blocks, stem and
head always use the default BN (affine, running stats), in search and in evaluation.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn

from .arch import OPS

__all__ = ["OPERATIONS", "ReLUConvBN", "Pooling", "Identity", "Zero", "ResNetBasicBlock", "make_op"]


class ReLUConvBN(nn.Module):
    """ReLU -> Conv2d (no bias) -> BatchNorm2d, the benchmark's ``nor_conv_kxk``."""

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_size: int,
        stride: int,
        padding: int,
        dilation: int = 1,
        affine: bool = True,
        track_running_stats: bool = True,
    ):
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel_size, stride=stride, padding=padding, dilation=dilation, bias=False),
            nn.BatchNorm2d(C_out, affine=affine, track_running_stats=track_running_stats),
        )

    @property
    def conv(self) -> nn.Conv2d:
        return self.op[1]

    @property
    def bn(self) -> nn.BatchNorm2d:
        return self.op[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Pooling(nn.Module):
    """``avg_pool_3x3``: AvgPool 3x3, padding 1, ``count_include_pad=False``.

    As in the benchmark, a 1x1 ReLU-Conv-BN first matches channels when ``C_in != C_out``
    (never the case inside NAS-Bench-201 cells, where every edge keeps C channels).
    """

    def __init__(self, C_in: int, C_out: int, stride: int = 1, affine: bool = True, track_running_stats: bool = True):
        super().__init__()
        self.preprocess = None if C_in == C_out else ReLUConvBN(C_in, C_out, 1, 1, 0, 1, affine, track_running_stats)
        self.op = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.preprocess is not None:
            x = self.preprocess(x)
        return self.op(x)


class Identity(nn.Module):
    """``skip_connect`` inside a cell (stride 1, same channels)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Zero(nn.Module):
    """``none``: an all-zero output of the right shape (``x * 0`` as in the benchmark)."""

    is_zero = True

    def __init__(self, C_in: int, C_out: int, stride: int = 1):
        super().__init__()
        self.C_in, self.C_out, self.stride = C_in, C_out, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.C_in == self.C_out:
            if self.stride == 1:
                return x.mul(0.0)
            return x[:, :, :: self.stride, :: self.stride].mul(0.0)
        shape = list(x.shape)
        shape[1] = self.C_out
        if self.stride != 1:
            shape[2] = (shape[2] + self.stride - 1) // self.stride
            shape[3] = (shape[3] + self.stride - 1) // self.stride
        return x.new_zeros(shape)

    def extra_repr(self) -> str:
        return f"C_in={self.C_in}, C_out={self.C_out}, stride={self.stride}"


def _skip(C_in: int, C_out: int, stride: int, affine: bool, track_running_stats: bool) -> nn.Module:
    if stride != 1 or C_in != C_out:
        # The benchmark would use a FactorizedReduce here; NAS-Bench-201 cells never need it.
        raise ValueError(
            f"skip_connect is an identity in NAS-Bench-201 cells; got stride={stride}, "
            f"C_in={C_in}, C_out={C_out} (only stride=1 and C_in == C_out are supported)"
        )
    return Identity()


# name -> factory(C_in, C_out, stride, affine, track_running_stats), in arch.OPS order.
OPERATIONS: dict[str, Callable[[int, int, int, bool, bool], nn.Module]] = {
    "none": lambda C_in, C_out, stride, affine, trs: Zero(C_in, C_out, stride),
    "skip_connect": _skip,
    "nor_conv_1x1": lambda C_in, C_out, stride, affine, trs: ReLUConvBN(C_in, C_out, 1, stride, 0, 1, affine, trs),
    "nor_conv_3x3": lambda C_in, C_out, stride, affine, trs: ReLUConvBN(C_in, C_out, 3, stride, 1, 1, affine, trs),
    "avg_pool_3x3": lambda C_in, C_out, stride, affine, trs: Pooling(C_in, C_out, stride, affine, trs),
}
assert tuple(OPERATIONS) == OPS


def make_op(
    name: str, C_in: int, C_out: int, stride: int = 1, affine: bool = True, track_running_stats: bool = True
) -> nn.Module:
    """Build the NAS-Bench-201 op called ``name``; unknown names raise ``ValueError``."""
    try:
        factory = OPERATIONS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown op {name!r}; known ops: {', '.join(OPS)}") from None
    return factory(C_in, C_out, stride, affine, track_running_stats)


class ResNetBasicBlock(nn.Module):
    """The benchmark's ``ResNetBasicblock`` (the reduction block between stages).

    ``conv_a`` = ReLU-Conv3x3(stride)-BN, ``conv_b`` = ReLU-Conv3x3-BN, output =
    ``conv_b(conv_a(x)) + shortcut(x)`` with shortcut AvgPool2d(2, 2) + Conv1x1 (no bias, no
    BN) when stride is 2, a 1x1 ReLU-Conv-BN when only the channels change, identity else.
    """

    def __init__(
        self, inplanes: int, planes: int, stride: int = 2, affine: bool = True, track_running_stats: bool = True
    ):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"ResNetBasicBlock stride must be 1 or 2, got {stride}")
        self.conv_a = ReLUConvBN(inplanes, planes, 3, stride, 1, 1, affine, track_running_stats)
        self.conv_b = ReLUConvBN(planes, planes, 3, 1, 1, 1, affine, track_running_stats)
        if stride == 2:
            self.downsample = nn.Sequential(
                nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
                nn.Conv2d(inplanes, planes, kernel_size=1, stride=1, padding=0, bias=False),
            )
        elif inplanes != planes:
            self.downsample = ReLUConvBN(inplanes, planes, 1, 1, 0, 1, affine, track_running_stats)
        else:
            self.downsample = None
        self.in_dim, self.out_dim, self.stride = inplanes, planes, stride

    def extra_repr(self) -> str:
        return f"inC={self.in_dim}, outC={self.out_dim}, stride={self.stride}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return residual + self.conv_b(self.conv_a(x))
