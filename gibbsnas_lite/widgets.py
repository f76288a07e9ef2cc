"""The live alpha dashboard: watch a search's architecture weights while it runs.

    from gibbsnas_lite.search import make_config
    from gibbsnas_lite.widgets import AlphaDashboard

    dash = AlphaDashboard(space="nb201")
    dash.start(make_config("gibbs2", "cpu"), out_dir="runs/demo")   # background; shows the dashboard

or, as a plain callback (the figures update live; the buttons cannot, see below)::

    dash = AlphaDashboard()
    display(dash)
    result = run_search(cfg, out_dir="runs/demo", callback=dash)

and afterwards ``AlphaDashboard.replay("runs/demo")`` replays the run's ``history.jsonl``.

What it shows (one edge in detail, picked with a drop-down):

* alpha of the edge's ops as bars with error bars = the posterior std sqrt(diag Sigma) from
  the BFGS covariance (GibbsNAS events carry it; DARTS/GDAS have none, so no error bars
  unless ``fallback_std="trace"``), next to softmax(alpha);
* a heat map of softmax(alpha) over all edges (DARTS: of the picked edge's cell type);
* train/valid loss and accuracy per recorded step (lines) and per epoch (markers);
* the currently derived cell (``nb201_cell_figure`` / ``darts_cell_figure``) and, for
  NAS-Bench-201, its benchmark CIFAR-10 test accuracy per epoch.

Why two ways to run, and what Pause/Stop do
-------------------------------------------
A Jupyter kernel handles widget messages (button clicks) on its main thread *between*
cells: while a cell runs ``run_search(...)`` in the foreground, clicks wait in a queue until
the cell ends. The figures still update live (kernel -> browser messages are not queued).
So :meth:`AlphaDashboard.start` runs the search in a background thread: the cell returns at
once, the kernel stays free, and the buttons act while the search runs:

* **Pause** blocks the search thread between two steps (at its next callback event), with
  everything kept in memory; **Resume** lets it continue - exactly the same run.
* **Stop** makes the next callback event return ``"stop"``: at an epoch's end the loop
  returns after that epoch's checkpoint; at a step event it returns at once and drops the
  unfinished epoch, like a killed run (the checkpoint stays the last completed epoch's).
  Either way ``run_search(resume=out_dir)`` (or :meth:`resume`) continues the run later.

Live in a kernel, the search thread of :meth:`AlphaDashboard.start` first waits (at most
``wait_for_view`` s, default 60) until the page has drawn the dashboard's figure, so a short
search is not over before it is on screen; ``wait()``, Stop, no display or headless mode
skip the wait (``docs/browser_test.md``).

When the dashboard is only a callback on the kernel's main thread, blocking would hang the
kernel for good (nobody could click Resume), so there a pause request (from code, e.g.
``dash.pause()`` called in a wrapper callback) becomes "stop after this epoch's checkpoint";
:meth:`resume` then continues from the checkpoint with ``run_search(resume=out_dir)``, which
on CPU with the same seed reproduces the uninterrupted run bit for bit. The buttons are
disabled while no background search runs, so a queued click can never hit a later run.

Headless (papermill, CI, plain scripts)
---------------------------------------
Without a widget frontend the dashboard creates no widgets at all (so an executed notebook
holds no widget state); it only records the events. ``display(dash)`` then shows a small
static plotly figure of the current state (plus a short HTML summary), and
:meth:`final_figure` returns it as a ``go.Figure``. See :func:`detect_headless` for how
the mode is chosen (``headless=`` argument, ``GIBBSNAS_HEADLESS=1/0``, automatic).

Throttling: recording an event costs microseconds; a redraw costs milliseconds (more when
the derived cell changes). Redraws are skipped when the last one was less than
``min_interval`` seconds ago, when fewer than ``update_every`` alpha events have arrived,
or when drawing would take more than ``max_overhead`` of the elapsed time (epoch records
skip the first two limits, pauses and stops all three). A skipped redraw is made up by a
timer once the limits allow, so the newest record always ends up on screen. Numbers
measured on a smoke search are in ``docs/dashboard.md``.
"""
from __future__ import annotations

import html
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = ["AlphaDashboard", "detect_headless", "HEADLESS_ENV"]

#: Environment variable forcing the mode: ``1``/``true`` headless, ``0``/``false`` live widgets.
HEADLESS_ENV = "GIBBSNAS_HEADLESS"
_TRUTHY = {"1", "true", "yes", "on"}
_FALSY = {"0", "false", "no", "off"}
# Programs that execute notebooks without a widget frontend (matched against the kernel's
# ancestor processes); ``gibbsnas-lite`` is this package's CLI (``notebooks run``).
_BATCH_PROGRAMS = {"papermill", "pytest", "py.test", "nbconvert", "jupyter-nbconvert", "nbclient",
                   "jupyter-execute", "gibbsnas-lite", "gibbsnas_lite", "nbval"}
_METRICS = ("train_loss", "valid_loss", "train_acc", "valid_acc")
_COLORS = {"train": "#1f77b4", "valid": "#d62728"}


# ----------------------------------------------------------------------------- headless detection
def _in_kernel() -> bool:
    import sys

    if "IPython" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def _ancestor_cmdlines(depth: int = 6) -> list[list[str]]:
    """Command lines of this process's parents (nearest first); empty when unknown."""
    out: list[list[str]] = []
    try:
        import psutil  # a dependency of ipykernel

        for proc in psutil.Process().parents()[:depth]:
            try:
                out.append(list(proc.cmdline()))
            except Exception:  # access denied, zombie: skip that one
                continue
        return out
    except Exception:
        pass
    pid = os.getppid()  # Linux fallback without psutil
    for _ in range(depth):
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
            out.append([a for a in raw.decode(errors="replace").split("\0") if a])
            stat = Path(f"/proc/{pid}/stat").read_text()
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        except Exception:
            break
        if pid <= 1:
            break
    return out


def _batch_program(cmdline: Sequence[str]) -> str | None:
    """The notebook-executing program a command line runs, if any (``papermill``, ``pytest``...)."""
    args = list(cmdline)[:5]
    for i, arg in enumerate(args):
        base = os.path.basename(arg).lower()
        for suffix in (".exe", ".py"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
        if base in _BATCH_PROGRAMS:
            return base
        if arg == "-m" and i + 1 < len(args):
            module = args[i + 1].split(".")[0].lower()
            if module in _BATCH_PROGRAMS:
                return module
        if i > 0 and os.path.basename(args[i - 1]).lower() == "jupyter" and base in ("nbconvert", "execute"):
            return f"jupyter {base}"
    return None


def detect_headless(env: dict[str, str] | None = None, ancestors: Iterable[Sequence[str]] | None = None,
                    in_kernel: bool | None = None) -> tuple[bool, str]:
    """Decide whether a dashboard should run headless; returns ``(headless, reason)``.

    In order: ``GIBBSNAS_HEADLESS`` (``1/true/yes`` headless, ``0/false/no`` live); not in an
    IPython kernel (plain Python, CLI, CI) -> headless; a kernel started by papermill,
    nbconvert, nbclient, pytest or ``gibbsnas-lite notebooks`` (an ancestor process) ->
    headless; a kernel of a Jupyter server session (JupyterLab, Notebook 7, Binder: the
    server sets ``JPY_SESSION_NAME``), VS Code or Colab -> live; any other kernel -> headless
    (say ``headless=False`` or ``GIBBSNAS_HEADLESS=0`` to force the widgets).
    ``env``/``ancestors``/``in_kernel`` default to this process's (arguments for tests).
    """
    env = dict(os.environ) if env is None else env
    forced = env.get(HEADLESS_ENV, "").strip().lower()
    if forced in _TRUTHY:
        return True, f"{HEADLESS_ENV}={forced}"
    if forced in _FALSY:
        return False, f"{HEADLESS_ENV}={forced}"
    if in_kernel is None:
        in_kernel = _in_kernel()
    if not in_kernel:
        return True, "not in an IPython kernel (plain Python, CLI or CI)"
    for cmd in (_ancestor_cmdlines() if ancestors is None else ancestors):
        program = _batch_program(cmd)
        if program:
            return True, f"kernel started by {program} (batch execution, no widget frontend)"
    if env.get("JPY_SESSION_NAME"):
        return False, "kernel of a Jupyter server session (JupyterLab / Notebook)"
    if any(k.startswith(("VSCODE_", "COLAB_")) for k in env):
        return False, "VS Code or Colab kernel"
    return True, (f"kernel without a known widget frontend; pass headless=False or set "
                  f"{HEADLESS_ENV}=0 for the live widgets")


# ----------------------------------------------------------------------------- spaces / labels
@dataclass(frozen=True)
class _Layout:
    """Names of alpha's blocks (cell types), rows (edges) and columns (ops)."""

    space: str
    blocks: tuple[str, ...]
    rows: tuple[str, ...]
    cols: tuple[str, ...]

    def edge_labels(self) -> list[str]:
        if len(self.blocks) == 1:
            return [f"edge {r}" for r in self.rows]
        return [f"{b} {r}" for b in self.blocks for r in self.rows]


def _layout_for(space: str) -> _Layout:
    from .plots.cells import DARTS_PRIMITIVES, DARTS_ROW_LABELS, NB201_ROW_LABELS
    from .spaces.nb201.arch import OPS

    if space == "nb201":
        return _Layout("nb201", ("cell",), tuple(NB201_ROW_LABELS), tuple(OPS))
    if space == "darts":
        return _Layout("darts", ("normal", "reduce"), tuple(DARTS_ROW_LABELS), tuple(DARTS_PRIMITIVES))
    raise ValueError(f"unknown space {space!r}; choose nb201, darts or auto")


def _layout_from_shape(blocks: list[np.ndarray]) -> _Layout:
    shapes = [b.shape for b in blocks]
    if shapes == [(6, 5)]:
        return _layout_for("nb201")
    if shapes == [(14, 8), (14, 8)]:
        return _layout_for("darts")
    rows, cols = shapes[0]
    names = ("normal", "reduce") if len(blocks) == 2 else tuple(f"block {k}" for k in range(len(blocks)))
    return _Layout("generic", names, tuple(f"edge {e}" for e in range(rows)), tuple(f"op {k}" for k in range(cols)))


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


def _decimate(n: int, max_points: int) -> np.ndarray | None:
    """Indices keeping at most ``max_points`` of ``n`` (first and last kept); None: keep all."""
    if n <= max_points or max_points < 2:
        return None
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(int))


def _finite(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The points of a line with a finite y (NaN is not valid JSON for the front end)."""
    keep = np.isfinite(y)
    return (x, y) if keep.all() else (x[keep], y[keep])


def _or_none(a: Any) -> Any:
    """An array for a figure: as is when finite, else a nested list with None for NaN/inf."""
    if a is None:
        return None
    arr = np.asarray(a, dtype=float)
    if np.isfinite(arr).all():
        return arr
    return np.where(np.isfinite(arr), arr, None).tolist()


def _jsonable(obj: Any, digits: int = 5) -> Any:
    """Plain JSON types (numpy arrays -> lists, floats rounded) for a small static figure."""
    if isinstance(obj, dict):
        return {k: _jsonable(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v, digits) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist(), digits)
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
class _Entry:
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


def _history_events(history: Any) -> list[dict[str, Any]]:
    """A History's records as callback events, in the order a live run emits them."""
    events = [{"kind": "alpha", **r} for r in history.alpha] + [{"kind": "epoch", **r} for r in history.epochs]

    def key(ev):
        return (int(ev.get("epoch", 0)), 0 if ev["kind"] == "alpha" else 1, int(ev.get("step") or 0))

    return sorted(events, key=key)


# ----------------------------------------------------------------------------- the dashboard
class AlphaDashboard:
    """Live view of a search's alpha: a ``run_search`` callback, a widget, a replayer.

    Parameters
    ----------
    space: ``"nb201"`` (default), ``"darts"`` or ``"auto"`` (from the first alpha's shape);
        only labels and the cell drawing depend on it.
    update_every: redraw on at most every k-th alpha event.
    min_interval: seconds between two redraws at least (epoch records, pause and stop excepted).
    max_overhead: redraw only while drawing time stays under this fraction of the elapsed
        time since the previous redraw (default 0.03: ~3 % of the search's time, leaving room
        for the first redraws under the 5 % target); None: off.
    headless: ``True`` (record only, static figure), ``False`` (widgets) or ``None`` (auto,
        :func:`detect_headless`).
    edge: the edge shown in detail (index into the drop-down's list; DARTS: normal 0-13,
        reduce 14-27).
    fallback_std: error bars when an event has no std (DARTS, GDAS): ``"none"`` or
        ``"trace"`` (std of alpha over the last ``trace_window`` recorded events).
    max_points: points per line kept in the live figures (older points thinned evenly).
    trailing: after a skipped redraw, redraw once the limits allow (from a timer thread), so
        the newest record shows even when no further event comes.
    wait_for_view: live in a kernel, :meth:`start` lets its search thread wait (at most this
        many seconds) until the page has drawn the dashboard's figure, so the first epochs are
        not over before they can be seen; :meth:`wait` and :meth:`stop` end the wait, headless
        runs never wait. ``None`` or 0: start at once.
    """

    def __init__(self, space: str = "nb201", update_every: int = 1, min_interval: float = 0.5,
                 max_overhead: float | None = 0.03, headless: bool | None = None, edge: int = 0,
                 fallback_std: str = "none", trace_window: int = 10, max_points: int = 1500,
                 trailing: bool = True, title: str | None = None, wait_for_view: float | None = 60.0):
        if space not in ("nb201", "darts", "auto"):
            raise ValueError(f"unknown space {space!r}; choose nb201, darts or auto")
        if fallback_std not in ("none", "trace"):
            raise ValueError(f"fallback_std must be 'none' or 'trace', got {fallback_std!r}")
        if int(update_every) < 1:
            raise ValueError(f"update_every must be >= 1, got {update_every!r}")
        if float(min_interval) < 0:
            raise ValueError(f"min_interval must be >= 0, got {min_interval!r}")
        if max_overhead is not None and not 0 < float(max_overhead) <= 1:
            raise ValueError(f"max_overhead must be in (0, 1] or None, got {max_overhead!r}")
        self.space = space
        self.update_every = int(update_every)
        self.min_interval = float(min_interval)
        self.max_overhead = None if max_overhead is None else float(max_overhead)
        self.fallback_std = fallback_std
        self.trace_window = max(2, int(trace_window))
        self.max_points = int(max_points)
        self.trailing = bool(trailing)
        self.title = title
        self.wait_for_view = float(wait_for_view or 0.0)
        self.view_wait_seconds: float | None = None  # how long the last start() waited for the page
        self._view_wait_reason = ""
        if headless is None:
            self.headless, self.headless_reason = detect_headless()
        else:
            self.headless, self.headless_reason = bool(headless), f"headless={bool(headless)} given"
        self.layout: _Layout | None = None if space == "auto" else _layout_for(space)
        self.stats = DashboardStats()
        self._entries: list[_Entry] = []
        self._edge = int(edge)
        self._position: int | None = None  # None: follow the newest record
        self._replay = False
        self._lock = threading.RLock()
        self._ui: _LiveUI | None = None
        self._notes: list[str] = []
        self._draw_errors = 0
        self._since_draw = 0
        self._last_draw_end = 0.0
        self._last_draw_cost = 0.0
        self._pending = False
        self._timer: threading.Timer | None = None
        # run control
        self._stop = False
        self._pause = False
        self._go = threading.Event()
        self._go.set()
        self._blocked = False
        self._events_from_thread = False
        self._checkpoint_pause: int | None = None  # epoch after whose checkpoint a pause stopped
        self._thread: threading.Thread | None = None
        self._run_dir: Path | None = None
        self._run_kwargs: dict[str, Any] = {}
        self._result: Any = None
        self._error: BaseException | None = None
        self._status = "waiting for a search"
        self._cell_cache: dict[tuple[str, str], Any] = {}
        self._view_gate = threading.Event()  # set: the search thread need not wait for the page
        self._view_gate.set()
        self._shown = threading.Event()  # the live widget was put in an output (_repr_mimebundle_)

    # ------------------------------------------------------------------ callback
    def __call__(self, event: dict[str, Any]) -> str | None:
        """The ``run_search`` callback: record the event, maybe redraw, maybe pause or stop."""
        t0 = time.perf_counter()
        action = None
        with self._lock:
            self.stats.calls += 1
            self._events_from_thread = threading.current_thread() is not threading.main_thread()
            try:
                self._ingest(event)
            except Exception as err:  # a bad event must never kill the search
                self._note(f"could not read a {event.get('kind')!r} event: {err}")
            action = self._decide(event)
            kind = event.get("kind")
            if kind == "alpha":
                self._since_draw += 1
            if not self.headless and self._ui is not None:
                self._sync_controls()
                if self._should_draw(force=action is not None, epoch=kind == "epoch"):
                    self._draw()
                else:
                    self.stats.skipped += 1
                    self._pending = True
                    if self.trailing:
                        self._schedule_trailing()
        spent = time.perf_counter() - t0
        if action == "block":
            action = self._block()
        self.stats.callback_seconds += spent
        if action == "stop":  # consumed: the loop stops now and calls back no more
            self._stop = False
            return "stop"
        return None

    def _decide(self, event: dict[str, Any]) -> str | None:
        kind = event.get("kind")
        self._checkpoint_pause = None  # events flow: whatever was paused runs again
        if self._stop:
            self._status = (f"stopped in epoch {int(event.get('epoch', 0)) + 1}; the last checkpoint is the "
                            f"last completed epoch's" if kind == "alpha" else
                            f"stopped after epoch {int(event.get('epoch', 0)) + 1} and its checkpoint")
            return "stop"
        if not self._pause:
            return None
        if threading.current_thread() is not threading.main_thread():
            return "block"
        # On the main thread a blocking pause could never be resumed (the kernel is busy):
        # pause = stop right after this epoch's checkpoint, continue later from it.
        if kind == "epoch":
            self._pause = False  # consumed; `paused` now reports the checkpoint pause
            self._go.set()
            self._checkpoint_pause = int(event.get("epoch", 0))
            self._status = (f"paused after epoch {self._checkpoint_pause + 1} (checkpoint written); "
                            f"resume() continues from {self._run_dir or 'the run folder'}")
            return "stop"
        self._status = "pausing after this epoch's checkpoint"
        return None

    def _block(self) -> str | None:
        t0 = time.perf_counter()
        with self._lock:
            self._blocked = True
            self._status = "paused (the search thread waits; Resume continues it)"
            if self._ui is not None:
                self._sync_controls()
                self._draw()
        self._go.wait()
        with self._lock:
            self._blocked = False
            self.stats.paused_seconds += time.perf_counter() - t0
            if self._stop:
                return "stop"
            self._status = "running"
            if self._ui is not None:
                self._sync_controls()
                self._ui.status.value = self._status_html()
        return None

    # ------------------------------------------------------------------ recording
    def _ingest(self, event: dict[str, Any]) -> None:
        kind = event.get("kind")
        if kind not in ("alpha", "epoch"):
            return
        epoch = int(event.get("epoch", 0))
        step = int(event["step"]) if kind == "alpha" else None
        key = (epoch, 0, step) if kind == "alpha" else (epoch, 1, 0)
        if self._entries and key <= self._entries[-1].key:
            # A new run (steps start over) or a resume from an earlier checkpoint: drop what
            # comes at or after this point, as History.rewrite does with the file.
            cut = next(i for i, e in enumerate(self._entries) if e.key >= key)
            del self._entries[cut:]
            if cut == 0:
                self._notes.clear()
        alpha = _blocks(event.get("alpha"))
        probs = _blocks(event.get("probs"))
        std = _blocks(event.get("std"))
        if alpha is not None:
            if probs is None:
                probs = [_softmax(a) for a in alpha]
            if self.layout is None or [len(self.layout.blocks)] + [len(self.layout.rows), len(self.layout.cols)] \
                    != [len(alpha), *alpha[0].shape]:
                shaped = _layout_from_shape(alpha)
                if self.layout is not None and self.layout.space != shaped.space:
                    self._note(f"alpha has shape {[tuple(a.shape) for a in alpha]}, not {self.layout.space}'s; "
                               f"showing it as {shaped.space}")
                self.layout = shaped
                self._edge = min(self._edge, len(shaped.blocks) * len(shaped.rows) - 1)
                if self._ui is not None:
                    self._ui.rebuild_picker()
            if std is not None and [s.shape for s in std] != [a.shape for a in alpha]:
                std = None
        entry = _Entry(kind, key, epoch, step, alpha, probs, std)
        if kind == "alpha":
            entry.metrics = {k: f for k, v in (event.get("metrics") or {}).items()
                             if (f := _number(v)) is not None}
        else:
            entry.metrics = {k: f for k in _METRICS if (f := _number(event.get(k))) is not None}
            last_alpha = next((e for e in reversed(self._entries) if e.kind == "alpha"), None)
            entry.x = float(last_alpha.step + 1) if last_alpha is not None else float(epoch + 1)
            entry.arch = event.get("arch")
            entry.benchmark = {k: f for k, v in (event.get("benchmark") or {}).items()
                               if (f := _number(v)) is not None}
            entry.seconds = _number(event.get("seconds"))
        self._entries.append(entry)

    def _note(self, text: str) -> None:
        if text not in self._notes:
            self._notes.append(text)

    # ------------------------------------------------------------------ state
    @property
    def n_records(self) -> int:
        """Number of recorded events (alpha and epoch records)."""
        return len(self._entries)

    @property
    def position(self) -> int | None:
        """Index of the shown record (replay); ``None`` follows the newest one."""
        return self._position

    @position.setter
    def position(self, value: int | None) -> None:
        with self._lock:
            if value is not None:
                n = len(self._entries)
                value = int(value)
                if not -n <= value < n:
                    raise IndexError(f"position {value} out of range for {n} records")
                value %= n
            self._position = value
            if self._ui is not None:
                self._ui.set_slider(value)
                self._draw()

    @property
    def edge(self) -> int:
        """The edge shown in detail (index into :meth:`edge_labels`)."""
        return self._edge

    @edge.setter
    def edge(self, value: int) -> None:
        with self._lock:
            n = len(self.edge_labels())
            value = int(value)
            if not 0 <= value < n:
                raise IndexError(f"edge {value} out of range; there are {n} edges: {self.edge_labels()}")
            self._edge = value
            if self._ui is not None:
                if self._ui.picker.value != value:
                    self._ui.picker.value = value  # its observer redraws
                else:
                    self._draw()

    def edge_labels(self) -> list[str]:
        return (self.layout or _layout_for("nb201")).edge_labels()

    def _edge_block_row(self) -> tuple[int, int]:
        nrows = len((self.layout or _layout_for("nb201")).rows)
        return divmod(self._edge, nrows)

    def state(self, position: int | None = None) -> dict[str, Any]:
        """What the dashboard shows at ``position`` (default: the shown one), as plain data.

        Keys: ``n_records``, ``position``, ``edge`` (label), ``ops``, ``alpha``/``probs``/``std``
        (the edge's rows; std None without one), ``std_source``, ``heatmap`` (softmax of the
        edge's block), ``steps`` (x and the step metrics), ``epochs`` (x, epoch, metrics,
        cifar10_test), ``arch`` and ``arch_source``, ``where`` (epoch/step label).
        """
        with self._lock:
            snap = self._snapshot(self._position if position is None else position)
        out = dict(snap)
        for key in ("alpha", "probs", "std", "heatmap"):
            if out.get(key) is not None:
                out[key] = np.asarray(out[key]).tolist()
        out["steps"] = {k: np.asarray(v).tolist() for k, v in snap["steps"].items()}
        out["epochs"] = {k: np.asarray(v).tolist() for k, v in snap["epochs"].items()}
        return out

    def _snapshot(self, position: int | None) -> dict[str, Any]:
        entries = self._entries if position is None else self._entries[: position + 1]
        layout = self.layout or _layout_for("nb201")
        block, row = self._edge_block_row()
        snap: dict[str, Any] = {
            "n_records": len(self._entries), "position": position, "space": layout.space,
            "edge": layout.edge_labels()[self._edge] if self._edge < len(layout.edge_labels()) else None,
            "block": layout.blocks[block] if block < len(layout.blocks) else None,
            "ops": list(layout.cols), "rows": list(layout.rows),
            "alpha": None, "probs": None, "std": None, "std_source": None, "heatmap": None,
            "arch": None, "arch_source": None, "where": "no records yet",
        }
        last = entries[-1] if entries else None
        if last is not None:
            snap["where"] = (f"epoch {last.epoch + 1}, step {last.step + 1}" if last.kind == "alpha"
                             else f"end of epoch {last.epoch + 1}")
        with_alpha = [e for e in entries if e.alpha is not None]
        cur = with_alpha[-1] if with_alpha else None
        if cur is not None and block < len(cur.alpha) and row < cur.alpha[block].shape[0]:
            snap["alpha"] = cur.alpha[block][row]
            snap["probs"] = cur.probs[block][row]
            snap["heatmap"] = cur.probs[block]
            if cur.std is not None:
                snap["std"], snap["std_source"] = cur.std[block][row], "posterior std (BFGS covariance)"
            elif self.fallback_std == "trace" and len(with_alpha) >= 2:
                window = np.stack([e.alpha[block][row] for e in with_alpha[-self.trace_window:]])
                snap["std"] = window.std(axis=0)
                snap["std_source"] = f"spread of alpha over the last {len(window)} records (not a posterior)"
        # step curves (alpha events) and epoch curves
        steps = [e for e in entries if e.kind == "alpha"]
        snap["steps"] = {"x": np.array([e.step + 1 for e in steps], dtype=float)}
        for k in _METRICS:
            snap["steps"][k] = np.array([e.metrics.get(k, np.nan) for e in steps], dtype=float)
        epochs = [e for e in entries if e.kind == "epoch"]
        snap["epochs"] = {"x": np.array([e.x for e in epochs], dtype=float),
                          "epoch": np.array([e.epoch + 1 for e in epochs], dtype=float)}
        for k in _METRICS:
            snap["epochs"][k] = np.array([e.metrics.get(k, np.nan) for e in epochs], dtype=float)
        snap["epochs"]["cifar10_test"] = np.array([e.benchmark.get("cifar10_test", np.nan) for e in epochs],
                                                  dtype=float)
        snap["step_axis"] = "step" if steps else "epoch"
        # the derived cell: the newest of (epoch record's arch, argmax of the newest alpha)
        last_epoch = epochs[-1] if epochs else None
        if cur is not None and (last_epoch is None or cur.key > last_epoch.key or not last_epoch.arch):
            snap["arch"] = self._derive(cur.alpha)
            if snap["arch"]:
                snap["arch_source"] = (f"argmax of alpha at step {cur.step + 1}" if cur.kind == "alpha"
                                       else f"argmax of alpha, epoch {cur.epoch + 1}")
        if snap["arch"] is None and last_epoch is not None and last_epoch.arch:
            snap["arch"], snap["arch_source"] = last_epoch.arch, f"derived at the end of epoch {last_epoch.epoch + 1}"
        return snap

    def _derive(self, alpha: list[np.ndarray]) -> str | None:
        space = self.layout.space if self.layout else None
        try:
            if space == "nb201":
                from .spaces.nb201.arch import derive_arch

                return derive_arch(alpha[0])
            if space == "darts":
                from .spaces.darts.genotypes import derive_genotype, format_genotype

                return format_genotype(derive_genotype(alpha[0], alpha[1]))
        except Exception as err:
            self._note(f"could not derive a cell from alpha: {err}")
        return None

    # ------------------------------------------------------------------ run control
    @property
    def running(self) -> bool:
        """True while a search started by :meth:`start` runs in the background."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def paused(self) -> bool:
        """True while the search waits (background) or stopped at a checkpoint to pause."""
        return self._blocked or self._checkpoint_pause is not None

    @property
    def result(self):
        """The finished search's ``SearchResult`` (None while running or before a run)."""
        return self._result

    @property
    def status(self) -> str:
        return self._status

    def pause(self) -> None:
        """Ask the search to pause at its next event (see the module docstring for how)."""
        with self._lock:
            self._pause = True
            self._go.clear()
            self._status = "pause requested: the search pauses at its next event"
            self._refresh_controls()

    def stop(self) -> None:
        """Ask the search to stop at its next event (the run stays resumable from its last
        checkpoint: at an epoch's end that epoch's, mid-epoch the previous one); releases a pause."""
        with self._lock:
            self._stop = True
            self._pause = False
            self._go.set()
            self._view_gate.set()
            self._status = "stop requested: the search stops at its next event"
            self._refresh_controls()

    def resume(self, run_dir: str | Path | None = None, background: bool | None = None):
        """Continue a paused search.

        A search paused in its thread continues at once. One paused at a checkpoint (main
        thread) continues with ``run_search(resume=run_dir)`` - in the background when live
        (``background=None``), in the foreground when headless; ``run_dir`` defaults to the
        folder of the run this dashboard started.
        """
        with self._lock:
            self._pause = False
            if self._blocked or self.running:
                self._go.set()
                self._status = "running"
                self._refresh_controls()
                return self
            self._go.set()
            run_dir = Path(run_dir) if run_dir is not None else self._run_dir
            if run_dir is None:
                raise RuntimeError("nothing to resume: no paused search, and no run folder known; "
                                   "call dash.resume(run_dir) or run_search(resume=run_dir, callback=dash)")
        if background is None:
            background = not self.headless
        kwargs = dict(self._run_kwargs)
        if background:
            return self.start(resume=run_dir, **kwargs)
        return self.run(resume=run_dir, **kwargs)

    def _prepare(self, out_dir, resume, kwargs) -> None:
        if self.running:
            raise RuntimeError("this dashboard already runs a search; dash.stop() it or use another dashboard")
        self._stop = self._pause = False
        self._go.set()
        self._checkpoint_pause = None
        self._result = self._error = None
        target = resume if resume is not None else out_dir
        self._run_dir = Path(target) if target is not None else None
        self._run_kwargs = {k: v for k, v in kwargs.items() if k in ("progress", "echo")}
        self._status = "running"

    def run(self, config=None, out_dir: str | Path | None = None, resume: str | Path | None = None, **kwargs):
        """``run_search(config, out_dir, resume, callback=self, **kwargs)`` in this thread; its result."""
        from .search import run_search

        with self._lock:
            self._prepare(out_dir, resume, kwargs)
            self._refresh_controls()
        try:
            result = run_search(config, out_dir=out_dir, resume=resume, callback=self, **kwargs)
        except BaseException as err:
            self._finish(None, err)
            raise
        self._finish(result, None)
        return result

    def start(self, config=None, out_dir: str | Path | None = None, resume: str | Path | None = None,
              background: bool | None = None, **kwargs):
        """Run the search in a background thread (live) and return the dashboard at once.

        The cell ends, the kernel stays free and Pause/Resume/Stop act while the search runs;
        :meth:`wait` or :attr:`result` give the ``SearchResult``. Headless (papermill), or with
        ``background=False``, the search runs in the foreground before ``start`` returns, so
        a batch run waits for it. Returns ``self`` (as a cell's last line it shows the dashboard).
        """
        if background is None:
            background = not self.headless
        if not background:
            self.run(config, out_dir=out_dir, resume=resume, **kwargs)
            return self
        from .search import run_search

        self.widget  # build the widgets first (the first FigureWidget imports a lot) - not in the race
        with self._lock:
            self._prepare(out_dir, resume, kwargs)
            parent = _cell_parent()
            gate = bool(self.wait_for_view and self._ui is not None and not self._ui.rendered.is_set()
                        and _in_kernel())
            self.view_wait_seconds = None
            if gate:
                self._view_gate.clear()
                self._status = "waiting for the page to draw the dashboard; the search starts then"
                print(f"AlphaDashboard: the search starts once the page has drawn the dashboard "
                      f"(at most {self.wait_for_view:.0f} s; dash.wait() starts it at once)")

            def main():
                _set_thread_parent(parent)
                if gate:
                    self._await_view()
                result, error = None, None
                try:
                    result = run_search(config, out_dir=out_dir, resume=resume, callback=self, **kwargs)
                except BaseException as err:  # reported by wait() and in the status line
                    error = err
                self._finish(result, error)

            self._thread = threading.Thread(target=main, name="gibbsnas-dashboard-search", daemon=True)
            self._thread.start()
            self._refresh_controls()
        return self

    def _await_view(self) -> None:
        """In the search thread, before the search: wait until the page has drawn the figure.

        The signal is plotly's front end reporting back after ``Plotly.newPlot`` (the view's
        ``_js2py_layoutDelta``/``_js2py_traceDeltas``), which the kernel handles once the cell
        that called :meth:`start` has ended. A dashboard not put in an output within 2 s (no
        ``_repr_mimebundle_``: not the cell's last line, not displayed) is not waited for.
        """
        t0 = time.perf_counter()
        if not self._shown.wait(2.0):
            self._view_gate.set()
            return
        drawn = self._view_gate.wait(max(0.0, self.wait_for_view - (time.perf_counter() - t0)))
        with self._lock:
            self.view_wait_seconds = time.perf_counter() - t0
            self._view_wait_reason = ("the page had drawn the dashboard" if self._ui is not None
                                      and self._ui.rendered.is_set() else "dash.wait() or Stop" if drawn
                                      else "the page had not drawn it in time")
            if self._status.startswith("waiting for the page"):
                self._status = "running"
            if not drawn:
                self._note(f"the page had not drawn the dashboard after {self.wait_for_view:.0f} s; "
                           f"the search started anyway")
                print(f"AlphaDashboard: the page had not drawn the dashboard after {self.wait_for_view:.0f} s; "
                      f"the search starts anyway")
            self._view_gate.set()
            self._refresh_controls()

    def wait(self, timeout: float | None = None):
        """Block until a background search ends; its ``SearchResult`` (re-raises its error).

        While ``wait`` blocks the kernel, the buttons cannot act; call it in a later cell, or
        read :attr:`result` once the status line says the search finished. (Blocked, the kernel
        cannot hear from the page either: a search still waiting for the page to draw the
        dashboard starts at once.)
        """
        self._view_gate.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            if self._blocked and not self._go.is_set() and threading.current_thread() is threading.main_thread():
                raise RuntimeError("the search is paused; resume it (button or dash.resume()) before wait()")
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"the search is still running after {timeout} s")
        if self._error is not None:
            raise self._error
        return self._result

    def _finish(self, result, error) -> None:
        with self._lock:
            self._result, self._error = result, error
            if result is not None and result.history.epochs:
                rec = result.history.epochs[-1]
                key = (int(rec.get("epoch", 0)), 1, 0)
                if not any(e.key == key for e in self._entries):
                    # the last epoch record reached no callback (older loops recorded a stopped
                    # epoch without calling back); never re-read one we have (that would cut
                    # the records after it)
                    try:
                        self._ingest({"kind": "epoch", **rec})
                    except Exception as err:
                        self._note(f"could not read the final record: {err}")
            if error is not None:
                self._status = f"failed: {type(error).__name__}: {error}"
            elif self._checkpoint_pause is not None:
                pass  # the status line already says how to resume
            elif result is not None:
                where = "stopped early" if result.stopped_early else "finished"
                self._status = (f"{where}: {len(result.history.epochs)} epoch(s) in {result.seconds:.1f} s, "
                                f"dashboard overhead {self.overhead_fraction(result.seconds):.1%}")
                if self.view_wait_seconds is not None:
                    self._status += f"; started {self.view_wait_seconds:.1f} s after start(): {self._view_wait_reason}"
            self._stop = self._pause = False
            self._events_from_thread = False
            self._go.set()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._ui is not None:
                self._draw()
                self._ui.store_state()
            self._refresh_controls(finished=True)

    def overhead_fraction(self, total_seconds: float | None = None) -> float:
        """(Callback time without pauses + trailing redraws) / ``total_seconds`` (default: the run's)."""
        if total_seconds is None:
            total_seconds = self._result.seconds if self._result is not None else None
        if not total_seconds:
            return float("nan")
        return (self.stats.callback_seconds + self.stats.trailing_seconds) / total_seconds

    # ------------------------------------------------------------------ replay
    @classmethod
    def replay(cls, source: Any, space: str = "auto", **kwargs) -> "AlphaDashboard":
        """A dashboard over a finished (or killed) run's history, with a slider over its records.

        ``source``: a run folder, its ``history.jsonl``, a ``History`` or a ``SearchResult``.
        ``dash.position = k`` (or the slider) shows the state after record k; the last record
        reproduces the final state of the live dashboard (alpha, std, curves, cell).
        """
        from .search.history import History

        if hasattr(source, "history") and not isinstance(source, (str, Path)):
            history = source.history
        elif isinstance(source, History):
            history = source
        else:
            history = History.load(Path(source))
        dash = cls(space=space, **kwargs)
        dash._replay = True
        for event in _history_events(history):
            try:
                dash._ingest(event)
            except Exception as err:
                dash._note(f"skipped a record: {err}")
        if not dash._entries:
            dash._note("the history holds no records")
        dash._status = f"replay of {len(dash._entries)} records"
        return dash

    # ------------------------------------------------------------------ drawing
    def _should_draw(self, force: bool, epoch: bool = False) -> bool:
        now = time.perf_counter()
        if force:
            return True
        if not epoch:  # epoch records skip these two limits, not the overhead one
            if self._since_draw < self.update_every:
                return False
            if now - self._last_draw_end < self.min_interval:
                return False
        if self.max_overhead is None:
            return True
        # adaptive: the last redraw's cost must be <= max_overhead of the time since it ended
        return self._last_draw_cost <= self.max_overhead * (now - self._last_draw_end)

    def redraw(self) -> None:
        """Redraw now (normally automatic)."""
        with self._lock:
            if self._ui is not None:
                self._draw()

    def flush(self) -> None:
        """Draw now if throttling held a redraw back (the timer would do it a little later)."""
        with self._lock:
            if self._pending and self._ui is not None:
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
                self._draw()

    def _schedule_trailing(self) -> None:
        """Redraw once the limits allow it, so the newest record shows even if no event follows."""
        if self._timer is not None and self._timer.is_alive():
            return
        since = time.perf_counter() - self._last_draw_end
        wait = self.min_interval - since
        if self.max_overhead is not None:
            wait = max(wait, self._last_draw_cost / self.max_overhead - since)
        self._timer = threading.Timer(max(wait, 0.05), self._trailing_draw)
        self._timer.daemon = True
        self._timer.start()

    def _trailing_draw(self) -> None:
        with self._lock:
            self._timer = None
            if not self._pending or self._ui is None:
                return
            t0 = time.perf_counter()
            self._draw()
            self.stats.trailing_seconds += time.perf_counter() - t0

    def _draw(self) -> None:
        if self._ui is None or self._draw_errors >= 3:
            return
        t0 = time.perf_counter()
        try:
            self._ui.draw(self._snapshot(self._position))
            self._draw_errors = 0
        except Exception as err:  # never let drawing kill the search
            self._draw_errors += 1
            self._note(f"redraw failed ({type(err).__name__}: {err})"
                       + ("; live drawing switched off" if self._draw_errors >= 3 else ""))
        t1 = time.perf_counter()
        self._last_draw_cost = t1 - t0
        self._last_draw_end = t1
        self._since_draw = 0
        self._pending = False
        self.stats.redraws += 1
        self.stats.draw_seconds += t1 - t0
        self.stats.max_draw_seconds = max(self.stats.max_draw_seconds, t1 - t0)

    def _status_html(self) -> str:
        parts = [f"<b>{html.escape(self._status)}</b>"]
        if self._entries:
            snap_where = self._snapshot(self._position)["where"] if self._position is not None else None
            last = self._entries[-1]
            where = snap_where or (f"epoch {last.epoch + 1}, step {last.step + 1}" if last.kind == "alpha"
                                   else f"end of epoch {last.epoch + 1}")
            parts.append(html.escape(f"{where} · {len(self._entries)} records"))
        if self._ui is not None and not self._replay and not self._controls_live():
            parts.append("<i>Pause/Stop act on searches started with dash.start(...): a cell running "
                         "run_search in the foreground keeps the kernel from handling clicks</i>")
        for note in self._notes[-3:]:
            parts.append(f"<span style='color:#b00'>{html.escape(note)}</span>")
        return " &nbsp;|&nbsp; ".join(parts)

    def _controls_live(self) -> bool:
        """Whether a click can act now: a search runs outside the kernel's main thread, or is paused."""
        return self.running or self._blocked or self._events_from_thread or self._checkpoint_pause is not None

    def _sync_controls(self) -> None:
        if self._ui is not None:
            self._ui.sync_controls()

    def _refresh_controls(self, finished: bool = False) -> None:
        if self._ui is not None:
            try:
                self._ui.sync_controls(finished=finished)
                self._ui.status.value = self._status_html()
            except Exception as err:
                self._note(f"controls: {err}")

    @property
    def widget(self):
        """The ipywidgets box (built on first use; None when headless)."""
        if self.headless:
            return None
        with self._lock:
            if self._ui is None:
                self._ui = _LiveUI(self)
                self._draw()
            return self._ui.box

    @property
    def figure(self):
        """The live ``go.FigureWidget`` (one per dashboard, all panels as subplots; None headless)."""
        if self.widget is None:
            return None
        return self._ui.fig

    @property
    def panels(self) -> dict[str, Any]:
        """The live figure's panels by name, each with ``.data`` (its traces) and ``.title``:
        ``edge`` (α bars, softmax bars), ``alpha``, ``softmax``, ``heatmap``, ``curves`` (the
        8 loss/accuracy lines), ``loss``, ``accuracy``, ``benchmark``, ``cell``. ``{}`` headless."""
        if self.widget is None:
            return {}
        return {name: self._ui.panel(name) for name in self._ui.PANEL_NAMES}

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        widget = self.widget
        if widget is not None:
            self._shown.set()
            return widget._repr_mimebundle_(include=include, exclude=exclude, **kwargs)
        with self._lock:
            if not self._entries:
                return {"text/plain": f"AlphaDashboard (headless: {self.headless_reason}); no records yet - "
                                      f"display it, or call dash.final_figure(), after the search"}
            fig = self.final_figure()
            return {
                "application/vnd.plotly.v1+json": _jsonable(fig.to_plotly_json()),
                "text/html": self._summary_html(),
                "text/plain": self._summary_text(),
            }

    def _summary_rows(self) -> list[tuple[str, str]]:
        snap = self._snapshot(self._position)
        rows = [("records", str(len(self._entries))), ("at", snap["where"])]
        ep = snap["epochs"]
        if len(ep["x"]):
            for k in _METRICS:
                v = ep[k][-1]
                if np.isfinite(v):
                    rows.append((f"last epoch {k}", f"{v:.4f}"))
            if np.isfinite(ep["cifar10_test"][-1]):
                rows.append(("NB201 cifar10 test", f"{ep['cifar10_test'][-1]:.2f} %"))
        if snap["arch"]:
            rows.append(("arch", snap["arch"]))
        return rows

    def _summary_text(self) -> str:
        return "AlphaDashboard (static)\n" + "\n".join(f"  {k}: {v}" for k, v in self._summary_rows())

    def _summary_html(self) -> str:
        cells = "".join(f"<tr><td>{html.escape(k)}</td><td><code>{html.escape(v)}</code></td></tr>"
                        for k, v in self._summary_rows())
        return f"<table><caption>AlphaDashboard (static summary)</caption>{cells}</table>"

    # ------------------------------------------------------------------ figures (shared)
    def _cell_figure(self, arch: str | None, block: str | None):
        """The derived cell as a plotly figure (cached; None when none can be drawn)."""
        spec = self._cell_spec(arch, block)
        if spec is None:
            return None
        import plotly.graph_objects as go

        return go.Figure(spec)

    def _cell_spec(self, arch: str | None, block: str | None) -> dict | None:
        """``{"data": [...], "layout": {...}}`` of the derived cell, as plain dicts.

        NB201 cells all have the same geometry (``nb201_cell_figure`` draws every edge, ``none``
        dashed, with fixed bends), so one template is drawn and later archs only change
        each edge's colour, dash, name, hover text and label: a few microseconds instead of
        a 0.1 s figure build (tests check the result equals ``nb201_cell_figure(arch)``).
        """
        if not arch:
            return None
        key = (arch, block or "")
        spec = self._cell_cache.get(key)
        if spec is not None:
            return spec
        from .plots import cells

        space = self.layout.space if self.layout else "nb201"
        if space == "nb201":
            template = self._cell_cache.get(("<nb201 template>", ""))
            if template is None:
                fig = cells.nb201_cell_figure(arch)
                template = {"arch": arch, "spec": fig.to_plotly_json()}
                self._cell_cache[("<nb201 template>", "")] = template
            spec = _patch_nb201(template["spec"], template["arch"], arch)
        elif space == "darts":
            from .spaces.darts.genotypes import parse_genotype

            which = block if block in ("normal", "reduce") else "normal"
            spec = cells.darts_cell_figure(parse_genotype(arch, steps=None), which=which).to_plotly_json()
        else:
            return None
        if len(self._cell_cache) > 256:
            template = self._cell_cache.get(("<nb201 template>", ""))
            self._cell_cache.clear()
            if template is not None:
                self._cell_cache[("<nb201 template>", "")] = template
        self._cell_cache[key] = spec
        return spec

    def _edge_traces(self, snap: dict[str, Any]) -> list[dict[str, Any]]:
        ops = snap["ops"]
        empty = [None] * len(ops)
        alpha = _or_none(snap["alpha"]) if snap["alpha"] is not None else empty
        probs = _or_none(snap["probs"]) if snap["probs"] is not None else empty
        std = snap["std"]
        err = dict(type="data", array=_or_none(std), visible=True) if std is not None \
            else dict(type="data", array=None, visible=False)
        return [
            dict(type="bar", x=list(ops), y=alpha, error_y=err, name="α",
                 marker=dict(color="#4c78a8"), hovertemplate="%{x}: α = %{y:.4f}<extra></extra>"),
            dict(type="bar", x=list(ops), y=probs, name="softmax(α)",
                 marker=dict(color="#f58518"), hovertemplate="%{x}: p = %{y:.4f}<extra></extra>"),
        ]

    def _edge_title(self, snap: dict[str, Any]) -> str:
        src = snap["std_source"] or "no std for this method"
        return f"{snap['edge'] or 'edge'} · α ± std ({src}) | softmax(α) · {snap['where']}"

    def _curve_traces(self, snap: dict[str, Any], max_points: int) -> list[dict[str, Any]]:
        traces = []
        st, ep = snap["steps"], snap["epochs"]
        keep = _decimate(len(st["x"]), max_points)
        for k in _METRICS:
            kind = k.split("_")[0]
            x, y = st["x"], st[k]
            if keep is not None:
                x, y = x[keep], y[keep]
            x, y = _finite(x, y)
            traces.append(dict(type="scatter", mode="lines", x=x, y=y, name=f"{k} (step)",
                               line=dict(color=_COLORS[kind], width=1), opacity=0.55,
                               legendgroup=kind, showlegend=k.endswith("loss")))
        for k in _METRICS:
            kind = k.split("_")[0]
            keep = np.isfinite(ep[k])
            traces.append(dict(type="scatter", mode="lines+markers", x=ep["x"][keep], y=ep[k][keep],
                               name=f"{k} (epoch)",
                               line=dict(color=_COLORS[kind], width=2, dash="dot"), marker=dict(size=7),
                               legendgroup=kind, showlegend=k.endswith("loss"),
                               customdata=ep["epoch"][keep],
                               hovertemplate="epoch %{customdata}: %{y:.4f}<extra>" + k + "</extra>"))
        return traces

    def final_figure(self, position: int | None = None, max_points: int = 300):
        """A static, small ``go.Figure`` of the dashboard at ``position`` (default: shown one).

        Panels: alpha ± std and softmax of the picked edge, the heat map of its cell type, the
        derived cell, loss and accuracy curves (thinned to ``max_points`` per line), and the
        NB201 benchmark accuracy per epoch. Works live and headless.
        """
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        with self._lock:
            snap = self._snapshot(self._position if position is None else position)
            cell = self._cell_spec(snap["arch"], snap["block"])
        fig = make_subplots(
            rows=2, cols=3, horizontal_spacing=0.08, vertical_spacing=0.16,
            subplot_titles=(f"{snap['edge']}: α ± std", "softmax(α)" + (f" · {snap['block']}" if snap["block"]
                                                                          and snap["space"] == "darts" else ""),
                            "derived cell", "loss", "accuracy", "NB201 cifar10 test acc (%)"),
        )
        edge = self._edge_traces(snap)
        fig.add_trace(go.Bar(**{k: v for k, v in edge[0].items() if k != "type"}), row=1, col=1)
        fig.add_trace(go.Scatter(x=edge[1]["x"], y=edge[1]["y"], mode="markers", name="softmax(α)",
                                 marker=dict(color="#f58518", size=9, symbol="diamond")),
                      row=1, col=1)
        if snap["heatmap"] is not None:
            z = np.asarray(snap["heatmap"], float).round(3)
            fig.add_trace(go.Heatmap(z=z, x=snap["ops"], y=snap["rows"], colorscale="Blues", zmin=0, zmax=1,
                                     showscale=False, texttemplate="%{z:.2f}", name="softmax(α)"), row=1, col=2)
            fig.update_yaxes(autorange="reversed", type="category", row=1, col=2)
        if cell is not None:
            sub = fig.get_subplot(1, 3)
            xref, yref = sub.xaxis.plotly_name.replace("axis", ""), sub.yaxis.plotly_name.replace("axis", "")
            for tr in cell["data"]:
                fig.add_trace(tr, row=1, col=3)
            for ann in cell["layout"].get("annotations", []):
                a = dict(ann)
                a.update(xref=xref, yref=yref)
                if "axref" in a:
                    a.update(axref=xref, ayref=yref)
                fig.add_annotation(a)
            fig.update_xaxes(visible=False, row=1, col=3)
            fig.update_yaxes(visible=False, scaleanchor=xref, row=1, col=3)
        for tr in self._curve_traces(snap, max_points):
            col = 1 if tr["name"].split(" ")[0].endswith("loss") else 2
            fig.add_trace(go.Scatter(**{k: v for k, v in tr.items() if k != "type"}), row=2, col=col)
        ex, bench = _finite(snap["epochs"]["epoch"], snap["epochs"]["cifar10_test"])
        if len(bench):
            fig.add_trace(go.Scatter(x=ex, y=bench, mode="lines+markers",
                                     name="NB201 cifar10 test", line=dict(color="#54a24b")), row=2, col=3)
        fig.update_xaxes(title_text=snap["step_axis"], row=2, col=1)
        fig.update_xaxes(title_text=snap["step_axis"], row=2, col=2)
        fig.update_xaxes(title_text="epoch", row=2, col=3)
        title = self.title or "GibbsNAS α dashboard"
        arch = f"<br><sup>{html.escape(snap['arch_source'] or '')}: {html.escape(snap['arch'])}</sup>" \
            if snap["arch"] else ""
        fig.update_layout(title=f"{title} · {snap['where']}{arch}", height=720, barmode="group",
                          margin=dict(l=60, r=30, t=110, b=50), showlegend=True,
                          legend=dict(orientation="h", y=-0.12))
        return fig

    def __repr__(self) -> str:
        mode = "headless" if self.headless else "live"
        return (f"AlphaDashboard(space={self.space!r}, {mode}, records={len(self._entries)}, "
                f"status={self._status!r})")


# ----------------------------------------------------------------------------- live widgets
def _cell_parent():
    try:
        from IPython import get_ipython

        ip = get_ipython()
        if ip is not None and hasattr(ip, "kernel") and ip.kernel is not None:
            return ip.kernel.get_parent()
    except Exception:
        pass
    return None


def _set_thread_parent(parent) -> None:
    """Route the search thread's output to the cell that started it (ipykernel >= 7 API)."""
    if not parent:
        return
    try:
        from IPython import get_ipython

        ip = get_ipython()
        setter = getattr(ip, "set_thread_parent", None)
        if setter is not None:
            setter(parent)
    except Exception:
        pass


_EAGER_FIGURE_WIDGET = None


def _figure_widget(fig):
    """``go.FigureWidget(fig)`` whose comm opens with the whole figure in its first message.

    plotly's FigureWidget opens its comm with an empty figure and sends the traces and layout
    as updates right after. anywidget (0.11) holds a model's messages until the widget's
    4.9 MB ES module has been imported, while a view created meanwhile renders the model's
    state as it is then: the empty figure, which later updates (restyles of traces the view
    never got) do not repair. Seen in JupyterLab in headless Chromium on a busy machine
    (tests/test_browser.py): 3 of 5 dashboard figures stayed empty. Opening the comm only
    once the figure is complete leaves nothing for such a view to miss.
    """
    global _EAGER_FIGURE_WIDGET
    if _EAGER_FIGURE_WIDGET is None:
        from copy import deepcopy

        import plotly.graph_objects as go

        class EagerFigureWidget(go.FigureWidget):
            def __init__(self, *args, **kwargs):
                self._gn_defer_open = True
                super().__init__(*args, **kwargs)
                self._widget_layout = deepcopy(self._layout_obj._props)
                self._widget_data = deepcopy(self._data)
                self._gn_defer_open = False
                self.open()

            def open(self):
                if not getattr(self, "_gn_defer_open", False):
                    super().open()

        _EAGER_FIGURE_WIDGET = EagerFigureWidget
    return _EAGER_FIGURE_WIDGET(fig)


class _Panel:
    """A read-only view of one panel of the dashboard's single figure: its traces and title
    (looked up on each access, so it follows the figure)."""

    def __init__(self, ui: "_LiveUI", name: str):
        self._ui, self.name = ui, name

    @property
    def data(self) -> tuple:
        fig = self._ui.fig
        return tuple(fig.data[i] for i in self._ui.trace_indices(self.name))

    @property
    def title(self) -> str:
        title = {"edge": "alpha", "curves": "loss"}.get(self.name, self.name)
        return self._ui.fig.layout.annotations[self._ui.title_index[title]].text

    @property
    def visible(self) -> bool:
        return any(t.visible is not False for t in self.data)

    def __repr__(self) -> str:
        return f"<panel {self.name}: {self.title!r}, {len(self.data)} trace(s)>"


# The dashboard's panels in the one FigureWidget: (row, col) of the 3x3 grid, in the order of
# make_subplots' subplot-title annotations (row by row).
_PANELS = {"alpha": (1, 1), "softmax": (1, 2), "heatmap": (1, 3), "loss": (2, 1), "accuracy": (2, 2),
           "benchmark": (2, 3), "cell": (3, 1)}
_BENCH_TITLE = "NB201 CIFAR-10 test acc (%)"


class _LiveUI:
    """ipywidgets controls + ONE plotly FigureWidget per dashboard (all calls under the dashboard's lock).

    One figure, not five: every ``FigureWidget`` ships plotly's whole 4.9 MB JavaScript module to
    the page (anywidget imports each model's ``_esm`` separately), and a page slow to load them
    missed a short search (docs/browser_test.md). The panels are subplots of a 3x3 grid:

    * row 1: α ± std of the picked edge (bars, error bars) | its softmax(α) | heat map of
      softmax(α) over all edges x ops;
    * row 2: loss | accuracy (per recorded step: lines, per epoch: markers) | NB201 CIFAR-10
      test accuracy of the derived cell per epoch (hidden for DARTS);
    * row 3 (whole width): the derived cell.

    Trace order: 0 α bars, 1 softmax bars, 2 heat map, 3-10 curves, 11 benchmark, 12... cell.
    Every redraw is one ``batch_update`` (one message) with full arrays and texts, so a view
    that missed earlier updates catches up at the next redraw. The live :meth:`AlphaDashboard.start`
    waits for :attr:`rendered` (the page drew the figure) before the search starts.
    """

    N_FIXED = 12  # traces before the cell's

    def __init__(self, dash: AlphaDashboard):
        import ipywidgets as W
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        self.dash = dash
        self._quiet = False
        self._cell_arch: tuple[str, str] | None = None
        self._cell_applied: list[dict] | None = None
        self._cell_ann: Any = None
        self.rendered = threading.Event()  # set when a view in the page has drawn the figure
        self.view_seconds: float | None = None
        self._t_built = time.perf_counter()
        snap = dash._snapshot(dash._position)
        layout = dash.layout or _layout_for("nb201")
        titles = [self._panel_title(name, snap) for name in _PANELS]
        fig = make_subplots(rows=3, cols=3, specs=[[{}, {}, {}], [{}, {}, {}], [{"colspan": 3}, None, None]],
                            subplot_titles=titles, horizontal_spacing=0.09, vertical_spacing=0.1,
                            row_heights=[0.32, 0.3, 0.38])
        self.refs = {}
        for name, (row, col) in _PANELS.items():
            sub = fig.get_subplot(row, col)
            self.refs[name] = (sub.xaxis.plotly_name.replace("axis", ""), sub.yaxis.plotly_name.replace("axis", ""))
        edge = dash._edge_traces(snap)
        fig.add_trace(go.Bar(**{k: v for k, v in edge[0].items() if k != "type"}, showlegend=False), row=1, col=1)
        fig.add_trace(go.Bar(**{k: v for k, v in edge[1].items() if k != "type"}, showlegend=False), row=1, col=2)
        fig.update_yaxes(range=[0, 1], row=1, col=2)
        dom_x = fig.layout[self.refs["heatmap"][0].replace("x", "xaxis")].domain
        dom_y = fig.layout[self.refs["heatmap"][1].replace("y", "yaxis")].domain
        fig.add_trace(go.Heatmap(z=[[None] * len(layout.cols)] * len(layout.rows), x=list(layout.cols),
                                 y=list(layout.rows), colorscale="Blues", zmin=0, zmax=1, texttemplate="%{z:.2f}",
                                 name="softmax(α)", hovertemplate="%{y} · %{x}: %{z:.3f}<extra></extra>",
                                 colorbar=dict(title="p", x=dom_x[1] + 0.01, y=(dom_y[0] + dom_y[1]) / 2,
                                               len=dom_y[1] - dom_y[0], thickness=12)),
                      row=1, col=3)
        fig.update_yaxes(autorange="reversed", type="category", row=1, col=3)
        fig.update_xaxes(type="category", tickangle=30, row=1, col=3)
        for tr in dash._curve_traces(snap, dash.max_points):
            col = 1 if tr["name"].split(" ")[0].endswith("loss") else 2
            fig.add_trace(go.Scatter(**{k: v for k, v in tr.items() if k != "type"}), row=2, col=col)
        fig.update_xaxes(title_text=snap["step_axis"], row=2, col=1)
        fig.update_xaxes(title_text=snap["step_axis"], row=2, col=2)
        fig.add_trace(go.Scatter(x=[], y=[], mode="lines+markers", line=dict(color="#54a24b"), name="cifar10 test",
                                 showlegend=False, hovertemplate="epoch %{x}: %{y:.2f} %<extra></extra>"),
                      row=2, col=3)
        fig.update_xaxes(title_text="epoch", row=2, col=3)
        fig.update_xaxes(visible=False, row=3, col=1)
        fig.update_yaxes(visible=False, scaleanchor=self.refs["cell"][0], scaleratio=1, row=3, col=1)
        # the curves' legend: in the empty left part of the (centred) cell drawing's row
        cy = fig.layout[self.refs["cell"][1].replace("y", "yaxis")].domain
        fig.update_layout(height=980, width=940, plot_bgcolor="white", barmode="group",
                          title=dict(text=self._figure_title(snap), font=dict(size=14), x=0.01),
                          margin=dict(l=60, r=60, t=90, b=20),
                          legend=dict(x=0, y=cy[1], xanchor="left", yanchor="top", font=dict(size=10),
                                      title=dict(text="curves (loss and accuracy)"),
                                      bgcolor="rgba(255,255,255,0.75)"))
        for ann in fig.layout.annotations:
            ann.font.size = 12
        assert len(fig.data) == self.N_FIXED, len(fig.data)
        self.fig = _figure_widget(fig)
        if layout.space == "nb201":  # draw the cell template now (~0.1 s), not in the search's first redraws
            try:
                dash._cell_spec("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", None)
            except Exception as err:  # drawn later then
                dash._note(f"could not prepare the cell drawing: {err}")
        self.fig.observe(self._on_view_message, names=["_js2py_layoutDelta", "_js2py_traceDeltas",
                                                       "_js2py_relayout"])
        self.n_titles = len(self.fig.layout.annotations)
        self.title_index = {name: i for i, name in enumerate(_PANELS)}
        # controls
        self.pause = W.Button(description="Pause", icon="pause", layout=W.Layout(width="110px"),
                              tooltip="pause the search at its next event (searches started with dash.start)")
        self.stop = W.Button(description="Stop", icon="stop", button_style="danger", layout=W.Layout(width="100px"),
                             tooltip="stop the search at its next event; resumable from its last checkpoint")
        self.pause.on_click(self._on_pause)
        self.stop.on_click(self._on_stop)
        self.picker = W.Dropdown(description="edge", layout=W.Layout(width="260px"))
        self.rebuild_picker()
        self.picker.observe(self._on_pick, names="value")
        self.status = W.HTML(layout=W.Layout(flex="1 1 auto"))
        self.slider = None
        if dash._replay:
            n = max(1, len(dash._entries))
            value = n - 1 if dash._position is None else dash._position
            self.slider = W.IntSlider(value=value, min=0, max=n - 1, description="record",
                                      continuous_update=False, layout=W.Layout(width="420px"))
            self.play = W.Play(value=value, min=0, max=n - 1, interval=300, description="play")
            W.jslink((self.play, "value"), (self.slider, "value"))
            self.slider.observe(self._on_slide, names="value")
            controls = [self.play, self.slider, self.picker]
        else:
            controls = [self.pause, self.stop, self.picker]
        self.box = W.VBox([W.HBox(controls + [self.status], layout=W.Layout(align_items="center")), self.fig])
        self.sync_controls()

    # -- the panels
    PANEL_NAMES = ("edge", "alpha", "softmax", "heatmap", "curves", "loss", "accuracy", "benchmark", "cell")

    def trace_indices(self, name: str) -> list[int]:
        """Indices into ``fig.data`` of a panel's traces."""
        curves = range(3, self.N_FIXED - 1)
        if name == "edge":
            return [0, 1]
        if name in ("alpha", "softmax", "heatmap"):
            return [("alpha", "softmax", "heatmap").index(name)]
        if name == "curves":
            return list(curves)
        if name in ("loss", "accuracy"):
            suffix = "loss" if name == "loss" else "acc"
            return [i for i in curves if self.fig.data[i].name.split(" ")[0].endswith(suffix)]
        if name == "benchmark":
            return [self.N_FIXED - 1]
        if name == "cell":
            return list(range(self.N_FIXED, len(self.fig.data)))
        raise KeyError(f"no panel {name!r}; panels: {', '.join(self.PANEL_NAMES)}")

    def panel(self, name: str) -> _Panel:
        self.trace_indices(name)  # KeyError for an unknown name
        return _Panel(self, name)

    def _figure_title(self, snap: dict[str, Any]) -> str:
        title = html.escape(self.dash.title or "GibbsNAS α dashboard")
        src = snap["std_source"] or "no std for this method"
        return f"{title} · {html.escape(snap['where'])}<br><sup>error bars: {html.escape(src)}</sup>"

    def _panel_title(self, name: str, snap: dict[str, Any]) -> str:
        edge = snap["edge"] or "edge"
        if name == "alpha":
            return f"{edge}: α ± std"
        if name == "softmax":
            return f"{edge}: softmax(α)"
        if name == "heatmap":
            return "softmax(α), all edges" + (f" · {snap['block']} cell" if snap["space"] == "darts" else "")
        if name == "loss":
            return "loss"
        if name == "accuracy":
            return "accuracy"
        if name == "benchmark":
            return _BENCH_TITLE if snap["space"] == "nb201" else ""
        if name == "cell":
            return f"derived cell · {snap['arch_source']}" if snap["arch"] else "derived cell (none yet)"
        raise KeyError(name)

    # -- the page
    def _on_view_message(self, change) -> None:
        """A view in the page drew the figure: after ``Plotly.newPlot`` plotly's front end sends
        the full trace and layout deltas back (``_js2py_*Delta``); the kernel gets them once idle."""
        if change.get("new") is not None and not self.rendered.is_set():
            self.view_seconds = time.perf_counter() - self._t_built
            self.rendered.set()
            self.dash._view_gate.set()

    def store_state(self) -> None:
        """Put the figure's whole current state into its widget model, for views made later.

        plotly's FigureWidget front end (7.x, on anywidget) applies updates to the views that
        exist but not to the model's stored figure, so a view made after them (one that took
        long to load, a notebook opened again) showed the figure as first sent. Called when a
        run ends: such a view then shows the final state.
        """
        from copy import deepcopy

        self.fig._widget_layout = deepcopy(self.fig._layout_obj._props)
        self.fig._widget_data = deepcopy(self.fig._data)

    # -- controls
    def rebuild_picker(self) -> None:
        labels = self.dash.edge_labels()
        options = [(label, i) for i, label in enumerate(labels)]
        self._quiet = True
        try:
            if list(self.picker.options) != options:
                self.picker.options = options
            if self.picker.value != self.dash._edge:
                self.picker.value = self.dash._edge
        finally:
            self._quiet = False

    def _on_pick(self, change) -> None:
        if self._quiet:
            return
        with self.dash._lock:
            if change["new"] is not None and change["new"] != self.dash._edge:
                self.dash._edge = int(change["new"])
            self.dash._draw()

    def _on_slide(self, change) -> None:
        if self._quiet:
            return
        with self.dash._lock:
            self.dash._position = int(change["new"])
            self.dash._draw()

    def set_slider(self, value: int | None) -> None:
        if self.slider is not None:
            n = max(1, len(self.dash._entries))
            self.slider.max = n - 1
            self.play.max = n - 1
            target = n - 1 if value is None else value
            self._quiet = True
            try:
                if self.slider.value != target:
                    self.slider.value = target
            finally:
                self._quiet = False

    def _on_pause(self, _button) -> None:
        if self.pause.disabled:  # a click queued while nothing could act on it
            return
        if self.dash._pause or self.dash.paused:
            try:
                self.dash.resume()
            except RuntimeError as err:
                self.dash._note(str(err))
                self.dash._refresh_controls()
        else:
            self.dash.pause()

    def _on_stop(self, _button) -> None:
        if not self.stop.disabled:
            self.dash.stop()

    def sync_controls(self, finished: bool = False) -> None:
        d = self.dash
        pause_enabled = (d._controls_live() and not finished) or d._checkpoint_pause is not None
        paused = d._pause or d.paused
        want = ("Resume", "play") if paused else ("Pause", "pause")
        if (self.pause.description, self.pause.icon) != want:
            self.pause.description, self.pause.icon = want
        if self.pause.disabled != (not pause_enabled):
            self.pause.disabled = not pause_enabled
        stop_disabled = finished or not (d.running or d._blocked or d._events_from_thread)
        if self.stop.disabled != stop_disabled:
            self.stop.disabled = stop_disabled

    # -- drawing
    def draw(self, snap: dict[str, Any]) -> None:
        d, fig = self.dash, self.fig
        cell = self._cell_update(snap)  # changes the number of cell traces outside the batch
        tr = d._edge_traces(snap)
        with fig.batch_update():
            a, p, h = fig.data[0], fig.data[1], fig.data[2]
            if tuple(a.x or ()) != tuple(tr[0]["x"]):
                a.x, p.x = tr[0]["x"], tr[1]["x"]
            a.y, p.y = tr[0]["y"], tr[1]["y"]
            a.error_y.array = tr[0]["error_y"]["array"]
            a.error_y.visible = tr[0]["error_y"]["visible"]
            if snap["heatmap"] is not None:
                z = np.asarray(snap["heatmap"], dtype=float)
                h.z = np.where(np.isfinite(z), z, None).tolist()  # None (not NaN) for the page
            if tuple(h.y or ()) != tuple(snap["rows"]) or tuple(h.x or ()) != tuple(snap["ops"]):
                h.x, h.y = list(snap["ops"]), list(snap["rows"])
            for trace, spec in zip(fig.data[3:11], d._curve_traces(snap, d.max_points)):
                trace.x, trace.y = spec["x"], spec["y"]
                if "customdata" in spec:
                    trace.customdata = spec["customdata"]
            lx = self.refs["loss"][0].replace("x", "xaxis")
            if fig.layout[lx].title.text != snap["step_axis"]:
                fig.update_xaxes(title_text=snap["step_axis"], row=2, col=1)
                fig.update_xaxes(title_text=snap["step_axis"], row=2, col=2)
            bench = fig.data[11]
            nb201 = snap["space"] == "nb201"
            x, y = _finite(snap["epochs"]["epoch"], snap["epochs"]["cifar10_test"])
            bench.x, bench.y = x, y
            if bool(bench.visible is not False) != nb201:
                bench.visible = nb201
                fig.update_xaxes(visible=nb201, row=2, col=3)
                fig.update_yaxes(visible=nb201, row=2, col=3)
            texts = [self._panel_title(name, snap) for name in _PANELS]
            # (reads inside a batch give the values from before it: compare, then assign)
            if cell is None or not self._apply_cell(cell, texts):
                anns = fig.layout.annotations
                for i, text in enumerate(texts):
                    if anns[i].text != text:
                        anns[i].text = text
            title = self._figure_title(snap)
            if fig.layout.title.text != title:
                fig.layout.title.text = title
        self.status.value = d._status_html()
        if self.slider is not None and d._position is None:
            self.set_slider(None)

    def _cell_update(self, snap: dict[str, Any]) -> tuple[list[dict], list] | None:
        """The derived cell's new traces and annotations when it changed (None: unchanged).

        A new trace structure (first cell, DARTS genotypes) replaces the cell's traces here, outside
        the redraw's batch; the values are set in the batch by :meth:`_apply_cell`.
        """
        key = (snap["arch"] or "", snap["block"] or "")
        if key == self._cell_arch:
            return None
        new = self.dash._cell_spec(snap["arch"], snap["block"])
        xref, yref = self.refs["cell"]
        specs = [dict(_live_trace(t), xaxis=xref, yaxis=yref) for t in new["data"]] if new is not None else []
        anns = []
        for ann in (new["layout"].get("annotations", []) if new is not None else []):
            a = dict(ann, xref=xref, yref=yref)
            if "axref" in a:
                a.update(axref=xref, ayref=yref)
            anns.append(a)
        fig = self.fig
        same = self._cell_applied is not None and len(specs) == len(fig.data) - self.N_FIXED and \
            all(a.get("type") == b.get("type") for a, b in zip(self._cell_applied, specs))
        if not same:
            if len(fig.data) > self.N_FIXED:
                fig.data = fig.data[: self.N_FIXED]
            if specs:
                fig.add_traces(specs)
            self._cell_applied = specs
        self._cell_arch = key
        return specs, anns

    def _apply_cell(self, cell: tuple[list[dict], list], titles: list[str]) -> bool:
        """Set the cell's values (in the redraw's batch); True when it set all annotations
        (the panel titles ``titles`` included)."""
        specs, anns = cell
        fig = self.fig
        # same trace layout: set only what changed (NB201: colour, dash, name, hover)
        for trace, old, spec in zip(fig.data[self.N_FIXED:], self._cell_applied, specs):
            diff = {k: v for k, v in spec.items() if not _same(old.get(k), v)}
            if diff:
                trace.update(diff)
        self._cell_applied = specs
        if _same_annotations(anns, self._cell_ann):
            return False
        # one assignment is cheaper than many small updates
        current = [fig.layout.annotations[i].to_plotly_json() for i in range(self.n_titles)]
        fig.layout.annotations = [dict(a, text=t) for a, t in zip(current, titles)] + anns
        self._cell_ann = anns
        return True


def _live_trace(spec: dict) -> dict:
    """A cell trace for the live figure: a per-point hover text repeated on every point of an
    edge becomes one ``hovertemplate`` (validating 41 strings per edge made redraws 4x slower)."""
    text = spec.get("text")
    if spec.get("hoverinfo") == "text" and isinstance(text, (list, tuple)) and text \
            and all(t == text[0] for t in text) and "text" not in str(spec.get("mode", "")):
        spec = {k: v for k, v in spec.items() if k not in ("text", "hoverinfo")}
        spec["hovertemplate"] = str(text[0]) + "<extra></extra>"
    return spec


def _patch_nb201(template: dict, template_arch: str, arch: str) -> dict:
    """``nb201_cell_figure(arch).to_plotly_json()`` from one drawn for ``template_arch``.

    Relies on that figure's documented structure: one line trace per edge in ``EDGES`` order
    (all 6 drawn with ``none_style="dashed"``), then the nodes; annotations an arrow and a
    label per edge, in the same order; layout ``meta.arch``.
    """
    from .plots.cells import OP_COLORS
    from .spaces.nb201.arch import EDGES, format_arch, parse_arch

    ops = parse_arch(arch)
    data = [dict(tr) for tr in template["data"]]  # shallow copies: only edited keys are replaced
    layout = dict(template["layout"])
    anns = [dict(a) for a in layout.get("annotations", [])]
    if len(data) != len(EDGES) + 1 or len(anns) != 2 * len(EDGES):
        raise ValueError("nb201_cell_figure changed its structure; cannot patch")
    for k, ((i, j), op) in enumerate(zip(EDGES, ops)):
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


def _same_annotations(a: Any, b: Any) -> bool:
    if a is None or b is None or len(a) != len(b):
        return a is b
    return all(x.keys() == y.keys() and all(_same(x[k], y[k]) for k in x) for x, y in zip(a, b))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        try:
            return np.array_equal(np.asarray(a), np.asarray(b))
        except Exception:
            return False
    return a == b
