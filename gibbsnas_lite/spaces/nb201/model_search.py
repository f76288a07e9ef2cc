"""NAS-Bench-201 weight-sharing supernet (Dong & Yang, ICLR 2020; DARTS-style relaxation).

Same macro skeleton as the discrete network (``model.py``); every edge of every cell is a
mixed op ``sum_k w[e, k] * op_k(x)`` over the 5 ops, with ``w = softmax(alpha, -1)`` and one
``alpha`` of shape 6 x 5 (edges x ops, ``arch.EDGES`` x ``arch.OPS``) shared by all 15 cells,
as in the benchmark's DARTS search model. The cell ops use BN with ``affine=False,
track_running_stats=False`` (the benchmark's search setting), so BN always normalizes with
batch statistics.

``forward`` covers what the search strategies need:

* ``forward(x)``: weights ``softmax(self.alpha)`` (DARTS).
* ``forward(x, alpha=a)``: weights ``softmax(a)`` for an explicit (e.g. sampled) alpha.
* ``forward(x, weights=w)``: explicit per-edge op weights (6 x 5), used as they are.
* ``forward(x, path=p)``: single path, only op ``p[e]`` runs on edge e (RSPS); ``p`` is 6
  op indices, 6 op names, or an arch string.
* ``forward(x, weights=w, path=p)`` or ``forward(x, weights=w)`` with ``w`` one-hot (exactly
  one nonzero per row): single path weighted as the benchmark's GDAS does,
  ``w[e, k] * op_k(x) + sum_{i != k} w[e, i]``. The extra terms are zero in value but let
  the straight-through (hard Gumbel-softmax) gradient reach every entry of ``w``.

Two exact formulations of the mixed cell are kept: ``impl="loop"`` (the benchmark's code:
every op of every edge in turn) and ``impl="fused"`` (default, see ``SearchCell``); they
give the same outputs and gradients up to float rounding (tested).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .arch import EDGES, NUM_EDGES, NUM_OPS, OPS, check_alpha_shape, derive_arch, parse_arch
from .model import NB201Network, macro_layout
from .ops import ResNetBasicBlock, make_op

__all__ = ["IMPLS", "SearchCell", "NB201SearchNetwork"]

IMPLS = ("fused", "loop")
_SKIP, _CONV1, _CONV3, _POOL = (OPS.index(n) for n in ("skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"))
# incoming[i] = [(edge index, source node)] for node i; outgoing[j] = [(edge index, target)].
_INCOMING = {i: [(e, j) for e, (t, j) in enumerate(EDGES) if t == i] for i in (1, 2, 3)}
_OUTGOING = {j: [(e, t) for e, (t, s) in enumerate(EDGES) if s == j] for j in (0, 1, 2)}


class SearchCell(nn.Module):
    """A cell whose 6 edges each hold all 5 ops: ``edges[e][k]`` is ``OPS[k]`` on ``EDGES[e]``.

    ``forward_loop`` is the benchmark's formulation. ``forward_fused`` computes the same
    sum with fewer, larger kernels: for each source node j it applies one ReLU, one 3x3
    conv whose output channels stack the 3x3 kernels and the zero-padded 1x1 kernels of all
    edges leaving j (a 1x1 kernel padded to 3x3 with padding 1 is the same convolution),
    one batch norm over all those channels (per-channel, so identical to separate BNs),
    and one average pool shared by those edges; ``none`` is skipped (it adds ``0 * w``).
    """

    def __init__(self, C: int, affine: bool = False, track_running_stats: bool = False):
        super().__init__()
        self.C = C
        self.edges = nn.ModuleList(
            nn.ModuleList(make_op(name, C, C, 1, affine, track_running_stats) for name in OPS) for _ in EDGES
        )
        bn = self.edges[0][_CONV3].bn
        self._batch_stats_only = not bn.affine and not bn.track_running_stats

    def forward(self, x: torch.Tensor, weights: torch.Tensor, impl: str = "fused") -> torch.Tensor:
        if impl == "fused":
            return self.forward_fused(x, weights)
        if impl == "loop":
            return self.forward_loop(x, weights)
        raise ValueError(f"unknown impl {impl!r}; choose one of {', '.join(IMPLS)}")

    def forward_loop(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for i in (1, 2, 3):
            nodes.append(
                sum(sum(op(nodes[j]) * weights[e, k] for k, op in enumerate(self.edges[e])) for e, j in _INCOMING[i])
            )
        return nodes[3]

    def _conv_features(self, x: torch.Tensor, out_edges: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(conv1x1 branch, conv3x3 branch) outputs after BN for each edge in ``out_edges``."""
        kernels, bns = [], []
        for e in out_edges:
            conv1, conv3 = self.edges[e][_CONV1], self.edges[e][_CONV3]
            kernels += [F.pad(conv1.conv.weight, (1, 1, 1, 1)), conv3.conv.weight]
            bns += [conv1.bn, conv3.bn]
        y = F.conv2d(F.relu(x), torch.cat(kernels), padding=1)
        if self._batch_stats_only:
            y = F.batch_norm(y, None, None, training=True, eps=bns[0].eps)
            chunks = y.split(self.C, dim=1)
        else:
            chunks = [bn(c) for bn, c in zip(bns, y.split(self.C, dim=1))]
        return [(chunks[2 * n], chunks[2 * n + 1]) for n in range(len(out_edges))]

    def forward_fused(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x, None, None, None]
        for j in (0, 1, 2):  # node j is complete once all sources < j have been processed
            xj = nodes[j]
            out = _OUTGOING[j]
            pooled = self.edges[out[0][0]][_POOL](xj)
            feats = self._conv_features(xj, [e for e, _ in out])
            for (e, t), (c1, c3) in zip(out, feats):
                w = weights[e]
                y = xj * w[_SKIP] + c1 * w[_CONV1] + c3 * w[_CONV3] + pooled * w[_POOL]
                nodes[t] = y if nodes[t] is None else nodes[t] + y
        return nodes[3]

    def forward_path(
        self, x: torch.Tensor, path: Sequence[int], chosen: torch.Tensor | None = None, rest: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Single path: only ``edges[e][path[e]]`` runs on edge e.

        With ``chosen`` and ``rest`` (per-edge, shape 6) the edge output is
        ``chosen[e] * op(x) + rest[e]``, the benchmark's GDAS weighting.
        """
        nodes = [x]
        for i in (1, 2, 3):
            node = None
            for e, j in _INCOMING[i]:
                y = self.edges[e][path[e]](nodes[j])
                if chosen is not None:
                    y = chosen[e] * y + rest[e]
                node = y if node is None else node + y
            nodes.append(node)
        return nodes[3]


def _as_path(path) -> list[int]:
    """6 op indices from indices, op names, a 1-D tensor or an arch string."""
    if isinstance(path, str):
        return [OPS.index(op) for op in parse_arch(path)]
    if isinstance(path, torch.Tensor):
        path = path.detach().reshape(-1).tolist()
    path = list(path)
    if len(path) != NUM_EDGES:
        raise ValueError(f"path must give one op per edge ({NUM_EDGES}), got {len(path)}: {path!r}")
    out = []
    for e, k in enumerate(path):
        if isinstance(k, str):
            if k not in OPS:
                raise ValueError(f"unknown op {k!r} at path[{e}]; known ops: {', '.join(OPS)}")
            k = OPS.index(k)
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k < NUM_OPS:
            raise ValueError(f"path[{e}] = {k!r} is not an op index in 0..{NUM_OPS - 1} or an op name")
        out.append(k)
    return out


class NB201SearchNetwork(nn.Module):
    """The NAS-Bench-201 supernet; ``forward`` returns logits.

    Parameters: ``C`` (16), ``N`` (5 cells per stage), ``num_classes`` (10),
    ``in_channels`` (3; 1 for Fashion-MNIST), ``affine`` / ``track_running_stats`` of the cell
    ops' BN (False / False, the benchmark's search setting), ``impl`` ("fused" or "loop").
    ``alpha`` (6 x 5, initialized ``1e-3 * randn`` as in the benchmark) is an ``nn.Parameter``
    of this module, so it moves with ``.to()`` and is saved in ``state_dict()``; give
    ``arch_parameters()`` and ``weight_parameters()`` to separate optimizers.
    """

    def __init__(
        self,
        C: int = 16,
        N: int = 5,
        num_classes: int = 10,
        in_channels: int = 3,
        affine: bool = False,
        track_running_stats: bool = False,
        impl: str = "fused",
    ):
        super().__init__()
        self.C, self.N, self.num_classes, self.in_channels = C, N, num_classes, in_channels
        self.affine, self.track_running_stats = affine, track_running_stats
        self.impl = impl
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(C))
        self.cells = nn.ModuleList()
        C_prev = C
        for C_curr, reduction in macro_layout(C, N):
            if reduction:
                self.cells.append(ResNetBasicBlock(C_prev, C_curr, 2))
            else:
                self.cells.append(SearchCell(C_curr, affine, track_running_stats))
            C_prev = C_curr
        self.lastact = nn.Sequential(nn.BatchNorm2d(C_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)
        self.alpha = nn.Parameter(1e-3 * torch.randn(NUM_EDGES, NUM_OPS))

    @property
    def impl(self) -> str:
        return self._impl

    @impl.setter
    def impl(self, value: str) -> None:
        if value not in IMPLS:
            raise ValueError(f"unknown impl {value!r}; choose one of {', '.join(IMPLS)}")
        self._impl = value

    def extra_repr(self) -> str:
        return f"C={self.C}, N={self.N}, num_classes={self.num_classes}, impl={self.impl!r}"

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alpha]

    def weight_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p is not self.alpha]

    def arch_weights(self, alpha: torch.Tensor | None = None) -> torch.Tensor:
        """``softmax(alpha, -1)`` (per-edge op weights; ``self.alpha`` by default)."""
        alpha = self.alpha if alpha is None else alpha
        check_alpha_shape(alpha)
        return F.softmax(alpha, dim=-1)

    def genotype(self, alpha: torch.Tensor | None = None) -> str:
        """Arch string of the argmax op per edge (``none`` included), as the benchmark derives."""
        return derive_arch((self.alpha if alpha is None else alpha).detach())

    derive = genotype

    def forward(
        self, x: torch.Tensor, weights: torch.Tensor | None = None, *, alpha: torch.Tensor | None = None, path=None
    ) -> torch.Tensor:
        if weights is not None and alpha is not None:
            raise ValueError("give either weights or alpha, not both")
        if weights is None:
            if path is None:
                weights = self.arch_weights(alpha)
            elif alpha is not None:
                raise ValueError("alpha has no effect with path; pass weights=... for GDAS weighting")
        else:
            check_alpha_shape(weights)
            if path is None and bool((weights.detach().count_nonzero(dim=-1) == 1).all()):
                path = weights.detach().argmax(dim=-1)
        if path is not None:
            path = _as_path(path)
            chosen = rest = None
            if weights is not None:  # GDAS: w[e, k] * op_k(x) + sum_{i != k} w[e, i]
                onehot = F.one_hot(torch.tensor(path, device=weights.device), NUM_OPS).to(weights.dtype)
                chosen = (weights * onehot).sum(-1)
                rest = (weights * (1 - onehot)).sum(-1)
            run = lambda cell, h: cell.forward_path(h, path, chosen, rest)  # noqa: E731
        else:
            run = lambda cell, h: cell(h, weights, self.impl)  # noqa: E731

        feature = self.stem(x)
        for cell in self.cells:
            feature = run(cell, feature) if isinstance(cell, SearchCell) else cell(feature)
        out = self.global_pooling(self.lastact(feature)).flatten(1)
        return self.classifier(out)

    @torch.no_grad()
    def discretize(self, arch: str) -> NB201Network:
        """A discrete ``NB201Network`` for ``arch`` that inherits this supernet's weights.

        Its cell ops keep the supernet's BN setting (so, by default, batch-statistics BN);
        in training mode it computes exactly ``forward(x, path=arch)``.
        """
        net = NB201Network(
            arch, self.C, self.N, self.num_classes, self.in_channels, self.affine, self.track_running_stats
        ).to(self.alpha.device, self.alpha.dtype)
        path = _as_path(arch)
        net.stem.load_state_dict(self.stem.state_dict())
        net.lastact.load_state_dict(self.lastact.state_dict())
        net.classifier.load_state_dict(self.classifier.state_dict())
        for mine, theirs in zip(self.cells, net.cells):
            if isinstance(mine, SearchCell):
                for e, k in enumerate(path):
                    theirs.edges[e].load_state_dict(mine.edges[e][k].state_dict())
            else:
                theirs.load_state_dict(mine.state_dict())
        return net
