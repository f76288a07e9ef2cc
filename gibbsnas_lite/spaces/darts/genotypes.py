"""Genotypes of the DARTS search space (Liu, Simonyan & Yang, ICLR 2019).

A genotype describes the two cell types of a network. Each cell has two input nodes
(0: output of the cell before the previous one, 1: output of the previous cell) and
``steps`` intermediate nodes, numbered ``2 .. steps + 1``. Intermediate node ``i`` sums
two ops, each applied to an earlier node ``j < i``; the cell output concatenates the
nodes listed in ``*_concat``. As in DARTS, ``normal`` / ``reduce`` list the
``(op, input)`` pairs node by node, two per node::

    Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1),   # node 2
                     ('sep_conv_3x3', 0), ('sep_conv_3x3', 1),   # node 3
                     ...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])

In the search network every pair (j -> i) is an edge carrying all 8 :data:`PRIMITIVES`;
with 4 intermediate nodes that is 2 + 3 + 4 + 5 = 14 edges, listed by :data:`EDGES` in
the row order of the architecture weights alpha (shape 14 x 8).

Helpers: :func:`validate_genotype`, :func:`derive_genotype` (the DARTS derivation from
alpha), :func:`format_genotype` / :func:`parse_genotype` (a compact one-line string, the
DARTS ``Genotype(...)`` repr, or a name from :data:`GENOTYPES`), and
:func:`genotype_to_dict` / :func:`genotype_from_dict` for JSON.
"""

from __future__ import annotations

import ast
from collections import namedtuple
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "Genotype",
    "PRIMITIVES",
    "STEPS",
    "MULTIPLIER",
    "EDGES",
    "NUM_EDGES",
    "NUM_OPS",
    "BUILDABLE_OPS",
    "NASNet",
    "AmoebaNet",
    "DARTS_V1",
    "DARTS_V2",
    "DARTS",
    "PDARTS",
    "PC_DARTS_CIFAR",
    "PC_DARTS_IMAGENET",
    "GDAS_V1",
    "GENOTYPES",
    "validate_genotype",
    "derive_genotype",
    "format_genotype",
    "parse_genotype",
    "genotype_to_dict",
    "genotype_from_dict",
]

Genotype = namedtuple("Genotype", "normal normal_concat reduce reduce_concat")

#: The 8 candidate ops of the DARTS space, in DARTS order (column order of alpha).
PRIMITIVES: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
#: Intermediate nodes per cell, and how many of them a cell concatenates, in the DARTS space.
STEPS = 4
MULTIPLIER = 4
#: (to_node, from_node) of each edge, in the row order of alpha.
EDGES: tuple[tuple[int, int], ...] = tuple((i + 2, j) for i in range(STEPS) for j in range(i + 2))
NUM_EDGES = len(EDGES)  # 14
NUM_OPS = len(PRIMITIVES)  # 8

# Ops a genotype may name: the 8 primitives plus the two extra ops of NASNet/AmoebaNet.
BUILDABLE_OPS: tuple[str, ...] = PRIMITIVES + ("sep_conv_7x7", "conv_7x1_1x7")
# Ops a DARTS-space genotype may keep: the derivation never keeps 'none'.
_DARTS_GENOTYPE_OPS: tuple[str, ...] = PRIMITIVES[1:]

# --------------------------------------------------------------------------------------
# Published genotypes (data). Sources are the authors' code; parameter counts measured with
# this package's NetworkCIFAR (C=36, 20 cells, auxiliary head not counted) are checked
# against the published ones in tests/test_darts_space.py.
# --------------------------------------------------------------------------------------

# NASNet-A (Zoph et al., CVPR 2018), 5 nodes per cell, as listed in the DARTS repository
# (quark0/darts, cnn/genotypes.py). Uses sep_conv_7x7, outside the DARTS space.
NASNet = Genotype(
    normal=[
        ("sep_conv_5x5", 1),
        ("sep_conv_3x3", 0),
        ("sep_conv_5x5", 0),
        ("sep_conv_3x3", 0),
        ("avg_pool_3x3", 1),
        ("skip_connect", 0),
        ("avg_pool_3x3", 0),
        ("avg_pool_3x3", 0),
        ("sep_conv_3x3", 1),
        ("skip_connect", 1),
    ],
    normal_concat=[2, 3, 4, 5, 6],
    reduce=[
        ("sep_conv_5x5", 1),
        ("sep_conv_7x7", 0),
        ("max_pool_3x3", 1),
        ("sep_conv_7x7", 0),
        ("avg_pool_3x3", 1),
        ("sep_conv_5x5", 0),
        ("skip_connect", 3),
        ("avg_pool_3x3", 2),
        ("sep_conv_3x3", 2),
        ("max_pool_3x3", 1),
    ],
    reduce_concat=[4, 5, 6],
)

# AmoebaNet-A (Real et al., AAAI 2019), 5 nodes per cell, as listed in the DARTS repository
# (quark0/darts, cnn/genotypes.py). Uses sep_conv_7x7 and conv_7x1_1x7.
AmoebaNet = Genotype(
    normal=[
        ("avg_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("sep_conv_3x3", 0),
        ("sep_conv_5x5", 2),
        ("sep_conv_3x3", 0),
        ("avg_pool_3x3", 3),
        ("sep_conv_3x3", 1),
        ("skip_connect", 1),
        ("skip_connect", 0),
        ("avg_pool_3x3", 1),
    ],
    normal_concat=[4, 5, 6],
    reduce=[
        ("avg_pool_3x3", 0),
        ("sep_conv_3x3", 1),
        ("max_pool_3x3", 0),
        ("sep_conv_7x7", 2),
        ("sep_conv_7x7", 0),
        ("avg_pool_3x3", 1),
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("conv_7x1_1x7", 0),
        ("sep_conv_3x3", 5),
    ],
    reduce_concat=[3, 4, 6],
)

# DARTS (first order), Liu et al. ICLR 2019; quark0/darts cnn/genotypes.py (DARTS_V1).
# Published: 3.3 M params, 3.00 +- 0.14 % CIFAR-10 error (DARTS paper, Table 1).
DARTS_V1 = Genotype(
    normal=[
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("skip_connect", 0),
        ("sep_conv_3x3", 1),
        ("skip_connect", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("skip_connect", 2),
    ],
    normal_concat=[2, 3, 4, 5],
    reduce=[
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("skip_connect", 2),
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 0),
        ("skip_connect", 2),
        ("skip_connect", 2),
        ("avg_pool_3x3", 0),
    ],
    reduce_concat=[2, 3, 4, 5],
)

# DARTS (second order), Liu et al. ICLR 2019; quark0/darts cnn/genotypes.py (DARTS_V2,
# aliased DARTS there). Published: 3.3 M params on CIFAR-10 (the repository README gives
# 3.349 MB for its released model), 4.7 M on ImageNet (paper Table 3; README 4.719 MB).
DARTS_V2 = Genotype(
    normal=[
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 1),
        ("skip_connect", 0),
        ("skip_connect", 0),
        ("dil_conv_3x3", 2),
    ],
    normal_concat=[2, 3, 4, 5],
    reduce=[
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
        ("max_pool_3x3", 0),
        ("skip_connect", 2),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
    ],
    reduce_concat=[2, 3, 4, 5],
)
DARTS = DARTS_V2

# P-DARTS (Chen et al., ICCV 2019), CIFAR-10 search; chenxin061/pdarts genotypes.py (PDARTS).
# Published: 3.4 M params, 2.50 % CIFAR-10 error (as quoted in GibbsNAS Table 1).
PDARTS = Genotype(
    normal=[
        ("skip_connect", 0),
        ("dil_conv_3x3", 1),
        ("skip_connect", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 3),
        ("sep_conv_3x3", 0),
        ("dil_conv_5x5", 4),
    ],
    normal_concat=[2, 3, 4, 5],
    reduce=[
        ("avg_pool_3x3", 0),
        ("sep_conv_5x5", 1),
        ("sep_conv_3x3", 0),
        ("dil_conv_5x5", 2),
        ("max_pool_3x3", 0),
        ("dil_conv_3x3", 1),
        ("dil_conv_3x3", 1),
        ("dil_conv_5x5", 3),
    ],
    reduce_concat=[2, 3, 4, 5],
)

# PC-DARTS (Xu et al., ICLR 2020), CIFAR-10 search; yuhuixu1993/PC-DARTS genotypes.py
# (PC_DARTS_cifar). Published: 3.6 M params, 2.57 +- 0.07 % CIFAR-10 error (repository README).
PC_DARTS_CIFAR = Genotype(
    normal=[
        ("sep_conv_3x3", 1),
        ("skip_connect", 0),
        ("sep_conv_3x3", 0),
        ("dil_conv_3x3", 1),
        ("sep_conv_5x5", 0),
        ("sep_conv_3x3", 1),
        ("avg_pool_3x3", 0),
        ("dil_conv_3x3", 1),
    ],
    normal_concat=[2, 3, 4, 5],
    reduce=[
        ("sep_conv_5x5", 1),
        ("max_pool_3x3", 0),
        ("sep_conv_5x5", 1),
        ("sep_conv_5x5", 2),
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 3),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 2),
    ],
    reduce_concat=[2, 3, 4, 5],
)

# PC-DARTS searched directly on ImageNet; yuhuixu1993/PC-DARTS genotypes.py (PC_DARTS_image).
# Published: 24.2 % top-1 error on ImageNet (mobile setting, repository README).
PC_DARTS_IMAGENET = Genotype(
    normal=[
        ("skip_connect", 1),
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 0),
        ("skip_connect", 1),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 3),
        ("sep_conv_3x3", 1),
        ("dil_conv_5x5", 4),
    ],
    normal_concat=[2, 3, 4, 5],
    reduce=[
        ("sep_conv_3x3", 0),
        ("skip_connect", 1),
        ("dil_conv_5x5", 2),
        ("max_pool_3x3", 1),
        ("sep_conv_3x3", 2),
        ("sep_conv_3x3", 1),
        ("sep_conv_5x5", 0),
        ("sep_conv_3x3", 3),
    ],
    reduce_concat=[2, 3, 4, 5],
)

# GDAS (Dong & Yang, CVPR 2019), with its searched reduction cell; D-X-Y/AutoDL-Projects
# lib/nas_infer_model/DXYs/genotypes.py (GDAS_V1, there grouped node by node).
# Published: 3.4 M params, 2.93 % CIFAR-10 error (GDAS paper; quoted, not checked here).
GDAS_V1 = Genotype(
    normal=[
        ("skip_connect", 0),
        ("skip_connect", 1),
        ("skip_connect", 0),
        ("sep_conv_5x5", 2),
        ("sep_conv_3x3", 3),
        ("skip_connect", 0),
        ("sep_conv_5x5", 4),
        ("sep_conv_3x3", 3),
    ],
    normal_concat=[2, 3, 4, 5],
    reduce=[
        ("sep_conv_5x5", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_5x5", 2),
        ("sep_conv_5x5", 1),
        ("dil_conv_5x5", 2),
        ("sep_conv_3x3", 1),
        ("sep_conv_5x5", 0),
        ("sep_conv_5x5", 1),
    ],
    reduce_concat=[2, 3, 4, 5],
)

#: Published genotypes by name (NASNet and AmoebaNet use ops outside the DARTS space).
GENOTYPES: dict[str, Genotype] = {
    "DARTS_V1": DARTS_V1,
    "DARTS_V2": DARTS_V2,
    "DARTS": DARTS_V2,
    "PDARTS": PDARTS,
    "PC_DARTS_CIFAR": PC_DARTS_CIFAR,
    "PC_DARTS_IMAGENET": PC_DARTS_IMAGENET,
    "GDAS_V1": GDAS_V1,
    "NASNet": NASNet,
    "AmoebaNet": AmoebaNet,
}


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


def _fields(genotype: Any) -> tuple[Any, Any, Any, Any]:
    if isinstance(genotype, Mapping):
        missing = [f for f in Genotype._fields if f not in genotype]
        if missing:
            raise ValueError(f"genotype mapping lacks {', '.join(missing)}; needs {', '.join(Genotype._fields)}")
        return tuple(genotype[f] for f in Genotype._fields)  # type: ignore[return-value]
    try:
        return tuple(getattr(genotype, f) for f in Genotype._fields)  # type: ignore[return-value]
    except AttributeError:
        raise ValueError(f"not a genotype: {genotype!r}; expected Genotype({', '.join(Genotype._fields)})") from None


def _validate_cell(kind: str, pairs: Any, steps: int | None, ops: Sequence[str]) -> list:
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Iterable):
        raise ValueError(f"{kind} cell must be a list of (op, input) pairs, got {pairs!r}")
    pairs = list(pairs)
    if steps is None:
        if len(pairs) == 0 or len(pairs) % 2:
            raise ValueError(
                f"{kind} cell lists {len(pairs)} (op, input) pairs; every intermediate node "
                f"needs exactly 2 inputs, so the count must be even and positive"
            )
        steps = len(pairs) // 2
    elif len(pairs) != 2 * steps:
        covered = len(pairs) / 2
        hint = ""
        if len(pairs) < 2 * steps:
            first_short = len(pairs) // 2 + 2
            hint = f"; node {first_short} is missing" + (" an input" if len(pairs) % 2 else "")
        raise ValueError(
            f"{kind} cell lists {len(pairs)} (op, input) pairs ({covered:g} nodes); each of "
            f"the {steps} intermediate nodes (2..{steps + 1}) needs exactly 2 inputs, "
            f"so {2 * steps} pairs{hint}"
        )
    out = []
    for k, pair in enumerate(pairs):
        node = k // 2 + 2
        try:
            op, src = pair
        except (TypeError, ValueError):
            raise ValueError(f"{kind} cell, node {node}: entry {pair!r} is not an (op, input) pair") from None
        if not isinstance(op, str) or op not in ops:
            extra = " ('none' never survives the DARTS derivation)" if op == "none" and "none" not in ops else ""
            raise ValueError(f"{kind} cell, node {node}: unknown op {op!r}{extra}; allowed ops: {', '.join(ops)}")
        if isinstance(src, bool) or not isinstance(src, (int, np.integer)):
            raise ValueError(f"{kind} cell, node {node}: input {src!r} of op {op!r} is not an integer node index")
        if not 0 <= src < node:
            raise ValueError(
                f"{kind} cell, node {node}: input {int(src)} of op {op!r} is out of range; "
                f"node {node} can take inputs 0..{node - 1}"
            )
        out.append((op, int(src)))
    return out


def _validate_concat(kind: str, concat: Any, num_nodes: int) -> list[int]:
    try:
        concat = list(concat)
    except TypeError:
        raise ValueError(f"{kind}_concat must be a list of node indices, got {concat!r}") from None
    if not concat:
        raise ValueError(f"{kind}_concat is empty; the cell output needs at least one node")
    for c in concat:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 0 <= c < num_nodes:
            raise ValueError(f"{kind}_concat entry {c!r} is out of range: the cell has nodes 0..{num_nodes - 1}")
    if len(set(concat)) != len(concat):
        raise ValueError(f"{kind}_concat {concat!r} repeats a node")
    return [int(c) for c in concat]


def validate_genotype(genotype: Any, steps: int | None = STEPS, ops: Iterable[str] | None = None) -> Genotype:
    """Check a genotype and return it normalized (lists of ``(str, int)`` pairs and ints).

    ``steps``: intermediate nodes per cell (4 in the DARTS space); ``None`` infers it
    from each cell (for NASNet/AmoebaNet, which have 5). ``ops``: allowed op names;
    default the 7 non-``none`` DARTS primitives. Raises ``ValueError`` naming the bad part:
    a node with a missing input, an input index out of range, an unknown op, a bad concat.
    Accepts a :class:`Genotype`, any object with its four fields, or a mapping.
    """
    allowed = tuple(_DARTS_GENOTYPE_OPS if ops is None else ops)
    normal, normal_concat, reduce, reduce_concat = _fields(genotype)
    normal = _validate_cell("normal", normal, steps, allowed)
    reduce = _validate_cell("reduce", reduce, steps, allowed)
    normal_concat = _validate_concat("normal", normal_concat, len(normal) // 2 + 2)
    reduce_concat = _validate_concat("reduce", reduce_concat, len(reduce) // 2 + 2)
    return Genotype(normal, normal_concat, reduce, reduce_concat)


# --------------------------------------------------------------------------------------
# Derivation (DARTS, Sec. 2.4)
# --------------------------------------------------------------------------------------


def _as_array(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor, on any device
        x = x.detach().cpu().double().numpy()
    return np.asarray(x, dtype=np.float64)


def _softmax_rows(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _derive_cell(w: np.ndarray, steps: int, primitives: Sequence[str]) -> list:
    none = primitives.index("none") if "none" in primitives else None
    keep = [k for k in range(len(primitives)) if k != none]
    gene, start = [], 0
    for i in range(steps):
        n_in = i + 2
        rows = w[start : start + n_in]
        # Strength of edge j: its best non-none op weight. Python's sort is stable, so ties
        # go to the lower input index, as in DARTS.
        strength = [max(rows[j][k] for k in keep) for j in range(n_in)]
        edges = sorted(range(n_in), key=lambda j: -strength[j])[:2]
        for j in edges:
            best = max(keep, key=lambda k: (rows[j][k], -k))  # first op among equals
            gene.append((primitives[best], j))
        start += n_in
    return gene


def derive_genotype(
    alpha_normal: Any,
    alpha_reduce: Any,
    steps: int = STEPS,
    multiplier: int = MULTIPLIER,
    primitives: Sequence[str] = PRIMITIVES,
    from_logits: bool = True,
) -> Genotype:
    """DARTS derivation of a discrete genotype from architecture weights.

    ``alpha_*`` (tensor, array or nested list) has one row per edge (:data:`EDGES` order)
    and one column per op (``primitives`` order). With ``from_logits`` they are softmaxed
    per edge first, as DARTS does. For each intermediate node keep the 2 incoming edges
    whose strongest non-``none`` op weight is largest, and on each kept edge that
    strongest non-``none`` op. The concatenated nodes are the last ``multiplier`` ones.
    """
    primitives = list(primitives)
    n_edges = sum(i + 2 for i in range(steps))
    cells = []
    for kind, alpha in (("alpha_normal", alpha_normal), ("alpha_reduce", alpha_reduce)):
        a = _as_array(alpha)
        if a.shape != (n_edges, len(primitives)):
            raise ValueError(
                f"{kind} must have shape ({n_edges}, {len(primitives)}) (edges x ops), got {tuple(a.shape)}"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{kind} has non-finite entries")
        cells.append(_derive_cell(_softmax_rows(a) if from_logits else a, steps, primitives))
    concat = list(range(2 + steps - multiplier, steps + 2))
    return Genotype(normal=cells[0], normal_concat=concat, reduce=cells[1], reduce_concat=list(concat))


# --------------------------------------------------------------------------------------
# Text and JSON forms
# --------------------------------------------------------------------------------------


def _format_cell(pairs: Sequence[tuple[str, int]]) -> str:
    nodes = ["|" + "|".join(f"{op}~{src}" for op, src in pairs[k : k + 2]) + "|" for k in range(0, len(pairs), 2)]
    return "+".join(nodes)


def format_genotype(genotype: Any) -> str:
    """One-line form, in the style of NAS-Bench-201 arch strings, e.g. for DARTS_V2::

        normal=|sep_conv_3x3~0|sep_conv_3x3~1|+|sep_conv_3x3~0|sep_conv_3x3~1|+...;reduce=|...|

    Each ``|op~input|op~input|`` group is one intermediate node; ``+`` separates nodes.
    A concat is written (``;normal_concat=2,3,4,5``) only when it differs from
    "all intermediate nodes".
    """
    g = validate_genotype(genotype, steps=None, ops=BUILDABLE_OPS)
    parts = []
    for kind, pairs, concat in (("normal", g.normal, g.normal_concat), ("reduce", g.reduce, g.reduce_concat)):
        parts.append(f"{kind}={_format_cell(pairs)}")
        if concat != list(range(2, len(pairs) // 2 + 2)):
            parts.append(f"{kind}_concat={','.join(map(str, concat))}")
    return ";".join(parts)


def _parse_cell(kind: str, text: str) -> list:
    pairs = []
    for n, group in enumerate(text.split("+")):
        if not (group.startswith("|") and group.endswith("|") and len(group) > 1):
            raise ValueError(f"{kind} cell: node group {group!r} must look like '|op~input|op~input|'")
        for item in group[1:-1].split("|"):
            op, sep, src = item.partition("~")
            if not sep or not src.strip().lstrip("-").isdigit():
                raise ValueError(f"{kind} cell, node {n + 2}: malformed edge {item!r}; expected 'op~input'")
            pairs.append((op.strip(), int(src)))
    return pairs


def _parse_compact(text: str) -> dict:
    fields: dict[str, Any] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in Genotype._fields:
            raise ValueError(
                f"malformed genotype part {part!r}; expected one of {', '.join(f + '=...' for f in Genotype._fields)}"
            )
        if key in fields:
            raise ValueError(f"genotype string gives {key!r} twice")
        if key.endswith("_concat"):
            try:
                fields[key] = [int(v) for v in value.split(",")]
            except ValueError:
                raise ValueError(f"{key} must be comma-separated node indices, got {value!r}") from None
        else:
            fields[key] = _parse_cell(key, value)
    for kind in ("normal", "reduce"):
        if kind not in fields:
            raise ValueError(f"genotype string lacks the {kind} cell ('{kind}=|op~0|op~1|+...')")
        fields.setdefault(f"{kind}_concat", list(range(2, len(fields[kind]) // 2 + 2)))
    return fields


def _literal(node: ast.AST) -> Any:
    """A literal, or ``range(a, b)`` (as DARTS logs print concats), from an AST node."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" and not node.keywords:
        return list(range(*[_literal(a) for a in node.args]))
    return ast.literal_eval(node)


def _parse_repr(text: str) -> dict:
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as e:
        raise ValueError(f"cannot parse genotype {text!r}: {e.msg}") from None
    if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id == "Genotype"):
        raise ValueError(f"expected 'Genotype(normal=..., ...)', got {text!r}")
    if len(tree.args) > len(Genotype._fields):
        raise ValueError(f"Genotype takes {len(Genotype._fields)} fields, got {len(tree.args)}")
    try:
        values = {f: _literal(a) for f, a in zip(Genotype._fields, tree.args)}
        for kw in tree.keywords:
            if kw.arg not in Genotype._fields:
                raise ValueError(f"unknown Genotype field {kw.arg!r}")
            values[kw.arg] = _literal(kw.value)
    except (ValueError, TypeError, SyntaxError) as e:
        raise ValueError(f"cannot parse genotype {text!r}: {e}") from None
    return values


def parse_genotype(text: str, steps: int | None = STEPS, ops: Iterable[str] | None = None) -> Genotype:
    """Parse a genotype from a name in :data:`GENOTYPES` (e.g. ``"DARTS_V2"``), the
    one-line form of :func:`format_genotype`, or the ``Genotype(normal=[...], ...)`` repr
    DARTS prints in its logs (``range(2, 6)`` allowed). The result is validated with
    ``steps``/``ops`` as in :func:`validate_genotype`; a published genotype given by name
    is checked with the ops and node count it was published with.
    """
    if not isinstance(text, str):
        raise ValueError(f"genotype text must be a str, got {type(text).__name__}")
    s = text.strip()
    if s in GENOTYPES:
        return validate_genotype(GENOTYPES[s], steps=None, ops=BUILDABLE_OPS)
    if s.startswith("Genotype("):
        fields = _parse_repr(s)
    elif "=" in s:
        fields = _parse_compact(s)
    else:
        raise ValueError(
            f"cannot parse genotype {text!r}: not a known name "
            f"({', '.join(GENOTYPES)}), nor 'normal=...;reduce=...', "
            f"nor 'Genotype(...)'"
        )
    return validate_genotype(fields, steps=steps, ops=ops)


def genotype_to_dict(genotype: Any) -> dict:
    """JSON-ready dict: ``{"normal": [["sep_conv_3x3", 0], ...], "normal_concat": [...], ...}``."""
    g = validate_genotype(genotype, steps=None, ops=BUILDABLE_OPS)
    return {
        "normal": [[op, src] for op, src in g.normal],
        "normal_concat": list(g.normal_concat),
        "reduce": [[op, src] for op, src in g.reduce],
        "reduce_concat": list(g.reduce_concat),
    }


def genotype_from_dict(d: Mapping, steps: int | None = STEPS, ops: Iterable[str] | None = None) -> Genotype:
    """Inverse of :func:`genotype_to_dict` (validated as in :func:`validate_genotype`)."""
    return validate_genotype(d, steps=steps, ops=ops)
