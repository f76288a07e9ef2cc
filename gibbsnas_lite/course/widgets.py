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

Where each part lives (:mod:`gibbsnas_lite.course.dashboard`): the **record** of the events, its
snapshot and the replay of a history in ``dashboard/record.py`` (``DashboardRecord``; no plotly, no
threads), the **runner** - the background thread, pause, resume, stop, wait - in
``dashboard/runner.py`` (``SearchRunner``; it tells the rest through ``RunHooks``), the **view** -
throttling, the figure, its controls, ``final_figure`` - in ``dashboard/view.py``
(``DashboardView``, drawing from a record) and ``dashboard/live.py`` (the live widget), and
headless detection in ``dashboard/headless.py``. This module assembles them: ``AlphaDashboard``
holds one of each (``dash.record``, ``dash.runner``, ``dash.view``) and one lock that they share,
is the ``run_search`` callback that ties recording, run control and drawing together, and keeps
the public API.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from .dashboard.headless import HEADLESS_ENV, batch_program, detect_headless  # noqa: F401  (the API)
from .dashboard.live import LiveUI, figure_widget  # noqa: F401  (tests use them)
from .dashboard.record import (  # noqa: F401  (the parts' public names)
    DashboardRecord,
    DashboardStats,
    RecordEntry,
    SpaceLayout,
    read_history,
    space_layout,
)
from .dashboard.runner import RunHooks, SearchRunner
from .dashboard.view import DashboardView
from .plots.cells import patch_nb201  # noqa: F401  (tests use it)

__all__ = ["AlphaDashboard", "detect_headless", "HEADLESS_ENV"]


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
        if headless is None:
            self.headless, self.headless_reason = detect_headless()
        else:
            self.headless, self.headless_reason = bool(headless), f"headless={bool(headless)} given"
        self.space = space
        self.lock = threading.RLock()  # one lock for the three parts: the search thread, timers and clicks
        self.stats = DashboardStats()
        self.record = DashboardRecord(space, edge=edge, fallback_std=fallback_std, trace_window=trace_window)
        hooks = RunHooks(
            changed=self._run_changed,
            blocked=self._run_blocked,
            finished=self._run_finished,
            prepare_view=self._prepare_view,
            note=self.record.note,
        )
        self.runner = SearchRunner(
            self, self.lock, self.stats, hooks, headless=self.headless, wait_for_view=float(wait_for_view or 0.0)
        )
        self.view = DashboardView(
            self.record,
            self.runner,
            self.lock,
            self.stats,
            headless=self.headless,
            title=title,
            update_every=update_every,
            min_interval=min_interval,
            max_overhead=max_overhead,
            max_points=max_points,
            trailing=trailing,
        )

    # ------------------------------------------------------------------ the runner's hooks
    def _run_changed(self, finished: bool = False) -> None:
        self.view.refresh_controls(finished=finished)

    def _run_blocked(self) -> None:
        if self.view.ui is not None:
            self.view.sync_controls()
            self.view.draw()

    def _run_finished(self, result: Any) -> None:
        if result is not None and result.history.epochs:
            rec = result.history.epochs[-1]
            if not self.record.has((int(rec.get("epoch", 0)), 1, 0)):
                # the last epoch record reached no callback (older loops recorded a stopped
                # epoch without calling back); never re-read one we have (that would cut
                # the records after it)
                try:
                    self._record_event({"kind": "epoch", **rec})
                except Exception as err:
                    self.record.note(f"could not read the final record: {err}")
        self.view.finished()

    def _prepare_view(self) -> bool:
        return self.view.widget is not None and not self.view.ui.rendered.is_set()

    def _record_event(self, event: dict[str, Any]) -> None:
        if self.record.ingest(event):
            self.view.layout_changed()

    # ------------------------------------------------------------------ callback
    def __call__(self, event: dict[str, Any]) -> str | None:
        """The ``run_search`` callback: record the event, maybe redraw, maybe pause or stop."""
        t0 = time.perf_counter()
        action = None
        with self.lock:
            self.stats.calls += 1
            self.runner.events_from_thread = threading.current_thread() is not threading.main_thread()
            try:
                self._record_event(event)
            except Exception as err:  # a bad event must never kill the search
                self.record.note(f"could not read a {event.get('kind')!r} event: {err}")
            action = self.runner.decide(event)
            self.view.after_event(event.get("kind"), force=action is not None)
        spent = time.perf_counter() - t0
        if action == "block":
            action = self.runner.block()
        self.stats.callback_seconds += spent
        if action == "stop":  # consumed: the loop stops now and calls back no more
            self.runner.stop_requested = False
            return "stop"
        return None

    # ------------------------------------------------------------------ the record
    @classmethod
    def replay(cls, source: Any, space: str = "auto", **kwargs) -> AlphaDashboard:
        """A dashboard over a finished (or killed) run's history, with a slider over its records.

        ``source``: a run folder, its ``history.jsonl``, a ``History`` or a ``SearchResult``.
        ``dash.position = k`` (or the slider) shows the state after record k; the last record
        reproduces the final state of the live dashboard (alpha, std, curves, cell).
        """
        history = read_history(source)
        dash = cls(space=space, **kwargs)
        dash.record.replay(history)
        dash.runner.status = "replay"
        return dash

    @property
    def layout(self) -> SpaceLayout | None:
        """Names of alpha's blocks, rows (edges) and columns (ops); None before the first alpha (``space="auto"``)."""
        return self.record.layout

    @property
    def n_records(self) -> int:
        """Number of recorded events (alpha and epoch records)."""
        return self.record.n_records

    @property
    def position(self) -> int | None:
        """Index of the shown record (replay); ``None`` follows the newest one."""
        return self.record.position

    @position.setter
    def position(self, value: int | None) -> None:
        with self.lock:
            self.record.position = value
            self.view.show_position()

    @property
    def edge(self) -> int:
        """The edge shown in detail (index into :meth:`edge_labels`)."""
        return self.record.edge

    @edge.setter
    def edge(self, value: int) -> None:
        with self.lock:
            self.record.edge = value
            self.view.show_edge()

    def edge_labels(self) -> list[str]:
        return self.record.edge_labels()

    def state(self, position: int | None = None) -> dict[str, Any]:
        """What the dashboard shows at ``position`` (default: the shown one), as plain data
        (:meth:`DashboardRecord.state <gibbsnas_lite.course.dashboard.record.DashboardRecord.state>`)."""
        with self.lock:
            return self.record.state(position)

    # ------------------------------------------------------------------ the runner
    @property
    def running(self) -> bool:
        """True while a search started by :meth:`start` runs in the background."""
        return self.runner.running

    @property
    def paused(self) -> bool:
        """True while the search waits (background) or stopped at a checkpoint to pause."""
        return self.runner.paused

    @property
    def result(self):
        """The finished search's ``SearchResult`` (None while running or before a run)."""
        return self.runner.result

    @property
    def status(self) -> str:
        return self.runner.status

    @property
    def view_wait_seconds(self) -> float | None:
        """How long the last :meth:`start` let its search wait for the page to draw the dashboard."""
        return self.runner.view_wait_seconds

    @property
    def wait_for_view(self) -> float:
        return self.runner.wait_for_view

    def pause(self) -> None:
        """Ask the search to pause at its next event (see the module docstring for how)."""
        self.runner.pause()

    def stop(self) -> None:
        """Ask the search to stop at its next event (the run stays resumable from its last
        checkpoint: at an epoch's end that epoch's, mid-epoch the previous one); releases a pause."""
        self.runner.stop()

    def resume(self, run_dir: str | Path | None = None, background: bool | None = None):
        """Continue a paused search.

        A search paused in its thread continues at once. One paused at a checkpoint (main
        thread) continues with ``run_search(resume=run_dir)`` - in the background when live
        (``background=None``), in the foreground when headless; ``run_dir`` defaults to the
        folder of the run this dashboard started. Returns the dashboard, or (foreground) the
        ``SearchResult``.
        """
        out = self.runner.resume(run_dir, background=background)
        return self if out is self.runner else out

    def run(self, config=None, out_dir: str | Path | None = None, resume: str | Path | None = None, **kwargs):
        """``run_search(config, out_dir, resume, callback=self, **kwargs)`` in this thread; its result."""
        return self.runner.run(config, out_dir=out_dir, resume=resume, **kwargs)

    def start(
        self,
        config=None,
        out_dir: str | Path | None = None,
        resume: str | Path | None = None,
        background: bool | None = None,
        **kwargs,
    ) -> AlphaDashboard:
        """Run the search in a background thread (live) and return the dashboard at once.

        The cell ends, the kernel stays free and Pause/Resume/Stop act while the search runs;
        :meth:`wait` or :attr:`result` give the ``SearchResult``. Headless (papermill), or with
        ``background=False``, the search runs in the foreground before ``start`` returns, so
        a batch run waits for it. Returns ``self`` (as a cell's last line it shows the dashboard).
        """
        self.runner.start(config, out_dir=out_dir, resume=resume, background=background, **kwargs)
        return self

    def wait(self, timeout: float | None = None):
        """Block until a background search ends; its ``SearchResult`` (re-raises its error).

        While ``wait`` blocks the kernel, the buttons cannot act; call it in a later cell, or
        read :attr:`result` once the status line says the search finished. (Blocked, the kernel
        cannot hear from the page either: a search still waiting for the page to draw the
        dashboard starts at once.)
        """
        return self.runner.wait(timeout)

    def overhead_fraction(self, total_seconds: float | None = None) -> float:
        """(Callback time without pauses + trailing redraws) / ``total_seconds`` (default: the run's)."""
        return self.runner.overhead_fraction(total_seconds)

    # ------------------------------------------------------------------ the view
    @property
    def title(self) -> str | None:
        return self.view.title

    def redraw(self) -> None:
        """Redraw now (normally automatic)."""
        self.view.redraw()

    def flush(self) -> None:
        """Draw now if throttling held a redraw back (the timer would do it a little later)."""
        self.view.flush()

    @property
    def widget(self):
        """The ipywidgets box (built on first use; None when headless)."""
        return self.view.widget

    @property
    def figure(self):
        """The live ``go.FigureWidget`` (one per dashboard, all panels as subplots; None headless)."""
        return self.view.figure

    @property
    def panels(self) -> dict[str, Any]:
        """The live figure's panels by name (see :attr:`DashboardView.panels
        <gibbsnas_lite.course.dashboard.view.DashboardView.panels>`); ``{}`` headless."""
        return self.view.panels

    def final_figure(self, position: int | None = None, max_points: int = 300):
        """A static, small ``go.Figure`` of the dashboard at ``position`` (default: shown one).

        Panels: alpha ± std and softmax of the picked edge, the heat map of its cell type, the
        derived cell, loss and accuracy curves (thinned to ``max_points`` per line), and the
        NB201 benchmark accuracy per epoch. Works live and headless.
        """
        return self.view.final_figure(position=position, max_points=max_points)

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        bundle = self.view.mimebundle(include=include, exclude=exclude, headless_reason=self.headless_reason, **kwargs)
        if self.view.ui is not None:
            self.runner.shown.set()  # the live widget is in an output: start() may wait for the page
        return bundle

    def __repr__(self) -> str:
        mode = "headless" if self.headless else "live"
        return (
            f"AlphaDashboard(space={self.space!r}, {mode}, records={self.record.n_records}, "
            f"status={self.runner.status!r})"
        )
