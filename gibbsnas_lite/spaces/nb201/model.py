"""The discrete NAS-Bench-201 network for one arch string (Dong & Yang, ICLR 2020).

Macro skeleton (the benchmark's ``TinyNetwork`` with ``InferCell``)::

    stem: Conv3x3(in_channels -> C, no bias) + BN
    N cells at C  -> ResNetBasicBlock(C, 2C, stride 2)
    N cells at 2C -> ResNetBasicBlock(2C, 4C, stride 2)
    N cells at 4C -> BN + ReLU -> global average pool -> Linear(4C, num_classes)

Every cell is the same 4-node DAG: node i = sum over j < i of op_(i<-j)(node j); the cell
output is node 3. ``none`` edges are not computed (they would add zeros); a node whose
inputs are all ``none`` is zero. With the defaults (C=16, N=5, 3 input channels,
``num_classes=10``) the parameter count equals the one the benchmark lists for CIFAR-10.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .arch import EDGES, format_arch, parse_arch
from .ops import ResNetBasicBlock, make_op

__all__ = ["NB201Cell", "NB201Network", "count_parameters", "macro_layout"]


def macro_layout(C: int, N: int) -> list[tuple[int, bool]]:
    """(channels, is_reduction) for each of the 3N + 2 layers after the stem."""
    return [(C, False)] * N + [(2 * C, True)] + [(2 * C, False)] * N + [(4 * C, True)] + [(4 * C, False)] * N


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (the benchmark's "params" is this divided by 1e6, in "MB")."""
    return sum(p.numel() for p in module.parameters())


class NB201Cell(nn.Module):
    """One discrete cell: ``edges[e]`` is the op on ``EDGES[e]`` (a ``Zero`` for ``none``)."""

    def __init__(self, ops: tuple[str, ...], C: int, affine: bool = True, track_running_stats: bool = True):
        super().__init__()
        self.ops = tuple(ops)
        self.edges = nn.ModuleList(make_op(name, C, C, 1, affine, track_running_stats) for name in self.ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for i in (1, 2, 3):
            node = None
            for e, (to, j) in enumerate(EDGES):
                if to != i or self.ops[e] == "none":
                    continue
                y = self.edges[e](nodes[j])
                node = y if node is None else node + y
            nodes.append(x.mul(0.0) if node is None else node)
        return nodes[3]


class NB201Network(nn.Module):
    """Discrete network for ``arch`` (a benchmark arch string); ``forward`` returns logits."""

    def __init__(
        self,
        arch: str,
        C: int = 16,
        N: int = 5,
        num_classes: int = 10,
        in_channels: int = 3,
        affine: bool = True,
        track_running_stats: bool = True,
    ):
        super().__init__()
        self.ops = parse_arch(arch)
        self.C, self.N, self.num_classes, self.in_channels = C, N, num_classes, in_channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(C))
        self.cells = nn.ModuleList()
        C_prev = C
        for C_curr, reduction in macro_layout(C, N):
            if reduction:
                self.cells.append(ResNetBasicBlock(C_prev, C_curr, 2))
            else:
                self.cells.append(NB201Cell(self.ops, C_curr, affine, track_running_stats))
            C_prev = C_curr
        self.lastact = nn.Sequential(nn.BatchNorm2d(C_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    @property
    def arch(self) -> str:
        return format_arch(self.ops)

    def extra_repr(self) -> str:
        return f"arch={self.arch!r}, C={self.C}, N={self.N}, num_classes={self.num_classes}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature = self.stem(x)
        for cell in self.cells:
            feature = cell(feature)
        out = self.global_pooling(self.lastact(feature)).flatten(1)
        return self.classifier(out)
