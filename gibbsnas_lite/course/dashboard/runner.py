"""The background run: start, pause, stop, resume, wait - the dashboard's runner.

:class:`SearchRunner` runs ``run_search`` in a thread (:meth:`SearchRunner.start`) so the kernel
stays free and the dashboard's buttons act while the search runs; a pause blocks the search
thread between two steps, a stop makes the next callback return ``"stop"`` (the module
docstring of :mod:`gibbsnas_lite.course.widgets` explains why, and what happens on the main thread).
It knows nothing of figures: what the rest of the dashboard should do when the run's state
changes, it says through :class:`RunHooks` (all called under the dashboard's lock).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .headless import running_in_kernel
from .record import DashboardStats


def _nothing(*args, **kwargs) -> None:
    return None


@dataclass
class RunHooks:
    """What a :class:`SearchRunner` calls when its state changes (under the dashboard's lock).

    * ``changed(finished=False)``: the status or the run state changed (refresh the controls);
    * ``blocked()``: the search thread is about to wait in a pause (show the paused state);
    * ``finished(result)``: the run ended (``result`` None on an error); the runner's status is set;
    * ``prepare_view()``: before a background start, outside the lock: build the view; True when a
      live view exists that the page has not drawn yet (the search may wait for it);
    * ``note(text)``: a message for the status line.
    """

    changed: Callable[..., None] = _nothing
    blocked: Callable[[], None] = _nothing
    finished: Callable[[Any], None] = _nothing
    prepare_view: Callable[[], bool] = lambda: False
    note: Callable[[str], None] = _nothing


class SearchRunner:
    """The search a dashboard runs, and how to steer it.

    ``callback``: what ``run_search`` calls back (the dashboard, which calls :meth:`decide` and
    :meth:`block`); ``lock``: the dashboard's lock; ``stats``: where the paused seconds go;
    ``headless``: the default of ``background`` (a headless start runs in the foreground);
    ``wait_for_view``: see :class:`~gibbsnas_lite.course.widgets.AlphaDashboard`.
    """

    def __init__(
        self,
        callback: Callable[[dict[str, Any]], str | None],
        lock: Any,
        stats: DashboardStats,
        hooks: RunHooks | None = None,
        headless: bool = True,
        wait_for_view: float = 0.0,
    ):
        self.callback = callback
        self.lock = lock
        self.stats = stats
        self.hooks = hooks or RunHooks()
        self.headless = headless
        self.wait_for_view = float(wait_for_view or 0.0)
        self.status = "waiting for a search"
        self.stop_requested = False
        self.pause_requested = False
        self.go = threading.Event()  # cleared while a pause is asked for: the search thread waits on it
        self.go.set()
        self.blocked = False  # the search thread waits in a pause
        self.events_from_thread = False  # the last event came from outside the kernel's main thread
        self.checkpoint_pause: int | None = None  # epoch after whose checkpoint a pause stopped
        self.thread: threading.Thread | None = None
        self.run_dir: Path | None = None
        self.run_kwargs: dict[str, Any] = {}
        self.result: Any = None  # the finished search's SearchResult
        self.error: BaseException | None = None
        self.view_wait_seconds: float | None = None  # how long the last start() waited for the page
        self.view_wait_reason = ""
        self.view_gate = threading.Event()  # set: the search thread need not wait for the page
        self.view_gate.set()
        self.shown = threading.Event()  # the live view was put in an output (set by the dashboard)
        self.page_drawn = False  # the page has drawn the live view (set by page_drew)

    def page_drew(self) -> None:
        """The page has drawn the live view: a search waiting for it starts."""
        self.page_drawn = True
        self.view_gate.set()

    # ------------------------------------------------------------------ in the callback
    def decide(self, event: dict[str, Any]) -> str | None:
        """What the search should do after ``event``: None (go on), ``"stop"`` or ``"block"`` (pause here)."""
        kind = event.get("kind")
        self.checkpoint_pause = None  # events flow: whatever was paused runs again
        if self.stop_requested:
            self.status = (
                f"stopped in epoch {int(event.get('epoch', 0)) + 1}; the last checkpoint is the last completed epoch's"
                if kind == "alpha"
                else f"stopped after epoch {int(event.get('epoch', 0)) + 1} and its checkpoint"
            )
            return "stop"
        if not self.pause_requested:
            return None
        if threading.current_thread() is not threading.main_thread():
            return "block"
        # On the main thread a blocking pause could never be resumed (the kernel is busy):
        # pause = stop right after this epoch's checkpoint, continue later from it.
        if kind == "epoch":
            self.pause_requested = False  # consumed; `paused` now reports the checkpoint pause
            self.go.set()
            self.checkpoint_pause = int(event.get("epoch", 0))
            self.status = (
                f"paused after epoch {self.checkpoint_pause + 1} (checkpoint written); "
                f"resume() continues from {self.run_dir or 'the run folder'}"
            )
            return "stop"
        self.status = "pausing after this epoch's checkpoint"
        return None

    def block(self) -> str | None:
        """In the search thread, outside the lock: wait until resumed; ``"stop"`` when stopped meanwhile."""
        t0 = time.perf_counter()
        with self.lock:
            self.blocked = True
            self.status = "paused (the search thread waits; Resume continues it)"
            self.hooks.blocked()
        self.go.wait()
        with self.lock:
            self.blocked = False
            self.stats.paused_seconds += time.perf_counter() - t0
            if self.stop_requested:
                return "stop"
            self.status = "running"
            self.hooks.changed()
        return None

    # ------------------------------------------------------------------ state
    @property
    def running(self) -> bool:
        """True while a search started by :meth:`start` runs in the background."""
        return self.thread is not None and self.thread.is_alive()

    @property
    def paused(self) -> bool:
        """True while the search waits (background) or stopped at a checkpoint to pause."""
        return self.blocked or self.checkpoint_pause is not None

    @property
    def controls_live(self) -> bool:
        """Whether a click can act now: a search runs outside the kernel's main thread, or is paused."""
        return self.running or self.blocked or self.events_from_thread or self.checkpoint_pause is not None

    @property
    def can_stop(self) -> bool:
        """Whether a Stop click can act now."""
        return self.running or self.blocked or self.events_from_thread

    # ------------------------------------------------------------------ run control
    def pause(self) -> None:
        """Ask the search to pause at its next event (see the module docstring for how)."""
        with self.lock:
            self.pause_requested = True
            self.go.clear()
            self.status = "pause requested: the search pauses at its next event"
            self.hooks.changed()

    def stop(self) -> None:
        """Ask the search to stop at its next event (the run stays resumable from its last
        checkpoint: at an epoch's end that epoch's, mid-epoch the previous one); releases a pause."""
        with self.lock:
            self.stop_requested = True
            self.pause_requested = False
            self.go.set()
            self.view_gate.set()
            self.status = "stop requested: the search stops at its next event"
            self.hooks.changed()

    def resume(self, run_dir: str | Path | None = None, background: bool | None = None):
        """Continue a paused search.

        A search paused in its thread continues at once. One paused at a checkpoint (main
        thread) continues with ``run_search(resume=run_dir)`` - in the background when live
        (``background=None``), in the foreground when headless; ``run_dir`` defaults to the
        folder of the run this dashboard started.
        """
        with self.lock:
            self.pause_requested = False
            if self.blocked or self.running:
                self.go.set()
                self.status = "running"
                self.hooks.changed()
                return self
            self.go.set()
            run_dir = Path(run_dir) if run_dir is not None else self.run_dir
            if run_dir is None:
                raise RuntimeError(
                    "nothing to resume: no paused search, and no run folder known; "
                    "call dash.resume(run_dir) or run_search(resume=run_dir, callback=dash)"
                )
        if background is None:
            background = not self.headless
        kwargs = dict(self.run_kwargs)
        if background:
            return self.start(resume=run_dir, **kwargs)
        return self.run(resume=run_dir, **kwargs)

    def _prepare(self, out_dir, resume, kwargs) -> None:
        if self.running:
            raise RuntimeError("this dashboard already runs a search; dash.stop() it or use another dashboard")
        self.stop_requested = self.pause_requested = False
        self.go.set()
        self.checkpoint_pause = None
        self.result = self.error = None
        target = resume if resume is not None else out_dir
        self.run_dir = Path(target) if target is not None else None
        self.run_kwargs = {k: v for k, v in kwargs.items() if k in ("progress", "echo")}
        self.status = "running"

    def run(self, config=None, out_dir: str | Path | None = None, resume: str | Path | None = None, **kwargs):
        """``run_search(config, out_dir, resume, callback=self.callback, **kwargs)`` in this thread; its result."""
        from ...search import run_search

        with self.lock:
            self._prepare(out_dir, resume, kwargs)
            self.hooks.changed()
        try:
            result = run_search(config, out_dir=out_dir, resume=resume, callback=self.callback, **kwargs)
        except BaseException as err:
            self.finish(None, err)
            raise
        self.finish(result, None)
        return result

    def start(
        self,
        config=None,
        out_dir: str | Path | None = None,
        resume: str | Path | None = None,
        background: bool | None = None,
        **kwargs,
    ):
        """Run the search in a background thread (live) and return the dashboard at once.

        The cell ends, the kernel stays free and Pause/Resume/Stop act while the search runs;
        :meth:`wait` or :attr:`result` give the ``SearchResult``. Headless (papermill), or with
        ``background=False``, the search runs in the foreground before ``start`` returns, so
        a batch run waits for it. Returns ``self``.
        """
        if background is None:
            background = not self.headless
        if not background:
            self.run(config, out_dir=out_dir, resume=resume, **kwargs)
            return self
        from ...search import run_search

        # build the view first (the first FigureWidget imports a lot) - not in the race
        view_pending = bool(self.hooks.prepare_view())
        with self.lock:
            self._prepare(out_dir, resume, kwargs)
            parent = _cell_parent()
            gate = bool(self.wait_for_view and view_pending and not self.page_drawn and running_in_kernel())
            self.view_wait_seconds = None
            if gate:
                self.view_gate.clear()
                self.status = "waiting for the page to draw the dashboard; the search starts then"
                print(
                    f"AlphaDashboard: the search starts once the page has drawn the dashboard "
                    f"(at most {self.wait_for_view:.0f} s; dash.wait() starts it at once)"
                )

            def main():
                _set_thread_parent(parent)
                if gate:
                    self._await_view()
                result, error = None, None
                try:
                    result = run_search(config, out_dir=out_dir, resume=resume, callback=self.callback, **kwargs)
                except BaseException as err:  # reported by wait() and in the status line
                    error = err
                self.finish(result, error)

            self.thread = threading.Thread(target=main, name="gibbsnas-dashboard-search", daemon=True)
            self.thread.start()
            self.hooks.changed()
        return self

    def _await_view(self) -> None:
        """In the search thread, before the search: wait until the page has drawn the figure.

        The signal is plotly's front end reporting back after ``Plotly.newPlot`` (the view's
        ``_js2py_layoutDelta``/``_js2py_traceDeltas``), which the kernel handles once the cell
        that called :meth:`start` has ended. A dashboard not put in an output within 2 s (no
        ``_repr_mimebundle_``: not the cell's last line, not displayed) is not waited for.
        """
        t0 = time.perf_counter()
        if not self.shown.wait(2.0):
            self.view_gate.set()
            return
        drawn = self.view_gate.wait(max(0.0, self.wait_for_view - (time.perf_counter() - t0)))
        with self.lock:
            self.view_wait_seconds = time.perf_counter() - t0
            self.view_wait_reason = (
                "the page had drawn the dashboard"
                if self.page_drawn
                else "dash.wait() or Stop"
                if drawn
                else "the page had not drawn it in time"
            )
            if self.status.startswith("waiting for the page"):
                self.status = "running"
            if not drawn:
                self.hooks.note(
                    f"the page had not drawn the dashboard after {self.wait_for_view:.0f} s; the search started anyway"
                )
                print(
                    f"AlphaDashboard: the page had not drawn the dashboard after {self.wait_for_view:.0f} s; "
                    f"the search starts anyway"
                )
            self.view_gate.set()
            self.hooks.changed()

    def wait(self, timeout: float | None = None):
        """Block until a background search ends; its ``SearchResult`` (re-raises its error).

        While ``wait`` blocks the kernel, the buttons cannot act; call it in a later cell, or
        read :attr:`result` once the status line says the search finished. (Blocked, the kernel
        cannot hear from the page either: a search still waiting for the page to draw the
        dashboard starts at once.)
        """
        self.view_gate.set()
        thread = self.thread
        if thread is not None and thread.is_alive():
            if self.blocked and not self.go.is_set() and threading.current_thread() is threading.main_thread():
                raise RuntimeError("the search is paused; resume it (button or dash.resume()) before wait()")
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"the search is still running after {timeout} s")
        if self.error is not None:
            raise self.error
        return self.result

    def finish(self, result, error) -> None:
        """The search ended (``result`` None on an error): set the status, reset the controls, tell the hooks."""
        with self.lock:
            self.result, self.error = result, error
            if error is not None:
                self.status = f"failed: {type(error).__name__}: {error}"
            elif self.checkpoint_pause is not None:
                pass  # the status line already says how to resume
            elif result is not None:
                where = "stopped early" if result.stopped_early else "finished"
                self.status = (
                    f"{where}: {len(result.history.epochs)} epoch(s) in {result.seconds:.1f} s, "
                    f"dashboard overhead {self.overhead_fraction(result.seconds):.1%}"
                )
                if self.view_wait_seconds is not None:
                    self.status += f"; started {self.view_wait_seconds:.1f} s after start(): {self.view_wait_reason}"
            self.stop_requested = self.pause_requested = False
            self.events_from_thread = False
            self.go.set()
            self.hooks.finished(result)

    def overhead_fraction(self, total_seconds: float | None = None) -> float:
        """(Callback time without pauses + trailing redraws) / ``total_seconds`` (default: the run's)."""
        if total_seconds is None:
            total_seconds = self.result.seconds if self.result is not None else None
        return self.stats.overhead_fraction(total_seconds)


# ----------------------------------------------------------------------------- the kernel's cell
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
