"""The dashboard's view: when to redraw, what to draw, headless or live.

:class:`DashboardView` draws from a :class:`~.record.DashboardRecord`: it throttles redraws
(``min_interval``, ``update_every``, ``max_overhead``, a trailing redraw), builds the traces of the
record's snapshot, and shows either the live widget (:mod:`gibbsnas_lite.course.dashboard.live`:
the figure and the Pause/Stop buttons, which act on a :class:`~.runner.SearchRunner`) or, headless,
a small static figure (:meth:`DashboardView.final_figure`).
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any

import numpy as np

from ...spaces.registry import get as get_space
from .live import LiveUI
from .record import METRICS, DashboardRecord, DashboardStats, decimate, default_layout, finite, jsonable, or_none

_COLORS = {"train": "#1f77b4", "valid": "#d62728"}


class DashboardView:
    """The figures of a record, and the controls of a runner.

    ``record``: what to draw; ``runner``: what the buttons steer and the status line reports
    (a :class:`~.runner.SearchRunner`, read through its public state); ``lock``: the dashboard's
    lock (every redraw holds it); ``stats``: where redraw counts and seconds go. The other
    arguments are :class:`~gibbsnas_lite.course.widgets.AlphaDashboard`'s.
    """

    def __init__(
        self,
        record: DashboardRecord,
        runner: Any,
        lock: Any,
        stats: DashboardStats,
        headless: bool = True,
        title: str | None = None,
        update_every: int = 1,
        min_interval: float = 0.5,
        max_overhead: float | None = 0.03,
        max_points: int = 1500,
        trailing: bool = True,
    ):
        if int(update_every) < 1:
            raise ValueError(f"update_every must be >= 1, got {update_every!r}")
        if float(min_interval) < 0:
            raise ValueError(f"min_interval must be >= 0, got {min_interval!r}")
        if max_overhead is not None and not 0 < float(max_overhead) <= 1:
            raise ValueError(f"max_overhead must be in (0, 1] or None, got {max_overhead!r}")
        self.record = record
        self.runner = runner
        self.lock = lock
        self.stats = stats
        self.headless = bool(headless)
        self.title = title
        self.update_every = int(update_every)
        self.min_interval = float(min_interval)
        self.max_overhead = None if max_overhead is None else float(max_overhead)
        self.max_points = int(max_points)
        self.trailing = bool(trailing)
        self.ui: LiveUI | None = None  # the live widget, built on first use (never headless)
        self.draw_errors = 0
        self.since_draw = 0  # alpha events since the last redraw
        self.last_draw_end = 0.0
        self.last_draw_cost = 0.0
        self.pending = False  # a redraw was held back (the trailing timer makes it up)
        self.timer: threading.Timer | None = None
        self.cell_cache: dict[tuple[str, str], Any] = {}

    def snapshot(self) -> dict[str, Any]:
        """The record's snapshot at the shown position."""
        return self.record.snapshot(self.record.position)

    # ------------------------------------------------------------------ events
    def after_event(self, kind: str | None, force: bool) -> None:
        """A callback event was recorded: redraw now, or hold the redraw back (``force``: the
        runner acts on it - pause or stop - so it is drawn now)."""
        if kind == "alpha":
            self.since_draw += 1
        if self.headless or self.ui is None:
            return
        self.sync_controls()
        if self.should_draw(force=force, epoch=kind == "epoch"):
            self.draw()
        else:
            self.stats.skipped += 1
            self.pending = True
            if self.trailing:
                self.schedule_trailing()

    def layout_changed(self) -> None:
        """The record's layout changed (alpha of another space): new edge labels."""
        if self.ui is not None:
            self.ui.rebuild_picker()

    def show_position(self) -> None:
        """The record's position changed: move the slider, redraw."""
        if self.ui is not None:
            self.ui.set_slider(self.record.position)
            self.draw()

    def show_edge(self) -> None:
        """The record's edge changed: move the picker (its observer redraws), or redraw."""
        if self.ui is not None:
            if self.ui.picker.value != self.record.edge:
                self.ui.picker.value = self.record.edge
            else:
                self.draw()

    def finished(self) -> None:
        """The run ended: no trailing redraw, draw the final state, store it in the widget's model."""
        self.cancel_timer()
        if self.ui is not None:
            self.draw()
            self.ui.store_state()
        self.refresh_controls(finished=True)

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    # ------------------------------------------------------------------ drawing
    def should_draw(self, force: bool, epoch: bool = False) -> bool:
        now = time.perf_counter()
        if force:
            return True
        if not epoch:  # epoch records skip these two limits, not the overhead one
            if self.since_draw < self.update_every:
                return False
            if now - self.last_draw_end < self.min_interval:
                return False
        if self.max_overhead is None:
            return True
        # adaptive: the last redraw's cost must be <= max_overhead of the time since it ended
        return self.last_draw_cost <= self.max_overhead * (now - self.last_draw_end)

    def redraw(self) -> None:
        """Redraw now (normally automatic)."""
        with self.lock:
            if self.ui is not None:
                self.draw()

    def flush(self) -> None:
        """Draw now if throttling held a redraw back (the timer would do it a little later)."""
        with self.lock:
            if self.pending and self.ui is not None:
                if self.timer is not None:
                    self.timer.cancel()
                    self.timer = None
                self.draw()

    def schedule_trailing(self) -> None:
        """Redraw once the limits allow it, so the newest record shows even if no event follows."""
        if self.timer is not None and self.timer.is_alive():
            return
        since = time.perf_counter() - self.last_draw_end
        wait = self.min_interval - since
        if self.max_overhead is not None:
            wait = max(wait, self.last_draw_cost / self.max_overhead - since)
        self.timer = threading.Timer(max(wait, 0.05), self.trailing_draw)
        self.timer.daemon = True
        self.timer.start()

    def trailing_draw(self) -> None:
        with self.lock:
            self.timer = None
            if not self.pending or self.ui is None:
                return
            t0 = time.perf_counter()
            self.draw()
            self.stats.trailing_seconds += time.perf_counter() - t0

    def draw(self) -> None:
        """Redraw the live figure from the record now (call under the lock)."""
        if self.ui is None or self.draw_errors >= 3:
            return
        t0 = time.perf_counter()
        try:
            self.ui.draw(self.snapshot())
            self.draw_errors = 0
        except Exception as err:  # never let drawing kill the search
            self.draw_errors += 1
            self.record.note(
                f"redraw failed ({type(err).__name__}: {err})"
                + ("; live drawing switched off" if self.draw_errors >= 3 else "")
            )
        t1 = time.perf_counter()
        self.last_draw_cost = t1 - t0
        self.last_draw_end = t1
        self.since_draw = 0
        self.pending = False
        self.stats.redraws += 1
        self.stats.draw_seconds += t1 - t0
        self.stats.max_draw_seconds = max(self.stats.max_draw_seconds, t1 - t0)

    def status_html(self) -> str:
        """The status line: the runner's status, where the record is, the newest notes."""
        parts = [f"<b>{html.escape(self.runner.status)}</b>"]
        if self.record.entries:
            where = self.snapshot()["where"] if self.record.position is not None else self.record.where()
            n = len(self.record.entries)
            if self.record.is_replay:  # the slider's place, numbered as the slider (0 .. n - 1)
                shown = n - 1 if self.record.position is None else self.record.position
                parts.append(html.escape(f"{where} · record {shown} of 0-{n - 1}"))
            else:
                parts.append(html.escape(f"{where} · {n} records"))
        if self.ui is not None and not self.record.is_replay and not self.runner.controls_live:
            parts.append(
                "<i>Pause/Stop act on searches started with dash.start(...): a cell running "
                "run_search in the foreground keeps the kernel from handling clicks</i>"
            )
        for note in self.record.notes[-3:]:
            parts.append(f"<span style='color:#b00'>{html.escape(note)}</span>")
        return " &nbsp;|&nbsp; ".join(parts)

    def sync_controls(self) -> None:
        """Enable/disable and label the buttons for the runner's state."""
        if self.ui is not None:
            self.ui.sync_controls()

    def refresh_controls(self, finished: bool = False) -> None:
        """The buttons and the status line (``finished``: the run ended, nothing to click)."""
        if self.ui is not None:
            try:
                self.ui.sync_controls(finished=finished)
                self.ui.status.value = self.status_html()
            except Exception as err:
                self.record.note(f"controls: {err}")

    @property
    def widget(self):
        """The ipywidgets box (built on first use; None when headless)."""
        if self.headless:
            return None
        with self.lock:
            if self.ui is None:
                self.ui = LiveUI(self, on_rendered=self.runner.page_drew)
                self.draw()
                self.ui.store_state()  # a view made later (a replay's) starts from this, not the empty figure
            return self.ui.box

    @property
    def figure(self):
        """The live ``go.FigureWidget`` (one per dashboard, all panels as subplots; None headless)."""
        if self.widget is None:
            return None
        return self.ui.fig

    @property
    def panels(self) -> dict[str, Any]:
        """The live figure's panels by name, each with ``.data`` (its traces) and ``.title``:
        ``edge`` (α bars, softmax bars), ``alpha``, ``softmax``, ``heatmap``, ``curves`` (the
        8 loss/accuracy lines), ``loss``, ``accuracy``, ``benchmark``, ``cell``. ``{}`` headless."""
        if self.widget is None:
            return {}
        return {name: self.ui.panel(name) for name in self.ui.PANEL_NAMES}

    def mimebundle(self, include=None, exclude=None, headless_reason: str = "", **kwargs) -> dict[str, Any]:
        """What a notebook output shows: the live widget, or headless a static figure and a summary."""
        widget = self.widget
        if widget is not None:
            return widget._repr_mimebundle_(include=include, exclude=exclude, **kwargs)
        with self.lock:
            if not self.record.entries:
                return {
                    "text/plain": f"AlphaDashboard (headless: {headless_reason}); no records yet - "
                    f"display it, or call dash.final_figure(), after the search"
                }
            fig = self.final_figure()
            return {
                "application/vnd.plotly.v1+json": jsonable(fig.to_plotly_json()),
                "text/html": self.summary_html(),
                "text/plain": self.summary_text(),
            }

    def summary_rows(self) -> list[tuple[str, str]]:
        snap = self.snapshot()
        rows = [("records", str(len(self.record.entries))), ("at", snap["where"])]
        ep = snap["epochs"]
        if len(ep["x"]):
            for k in METRICS:
                v = ep[k][-1]
                if np.isfinite(v):
                    rows.append((f"last epoch {k}", f"{v:.4f}"))
            if np.isfinite(ep["cifar10_test"][-1]):
                rows.append(("NB201 cifar10 test", f"{ep['cifar10_test'][-1]:.2f} %"))
        if snap["arch"]:
            rows.append(("arch", snap["arch"]))
        return rows

    def summary_text(self) -> str:
        return "AlphaDashboard (static)\n" + "\n".join(f"  {k}: {v}" for k, v in self.summary_rows())

    def summary_html(self) -> str:
        cells = "".join(
            f"<tr><td>{html.escape(k)}</td><td><code>{html.escape(v)}</code></td></tr>" for k, v in self.summary_rows()
        )
        return f"<table><caption>AlphaDashboard (static summary)</caption>{cells}</table>"

    # ------------------------------------------------------------------ figures (shared)
    def cell_figure(self, arch: str | None, block: str | None):
        """The derived cell as a plotly figure (cached; None when none can be drawn)."""
        spec = self.cell_spec(arch, block)
        if spec is None:
            return None
        import plotly.graph_objects as go

        return go.Figure(spec)

    def cell_spec(self, arch: str | None, block: str | None) -> dict | None:
        """``{"data": [...], "layout": {...}}`` of the derived cell, as plain dicts.

        Drawn by the space's registry entry (``figure``: :func:`~gibbsnas_lite.course.plots.cells.nb201_cell_json`,
        which patches one drawn template in a few microseconds, or ``darts_cell_json``); ``None``
        for a space without a drawing.
        """
        if not arch:
            return None
        key = (arch, block or "")
        spec = self.cell_cache.get(key)
        if spec is not None:
            return spec
        layout = self.record.layout or default_layout()  # no alpha yet (RSPS): the default space's cells
        if not layout.registered:
            return None
        try:
            spec = get_space(layout.space).cell_figure_json(arch, block)
        except ValueError as err:  # an arch of another space: shown as text (the panel title), not drawn
            self.record.note(f"could not draw the cell {arch!r} as a {layout.space} cell: {err}")
            return None
        if spec is None:
            return None
        if len(self.cell_cache) > 256:
            self.cell_cache.clear()
        self.cell_cache[key] = spec
        return spec

    def edge_traces(self, snap: dict[str, Any]) -> list[dict[str, Any]]:
        ops = snap["ops"]
        empty = [None] * len(ops)
        alpha = or_none(snap["alpha"]) if snap["alpha"] is not None else empty
        probs = or_none(snap["probs"]) if snap["probs"] is not None else empty
        std = snap["std"]
        err = (
            dict(type="data", array=or_none(std), visible=True)
            if std is not None
            else dict(type="data", array=None, visible=False)
        )
        return [
            dict(
                type="bar",
                x=list(ops),
                y=alpha,
                error_y=err,
                name="α",
                marker=dict(color="#4c78a8"),
                hovertemplate="%{x}: α = %{y:.4f}<extra></extra>",
            ),
            dict(
                type="bar",
                x=list(ops),
                y=probs,
                name="softmax(α)",
                marker=dict(color="#f58518"),
                hovertemplate="%{x}: p = %{y:.4f}<extra></extra>",
            ),
        ]

    def edge_title(self, snap: dict[str, Any]) -> str:
        src = snap["std_source"] or "no std for this method"
        return f"{snap['edge'] or 'edge'} · α ± std ({src}) | softmax(α) · {snap['where']}"

    def curve_traces(self, snap: dict[str, Any], max_points: int) -> list[dict[str, Any]]:
        traces = []
        st, ep = snap["steps"], snap["epochs"]
        keep = decimate(len(st["x"]), max_points)
        for k in METRICS:
            kind = k.split("_")[0]
            x, y = st["x"], st[k]
            if keep is not None:
                x, y = x[keep], y[keep]
            x, y = finite(x, y)
            traces.append(
                dict(
                    type="scatter",
                    mode="lines",
                    x=x,
                    y=y,
                    name=f"{k} (step)",
                    line=dict(color=_COLORS[kind], width=1),
                    opacity=0.55,
                    legendgroup=kind,
                    showlegend=k.endswith("loss"),
                )
            )
        for k in METRICS:
            kind = k.split("_")[0]
            keep = np.isfinite(ep[k])
            traces.append(
                dict(
                    type="scatter",
                    mode="lines+markers",
                    x=ep["x"][keep].tolist(),
                    y=ep[k][keep].tolist(),
                    name=f"{k} (epoch)",
                    line=dict(color=_COLORS[kind], width=2, dash="dot"),
                    marker=dict(size=7),
                    legendgroup=kind,
                    showlegend=k.endswith("loss"),
                    customdata=ep["epoch"][keep].tolist(),
                    hovertemplate="epoch %{customdata}: %{y:.4f}<extra>" + k + "</extra>",
                )
            )
        return traces

    def final_figure(self, position: int | None = None, max_points: int = 300):
        """A static, small ``go.Figure`` of the dashboard at ``position`` (default: shown one).

        Panels: alpha ± std and softmax of the picked edge, the heat map of its cell type, the
        derived cell, loss and accuracy curves (thinned to ``max_points`` per line), and the
        NB201 benchmark accuracy per epoch. Works live and headless.
        """
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        with self.lock:
            snap = self.record.snapshot(self.record.position if position is None else position)
            cell = self.cell_spec(snap["arch"], snap["block"])
        fig = make_subplots(
            rows=2,
            cols=3,
            horizontal_spacing=0.08,
            vertical_spacing=0.16,
            subplot_titles=(
                f"{snap['edge']}: α ± std",
                "softmax(α)" + (f" · {snap['block']}" if snap["block"] and len(snap["blocks"]) > 1 else ""),
                "derived cell",
                "loss",
                "accuracy",
                "NB201 cifar10 test acc (%)",
            ),
        )
        edge = self.edge_traces(snap)
        fig.add_trace(go.Bar(**{k: v for k, v in edge[0].items() if k != "type"}), row=1, col=1)
        fig.add_trace(
            go.Scatter(
                x=edge[1]["x"],
                y=edge[1]["y"],
                mode="markers",
                name="softmax(α)",
                marker=dict(color="#f58518", size=9, symbol="diamond"),
            ),
            row=1,
            col=1,
        )
        if snap["heatmap"] is not None:
            z = np.asarray(snap["heatmap"], float).round(3)
            fig.add_trace(
                go.Heatmap(
                    z=z,
                    x=snap["ops"],
                    y=snap["rows"],
                    colorscale="Blues",
                    zmin=0,
                    zmax=1,
                    showscale=False,
                    texttemplate="%{z:.2f}",
                    name="softmax(α)",
                ),
                row=1,
                col=2,
            )
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
        for tr in self.curve_traces(snap, max_points):
            col = 1 if tr["name"].split(" ")[0].endswith("loss") else 2
            fig.add_trace(go.Scatter(**{k: v for k, v in tr.items() if k != "type"}), row=2, col=col)
        ex, bench = finite(snap["epochs"]["epoch"], snap["epochs"]["cifar10_test"])
        if len(bench):
            fig.add_trace(
                go.Scatter(x=ex, y=bench, mode="lines+markers", name="NB201 cifar10 test", line=dict(color="#54a24b")),
                row=2,
                col=3,
            )
        fig.update_xaxes(title_text=snap["step_axis"], row=2, col=1)
        fig.update_xaxes(title_text=snap["step_axis"], row=2, col=2)
        fig.update_xaxes(title_text="epoch", row=2, col=3)
        title = self.title or "GibbsNAS α dashboard"
        arch = (
            f"<br><sup>{html.escape(snap['arch_source'] or '')}: {html.escape(snap['arch'])}</sup>"
            if snap["arch"]
            else ""
        )
        fig.update_layout(
            title=f"{title} · {snap['where']}{arch}",
            height=720,
            barmode="group",
            margin=dict(l=60, r=30, t=110, b=50),
            showlegend=True,
            legend=dict(orientation="h", y=-0.12),
        )
        return fig
