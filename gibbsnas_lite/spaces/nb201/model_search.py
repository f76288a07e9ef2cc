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

__all__ = ["IMPLS", "SearchCell", "NB201SearchNetwork", "mixing_matrices"]

IMPLS = ("fused", "loop")
_SKIP, _CONV1, _CONV3, _POOL = (OPS.index(n) for n in ("skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"))
# incoming[i] = [(edge index, source node)] for node i; outgoing[j] = [(edge index, target)].
_INCOMING = {i: [(e, j) for e, (t, j) in enumerate(EDGES) if t == i] for i in (1, 2, 3)}
_OUTGOING = {j: [(e, t) for e, (t, s) in enumerate(EDGES) if s == j] for j in (0, 1, 2)}


# Mixing tables of the fused cell (see SearchCell). For source node j, the stack Z_j holds
# `carried` blocks (j = 0: x_0; j > 0: node j, then the partial sums of nodes j+1..3), pool(x_j),
# then the (conv1x1, conv3x3) BN outputs of each edge leaving j. Row r of M_j is target node
# t = j + 1 + r, reached by edge e = EDGES.index((t, j)). _MIXING[j][r][c] indexes the entry of
# cat(weights.flatten(), [0, 1]) that multiplies block c: an op weight, 0 (block unused), or 1
# (the partial sum of t itself, carried on unchanged).
_ZERO, _ONE = NUM_EDGES * NUM_OPS, NUM_EDGES * NUM_OPS + 1


def _mixing_table(j: int) -> list[list[int]]:
    carried = 1 if j == 0 else 4 - j
    rows = []
    for r, t in enumerate(range(j + 1, 4)):
        e = EDGES.index((t, j))
        row = [_ZERO] * (carried + 1 + 2 * (3 - j))
        row[0] = e * NUM_OPS + _SKIP
        if j > 0:
            row[t - j] = _ONE
        row[carried] = e * NUM_OPS + _POOL
        row[carried + 1 + 2 * r] = e * NUM_OPS + _CONV1
        row[carried + 2 + 2 * r] = e * NUM_OPS + _CONV3
        rows.append(row)
    return rows


_MIXING = tuple(_mixing_table(j) for j in (0, 1, 2))  # M_0: 3 x 8, M_1: 2 x 8, M_2: 1 x 5
_MIXING_INDEX = [i for table in _MIXING for row in table for i in row]


def mixing_matrices(weights: torch.Tensor, index: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
    """The fused cell's mixing matrices ``(M_0, M_1, M_2)`` (3 x 8, 2 x 8, 1 x 5) from the 6 x 5 op
    weights, in one gather, shared by all cells (``NB201SearchNetwork`` builds them once per
    forward). ``index``: ``_MIXING_INDEX`` on the weights' device (the modules keep it as a
    buffer; made here if not given, a host-to-device copy on a GPU)."""
    if index is None:
        index = torch.tensor(_MIXING_INDEX, device=weights.device)
    flat = torch.cat([weights.reshape(-1), weights.new_zeros(1), weights.new_ones(1)])[index]
    sizes = [len(table) * len(table[0]) for table in _MIXING]
    return tuple(m.view(len(table), -1) for m, table in zip(flat.split(sizes), _MIXING))


def _blocks(t: torch.Tensor, C: int, nhwc: bool) -> torch.Tensor:
    """A view of ``t`` (B x k*C x H x W) as its k blocks of C channels, block index first:
    k x B x C x H x W, or k x B x H x W x C (``nhwc``: dense when ``t`` is channels_last)."""
    if nhwc:
        return t.permute(0, 2, 3, 1).unflatten(-1, (-1, C)).movedim(3, 0)
    return t.unflatten(1, (-1, C)).movedim(1, 0)


def _unblock(block: torch.Tensor, nhwc: bool) -> torch.Tensor:
    """One block of ``_blocks`` back as B x C x H x W (a view)."""
    return block.permute(0, 3, 1, 2) if nhwc else block


class SearchCell(nn.Module):
    """A cell whose 6 edges each hold all 5 ops: ``edges[e][k]`` is ``OPS[k]`` on ``EDGES[e]``.

    ``forward_loop`` is the benchmark's formulation (the search cell of its DARTS search model,
    Dong & Yang, ICLR 2020): node ``t = sum_{j<t} sum_k w[(t, j), k] * op_k(x_j)``.
    ``forward_fused`` computes the same sums with a few large kernels per source node j = 0, 1, 2
    (``none`` is dropped: it adds ``0 * w``):

    * one ReLU and one 3x3 conv whose output channels stack the 3x3 kernels and the
      zero-padded 1x1 kernels of all edges leaving j (a 1x1 kernel padded to 3x3 with
      padding 1 is the same convolution), one batch norm over all those channels (per-channel,
      so identical to separate BNs), and one average pool, shared by those edges;
    * one cat into a stack ``Z_j`` of C-channel blocks, block index first (a K_j x B*C*H*W
      matrix): the blocks carried from node j-1 (``x_0`` for j = 0; else node j, then the
      partial sums of the later nodes), ``pool(x_j)``, and the BN outputs;
    * one matrix product ``M_j @ Z_j`` (``mixing_matrices``): row r is ``w[e, skip] * x_j +
      w[e, pool] * pool(x_j) + w[e, conv1] * conv1_e(x_j) + w[e, conv3] * conv3_e(x_j)
      (+ 1 * partial sum of t)`` for the edge e from j to t = j + 1 + r, i.e. the loop's
      edge sum for e added to what t already had. Its first row is node j + 1, complete (all
      its sources <= j are done); the others are the new partial sums, carried on as they are.

    So a cell is 3 x (pool, ReLU, conv, BN, cat, mm) and no elementwise mixing, instead of
    scalar multiplies and adds per (edge, op) and, backward, a multiply, a sum and a select per
    scalar weight (26 ops forward and 39 backward, against 126 and 270 for the loop; the mixing
    matrices are built once per network forward). The products and sums are the loop's, in the
    order a matrix product takes them, so outputs and gradients agree with it up to float
    rounding (tested in float64 and float32). Block index first makes ``Z_j`` one plain matrix
    (one GEMM, faster on a CPU than a batched product over a batch-major stack) whose rows are
    laid out as the input is, NCHW or ``torch.channels_last`` (then pixel-major blocks), so
    every reshape is a view and the outputs keep the input's memory format.
    """

    def __init__(self, C: int, affine: bool = False, track_running_stats: bool = False):
        super().__init__()
        self.C = C
        self.edges = nn.ModuleList(
            nn.ModuleList(make_op(name, C, C, 1, affine, track_running_stats) for name in OPS) for _ in EDGES
        )
        bn = self.edges[0][_CONV3].bn
        self._batch_stats_only = not bn.affine and not bn.track_running_stats
        self.register_buffer("mixing_index", torch.tensor(_MIXING_INDEX), persistent=False)

    def forward(
        self,
        x: torch.Tensor,
        weights: torch.Tensor | None,
        impl: str = "fused",
        mixing: Sequence[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """``weights``: the 6 x 5 op weights; ``mixing``: ``mixing_matrices(weights)`` when the
        caller has them already (the fused cell then ignores ``weights``)."""
        if impl == "fused":
            return self.forward_fused(x, weights, mixing)
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

    def _kernels(self) -> list[torch.Tensor]:
        """Per source node j, the 3x3 kernels of the edges leaving j, (conv1x1 zero-padded,
        conv3x3) per edge: one pad for the cell's six 1x1 kernels, one cat per node."""
        conv1 = torch.cat([ops[_CONV1].conv.weight for ops in self.edges])
        conv1 = F.pad(conv1, (1, 1, 1, 1)).split(self.C)
        return [
            torch.cat([k for e, _ in _OUTGOING[j] for k in (conv1[e], self.edges[e][_CONV3].conv.weight)])
            for j in (0, 1, 2)
        ]

    def _conv_features(self, x: torch.Tensor, out_edges: list[int], kernels: torch.Tensor) -> list[torch.Tensor]:
        """The (conv1x1, conv3x3) BN outputs of the edges in ``out_edges``, in that order, along
        the channels: one tensor, or one per op when the BNs have their own state."""
        y = F.conv2d(F.relu(x), kernels, padding=1)
        if self._batch_stats_only:
            return [F.batch_norm(y, None, None, training=True, eps=self.edges[0][_CONV3].bn.eps)]
        bns = [self.edges[e][k].bn for e in out_edges for k in (_CONV1, _CONV3)]
        return [bn(c) for bn, c in zip(bns, y.split(self.C, dim=1))]

    def forward_fused(
        self, x: torch.Tensor, weights: torch.Tensor | None, mixing: Sequence[torch.Tensor] | None = None
    ) -> torch.Tensor:
        if mixing is None:
            mixing = mixing_matrices(weights, self.mixing_index)
        nhwc = not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
        carried, xj = _blocks(x, self.C, nhwc), x
        for j, (m, kernels) in enumerate(zip(mixing, self._kernels())):
            out_edges = [e for e, _ in _OUTGOING[j]]
            pooled = self.edges[out_edges[0]][_POOL](xj)
            feats = self._conv_features(xj, out_edges, kernels)
            z = torch.cat([carried, *(_blocks(t, self.C, nhwc) for t in (pooled, *feats))])
            carried = (m.to(z.dtype) @ z.reshape(len(z), -1)).view(len(m), *z.shape[1:])
            xj = _unblock(carried[0] if len(m) > 1 else carried.squeeze(0), nhwc)  # node j + 1
        return xj

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
        self.register_buffer("mixing_index", torch.tensor(_MIXING_INDEX), persistent=False)

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
        else:  # the fused cells' mixing matrices are built once, for all cells
            mixing = mixing_matrices(weights, self.mixing_index) if self.impl == "fused" else None
            run = lambda cell, h: cell(h, weights, self.impl, mixing)  # noqa: E731

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
