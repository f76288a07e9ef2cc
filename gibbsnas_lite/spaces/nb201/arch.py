"""NAS-Bench-201 architecture strings, in the benchmark's own format.

A cell has 4 nodes (0 = input, 3 = output) and 6 edges j -> i (j < i). Its string lists, per
node i = 1, 2, 3, the op on each incoming edge ``op~j``::

    |nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|

Row e of alpha (shape 6 x 5) belongs to ``EDGES[e]`` and column k to ``OPS[k]``, the order
of the benchmark's search code, so ``derive_arch(alpha)`` is the benchmark's argmax
derivation (``none`` included).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# (to_node, from_node), in the order the string lists them and alpha's rows hold them.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NUM_EDGES = len(EDGES)
NUM_OPS = len(OPS)

_EXAMPLE = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


def parse_arch(arch: str) -> tuple[str, ...]:
    """Parse an arch string into its 6 op names, in ``EDGES`` order.

    Raises ``ValueError`` naming the bad part (unknown op, wrong input node, wrong count).
    """
    if not isinstance(arch, str):
        raise ValueError(f"arch string must be a str, got {type(arch).__name__}: {arch!r}")
    nodes = arch.strip().split("+")
    if len(nodes) != 3:
        raise ValueError(
            f"malformed arch string {arch!r}: expected 3 node groups joined by '+', "
            f"got {len(nodes)}; example: {_EXAMPLE}"
        )
    ops: list[str] = []
    for i, group in enumerate(nodes, start=1):
        if not (group.startswith("|") and group.endswith("|")):
            raise ValueError(f"malformed node group {group!r} in {arch!r}: must be wrapped in '|'")
        items = [item for item in group[1:-1].split("|")]
        if len(items) != i:
            raise ValueError(f"node {i} of {arch!r} lists {len(items)} inputs ({group!r}); it must list exactly {i}")
        for j, item in enumerate(items):
            op, sep, src = item.partition("~")
            if not sep:
                raise ValueError(f"malformed edge {item!r} in {arch!r}: expected 'op~input'")
            if op not in OPS:
                raise ValueError(f"unknown op {op!r} in {arch!r}; known ops: {', '.join(OPS)}")
            if src != str(j):
                raise ValueError(f"edge {item!r} of node {i} in {arch!r} must come from node {j}, got {src!r}")
            ops.append(op)
    return tuple(ops)


def format_arch(ops: Sequence[str] | Iterable[str]) -> str:
    """Write 6 op names (``EDGES`` order) as a benchmark arch string."""
    ops = tuple(ops)
    if len(ops) != NUM_EDGES:
        raise ValueError(f"an NB201 cell has {NUM_EDGES} edges, got {len(ops)} ops: {ops!r}")
    for op in ops:
        if op not in OPS:
            raise ValueError(f"unknown op {op!r}; known ops: {', '.join(OPS)}")
    groups, e = [], 0
    for i in range(1, 4):
        groups.append("|" + "|".join(f"{ops[e + j]}~{j}" for j in range(i)) + "|")
        e += i
    return "+".join(groups)


def check_alpha_shape(alpha) -> None:
    """Raise ``ValueError`` unless ``alpha`` has shape (6, 5)."""
    shape = tuple(getattr(alpha, "shape", ()))
    if shape != (NUM_EDGES, NUM_OPS):
        raise ValueError(f"NB201 alpha must have shape ({NUM_EDGES}, {NUM_OPS}) (edges x ops), got {shape}")


def derive_arch(alpha) -> str:
    """Argmax derivation of the benchmark: best op per edge, ``none`` included."""
    check_alpha_shape(alpha)
    rows = alpha.tolist()
    return format_arch(OPS[max(range(NUM_OPS), key=row.__getitem__)] for row in rows)
