"""The DARTS search network (supernet), Liu, Simonyan & Yang, ICLR 2019, Sec. 2-3.

A stack of ``layers`` cells (8 in DARTS) over a 3x3-conv stem with ``stem_multiplier * C``
channels; the cells at 1/3 and 2/3 of the depth are reduction cells (stride 2, channels
doubled). Every cell has ``steps`` intermediate nodes (4) and one edge from each earlier
node to each intermediate node (14 edges). Each edge is a :class:`MixedOp`: the weighted
sum of all candidate ops, with weights softmax(alpha[edge]). All normal cells share
``alpha_normal`` and all reduction cells ``alpha_reduce`` (each 14 x 8).

The continuous relaxation is what GibbsNAS samples: a sampler can evaluate the network at
a drawn alpha without touching the parameters (``forward(x, alphas=...)``), or at explicit
per-edge op weights such as a hard one-hot path (``forward(x, weights=...)``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .genotypes import MULTIPLIER, PRIMITIVES, STEPS, Genotype, derive_genotype, format_genotype
from .operations import FactorizedReduce, ReLUConvBN, make_op

__all__ = ["MixedOp", "SearchCell", "Network"]


class MixedOp(nn.Module):
    """One edge of the supernet: ``sum_k w_k * op_k(x)`` over the candidate ops.

    BatchNorms are not affine (as in DARTS); pooling ops are followed by a non-affine BN.
    """

    def __init__(self, C: int, stride: int, primitives: Sequence[str] = PRIMITIVES):
        super().__init__()
        self._ops = nn.ModuleList()
        for name in primitives:
            op = make_op(name, C, stride, affine=False)
            if "pool" in name:
                op = nn.Sequential(op, nn.BatchNorm2d(C, affine=False))
            self._ops.append(op)

    def forward(self, x: torch.Tensor, weights: torch.Tensor, skip_zero: bool = False) -> torch.Tensor:
        """``weights``: 1-D, one weight per op. With ``skip_zero``, ops whose weight is
        exactly 0 and does not require grad are not run (same output and alpha-gradients;
        their parameters then get no ``.grad`` on this pass)."""
        if skip_zero and not weights.requires_grad:
            active = [k for k in range(len(self._ops)) if weights[k].item() != 0.0]
            if not active:  # all-zero weights: a zero output of the right shape
                return self._ops[0](x).mul(0.0)
            return sum(weights[k] * self._ops[k](x) for k in active)
        return sum(w * op(x) for w, op in zip(weights, self._ops))


class SearchCell(nn.Module):
    """A supernet cell: two preprocessed inputs, ``steps`` nodes, one MixedOp per edge."""

    def __init__(
        self,
        steps: int,
        multiplier: int,
        C_prev_prev: int,
        C_prev: int,
        C: int,
        reduction: bool,
        reduction_prev: bool,
        primitives: Sequence[str] = PRIMITIVES,
    ):
        super().__init__()
        self.reduction = reduction
        self._steps = steps
        self._multiplier = multiplier
        if reduction_prev:  # s0 has twice the spatial size of s1
            self.preprocess0 = FactorizedReduce(C_prev_prev, C, affine=False)
        else:
            self.preprocess0 = ReLUConvBN(C_prev_prev, C, 1, 1, 0, affine=False)
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0, affine=False)
        self._ops = nn.ModuleList()
        for i in range(steps):
            for j in range(i + 2):
                stride = 2 if reduction and j < 2 else 1
                self._ops.append(MixedOp(C, stride, primitives))

    def forward(
        self, s0: torch.Tensor, s1: torch.Tensor, weights: torch.Tensor, skip_zero: bool = False
    ) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        offset = 0
        for _ in range(self._steps):
            s = sum(self._ops[offset + j](h, weights[offset + j], skip_zero) for j, h in enumerate(states))
            offset += len(states)
            states.append(s)
        return torch.cat(states[-self._multiplier :], dim=1)


class Network(nn.Module):
    """The DARTS search network.

    Args:
        C: initial channels (16 in DARTS).
        num_classes: output classes.
        layers: number of cells (8 in DARTS); reductions at ``layers // 3`` and
            ``2 * layers // 3``.
        steps: intermediate nodes per cell (4).
        multiplier: how many of the last nodes a cell concatenates (4).
        stem_multiplier: stem width ``stem_multiplier * C`` (3).
        in_channels: image channels (3 for CIFAR, 1 for Fashion-MNIST).
        primitives: candidate op names (DARTS' 8 by default), the columns of alpha.

    ``alpha_normal`` and ``alpha_reduce`` are ``nn.Parameter`` of shape
    (num_edges, num_ops), initialised to ``1e-3 * randn`` as in DARTS; take them with
    :meth:`arch_parameters` and the rest with :meth:`weight_parameters` to give them
    different optimizers. ``forward`` returns logits.
    """

    def __init__(
        self,
        C: int = 16,
        num_classes: int = 10,
        layers: int = 8,
        steps: int = STEPS,
        multiplier: int = MULTIPLIER,
        stem_multiplier: int = 3,
        in_channels: int = 3,
        primitives: Sequence[str] = PRIMITIVES,
    ):
        super().__init__()
        if layers < 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        self._C = C
        self._num_classes = num_classes
        self._layers = layers
        self._steps = steps
        self._multiplier = multiplier
        self._stem_multiplier = stem_multiplier
        self._in_channels = in_channels
        self.primitives = tuple(primitives)
        self.num_edges = sum(i + 2 for i in range(steps))
        self.num_ops = len(self.primitives)

        C_curr = stem_multiplier * C
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, C_curr, 3, padding=1, bias=False),
            nn.BatchNorm2d(C_curr),
        )
        C_prev_prev, C_prev, C_curr = C_curr, C_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                C_curr *= 2
            self.cells.append(
                SearchCell(steps, multiplier, C_prev_prev, C_prev, C_curr, reduction, reduction_prev, self.primitives)
            )
            reduction_prev = reduction
            C_prev_prev, C_prev = C_prev, multiplier * C_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

        shape = (self.num_edges, self.num_ops)
        self.alpha_normal = nn.Parameter(1e-3 * torch.randn(shape))
        self.alpha_reduce = nn.Parameter(1e-3 * torch.randn(shape))

    # ---- parameter groups ----------------------------------------------------------
    def arch_parameters(self) -> list[nn.Parameter]:
        """``[alpha_normal, alpha_reduce]``."""
        return [self.alpha_normal, self.alpha_reduce]

    def named_weight_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        arch = {id(p) for p in self.arch_parameters()}
        return ((n, p) for n, p in self.named_parameters() if id(p) not in arch)

    def weight_parameters(self) -> list[nn.Parameter]:
        """All parameters except alpha (the network weights omega)."""
        return [p for _, p in self.named_weight_parameters()]

    # ---- alpha handling ------------------------------------------------------------
    def _check(self, name: str, t: torch.Tensor) -> torch.Tensor:
        if not isinstance(t, torch.Tensor):
            t = torch.as_tensor(t, dtype=self.alpha_normal.dtype)
        if tuple(t.shape) != (self.num_edges, self.num_ops):
            raise ValueError(
                f"{name} must have shape ({self.num_edges}, {self.num_ops}) (edges x ops), got {tuple(t.shape)}"
            )
        return t.to(self.alpha_normal.device)

    def _pair(self, name: str, pair) -> tuple[torch.Tensor, torch.Tensor]:
        if isinstance(pair, torch.Tensor) or len(pair) != 2:
            raise ValueError(f"{name} must be a pair (normal, reduce) of ({self.num_edges}, {self.num_ops}) tensors")
        return (self._check(f"{name}[0] (normal)", pair[0]), self._check(f"{name}[1] (reduce)", pair[1]))

    @torch.no_grad()
    def load_alphas(self, alpha_normal, alpha_reduce) -> None:
        """Copy values into ``alpha_normal`` / ``alpha_reduce`` (shape-checked)."""
        self.alpha_normal.copy_(self._check("alpha_normal", alpha_normal))
        self.alpha_reduce.copy_(self._check("alpha_reduce", alpha_reduce))

    def edge_weights(self, alphas=None) -> tuple[torch.Tensor, torch.Tensor]:
        """softmax over ops of ``alphas`` (default: the network's own), per cell type."""
        a_n, a_r = (self.alpha_normal, self.alpha_reduce) if alphas is None else self._pair("alphas", alphas)
        return F.softmax(a_n, dim=-1), F.softmax(a_r, dim=-1)

    # ---- forward and derivation ----------------------------------------------------
    def forward(self, x: torch.Tensor, alphas=None, weights=None, skip_zero_weights: bool = False) -> torch.Tensor:
        """Logits of ``x`` (N, in_channels, H, W).

        - default: edge weights softmax(alpha_normal), softmax(alpha_reduce);
        - ``alphas=(a_normal, a_reduce)``: softmax of these instead (e.g. a sampled alpha;
          gradients flow to them if they require grad);
        - ``weights=(w_normal, w_reduce)``: use these edge weights as given, no softmax
          (e.g. one-hot rows for a single path).
        ``skip_zero_weights`` skips ops with weight exactly 0 on weights that need no grad.
        """
        if alphas is not None and weights is not None:
            raise ValueError("give alphas or weights, not both")
        if weights is not None:
            w_normal, w_reduce = self._pair("weights", weights)
        else:
            w_normal, w_reduce = self.edge_weights(alphas)
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            w = w_reduce if cell.reduction else w_normal
            s0, s1 = s1, cell(s0, s1, w, skip_zero_weights)
        out = self.global_pooling(s1)
        return self.classifier(out.flatten(1))

    def genotype(self, alphas=None) -> Genotype:
        """DARTS derivation (top-2 edges per node, best non-``none`` op) from the
        network's alpha or from ``alphas=(a_normal, a_reduce)``."""
        a_n, a_r = (self.alpha_normal, self.alpha_reduce) if alphas is None else self._pair("alphas", alphas)
        return derive_genotype(a_n, a_r, steps=self._steps, multiplier=self._multiplier, primitives=self.primitives)

    def arch_string(self, alphas=None) -> str:
        """The derived genotype as one line ``normal=|op~j|...;reduce=|...`` (the search loop's interface)."""
        return format_genotype(self.genotype(alphas))

    def extra_repr(self) -> str:
        return (
            f"C={self._C}, num_classes={self._num_classes}, layers={self._layers}, "
            f"steps={self._steps}, in_channels={self._in_channels}"
        )
