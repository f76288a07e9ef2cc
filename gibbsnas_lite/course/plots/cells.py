"""Plotly figures of cells and of the architecture weights alpha.

* :func:`nb201_cell_figure` - a NAS-Bench-201 cell: 4 nodes, 6 edges labelled with their ops.
* :func:`darts_cell_figure` - a DARTS normal or reduction cell from a genotype.
* :func:`alpha_heatmap` - alpha (edges x ops) as a heat map, by default softmax over ops.

Everything here only builds ``plotly.graph_objects.Figure`` objects, so it works headless;
show them with ``fig.show()`` in a notebook or save with ``fig.write_html(...)``.

Drawing conventions: nodes lie left to right in topological order; an edge that would pass
through another node (or put its label on top of another label) is drawn as an arc. Each edge
is one line trace plus an arrow annotation at its head; op edges also get a label annotation
(the op name, in the op's colour). In NB201 cells ``none`` (the zero op: no information flows)
is drawn **dashed and grey** by default so the cell's full structure stays visible;
``none_style="hidden"`` leaves those edges out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from ...spaces.nb201.arch import EDGES as NB201_EDGES
from ...spaces.nb201.arch import format_arch, parse_arch
from ...spaces.registry import REGISTRY as SPACES
from ...spaces.registry import get as get_space

__all__ = [
    "OP_COLORS",
    "NB201_ROW_LABELS",
    "DARTS_PRIMITIVES",
    "DARTS_ROW_LABELS",
    "nb201_cell_figure",
    "darts_cell_figure",
    "alpha_heatmap",
    "row_softmax",
]

#: Line / label colour of each op (NB201 and DARTS names); unknown ops are drawn in black.
OP_COLORS: dict[str, str] = {
    "none": "#9e9e9e",
    "skip_connect": "#2ca02c",
    "nor_conv_1x1": "#1f77b4",
    "nor_conv_3x3": "#d62728",
    "avg_pool_3x3": "#ff7f0e",
    "max_pool_3x3": "#8c564b",
    "sep_conv_3x3": "#d62728",
    "sep_conv_5x5": "#9467bd",
    "sep_conv_7x7": "#7b4173",
    "dil_conv_3x3": "#1f77b4",
    "dil_conv_5x5": "#17becf",
    "conv_7x1_1x7": "#bcbd22",
}
_CONCAT_COLOR = "#bdbdbd"
_NODE_RADIUS = 0.3  # data units; an edge must keep this far from nodes it does not touch

#: Row labels of an NB201 alpha (``EDGES`` order): "from→to" (the space registry's labels).
NB201_ROW_LABELS: tuple[str, ...] = get_space("nb201").edges
#: The DARTS ops in DARTS order (columns of a 14 x 8 alpha), from the space registry.
DARTS_PRIMITIVES: tuple[str, ...] = get_space("darts").ops


def _darts_node_name(j: int) -> str:
    return {0: "c_{k-2}", 1: "c_{k-1}"}.get(j, str(j - 2))


#: Row labels of a DARTS alpha (14 edges: node 0 from c_{k-2}, c_{k-1}; node 1 from ..., 0; ...).
DARTS_ROW_LABELS: tuple[str, ...] = get_space("darts").edges


# ----------------------------------------------------------------------------- geometry
def _bezier(p0, p1, bend: float, n: int = 41) -> np.ndarray:
    """Quadratic Bezier from p0 to p1, control point pushed ``bend`` off the chord's middle."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    normal = np.array([-d[1], d[0]]) / (np.hypot(*d) or 1.0)
    ctrl = (p0 + p1) / 2 + bend * normal
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * ctrl + t**2 * p1


def _route(p0, p1, others: list[np.ndarray], labels: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """Pick a curve from p0 to p1 and the point on it for the edge's label.

    Tries a straight line, then arcs of growing bend on alternating sides, keeping the first
    that stays clear of the nodes in ``others``; on it the label goes to the point nearest the
    middle that does not sit on an earlier label. Small arcs are preferred to a free label spot.
    """
    span = float(np.hypot(*(np.asarray(p1, float) - np.asarray(p0, float))))
    bends = [0.0] + [s * k * 0.4 for k in range(1, 8) for s in (1, -1)]
    n = 41
    spots = [20, 15, 25, 11, 29, 8, 32]  # label positions along the curve, middle first

    def clear(pts: np.ndarray) -> bool:
        inner = pts[3:-3]
        return not others or min(np.hypot(*(inner - o).T).min() for o in others) >= _NODE_RADIUS

    def free(pt: np.ndarray) -> bool:
        return not any(abs(pt[0] - m[0]) < 1.1 and abs(pt[1] - m[1]) < 0.28 for m in labels)

    fallback = None
    for bend in bends:
        pts = _bezier(p0, p1, bend * max(span, 1.0) ** 0.5, n)
        if not clear(pts):
            continue
        for k in spots:
            if free(pts[k]):
                return pts, k
        if fallback is None:
            fallback = pts
        if abs(bend) >= 1.2:  # do not grow arcs further just to find a free label spot
            break
    if fallback is None:
        fallback = _bezier(p0, p1, bends[-1] * max(span, 1.0) ** 0.5, n)
    return fallback, n // 2


def _arrow(pts: np.ndarray, color: str) -> dict:
    """Arrow annotation at the head of a curve, stopping at the target node's rim."""
    end = pts[-1]
    dist = np.hypot(*(pts - end).T)
    k = int(np.argmax(dist < _NODE_RADIUS)) - 1  # last point outside the target node
    k = max(k, 1)
    tip, tail = pts[k], pts[max(k - 4, 0)]
    return dict(
        x=tip[0],
        y=tip[1],
        ax=tail[0],
        ay=tail[1],
        xref="x",
        yref="y",
        axref="x",
        ayref="y",
        text="",
        showarrow=True,
        arrowhead=2,
        arrowsize=1.3,
        arrowwidth=1.5,
        arrowcolor=color,
    )


def _graph_figure(
    nodes: dict[Any, tuple[float, float]],
    node_text: dict[Any, str],
    edges: list[dict],
    title: str | None,
    node_hover: dict[Any, str] | None = None,
) -> go.Figure:
    """Draw ``edges`` (dicts: src, dst, op or None, color, optional dash and bend) between ``nodes``."""
    fig = go.Figure()
    annotations: list[dict] = []
    label_pos: list[np.ndarray] = []
    pos = {k: np.asarray(v, float) for k, v in nodes.items()}
    for e in edges:
        others = [p for k, p in pos.items() if k not in (e["src"], e["dst"])]
        if "bend" in e:  # fixed shape, label in the middle
            pts = _bezier(pos[e["src"]], pos[e["dst"]], e["bend"])
            spot = len(pts) // 2
        else:
            pts, spot = _route(pos[e["src"]], pos[e["dst"]], others, label_pos if e["op"] else [])
        hover = f"{node_text[e['src']]} → {node_text[e['dst']]}" + (f": {e['op']}" if e["op"] else "")
        fig.add_trace(
            go.Scatter(
                x=pts[:, 0],
                y=pts[:, 1],
                mode="lines",
                name=e["op"] or "concat",
                line=dict(color=e["color"], width=2, dash=e.get("dash", "solid")),
                hoverinfo="text",
                text=[hover] * len(pts),
                showlegend=False,
            )
        )
        annotations.append(_arrow(pts, e["color"]))
        if e["op"]:
            mid = pts[spot]
            label_pos.append(mid)
            annotations.append(
                dict(
                    x=mid[0],
                    y=mid[1],
                    xref="x",
                    yref="y",
                    text=e["op"],
                    showarrow=False,
                    font=dict(size=11, color=e["color"]),
                    bgcolor="rgba(255,255,255,0.85)",
                )
            )
    keys = list(nodes)
    fig.add_trace(
        go.Scatter(
            x=[pos[k][0] for k in keys],
            y=[pos[k][1] for k in keys],
            mode="markers+text",
            text=[node_text[k] for k in keys],
            textposition="middle center",
            name="nodes",
            hovertext=[(node_hover or node_text).get(k, node_text[k]) for k in keys],
            marker=dict(size=38, color="#f5f5f5", line=dict(color="#424242", width=1.5)),
            hoverinfo="text",
            showlegend=False,
        )
    )
    fig.update_layout(
        title=title,
        annotations=annotations,
        plot_bgcolor="white",
        paper_bgcolor="white",
        xaxis=dict(visible=False),
        yaxis=dict(visible=False, scaleanchor="x", scaleratio=1),
        margin=dict(l=20, r=20, t=50 if title else 20, b=20),
        height=380,
    )
    return fig


# ----------------------------------------------------------------------------- NB201 cell
def nb201_cell_figure(
    arch_or_ops: str | Sequence[str] | int, title: str | None = None, none_style: str = "dashed"
) -> go.Figure:
    """A NAS-Bench-201 cell: nodes 0 (input) .. 3 (output), edges labelled with their ops.

    ``arch_or_ops``: an arch string, 6 op names in ``EDGES`` order, or a benchmark index
    (looked up in the shipped table). ``none_style``: ``"dashed"`` (default, grey dashed
    line labelled ``none``) or ``"hidden"`` (``none`` edges not drawn). Traces: one line per
    drawn edge, then the node markers; annotations: an arrow and a label per drawn edge.
    """
    if none_style not in ("dashed", "hidden"):
        raise ValueError(f"unknown none_style {none_style!r}; valid: dashed, hidden")
    if isinstance(arch_or_ops, (int, np.integer)) and not isinstance(arch_or_ops, bool):
        from ...nasbench import NB201Table

        arch = NB201Table.load().arch(arch_or_ops)
    elif isinstance(arch_or_ops, str):
        arch = format_arch(parse_arch(arch_or_ops))
    else:
        arch = format_arch(arch_or_ops)
    ops = parse_arch(arch)
    nodes = {k: (1.6 * k, 0.0) for k in range(4)}
    names = {0: "0", 1: "1", 2: "2", 3: "3"}
    # The usual NB201 picture: chain 0→1→2→3 straight, 0→2 above, 1→3 below, 0→3 high above.
    bends = {(1, 0): 0.0, (2, 1): 0.0, (3, 2): 0.0, (2, 0): 1.3, (3, 1): -1.3, (3, 0): 2.8}
    edges = []
    for (i, j), op in zip(NB201_EDGES, ops):
        if op == "none" and none_style == "hidden":
            continue
        dash = "dash" if op == "none" else "solid"
        edges.append(dict(src=j, dst=i, op=op, color=OP_COLORS.get(op, "black"), dash=dash, bend=bends[(i, j)]))
    hover = {0: "node 0: cell input", 1: "node 1", 2: "node 2", 3: "node 3: cell output"}
    fig = _graph_figure(nodes, names, edges, title, hover)
    fig.update_layout(meta={"arch": arch})
    return fig


# ----------------------------------------------------------------------------- DARTS cell
def darts_cell_figure(genotype: Any, which: str = "normal", title: str | None = None) -> go.Figure:
    """A DARTS cell from a genotype (any object with ``normal``, ``normal_concat``, ``reduce``,
    ``reduce_concat``): inputs c_{k-2}, c_{k-1}, intermediate nodes 0.., output c_{k}.

    ``genotype.<which>`` lists ``(op, input)`` pairs, two per intermediate node; input 0 / 1
    are c_{k-2} / c_{k-1}, input j >= 2 is intermediate node j - 2. The concat list (inputs of
    c_{k}) uses the same numbering. Traces: one line per op edge, one per concat edge, then the
    nodes; annotations: an arrow per edge and a label per op edge.
    """
    if which not in ("normal", "reduce"):
        raise ValueError(f"unknown cell type {which!r}; valid: normal, reduce")
    try:
        pairs = [tuple(p) for p in getattr(genotype, which)]
        concat = list(getattr(genotype, f"{which}_concat"))
    except AttributeError as e:
        raise ValueError(f"genotype must have fields normal, normal_concat, reduce, reduce_concat; {e}") from None
    if not pairs or len(pairs) % 2:
        raise ValueError(f"genotype.{which} must list 2 (op, input) pairs per node; got {len(pairs)}")
    steps = len(pairs) // 2
    for k, p in enumerate(pairs):
        node = k // 2 + 2
        if (
            len(p) != 2
            or not isinstance(p[0], str)
            or isinstance(p[1], bool)
            or not isinstance(p[1], (int, np.integer))
            or not 0 <= p[1] < node
        ):
            raise ValueError(f"genotype.{which}[{k}] = {p!r}: expected (op name, input) with input in 0..{node - 1}")
    for c in concat:
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 0 <= c < steps + 2:
            raise ValueError(f"genotype.{which}_concat entry {c!r} not in 0..{steps + 1}")

    # Layered layout (as graphviz's rankdir=LR): a node's column is 1 + the deepest column
    # among its inputs; the inputs sit in column 0, c_{k} one column right of the deepest node.
    dx, dy = 2.0, 1.3
    depth = {0: 0, 1: 0}
    for n in range(steps):
        depth[n + 2] = 1 + max(depth[int(j)] for _, j in pairs[2 * n : 2 * n + 2])
    nodes: dict[Any, tuple[float, float]] = {0: (0.0, dy * 0.8), 1: (0.0, -dy * 0.8)}
    for col in range(1, max(depth.values()) + 1):
        members = [k for k in range(2, steps + 2) if depth[k] == col]
        for r, k in enumerate(members):
            nodes[k] = (dx * col, dy * ((len(members) - 1) / 2 - r))
    nodes["out"] = (dx * (max(depth.values()) + 1), 0.0)
    names = {k: _darts_node_name(k) for k in range(steps + 2)}
    names["out"] = "c_{k}"
    edges = []
    for k, (op, j) in enumerate(pairs):
        edges.append(dict(src=int(j), dst=k // 2 + 2, op=op, color=OP_COLORS.get(op, "black")))
    for c in concat:
        edges.append(dict(src=int(c), dst="out", op=None, color=_CONCAT_COLOR))
    if title is None:
        title = f"{which} cell"
    return _graph_figure(nodes, names, edges, title)


# ----------------------------------------------------------------------------- cells as plotly JSON
# (the space registry's ``figure`` entries: what the dashboard draws, as plain dicts)
_NB201_TEMPLATE: dict[str, tuple[str, dict]] = {}


def patch_nb201(template: dict, template_arch: str, arch: str) -> dict:
    """``nb201_cell_figure(arch).to_plotly_json()`` from one drawn for ``template_arch``.

    Relies on that figure's documented structure: one line trace per edge in ``EDGES`` order
    (all 6 drawn with ``none_style="dashed"``), then the nodes; annotations an arrow and a
    label per edge, in the same order; layout ``meta.arch``.
    """
    ops = parse_arch(arch)
    data = [dict(tr) for tr in template["data"]]  # shallow copies: only edited keys are replaced
    layout = dict(template["layout"])
    anns = [dict(a) for a in layout.get("annotations", [])]
    if len(data) != len(NB201_EDGES) + 1 or len(anns) != 2 * len(NB201_EDGES):
        raise ValueError("nb201_cell_figure changed its structure; cannot patch")
    for k, ((i, j), op) in enumerate(zip(NB201_EDGES, ops)):
        color = OP_COLORS.get(op, "black")
        tr = data[k]
        tr["name"] = op
        tr["line"] = dict(tr.get("line", {}), color=color, dash="dash" if op == "none" else "solid")
        tr["text"] = [f"{j} → {i}: {op}"] * len(tr["text"])
        anns[2 * k]["arrowcolor"] = color
        anns[2 * k + 1]["text"] = op
        anns[2 * k + 1]["font"] = dict(anns[2 * k + 1].get("font", {}), color=color)
    layout["annotations"] = anns
    spec = {"data": data, "layout": layout}
    spec["layout"]["meta"] = {"arch": format_arch(ops)}
    return spec


def nb201_cell_json(arch: str, block: str | None = None) -> dict:
    """``nb201_cell_figure(arch).to_plotly_json()``, fast: NB201 cells all have the same geometry
    (every edge drawn, ``none`` dashed, fixed bends), so one template is drawn and later archs only
    change each edge's colour, dash, name, hover text and label (:func:`patch_nb201`: a few
    microseconds instead of a 0.1 s figure build; tests check the result equals the figure's)."""
    template = _NB201_TEMPLATE.get("first")
    if template is None:  # one (arch, figure) pair, set once (setdefault: a racing thread's draw is dropped)
        template = _NB201_TEMPLATE.setdefault("first", (arch, nb201_cell_figure(arch).to_plotly_json()))
    template_arch, spec = template
    return patch_nb201(spec, template_arch, arch)


def darts_cell_json(arch: str, block: str | None = None) -> dict:
    """``darts_cell_figure`` of a one-line genotype's ``block`` cell (``"normal"`` unless ``"reduce"``)."""
    from ...spaces.darts.genotypes import parse_genotype

    which = block if block in ("normal", "reduce") else "normal"
    return darts_cell_figure(parse_genotype(arch, steps=None), which=which).to_plotly_json()


# ----------------------------------------------------------------------------- alpha
def row_softmax(alpha: Any, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis`` (the ops of each edge by default)."""
    a = np.asarray(alpha, dtype=np.float64)
    a = a - a.max(axis=axis, keepdims=True)
    e = np.exp(a)
    return e / e.sum(axis=axis, keepdims=True)


def _as_array(alpha: Any) -> np.ndarray:
    if hasattr(alpha, "detach"):  # torch tensor, possibly on GPU / with grad
        alpha = alpha.detach().cpu().numpy()
    a = np.asarray(alpha, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"alpha must be 2-D (edges x ops), got shape {a.shape}")
    if not np.isfinite(a).all():
        raise ValueError("alpha contains NaN or inf")
    return a


def alpha_heatmap(
    alpha: Any,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    softmax: bool = True,
    title: str | None = None,
    colorscale: str = "Blues",
    zlabel: str | None = None,
) -> go.Figure:
    """alpha (edges x ops) as a heat map; with ``softmax=True`` each row is softmax(alpha_row).

    Default labels: those of the registered space whose blocks have this shape (NB201's 6 x 5:
    edges "j→i" and its ops; DARTS's 14 x 8: edges "c_{k-2}→0" ..., its primitives); otherwise
    "edge e" / "op k".
    Rows run top to bottom in alpha's order; each cell shows its value, with as many decimals as
    the colours need (values 0.041-0.049 are not all printed "0.05"). ``zlabel``: what the
    numbers are (colour bar title; default "softmax(α)" or "α"), e.g. ``"std"``.
    """
    a = _as_array(alpha)
    rows, cols = a.shape
    space = next((spec for spec in SPACES.values() if (len(spec.edges), len(spec.ops)) == (rows, cols)), None)
    if row_labels is None:
        row_labels = space.edges if space is not None else [f"edge {e}" for e in range(rows)]
    if col_labels is None:
        col_labels = space.ops if space is not None else [f"op {k}" for k in range(cols)]
    row_labels, col_labels = [str(r) for r in row_labels], [str(c) for c in col_labels]
    if len(row_labels) != rows:
        raise ValueError(f"{len(row_labels)} row labels for {rows} rows of alpha")
    if len(col_labels) != cols:
        raise ValueError(f"{len(col_labels)} column labels for {cols} columns of alpha")
    z = row_softmax(a, axis=1) if softmax else a
    name = zlabel or ("softmax(α)" if softmax else "α")
    spread = 1.0 if softmax else float(np.ptp(z[np.isfinite(z)])) if np.isfinite(z).any() else 1.0
    decimals = int(np.clip(np.ceil(np.log10(5 / spread)), 2, 4)) if spread > 0 else 2  # a step <= spread/5
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=col_labels,
            y=row_labels,
            colorscale=colorscale,
            name=name,
            zmin=0.0 if softmax else None,
            zmax=1.0 if softmax else None,
            texttemplate=f"%{{z:.{decimals}f}}",
            colorbar=dict(title=name),
            hovertemplate="edge %{y}<br>op %{x}<br>" + name + " = %{z:.4f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        yaxis=dict(autorange="reversed", title="edge", type="category"),
        xaxis=dict(title="op", type="category", side="top"),
        margin=dict(l=80, r=20, t=80 if title else 60, b=20),
        height=max(260, 34 * rows + 120),
    )
    return fig
