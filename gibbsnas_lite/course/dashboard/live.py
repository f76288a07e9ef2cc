"""The live widget: ONE plotly ``FigureWidget`` with every panel, and the ipywidgets controls.

:class:`LiveUI` builds it once and then patches only what changed (trace data, titles, the
cell drawing), which keeps a redraw to a few milliseconds; :func:`figure_widget` makes the
figure's comm open with the whole figure, so a page that connects late still draws it.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any

import numpy as np

from ...spaces.registry import get as get_space
from .record import default_layout, finite

_EAGER_FIGURE_WIDGET = None


def figure_widget(fig):
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

    def __init__(self, ui: LiveUI, name: str):
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
_PANELS = {
    "alpha": (1, 1),
    "softmax": (1, 2),
    "heatmap": (1, 3),
    "loss": (2, 1),
    "accuracy": (2, 2),
    "benchmark": (2, 3),
    "cell": (3, 1),
}
_BENCH_TITLE = "NB201 CIFAR-10 test acc (%)"


class LiveUI:
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

    def __init__(self, view: Any, on_rendered: Any = None):  # a DashboardView (dashboard/view.py)
        import ipywidgets as W
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        self.view = view
        self.record = view.record
        self.runner = view.runner
        self.on_rendered = on_rendered  # called once the page has drawn the figure
        self._quiet = False
        self._cell_arch: tuple[str, str] | None = None
        self._cell_applied: list[dict] | None = None
        self._cell_ann: Any = None
        self.rendered = threading.Event()  # set when a view in the page has drawn the figure
        self.view_seconds: float | None = None
        self._t_built = time.perf_counter()
        snap = view.snapshot()
        layout = self.record.layout or default_layout()
        titles = [self._panel_title(name, snap) for name in _PANELS]
        fig = make_subplots(
            rows=3,
            cols=3,
            specs=[[{}, {}, {}], [{}, {}, {}], [{"colspan": 3}, None, None]],
            subplot_titles=titles,
            horizontal_spacing=0.09,
            vertical_spacing=0.1,
            row_heights=[0.32, 0.3, 0.38],
        )
        self.refs = {}
        for name, (row, col) in _PANELS.items():
            sub = fig.get_subplot(row, col)
            self.refs[name] = (sub.xaxis.plotly_name.replace("axis", ""), sub.yaxis.plotly_name.replace("axis", ""))
        edge = view.edge_traces(snap)
        fig.add_trace(go.Bar(**{k: v for k, v in edge[0].items() if k != "type"}, showlegend=False), row=1, col=1)
        fig.add_trace(go.Bar(**{k: v for k, v in edge[1].items() if k != "type"}, showlegend=False), row=1, col=2)
        fig.update_yaxes(range=[0, 1], row=1, col=2)
        dom_x = fig.layout[self.refs["heatmap"][0].replace("x", "xaxis")].domain
        dom_y = fig.layout[self.refs["heatmap"][1].replace("y", "yaxis")].domain
        fig.add_trace(
            go.Heatmap(
                z=[[None] * len(layout.cols)] * len(layout.rows),
                x=list(layout.cols),
                y=list(layout.rows),
                colorscale="Blues",
                zmin=0,
                zmax=1,
                texttemplate="%{z:.2f}",
                name="softmax(α)",
                hovertemplate="%{y} · %{x}: %{z:.3f}<extra></extra>",
                colorbar=dict(
                    title="p", x=dom_x[1] + 0.01, y=(dom_y[0] + dom_y[1]) / 2, len=dom_y[1] - dom_y[0], thickness=12
                ),
            ),
            row=1,
            col=3,
        )
        fig.update_yaxes(autorange="reversed", type="category", row=1, col=3)
        fig.update_xaxes(type="category", tickangle=30, row=1, col=3)
        for tr in view.curve_traces(snap, view.max_points):
            col = 1 if tr["name"].split(" ")[0].endswith("loss") else 2
            fig.add_trace(go.Scatter(**{k: v for k, v in tr.items() if k != "type"}), row=2, col=col)
        fig.update_xaxes(title_text=snap["step_axis"], row=2, col=1)
        fig.update_xaxes(title_text=snap["step_axis"], row=2, col=2)
        fig.add_trace(
            go.Scatter(
                x=[],
                y=[],
                mode="lines+markers",
                line=dict(color="#54a24b"),
                name="cifar10 test",
                showlegend=False,
                hovertemplate="epoch %{x}: %{y:.2f} %<extra></extra>",
            ),
            row=2,
            col=3,
        )
        fig.update_xaxes(title_text="epoch", row=2, col=3)
        fig.update_xaxes(visible=False, row=3, col=1)
        fig.update_yaxes(visible=False, scaleanchor=self.refs["cell"][0], scaleratio=1, row=3, col=1)
        # the curves' legend: in the empty left part of the (centred) cell drawing's row
        cy = fig.layout[self.refs["cell"][1].replace("y", "yaxis")].domain
        fig.update_layout(
            height=980,
            width=940,
            plot_bgcolor="white",
            barmode="group",
            title=dict(text=self._figure_title(snap), font=dict(size=14), x=0.01),
            margin=dict(l=60, r=60, t=90, b=20),
            legend=dict(
                x=0,
                y=cy[1],
                xanchor="left",
                yanchor="top",
                font=dict(size=10),
                title=dict(text="curves (loss and accuracy)"),
                bgcolor="rgba(255,255,255,0.75)",
            ),
        )
        for ann in fig.layout.annotations:
            ann.font.size = 12
        assert len(fig.data) == self.N_FIXED, len(fig.data)
        self.fig = figure_widget(fig)
        if layout.registered:  # draw a cell now (NB201: its template, ~0.1 s), not in the search's first redraws
            try:
                space = get_space(layout.space)
                view.cell_spec(space.derive_arch([np.zeros(shape) for shape in space.alpha_shapes]), None)
            except Exception as err:  # drawn later then
                self.record.note(f"could not prepare the cell drawing: {err}")
        self.fig.observe(self._on_view_message, names=["_js2py_layoutDelta", "_js2py_traceDeltas", "_js2py_relayout"])
        self.n_titles = len(self.fig.layout.annotations)
        self.title_index = {name: i for i, name in enumerate(_PANELS)}
        # controls
        self.pause = W.Button(
            description="Pause",
            icon="pause",
            layout=W.Layout(width="110px"),
            tooltip="pause the search at its next event (searches started with dash.start)",
        )
        self.stop = W.Button(
            description="Stop",
            icon="stop",
            button_style="danger",
            layout=W.Layout(width="100px"),
            tooltip="stop the search at its next event; resumable from its last checkpoint",
        )
        self.pause.on_click(self._on_pause)
        self.stop.on_click(self._on_stop)
        self.picker = W.Dropdown(description="edge", layout=W.Layout(width="260px"))
        self.rebuild_picker()
        self.picker.observe(self._on_pick, names="value")
        self.status = W.HTML(layout=W.Layout(flex="1 1 auto"))
        self.slider = None
        if self.record.is_replay:
            n = max(1, self.record.n_records)
            value = n - 1 if self.record.position is None else self.record.position
            self.slider = W.IntSlider(
                value=value,
                min=0,
                max=n - 1,
                description="record",
                continuous_update=False,
                layout=W.Layout(width="420px"),
            )
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
        title = html.escape(self.view.title or "GibbsNAS α dashboard")
        src = snap["std_source"] or "no std for this method"
        return f"{title} · {html.escape(snap['where'])}<br><sup>error bars: {html.escape(src)}</sup>"

    def _panel_title(self, name: str, snap: dict[str, Any]) -> str:
        edge = snap["edge"] or "edge"
        if name == "alpha":
            return f"{edge}: α ± std"
        if name == "softmax":
            return f"{edge}: softmax(α)"
        if name == "heatmap":
            return "softmax(α), all edges" + (
                f" · {snap['block']} cell" if snap["block"] and len(snap["blocks"]) > 1 else ""
            )
        if name == "loss":
            return "loss"
        if name == "accuracy":
            return "accuracy"
        if name == "benchmark":
            return _BENCH_TITLE if snap["has_benchmark"] else ""
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
            if self.on_rendered is not None:
                self.on_rendered()

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
        labels = self.record.edge_labels()
        options = [(label, i) for i, label in enumerate(labels)]
        self._quiet = True
        try:
            if list(self.picker.options) != options:
                self.picker.options = options
            if self.picker.value != self.record.edge:
                self.picker.value = self.record.edge
        finally:
            self._quiet = False

    def _on_pick(self, change) -> None:
        if self._quiet:
            return
        with self.view.lock:
            if change["new"] is not None and change["new"] != self.record.edge:
                self.record.edge = int(change["new"])
            self.view.draw()

    def _on_slide(self, change) -> None:
        if self._quiet:
            return
        with self.view.lock:
            self.record.position = int(change["new"])
            self.view.draw()

    def set_slider(self, value: int | None) -> None:
        if self.slider is not None:
            n = max(1, self.record.n_records)
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
        if self.runner.pause_requested or self.runner.paused:
            try:
                self.runner.resume()
            except RuntimeError as err:
                with self.view.lock:
                    self.record.note(str(err))
                    self.view.refresh_controls()
        else:
            self.runner.pause()

    def _on_stop(self, _button) -> None:
        if not self.stop.disabled:
            self.runner.stop()

    def sync_controls(self, finished: bool = False) -> None:
        r = self.runner
        pause_enabled = (r.controls_live and not finished) or r.checkpoint_pause is not None
        paused = r.pause_requested or r.paused
        want = ("Resume", "play") if paused else ("Pause", "pause")
        if (self.pause.description, self.pause.icon) != want:
            self.pause.description, self.pause.icon = want
        if self.pause.disabled != (not pause_enabled):
            self.pause.disabled = not pause_enabled
        stop_disabled = finished or not r.can_stop
        if self.stop.disabled != stop_disabled:
            self.stop.disabled = stop_disabled

    # -- drawing
    def draw(self, snap: dict[str, Any]) -> None:
        v, fig = self.view, self.fig
        cell = self._cell_update(snap)  # changes the number of cell traces outside the batch
        tr = v.edge_traces(snap)
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
            for trace, spec in zip(fig.data[3:11], v.curve_traces(snap, v.max_points)):
                trace.x, trace.y = spec["x"], spec["y"]
                if "customdata" in spec:
                    trace.customdata = spec["customdata"]
            lx = self.refs["loss"][0].replace("x", "xaxis")
            if fig.layout[lx].title.text != snap["step_axis"]:
                fig.update_xaxes(title_text=snap["step_axis"], row=2, col=1)
                fig.update_xaxes(title_text=snap["step_axis"], row=2, col=2)
            bench = fig.data[11]
            nb201 = snap["has_benchmark"]
            x, y = finite(snap["epochs"]["epoch"], snap["epochs"]["cifar10_test"])
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
        self.status.value = v.status_html()
        if self.slider is not None and self.record.position is None:
            self.set_slider(None)

    def _cell_update(self, snap: dict[str, Any]) -> tuple[list[dict], list] | None:
        """The derived cell's new traces and annotations when it changed (None: unchanged).

        A new trace structure (first cell, DARTS genotypes) replaces the cell's traces here, outside
        the redraw's batch; the values are set in the batch by :meth:`_apply_cell`.
        """
        key = (snap["arch"] or "", snap["block"] or "")
        if key == self._cell_arch:
            return None
        new = self.view.cell_spec(snap["arch"], snap["block"])
        xref, yref = self.refs["cell"]
        specs = [dict(_live_trace(t), xaxis=xref, yaxis=yref) for t in new["data"]] if new is not None else []
        anns = []
        for ann in new["layout"].get("annotations", []) if new is not None else []:
            a = dict(ann, xref=xref, yref=yref)
            if "axref" in a:
                a.update(axref=xref, ayref=yref)
            anns.append(a)
        fig = self.fig
        same = (
            self._cell_applied is not None
            and len(specs) == len(fig.data) - self.N_FIXED
            and all(a.get("type") == b.get("type") for a, b in zip(self._cell_applied, specs))
        )
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
        for trace, old, spec in zip(fig.data[self.N_FIXED :], self._cell_applied, specs):
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
    if (
        spec.get("hoverinfo") == "text"
        and isinstance(text, (list, tuple))
        and text
        and all(t == text[0] for t in text)
        and "text" not in str(spec.get("mode", ""))
    ):
        spec = {k: v for k, v in spec.items() if k not in ("text", "hoverinfo")}
        spec["hovertemplate"] = str(text[0]) + "<extra></extra>"
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
