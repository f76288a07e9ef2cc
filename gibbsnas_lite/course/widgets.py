"""The live alpha dashboard: watch a search's architecture weights while it runs.

    from gibbsnas_lite.search import make_config
    from gibbsnas_lite.course.widgets import AlphaDashboard

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

Where each part lives (:mod:`gibbsnas_lite.course.dashboard`): the record of the events and the
replay in ``dashboard/record.py`` (``EventRecord``), the background run control in
``dashboard/control.py`` (``RunControl``), the figure, its controls and the throttling in
``dashboard/figure.py`` (``DashboardView``) and ``dashboard/live.py`` (the live widget), and
headless detection in ``dashboard/headless.py``. This module puts them together: the
constructor, the ``run_search`` callback that ties recording, control and drawing, and the
public names.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from .dashboard.control import RunControl
from .dashboard.figure import DashboardView
from .dashboard.headless import HEADLESS_ENV, batch_program, detect_headless  # noqa: F401  (the API)
from .dashboard.live import LiveUI, figure_widget, patch_nb201  # noqa: F401  (tests use them)
from .dashboard.record import DashboardStats, EventRecord, RecordEntry, SpaceLayout, space_layout  # noqa: F401

__all__ = ["AlphaDashboard", "detect_headless", "HEADLESS_ENV"]


# ----------------------------------------------------------------------------- the dashboard
class AlphaDashboard(EventRecord, RunControl, DashboardView):
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

    def __init__(
        self,
        space: str = "nb201",
        update_every: int = 1,
        min_interval: float = 0.5,
        max_overhead: float | None = 0.03,
        headless: bool | None = None,
        edge: int = 0,
        fallback_std: str = "none",
        trace_window: int = 10,
        max_points: int = 1500,
        trailing: bool = True,
        title: str | None = None,
        wait_for_view: float | None = 60.0,
    ):
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
        self.layout: SpaceLayout | None = None if space == "auto" else space_layout(space)
        self.stats = DashboardStats()
        self._entries: list[RecordEntry] = []
        self._edge = int(edge)
        self._position: int | None = None  # None: follow the newest record
        self._replay = False
        self._lock = threading.RLock()
        self._ui: LiveUI | None = None
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

    def __repr__(self) -> str:
        mode = "headless" if self.headless else "live"
        return f"AlphaDashboard(space={self.space!r}, {mode}, records={len(self._entries)}, status={self._status!r})"
