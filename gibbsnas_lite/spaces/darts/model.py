"""Evaluation networks built from a genotype (Liu, Simonyan & Yang, ICLR 2019, Sec. 3.2-3.3).

- :class:`NetworkCIFAR`: 3x3-conv stem of ``3 * C`` channels, ``layers`` cells (20, C=36
  in DARTS), reductions at 1/3 and 2/3 of the depth, an auxiliary head (Szegedy et al.)
  on the output of the cell at 2/3 depth, drop path on the non-identity ops.
- :class:`NetworkImageNet`: the DARTS ImageNet network (mobile setting: 14 cells, C=48)
  with two stride-2 stems (``stem0``: two stride-2 3x3 convs, ``stem1``: one more), so the
  cells see 28x28 maps for a 224x224 input.

Both ``forward`` return ``(logits, logits_aux)``; ``logits_aux`` is ``None`` unless the
network has an auxiliary head and is in training mode. ``drop_path_prob`` is an attribute
the training loop may change per epoch (DARTS ramps it linearly over training).

Module and attribute names follow the DARTS code, so state dicts have the same keys.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn

from .genotypes import BUILDABLE_OPS, DARTS_V2, Genotype, parse_genotype, validate_genotype
from .operations import FactorizedReduce, ReLUConvBN, make_op

__all__ = [
    "Cell",
    "AuxiliaryHeadCIFAR",
    "AuxiliaryHeadImageNet",
    "NetworkCIFAR",
    "NetworkImageNet",
    "drop_path",
    "count_parameters",
    "resolve_genotype",
]


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero whole examples of ``x`` with probability ``drop_prob``, rescale the rest."""
    if drop_prob <= 0.0:
        return x
    keep = 1.0 - drop_prob
    mask = torch.empty(x.size(0), 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x / keep * mask


def resolve_genotype(genotype: Any) -> Genotype:
    """A :class:`Genotype` (validated) from a genotype, a name in ``GENOTYPES`` or a string
    accepted by :func:`parse_genotype`."""
    if isinstance(genotype, str):
        return parse_genotype(genotype, steps=None, ops=BUILDABLE_OPS)
    return validate_genotype(genotype, steps=None, ops=BUILDABLE_OPS)


def count_parameters(model: nn.Module, exclude_auxiliary: bool = True) -> int:
    """Number of parameters; like DARTS' ``utils.count_parameters_in_MB`` (times 1e6),
    parameters whose name contains ``"auxiliary"`` are left out by default."""
    return sum(p.numel() for name, p in model.named_parameters() if not (exclude_auxiliary and "auxiliary" in name))


class Cell(nn.Module):
    """A discrete cell: per intermediate node, two ops on earlier nodes, summed."""

    def __init__(
        self, genotype: Genotype, C_prev_prev: int, C_prev: int, C: int, reduction: bool, reduction_prev: bool
    ):
        super().__init__()
        self.reduction = reduction
        if reduction_prev:
            self.preprocess0 = FactorizedReduce(C_prev_prev, C)
        else:
            self.preprocess0 = ReLUConvBN(C_prev_prev, C, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0)
        pairs = genotype.reduce if reduction else genotype.normal
        self._concat = list(genotype.reduce_concat if reduction else genotype.normal_concat)
        self.multiplier = len(self._concat)
        self._steps = len(pairs) // 2
        self._indices = [src for _, src in pairs]
        self._ops = nn.ModuleList(
            make_op(name, C, 2 if reduction and src < 2 else 1, affine=True) for name, src in pairs
        )

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(self._steps):
            total = 0
            for k in (2 * i, 2 * i + 1):
                op = self._ops[k]
                h = op(states[self._indices[k]])
                if self.training and drop_prob > 0.0 and not isinstance(op, nn.Identity):
                    h = drop_path(h, drop_prob)
                total = total + h
            states.append(total)
        return torch.cat([states[i] for i in self._concat], dim=1)


class AuxiliaryHeadCIFAR(nn.Module):
    """Auxiliary classifier on the 8x8 maps at 2/3 depth (CIFAR, 32x32 input)."""

    def __init__(self, C: int, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),  # 8x8 -> 2x2
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),  # 2x2 -> 1x1
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class AuxiliaryHeadImageNet(nn.Module):
    """Auxiliary classifier on the 7x7 maps at 2/3 depth (ImageNet, 224x224 input).

    As in the DARTS code (and its ImageNet experiments), there is no BatchNorm after the
    768-channel conv.
    """

    def __init__(self, C: int, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.AvgPool2d(5, stride=2, padding=0, count_include_pad=False),  # 7x7 -> 2x2
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False),  # 2x2 -> 1x1
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


def _build_cells(
    net: nn.Module, genotype: Genotype, layers: int, C_prev_prev: int, C_prev: int, C_curr: int, reduction_prev: bool
) -> tuple[int, int]:
    """Stack the cells on ``net.cells``; return the channels at 2/3 depth (auxiliary head
    input) and at the output."""
    net.cells = nn.ModuleList()
    C_aux = C_prev
    for i in range(layers):
        reduction = i in (layers // 3, 2 * layers // 3)
        if reduction:
            C_curr *= 2
        cell = Cell(genotype, C_prev_prev, C_prev, C_curr, reduction, reduction_prev)
        net.cells.append(cell)
        reduction_prev = reduction
        C_prev_prev, C_prev = C_prev, cell.multiplier * C_curr
        if i == 2 * layers // 3:
            C_aux = C_prev
    return C_aux, C_prev


class _EvalNetwork(nn.Module):
    def _run_cells(self, s0: torch.Tensor, s1: torch.Tensor):
        logits_aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == 2 * self._layers // 3 and self._auxiliary and self.training:
                logits_aux = self.auxiliary_head(s1)
        return s1, logits_aux


class NetworkCIFAR(_EvalNetwork):
    """DARTS evaluation network for 32x32 images (CIFAR-10/100, Fashion-MNIST padded).

    ``NetworkCIFAR(C=36, num_classes=10, layers=20, auxiliary=True, genotype=DARTS_V2)`` is
    the DARTS CIFAR-10 model (3,349,342 parameters without the auxiliary head).
    ``genotype`` may be a :class:`Genotype`, a name from ``GENOTYPES`` or a genotype string.
    """

    def __init__(
        self,
        C: int = 36,
        num_classes: int = 10,
        layers: int = 20,
        auxiliary: bool = True,
        genotype: Any = DARTS_V2,
        drop_path_prob: float = 0.0,
        in_channels: int = 3,
        stem_multiplier: int = 3,
    ):
        super().__init__()
        self.genotype = resolve_genotype(genotype)
        self._layers = layers
        self._auxiliary = auxiliary
        self.drop_path_prob = drop_path_prob
        C_stem = stem_multiplier * C
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, C_stem, 3, padding=1, bias=False),
            nn.BatchNorm2d(C_stem),
        )
        C_aux, C_out = _build_cells(self, self.genotype, layers, C_stem, C_stem, C, False)
        if auxiliary:
            self.auxiliary_head = AuxiliaryHeadCIFAR(C_aux, num_classes)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_out, num_classes)

    def forward(self, x: torch.Tensor):
        s = self.stem(x)
        s, logits_aux = self._run_cells(s, s)
        logits = self.classifier(self.global_pooling(s).flatten(1))
        return logits, logits_aux


class NetworkImageNet(_EvalNetwork):
    """DARTS evaluation network for ImageNet (224x224; mobile setting C=48, 14 cells).

    ``NetworkImageNet(C=48, num_classes=1000, layers=14, auxiliary=True, genotype=DARTS_V2)``
    is the DARTS ImageNet model (about 4.7 M parameters without the auxiliary head). The
    final pooling is adaptive (DARTS uses ``AvgPool2d(7)``, the same for 224x224 input).
    """

    def __init__(
        self,
        C: int = 48,
        num_classes: int = 1000,
        layers: int = 14,
        auxiliary: bool = True,
        genotype: Any = DARTS_V2,
        drop_path_prob: float = 0.0,
        in_channels: int = 3,
    ):
        super().__init__()
        self.genotype = resolve_genotype(genotype)
        self._layers = layers
        self._auxiliary = auxiliary
        self.drop_path_prob = drop_path_prob
        self.stem0 = nn.Sequential(
            nn.Conv2d(in_channels, C // 2, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(C // 2, C, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C),
        )
        self.stem1 = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(C, C, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C),
        )
        # The first cell sees stem0 (2x larger) and stem1: treat as after a reduction.
        C_aux, C_out = _build_cells(self, self.genotype, layers, C, C, C, True)
        if auxiliary:
            self.auxiliary_head = AuxiliaryHeadImageNet(C_aux, num_classes)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_out, num_classes)

    def forward(self, x: torch.Tensor):
        s0 = self.stem0(x)
        s1 = self.stem1(s0)
        s, logits_aux = self._run_cells(s0, s1)
        logits = self.classifier(self.global_pooling(s).flatten(1))
        return logits, logits_aux
