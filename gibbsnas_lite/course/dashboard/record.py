"""The record of a search's events, and its replay: the dashboard's data, without plotly or threads.

:class:`DashboardRecord` turns ``run_search`` callback events (``alpha`` records and ``epoch``
ends) into entries, keeps the picked edge and the replay position, and builds the snapshot
that the figures draw (:meth:`DashboardRecord.snapshot`, :meth:`DashboardRecord.state`).
:meth:`DashboardRecord.replay` feeds a finished run's history through the same path. The helpers
read alpha's blocks (NAS-Bench-201: one 6x5 block; DARTS: normal and reduce 14x8) and label their
rows and columns. The record takes no lock: the dashboard that owns it
(:class:`gibbsnas_lite.course.widgets.AlphaDashboard`) calls it under its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...spaces.registry import SpaceSpec, edge_labels, space_names, space_of_shapes
from ...spaces.registry import get as get_space

#: the loss and accuracy metrics the curves show (step and epoch records)
METRICS = ("train_loss", "valid_loss", "train_acc", "valid_acc")


@dataclass(frozen=True)
class SpaceLayout:
    """Names of alpha's blocks (cell types), rows (edges) and columns (ops), and whether the space
    has a benchmark to look cells up in; :meth:`of` reads them from the space's registry entry."""

    space: str
    blocks: tuple[str, ...]
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    has_benchmark: bool = False
    registered: bool = True

    @classmethod
    def of(cls, spec: SpaceSpec) -> SpaceLayout:
        return cls(spec.name, spec.blocks, spec.edges, spec.ops, spec.has_benchmark)

    def edge_labels(self) -> list[str]:
        return edge_labels(self.blocks, self.rows)


def space_layout(space: str) -> SpaceLayout:
    """The layout of a registered space's alpha, labelled from its registry entry."""
    if space not in space_names():
        raise ValueError(f"unknown space {space!r}; choose {', '.join(space_names())} or auto")
    return SpaceLayout.of(get_space(space))


def default_layout() -> SpaceLayout:
    """The layout shown before any alpha arrives: the first registered space's (``SearchConfig``'s default)."""
    return space_layout(space_names()[0])


def _layout_from_shape(blocks: list[np.ndarray]) -> SpaceLayout:
    shapes = [b.shape for b in blocks]
    spec = space_of_shapes(shapes)
    if spec is not None:
        return SpaceLayout.of(spec)
    rows, cols = shapes[0]
    names = ("normal", "reduce") if len(blocks) == 2 else tuple(f"block {k}" for k in range(len(blocks)))
    return SpaceLayout(
        "generic",
        names,
        tuple(f"edge {e}" for e in range(rows)),
        tuple(f"op {k}" for k in range(cols)),
        registered=False,
    )


def _blocks(value: Any) -> list[np.ndarray] | None:
    """An event's alpha/probs/std (list of edges x ops arrays, or one array) as float arrays."""
    if value is None:
        return None
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        value = [value] if value.ndim == 2 else list(value)
    elif isinstance(value, (list, tuple)) and value and not isinstance(value[0], (list, tuple, np.ndarray)):
        raise ValueError("alpha must be a list of (edges x ops) blocks")
    elif isinstance(value, (list, tuple)) and value and np.ndim(value[0]) == 1:
        value = [value]  # a single block given as a nested list
    out = []
    for block in value:
        if hasattr(block, "detach"):
            block = block.detach().cpu().numpy()
        a = np.asarray(block, dtype=np.float64)
        if a.ndim != 2:
            raise ValueError(f"each alpha block must be 2-D (edges x ops), got shape {a.shape}")
        out.append(a)
    return out or None


def _softmax(a: np.ndarray) -> np.ndarray:
    z = a - a.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _number(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def decimate(n: int, max_points: int) -> np.ndarray | None:
    """Indices keeping at most ``max_points`` of ``n`` (first and last kept); None: keep all."""
    if n <= max_points or max_points < 2:
        return None
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


# The figure's data go to plotly as plain lists, never numpy arrays: plotly.py sends an array as
# a typed-array dict, the page's FigureWidget echoes such dicts back after drawing, and
# plotly.py's handling of the echo then tests ``not array`` (ValueError "truth value of an
# array ... is ambiguous") and stops half-way (docs/browser_test.md).


def finite(x: np.ndarray, y: np.ndarray) -> tuple[list, list]:
    """The points of a line with a finite y (NaN is not valid JSON for the front end), as lists."""
    keep = np.isfinite(y)
    return np.asarray(x)[keep].tolist(), np.asarray(y)[keep].tolist()


def or_none(a: Any) -> list | None:
    """A list for a figure, with None for NaN/inf."""
    if a is None:
        return None
    arr = np.asarray(a, dtype=float)
    return np.where(np.isfinite(arr), arr, None).tolist()


def jsonable(obj: Any, digits: int = 5) -> Any:
    """Plain JSON types (numpy arrays -> lists, floats rounded) for a small static figure."""
    if isinstance(obj, dict):
        return {k: jsonable(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, digits) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist(), digits)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return round(f, digits) if math.isfinite(f) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


# ----------------------------------------------------------------------------- records
@dataclass
class RecordEntry:
    kind: str  # "alpha" | "epoch"
    key: tuple[int, int, int]
    epoch: int
    step: int | None
    alpha: list[np.ndarray] | None
    probs: list[np.ndarray] | None
    std: list[np.ndarray] | None
    metrics: dict[str, float] = field(default_factory=dict)
    x: float | None = None  # epoch entries: position on the step axis
    arch: str | None = None
    benchmark: dict[str, float] = field(default_factory=dict)
    seconds: float | None = None


@dataclass
class DashboardStats:
    """What the dashboard cost: callback calls, redraws and the seconds they took."""

    calls: int = 0
    redraws: int = 0
    skipped: int = 0
    callback_seconds: float = 0.0
    draw_seconds: float = 0.0
    max_draw_seconds: float = 0.0
    paused_seconds: float = 0.0
    trailing_seconds: float = 0.0  # redraws done after the callback returned (see ``trailing``)

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def overhead_fraction(self, total_seconds: float | None) -> float:
        """(Callback time without pauses + trailing redraws) / ``total_seconds`` (NaN without one)."""
        if not total_seconds:
            return float("nan")
        return (self.callback_seconds + self.trailing_seconds) / total_seconds


def _history_events(history: Any) -> list[dict[str, Any]]:
    """A History's records as callback events, in the order a live run emits them."""
    events = [{"kind": "alpha", **r} for r in history.alpha] + [{"kind": "epoch", **r} for r in history.epochs]

    def key(ev):
        return (int(ev.get("epoch", 0)), 0 if ev["kind"] == "alpha" else 1, int(ev.get("step") or 0))

    return sorted(events, key=key)


def read_history(source: Any):
    """The ``History`` of ``source``: a run folder, its ``history.jsonl``, a ``History`` or a ``SearchResult``."""
    from ...search.history import History

    if hasattr(source, "history") and not isinstance(source, (str, Path)):
        return source.history
    if isinstance(source, History):
        return source
    return History.load(Path(source))


class DashboardRecord:
    """What the dashboard remembers of a search: its entries, the picked edge, the shown position.

    ``space``: ``"nb201"``, ``"darts"`` or ``"auto"`` (from the first alpha's shape); ``edge``: the
    edge shown in detail; ``fallback_std``/``trace_window``: the error bars of a method without a
    posterior std (see :class:`~gibbsnas_lite.course.widgets.AlphaDashboard`).
    """

    def __init__(self, space: str = "nb201", edge: int = 0, fallback_std: str = "none", trace_window: int = 10):
        if space != "auto":
            space_layout(space)  # a ValueError naming the registered spaces for an unknown one
        if fallback_std not in ("none", "trace"):
            raise ValueError(f"fallback_std must be 'none' or 'trace', got {fallback_std!r}")
        self.space = space
        self.layout: SpaceLayout | None = None if space == "auto" else space_layout(space)
        self.fallback_std = fallback_std
        self.trace_window = max(2, int(trace_window))
        self.entries: list[RecordEntry] = []
        self.notes: list[str] = []
        self.is_replay = False  # filled from a finished run's history (the view shows a slider)
        self._edge = int(edge)
        self._position: int | None = None  # None: follow the newest record

    # ------------------------------------------------------------------ recording
    def ingest(self, event: dict[str, Any]) -> bool:
        """Record one callback event; True when it changed the layout (the edge labels)."""
        kind = event.get("kind")
        if kind not in ("alpha", "epoch"):
            return False
        changed = False
        epoch = int(event.get("epoch", 0))
        step = int(event["step"]) if kind == "alpha" else None
        key = (epoch, 0, step) if kind == "alpha" else (epoch, 1, 0)
        if self.entries and key <= self.entries[-1].key:
            # A new run (steps start over) or a resume from an earlier checkpoint: drop what
            # comes at or after this point, as History.rewrite does with the file.
            cut = next(i for i, e in enumerate(self.entries) if e.key >= key)
            del self.entries[cut:]
            if cut == 0:
                self.notes.clear()
        alpha = _blocks(event.get("alpha"))
        probs = _blocks(event.get("probs"))
        std = _blocks(event.get("std"))
        if alpha is not None:
            if probs is None:
                probs = [_softmax(a) for a in alpha]
            if self.layout is None or [len(self.layout.blocks)] + [len(self.layout.rows), len(self.layout.cols)] != [
                len(alpha),
                *alpha[0].shape,
            ]:
                shaped = _layout_from_shape(alpha)
                if self.layout is not None and self.layout.space != shaped.space:
                    self.note(
                        f"alpha has shape {[tuple(a.shape) for a in alpha]}, not {self.layout.space}'s; "
                        f"showing it as {shaped.space}"
                    )
                self.layout = shaped
                self._edge = min(self._edge, len(shaped.blocks) * len(shaped.rows) - 1)
                changed = True
            if std is not None and [s.shape for s in std] != [a.shape for a in alpha]:
                std = None
        entry = RecordEntry(kind, key, epoch, step, alpha, probs, std)
        if kind == "alpha":
            entry.metrics = {k: f for k, v in (event.get("metrics") or {}).items() if (f := _number(v)) is not None}
        else:
            entry.metrics = {k: f for k in METRICS if (f := _number(event.get(k))) is not None}
            last_alpha = next((e for e in reversed(self.entries) if e.kind == "alpha"), None)
            entry.x = float(last_alpha.step + 1) if last_alpha is not None else float(epoch + 1)
            entry.arch = event.get("arch")
            entry.benchmark = {k: f for k, v in (event.get("benchmark") or {}).items() if (f := _number(v)) is not None}
            entry.seconds = _number(event.get("seconds"))
        self.entries.append(entry)
        return changed

    def has(self, key: tuple[int, int, int]) -> bool:
        """Whether an entry with this key (``(epoch, 0, step)`` or ``(epoch, 1, 0)``) is recorded."""
        return any(e.key == key for e in self.entries)

    def note(self, text: str) -> None:
        """Remember a message for the status line (once)."""
        if text not in self.notes:
            self.notes.append(text)

    def replay(self, source: Any) -> None:
        """Record a finished (or killed) run's history, in the order a live run emits it.

        ``source``: a run folder, its ``history.jsonl``, a ``History`` or a ``SearchResult``.
        """
        history = read_history(source)
        self.is_replay = True
        for event in _history_events(history):
            try:
                self.ingest(event)
            except Exception as err:
                self.note(f"skipped a record: {err}")
        if not self.entries:
            self.note("the history holds no records")

    # ------------------------------------------------------------------ state
    @property
    def n_records(self) -> int:
        """Number of recorded events (alpha and epoch records)."""
        return len(self.entries)

    @property
    def position(self) -> int | None:
        """Index of the shown record (replay); ``None`` follows the newest one."""
        return self._position

    @position.setter
    def position(self, value: int | None) -> None:
        if value is not None:
            n = len(self.entries)
            value = int(value)
            if not -n <= value < n:
                raise IndexError(f"position {value} out of range for {n} records")
            value %= n
        self._position = value

    @property
    def edge(self) -> int:
        """The edge shown in detail (index into :meth:`edge_labels`)."""
        return self._edge

    @edge.setter
    def edge(self, value: int) -> None:
        n = len(self.edge_labels())
        value = int(value)
        if not 0 <= value < n:
            raise IndexError(f"edge {value} out of range; there are {n} edges: {self.edge_labels()}")
        self._edge = value

    def edge_labels(self) -> list[str]:
        return (self.layout or default_layout()).edge_labels()

    def edge_block_row(self) -> tuple[int, int]:
        """(block, row) of the picked edge in alpha's blocks."""
        nrows = len((self.layout or default_layout()).rows)
        return divmod(self._edge, nrows)

    def where(self) -> str | None:
        """Where the newest record is (``epoch e, step s`` or ``end of epoch e``); None without records."""
        if not self.entries:
            return None
        last = self.entries[-1]
        if last.kind == "alpha":
            return f"epoch {last.epoch + 1}, step {last.step + 1}"
        return f"end of epoch {last.epoch + 1}"

    def state(self, position: int | None = None) -> dict[str, Any]:
        """What the dashboard shows at ``position`` (default: the shown one), as plain data.

        Keys: ``n_records``, ``position``, ``edge`` (label), ``ops``, ``alpha``/``probs``/``std``
        (the edge's rows; std None without one), ``std_source``, ``heatmap`` (softmax of the
        edge's block), ``steps`` (x and the step metrics), ``epochs`` (x, epoch, metrics,
        cifar10_test), ``arch`` and ``arch_source``, ``where`` (epoch/step label).
        """
        snap = self.snapshot(self._position if position is None else position)
        out = dict(snap)
        for key in ("alpha", "probs", "std", "heatmap"):
            if out.get(key) is not None:
                out[key] = np.asarray(out[key]).tolist()
        out["steps"] = {k: np.asarray(v).tolist() for k, v in snap["steps"].items()}
        out["epochs"] = {k: np.asarray(v).tolist() for k, v in snap["epochs"].items()}
        return out

    def snapshot(self, position: int | None) -> dict[str, Any]:
        """:meth:`state` with numpy arrays, up to record ``position`` (``None``: all records)."""
        entries = self.entries if position is None else self.entries[: position + 1]
        layout = self.layout or default_layout()
        block, row = self.edge_block_row()
        snap: dict[str, Any] = {
            "n_records": len(self.entries),
            "position": position,
            "space": layout.space,
            "has_benchmark": layout.has_benchmark,
            "blocks": list(layout.blocks),
            "edge": layout.edge_labels()[self._edge] if self._edge < len(layout.edge_labels()) else None,
            "block": layout.blocks[block] if block < len(layout.blocks) else None,
            "ops": list(layout.cols),
            "rows": list(layout.rows),
            "alpha": None,
            "probs": None,
            "std": None,
            "std_source": None,
            "heatmap": None,
            "arch": None,
            "arch_source": None,
            "where": "no records yet",
        }
        last = entries[-1] if entries else None
        if last is not None:
            snap["where"] = (
                f"epoch {last.epoch + 1}, step {last.step + 1}"
                if last.kind == "alpha"
                else f"end of epoch {last.epoch + 1}"
            )
        with_alpha = [e for e in entries if e.alpha is not None]
        cur = with_alpha[-1] if with_alpha else None
        if cur is not None and block < len(cur.alpha) and row < cur.alpha[block].shape[0]:
            snap["alpha"] = cur.alpha[block][row]
            snap["probs"] = cur.probs[block][row]
            snap["heatmap"] = cur.probs[block]
            if cur.std is not None:
                snap["std"], snap["std_source"] = cur.std[block][row], "posterior std (BFGS covariance)"
            elif self.fallback_std == "trace" and len(with_alpha) >= 2:
                window = np.stack([e.alpha[block][row] for e in with_alpha[-self.trace_window :]])
                snap["std"] = window.std(axis=0)
                snap["std_source"] = f"spread of alpha over the last {len(window)} records (not a posterior)"
        # step curves (alpha events) and epoch curves
        steps = [e for e in entries if e.kind == "alpha"]
        snap["steps"] = {"x": np.array([e.step + 1 for e in steps], dtype=float)}
        for k in METRICS:
            snap["steps"][k] = np.array([e.metrics.get(k, np.nan) for e in steps], dtype=float)
        epochs = [e for e in entries if e.kind == "epoch"]
        snap["epochs"] = {
            "x": np.array([e.x for e in epochs], dtype=float),
            "epoch": np.array([e.epoch + 1 for e in epochs], dtype=float),
        }
        for k in METRICS:
            snap["epochs"][k] = np.array([e.metrics.get(k, np.nan) for e in epochs], dtype=float)
        snap["epochs"]["cifar10_test"] = np.array(
            [e.benchmark.get("cifar10_test", np.nan) for e in epochs], dtype=float
        )
        snap["step_axis"] = "step" if steps else "epoch"
        # the derived cell: the newest of (epoch record's arch, argmax of the newest alpha)
        last_epoch = epochs[-1] if epochs else None
        if cur is not None and (last_epoch is None or cur.key > last_epoch.key or not last_epoch.arch):
            snap["arch"] = self.derive(cur.alpha)
            if snap["arch"]:
                snap["arch_source"] = (
                    f"argmax of alpha at step {cur.step + 1}"
                    if cur.kind == "alpha"
                    else f"argmax of alpha, epoch {cur.epoch + 1}"
                )
        if snap["arch"] is None and last_epoch is not None and last_epoch.arch:
            snap["arch"], snap["arch_source"] = last_epoch.arch, f"derived at the end of epoch {last_epoch.epoch + 1}"
        return snap

    def derive(self, alpha: list[np.ndarray]) -> str | None:
        """The cell that alpha gives, as its space's registry entry derives it (NB201 arch string,
        DARTS genotype); None for an unregistered shape or on failure."""
        if self.layout is None or not self.layout.registered:
            return None
        try:
            return get_space(self.layout.space).derive_arch(alpha)
        except Exception as err:
            self.note(f"could not derive a cell from alpha: {err}")
        return None
