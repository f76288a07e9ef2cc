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

__all__ = ["IMPLS", "SearchCell", "NB201SearchNetwork", "mixing_matrices", "avg_pool_3x3", "box_pool_mode"]

IMPLS = ("fused", "loop")
_SKIP, _CONV1, _CONV3, _POOL = (OPS.index(n) for n in ("skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"))
# incoming[i] = [(edge index, source node)] for node i; outgoing[j] = [(edge index, target)].
_INCOMING = {i: [(e, j) for e, (t, j) in enumerate(EDGES) if t == i] for i in (1, 2, 3)}
_OUTGOING = {j: [(e, t) for e, (t, s) in enumerate(EDGES) if s == j] for j in (0, 1, 2)}


# Mixing tables of the fused cell (see SearchCell). For source node j, the stack Z_j holds x_j,
# pool(x_j), the conv1x1 BN outputs of the n = 3 - j edges leaving j, then their conv3x3 BN outputs
# (2 + 2n blocks). Row r of M_j is target node t = j + 1 + r, reached by edge e = EDGES.index((t, j)).
# _MIXING[j][r][c] indexes the entry of cat(weights.flatten(), [0]) that multiplies block c: an op
# weight of e, or 0 (a block of another edge).
_ZERO = NUM_EDGES * NUM_OPS


def _mixing_table(j: int) -> list[list[int]]:
    n = 3 - j  # edges leaving j
    rows = []
    for r, t in enumerate(range(j + 1, 4)):
        e = EDGES.index((t, j))
        row = [_ZERO] * (2 + 2 * n)
        row[0] = e * NUM_OPS + _SKIP
        row[1] = e * NUM_OPS + _POOL
        row[2 + r] = e * NUM_OPS + _CONV1
        row[2 + n + r] = e * NUM_OPS + _CONV3
        rows.append(row)
    return rows


_MIXING = tuple(_mixing_table(j) for j in (0, 1, 2))  # M_0: 3 x 8, M_1: 2 x 6, M_2: 1 x 4
_MIXING_INDEX = [i for table in _MIXING for row in table for i in row]


def mixing_matrices(weights: torch.Tensor, index: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
    """The fused cell's mixing matrices ``(M_0, M_1, M_2)`` (3 x 8, 2 x 6, 1 x 4) from the 6 x 5 op
    weights, in one gather, shared by all cells (``NB201SearchNetwork`` builds them once per
    forward). ``index``: ``_MIXING_INDEX`` on the weights' device (the modules keep it as a
    buffer; made here if not given, a host-to-device copy on a GPU)."""
    if index is None:
        index = torch.tensor(_MIXING_INDEX, device=weights.device)
    flat = torch.cat([weights.reshape(-1), weights.new_zeros(1)])[index]
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


_POOL_CONSTANTS: dict[tuple, torch.Tensor] = {}


def _pool_constant(kind: str, size: int | tuple[int, int], like: torch.Tensor) -> torch.Tensor:
    """Cached constants of ``avg_pool_3x3``: ``"inv"``, 1 / (the number of in-image pixels of each
    3x3 window), 1 x 1 x H x W (``size``: (H, W)); ``"box"``, the C x 1 x 3 x 3 all-ones
    depthwise kernel (``size``: C) in ``like``'s memory format. In ``like``'s dtype and device."""
    nhwc = kind == "box" and not like.is_contiguous() and like.is_contiguous(memory_format=torch.channels_last)
    key = (kind, size, like.dtype, like.device, nhwc)
    const = _POOL_CONSTANTS.get(key)
    if const is None:
        if kind == "inv":
            (H, W) = size
            ones = torch.ones(1, 1, H, W, dtype=torch.float64)
            counts = F.avg_pool2d(ones, 3, 1, 1, count_include_pad=True, divisor_override=1)
            const = (1.0 / counts).to(like.dtype)
        else:
            const = torch.ones(size, 1, 3, 3, dtype=like.dtype)
            if nhwc:
                const = const.contiguous(memory_format=torch.channels_last)
        const = _POOL_CONSTANTS[key] = const.to(like.device)
    return const


def box_pool_mode(x: torch.Tensor) -> str:
    """How ``avg_pool_3x3`` computes ``x``'s 3x3 window sums: ``"pool"`` (``F.avg_pool2d`` itself),
    ``"dw"`` (a depthwise all-ones 3x3 convolution) or ``"shift"`` (three shifted adds per axis).

    Measured on a CPU with one thread, forward + backward at batch 64 (docs/bench_search.md, "Issue
    19"): in channels_last the depthwise convolution is 2.1-2.2x faster than ``avg_pool2d`` at 16x16
    and 32x32 (C = 8..32), even at 8x8, and slower at 4x4 (0.21 against 0.09 ms); in NCHW
    ``avg_pool2d`` is 1.5-10x slower than either, the shifted adds fastest for few channels on large
    images (C <= 16, >= 16x16), the depthwise convolution otherwise. On other devices (a GPU: one
    kernel against two or more) the pool itself."""
    if x.device.type != "cpu":
        return "pool"
    H, W = x.shape[-2:]
    if not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last):
        return "dw" if H * W > 64 else "pool"
    return "shift" if H * W >= 256 and x.shape[1] <= 16 else "dw"


def avg_pool_3x3(x: torch.Tensor, mode: str | None = None) -> torch.Tensor:
    """``nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)(x)``, the ``avg_pool_3x3`` op
    of a cell edge, as the 3x3 window sums times a cached map of 1 / (in-image pixels per window):
    the same values and gradients up to float rounding (tests/test_nb201_space.py). ``mode``: see
    ``box_pool_mode`` (its choice by default)."""
    mode = box_pool_mode(x) if mode is None else mode
    if mode == "pool":
        return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    if mode == "dw":
        box = F.conv2d(x, _pool_constant("box", x.shape[1], x), padding=1, groups=x.shape[1])
    elif mode == "shift":
        xp = F.pad(x, (1, 1, 1, 1))
        rows = xp[:, :, :-2] + xp[:, :, 1:-1] + xp[:, :, 2:]
        box = rows[..., :-2] + rows[..., 1:-1] + rows[..., 2:]
    else:
        raise ValueError(f"unknown avg_pool_3x3 mode {mode!r}; choose one of pool, dw, shift")
    return box * _pool_constant("inv", tuple(x.shape[-2:]), x)


class SearchCell(nn.Module):
    """A cell whose 6 edges each hold all 5 ops: ``edges[e][k]`` is ``OPS[k]`` on ``EDGES[e]``.

    ``forward_loop`` is the benchmark's formulation (the search cell of its DARTS search model,
    Dong & Yang, ICLR 2020): node ``t = sum_{j<t} sum_k w[(t, j), k] * op_k(x_j)``.
    ``forward_fused`` computes the same sums with a few large kernels per source node j = 0, 1, 2
    (``none`` is dropped: it adds ``0 * w``):

    * one ReLU, then one 1x1 conv and one 3x3 conv whose output channels stack the kernels of
      that size of all edges leaving j, and one batch norm over each (per-channel, so identical
      to separate BNs); one average pool (``avg_pool_3x3``: window sums times a cached map of
      1 / window size), shared by those edges;
    * one cat into a stack ``Z_j`` of C-channel blocks, block index first (a K_j x B*C*H*W
      matrix): ``x_j``, ``pool(x_j)``, and the BN outputs;
    * one matrix product ``M_j @ Z_j`` (``mixing_matrices``; for j > 0 an ``addmm`` onto the
      partial sums): row r is ``w[e, skip] * x_j + w[e, pool] * pool(x_j) + w[e, conv1] *
      conv1_e(x_j) + w[e, conv3] * conv3_e(x_j)`` for the edge e from j to t = j + 1 + r, the
      loop's edge sum for e, added to what t already had. Its first row is node j + 1, complete
      (all its sources <= j are done); the others are the new partial sums.

    So a cell is 3 x (pool, ReLU, 2 convs, 2 BNs, cat, mm) and no elementwise mixing, instead of
    scalar multiplies and adds per (edge, op) and, backward, a multiply, a sum and a select per
    scalar weight (about 30 ops forward and 45 backward, against 126 and 270 for the loop; the
    mixing matrices are built once per network forward). The products and sums are the loop's,
    in the order a matrix product takes them, so outputs and gradients agree with it up to float
    rounding (tested in float64 and float32). Block index first makes ``Z_j`` one plain matrix
    (one GEMM, faster on a CPU than a batched product over a batch-major stack) whose rows are
    laid out as the input is, NCHW or ``torch.channels_last`` (then pixel-major blocks), so
    every reshape is a view and the outputs keep the input's memory format.

    Measured on one CPU thread (docs/bench_search.md, "Issue 19"): separate 1x1 and 3x3 convs do
    1 + 9 multiply-adds per pixel and channel pair where a 3x3 conv with zero-padded 1x1 kernels
    did 9 + 9 (conv forward + backward at 16x16, C = 8, 3 edges: 3.4 against 4.8
    ms in channels_last); the pool as window sums 2x faster in channels_last at >= 16x16 and
    1.5-10x in NCHW (``box_pool_mode``); the partial sums added by ``addmm`` rather than copied
    into ``Z_j`` and back out.
    """

    #: "split" (a 1x1 and a 3x3 conv per source node), "padded" (one 3x3 conv, the 1x1 kernels
    #: zero-padded: one conv and one BN launch instead of two, for a launch-bound GPU), or None:
    #: split on a CPU, padded elsewhere. Both are exact; set per instance to choose.
    conv_mode: str | None = None
    #: ``avg_pool_3x3``'s mode ("pool", "dw", "shift"), or None: ``box_pool_mode``'s choice.
    pool_mode: str | None = None

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

    def _split_convs(self, x: torch.Tensor) -> bool:
        mode = self.conv_mode or ("split" if x.device.type == "cpu" else "padded")
        if mode not in ("split", "padded"):
            raise ValueError(f"unknown conv_mode {mode!r}; choose split, padded or None")
        return mode == "split"

    def _kernels(self, split: bool) -> list[tuple[torch.Tensor, ...]]:
        """Per source node j, the kernels of the edges leaving j, stacked along the output channels
        in target order: (1x1, 3x3) when ``split``, else one 3x3 stack, the 1x1 kernels zero-padded
        to 3x3 (the same convolution with padding 1) first. One cat per kernel size for the cell."""
        edges = [e for j in (0, 1, 2) for e, _ in _OUTGOING[j]]
        sizes = [len(_OUTGOING[j]) * self.C for j in (0, 1, 2)]
        conv1 = torch.cat([self.edges[e][_CONV1].conv.weight for e in edges])
        conv3 = torch.cat([self.edges[e][_CONV3].conv.weight for e in edges]).split(sizes)
        if split:
            return list(zip(conv1.split(sizes), conv3))
        return [(torch.cat([k1, k3]),) for k1, k3 in zip(F.pad(conv1, (1, 1, 1, 1)).split(sizes), conv3)]

    def _conv_features(
        self, x: torch.Tensor, out_edges: list[int], kernels: tuple[torch.Tensor, ...]
    ) -> list[torch.Tensor]:
        """The conv1x1 BN outputs of the edges in ``out_edges``, then their conv3x3 BN outputs,
        along the channels: one tensor per conv (``_kernels``), or one per op when the BNs have
        their own state."""
        x = F.relu(x)
        ys = [F.conv2d(x, k, padding=k.shape[-1] // 2) for k in kernels]
        if self._batch_stats_only:
            eps = self.edges[0][_CONV3].bn.eps
            return [F.batch_norm(y, None, None, training=True, eps=eps) for y in ys]
        bns = [self.edges[e][k].bn for k in (_CONV1, _CONV3) for e in out_edges]
        return [bn(c) for bn, c in zip(bns, (c for y in ys for c in y.split(self.C, dim=1)))]

    def forward_fused(
        self, x: torch.Tensor, weights: torch.Tensor | None, mixing: Sequence[torch.Tensor] | None = None
    ) -> torch.Tensor:
        if mixing is None:
            mixing = mixing_matrices(weights, self.mixing_index)
        nhwc = not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
        xj, partial = x, None  # node j; the partial sums of nodes j+1..3 (rows)
        for j, (m, kernels) in enumerate(zip(mixing, self._kernels(self._split_convs(x)))):
            out_edges = [e for e, _ in _OUTGOING[j]]
            feats = self._conv_features(xj, out_edges, kernels)
            pooled = avg_pool_3x3(xj, self.pool_mode)
            z = torch.cat([_blocks(t, self.C, nhwc) for t in (xj, pooled, *feats)])
            m, flat = m.to(z.dtype), z.reshape(len(z), -1)
            sums = m @ flat if partial is None else torch.addmm(partial, m, flat)
            node, partial = sums.split([1, len(m) - 1]) if len(m) > 1 else (sums, None)
            xj = _unblock(node.view(z.shape[1:]), nhwc)  # node j + 1, complete
        return xj

    def forward_path(
        self, x: torch.Tensor, path: Sequence[int], chosen: torch.Tensor | None = None, rest: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Single path: only ``edges[e][path[e]]`` runs on edge e.

        With ``chosen`` and ``rest`` (per-edge, shape 6) the edge output is
        ``chosen[e] * op(x) + rest[e]``, the benchmark's GDAS weighting. The pool runs as
        ``avg_pool_3x3`` (the same values up to rounding, faster on a CPU).
        """
        nodes = [x]
        for i in (1, 2, 3):
            node = None
            for e, j in _INCOMING[i]:
                if path[e] == _POOL:
                    y = avg_pool_3x3(nodes[j], self.pool_mode)
                else:
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

    def arch_string(self, alphas=None) -> str:
        """The derived cell as an arch string (the search loop's interface; ``alphas``: ``[alpha]``)."""
        return self.genotype(None if alphas is None else alphas[0])

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
