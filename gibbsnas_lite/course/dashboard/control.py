"""Background run control: start, pause, stop, resume, wait.

:class:`RunControl` runs ``run_search`` in a thread (:meth:`RunControl.start`) so the kernel
stays free and the dashboard's buttons act while the search runs; a pause blocks the search
thread between two steps, a stop makes the next callback return ``"stop"`` (the module
docstring of :mod:`gibbsnas_lite.course.widgets` explains why, and what happens on the main thread).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from .headless import running_in_kernel


class RunControl:
    """Mixin of :class:`~gibbsnas_lite.course.widgets.AlphaDashboard`: the search it runs and how to steer it."""

    def _decide(self, event: dict[str, Any]) -> str | None:
        kind = event.get("kind")
        self._checkpoint_pause = None  # events flow: whatever was paused runs again
        if self._stop:
            self._status = (
                f"stopped in epoch {int(event.get('epoch', 0)) + 1}; the last checkpoint is the last completed epoch's"
                if kind == "alpha"
                else f"stopped after epoch {int(event.get('epoch', 0)) + 1} and its checkpoint"
            )
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
            self._status = (
                f"paused after epoch {self._checkpoint_pause + 1} (checkpoint written); "
                f"resume() continues from {self._run_dir or 'the run folder'}"
            )
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
                raise RuntimeError(
                    "nothing to resume: no paused search, and no run folder known; "
                    "call dash.resume(run_dir) or run_search(resume=run_dir, callback=dash)"
                )
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
        from ...search import run_search

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
        a batch run waits for it. Returns ``self`` (as a cell's last line it shows the dashboard).
        """
        if background is None:
            background = not self.headless
        if not background:
            self.run(config, out_dir=out_dir, resume=resume, **kwargs)
            return self
        from ...search import run_search

        _ = self.widget  # build the widgets first (the first FigureWidget imports a lot) - not in the race
        with self._lock:
            self._prepare(out_dir, resume, kwargs)
            parent = _cell_parent()
            gate = bool(
                self.wait_for_view and self._ui is not None and not self._ui.rendered.is_set() and running_in_kernel()
            )
            self.view_wait_seconds = None
            if gate:
                self._view_gate.clear()
                self._status = "waiting for the page to draw the dashboard; the search starts then"
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
            self._view_wait_reason = (
                "the page had drawn the dashboard"
                if self._ui is not None and self._ui.rendered.is_set()
                else "dash.wait() or Stop"
                if drawn
                else "the page had not drawn it in time"
            )
            if self._status.startswith("waiting for the page"):
                self._status = "running"
            if not drawn:
                self._note(
                    f"the page had not drawn the dashboard after {self.wait_for_view:.0f} s; the search started anyway"
                )
                print(
                    f"AlphaDashboard: the page had not drawn the dashboard after {self.wait_for_view:.0f} s; "
                    f"the search starts anyway"
                )
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
                self._status = (
                    f"{where}: {len(result.history.epochs)} epoch(s) in {result.seconds:.1f} s, "
                    f"dashboard overhead {self.overhead_fraction(result.seconds):.1%}"
                )
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
