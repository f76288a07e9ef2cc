"""What an NB201 cell is made of: its edges, its share of parameter-free ops, and whether some
path through it passes a convolution (the collapse of the paper's Fig. 3).

Pure string work on arch strings (``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``): no torch.
"""

from __future__ import annotations

PARAMETER_FREE = ("none", "skip_connect", "avg_pool_3x3")
CONVOLUTIONS = ("nor_conv_1x1", "nor_conv_3x3")


def cell_edges(arch: str) -> list[tuple[str, int, int]]:
    """``|op~0|+|op~0|op~1|+...`` -> [(op, source node, target node)] for the 6 edges of an NB201 cell."""
    edges = []
    for target, node in enumerate(arch.strip("|").split("|+|"), start=1):
        for item in node.strip("|").split("|"):
            op, _, source = item.partition("~")
            if not source.isdigit():
                raise ValueError(
                    f"not an NB201 arch string: {arch!r} (an edge reads {item!r}; "
                    "expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2|)"
                )
            edges.append((op, int(source), target))
    return edges


def parameter_free_share(arch: str) -> float:
    """Share of the cell's edges that carry no weights (none, skip_connect, avg_pool_3x3)."""
    edges = cell_edges(arch)
    return sum(op in PARAMETER_FREE for op, _, _ in edges) / len(edges)


def has_parameterised_path(arch: str) -> bool:
    """Whether some path from the cell's input (node 0) to its output passes through a convolution.

    A path may use ``skip_connect`` and ``avg_pool_3x3`` edges but no ``none`` edge. A cell
    without one computes its output from pooling and identities only (or nothing at all, the
    10 % = chance cells of NAS-Bench-201): the collapse the paper's Fig. 3 is about.
    """
    edges = cell_edges(arch)
    output = max(t for _, _, t in edges)
    # reach[node] = (reachable without a conv, reachable through at least one conv)
    reach = {0: (True, False)}
    for node in range(1, output + 1):
        plain = conv = False
        for op, source, target in edges:
            if target != node or op == "none" or source not in reach:
                continue
            src_plain, src_conv = reach[source]
            if op in CONVOLUTIONS:
                conv = conv or src_plain or src_conv
            else:
                plain, conv = plain or src_plain, conv or src_conv
        reach[node] = (plain, conv)
    return reach[output][1]
