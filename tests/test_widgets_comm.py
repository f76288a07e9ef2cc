"""The dashboard's FigureWidgets open their comm with the whole figure (no state updates after).

Why: anywidget holds a model's messages until its 4.9 MB ES module is imported, and a view made
meanwhile renders the state it has: with plotly's own FigureWidget (comm opened empty, figure
sent as updates) dashboard figures stayed empty in JupyterLab (tests/test_browser.py).
"""

import pytest

pytest.importorskip("anywidget")


class _Recorder:
    """Stands in for ``comm.create_comm``: records what the kernel would send."""

    def __init__(self):
        self.opened, self.sent = [], []

    def __call__(self, **kwargs):
        rec = self

        class Comm:
            comm_id = f"c{len(rec.opened)}"
            kernel = object()

            def on_msg(self, _cb):
                pass

            def send(self, data=None, buffers=None, **_):
                rec.sent.append(data)

            def close(self, *a, **k):
                pass

        rec.opened.append(kwargs["data"]["state"])
        return Comm()


def _figure_opens(monkeypatch, make):
    import ipywidgets.widgets.widget as wmod

    rec = _Recorder()
    monkeypatch.setattr(wmod.comm, "create_comm", rec)
    fig = make()
    return fig, rec


def _plain(monkeypatch):
    import plotly.graph_objects as go

    f = go.Figure(go.Bar(y=[1, 2, 3]))
    f.update_layout(title="t", height=200)
    return f


def test_eager_figure_widget_sends_the_figure_in_comm_open(monkeypatch):
    from gibbsnas_lite.course.widgets import figure_widget

    fig, rec = _figure_opens(monkeypatch, lambda: figure_widget(_plain(monkeypatch)))
    figure_states = [s for s in rec.opened if "_widget_data" in s]
    assert len(figure_states) == 1, "one comm for the figure"
    state = figure_states[0]
    assert len(state["_widget_data"]) == 1 and list(state["_widget_data"][0]["y"]) == [1, 2, 3]
    assert state["_widget_layout"]["title"]["text"] == "t" and state["_widget_layout"]["height"] == 200
    assert not [m for m in rec.sent if m and "_widget_data" in (m.get("state") or {})], (
        "no figure state sent as an update after the comm opened"
    )
    # still a working FigureWidget: a later change is an update message
    n = len(rec.sent)
    fig.data[0].y = [3, 2, 1]
    assert len(rec.sent) > n
    assert list(fig.data[0].y) == [3, 2, 1]


def test_plotly_figure_widget_opens_empty(monkeypatch):
    """The behaviour figure_widget works around (if plotly changes it, the helper can go)."""
    import plotly.graph_objects as go

    _, rec = _figure_opens(monkeypatch, lambda: go.FigureWidget(_plain(monkeypatch)))
    state = [s for s in rec.opened if "_widget_data" in s][0]
    assert state["_widget_data"] == [] and state["_widget_layout"] == {}
    assert any(m and "_widget_data" in (m.get("state") or {}) for m in rec.sent)


def test_dashboard_figures_open_complete(monkeypatch):
    """One FigureWidget per dashboard (one copy of plotly's module for the page), opened complete."""
    import ipywidgets.widgets.widget as wmod

    from gibbsnas_lite.course.widgets import AlphaDashboard

    rec = _Recorder()
    monkeypatch.setattr(wmod.comm, "create_comm", rec)
    dash = AlphaDashboard(headless=False)
    dash.widget
    figs = [s for s in rec.opened if "_widget_data" in s]
    assert len(figs) == 1
    assert sum(1 for s in rec.opened if s.get("_esm")) == 1, "plotly's module is shipped once per dashboard"
    state = figs[0]
    assert [t["type"] for t in state["_widget_data"]][:3] == ["bar", "bar", "heatmap"]
    assert len(state["_widget_data"]) == 12
    titles = [a["text"] for a in state["_widget_layout"]["annotations"]]
    assert "softmax(α), all edges" in titles and "derived cell (none yet)" in titles
    assert not [m for m in rec.sent if m and "_widget_data" in (m.get("state") or {})]


def test_finished_run_stores_the_final_figures_in_the_models(monkeypatch):
    """A view made after the run (plotly's front end keeps no updates in its model) gets the final state."""
    import ipywidgets.widgets.widget as wmod

    from gibbsnas_lite.course.widgets import AlphaDashboard

    rec = _Recorder()
    monkeypatch.setattr(wmod.comm, "create_comm", rec)
    dash = AlphaDashboard(headless=False, min_interval=0, max_overhead=1.0)
    dash.widget
    alpha = [[0.1, 0.2, 0.3, 0.4, 0.5]] * 6
    dash({"kind": "alpha", "epoch": 1, "step": 1, "global_step": 1, "alpha": alpha})
    dash.runner.finish(None, None)
    fig = dash.figure
    assert [round(v, 6) for v in fig._widget_data[0]["y"]] == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert any(m and "_widget_data" in (m.get("state") or {}) for m in rec.sent)


def _events():
    """Two epochs of a small NB201 search as callback events (alpha with std, epoch ends)."""
    import numpy as np

    rng = np.random.default_rng(0)
    events = []
    for epoch in range(2):
        for step in range(3):
            a = rng.normal(size=(6, 5))
            events.append(
                {
                    "kind": "alpha",
                    "epoch": epoch,
                    "step": 3 * epoch + step,
                    "alpha": a.tolist(),
                    "std": np.abs(a).tolist(),
                    "metrics": {"train_loss": 2.0 - 0.1 * step, "valid_loss": 2.1},
                }
            )
        arch = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
        events.append(
            {"kind": "epoch", "epoch": epoch, "train_loss": 1.5, "arch": arch, "benchmark": {"cifar10_test": 90.0}}
        )
    return events


def _page_echo(fig):
    """What plotly's front end sends back after drawing: every trace's data, JSON-encoded by the
    page, where an array that came as a typed array (a numpy array) becomes {"0": .., "1": ..}."""
    import numpy as np

    def js(v):
        if isinstance(v, np.ndarray):
            return {str(i): x for i, x in enumerate(v.tolist())}
        if isinstance(v, dict):
            return {k: js(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [js(x) for x in v]
        return v

    deltas = [dict(js(t.to_plotly_json()), uid=t.uid) for t in fig.data]
    fig.set_state({"_js2py_traceDeltas": {"trace_deltas": deltas, "trace_edit_id": fig._last_trace_edit_id}})


def test_the_pages_echo_of_a_drawn_figure_raises_nothing():
    """No numpy array in the figure: plotly.py choked on the page's echo of one (ValueError "truth
    value of an array ... is ambiguous" in the kernel, at every redraw, Pause/Resume, slider move)."""
    from gibbsnas_lite.course.widgets import AlphaDashboard

    dash = AlphaDashboard(headless=False, min_interval=0, max_overhead=None, trailing=False)
    dash.widget
    for ev in _events():
        dash(ev)
        _page_echo(dash.figure)
    dash.position = 2
    _page_echo(dash.figure)
    assert dash.figure.data[0].y is not None and len(dash.figure.data[2].z) == 6


def test_a_view_made_after_the_first_draw_gets_the_drawn_figure(monkeypatch):
    """A replay is drawn before the page makes its view: the model holds that drawing, not the
    empty figure the comm opened with (which drew blank panels and an IndexSizeError)."""
    import ipywidgets.widgets.widget as wmod

    from gibbsnas_lite.course.widgets import AlphaDashboard

    rec = _Recorder()
    monkeypatch.setattr(wmod.comm, "create_comm", rec)
    dash = AlphaDashboard(headless=False)
    for ev in _events():
        dash(ev)  # no widget yet: recorded only, as a replay is
    heat = dash.figure._widget_data[2]
    assert heat["type"] == "heatmap" and len(heat["z"]) == 6
    assert all(isinstance(v, float) for row in heat["z"] for v in row), heat["z"]
    assert list(heat["x"])[0] == "none" and list(heat["y"])[0] == "0→1"
    assert len(dash.figure._widget_data) > 12, "the derived cell's traces are in the model"


# --------------------------------------------------------------------------- waiting for the page
def _view_drew(fig):
    """What plotly's front end sends after ``Plotly.newPlot`` in a view (a comm message)."""
    fig.set_state({"_js2py_layoutDelta": {"layout_delta": {}, "layout_edit_id": 0}})


@pytest.fixture
def in_kernel(monkeypatch):
    from gibbsnas_lite.course.dashboard import headless, runner

    monkeypatch.setattr(runner, "running_in_kernel", lambda: True)  # start(): wait for the page
    monkeypatch.setattr(headless, "running_in_kernel", lambda: True)  # detect_headless()


def _tiny():
    from gibbsnas_lite.search import make_config

    return make_config("gibbs2", "smoke", epochs=1, train_limit=64)


def test_start_waits_until_the_page_drew_the_dashboard(in_kernel, tmp_path, capsys):
    import time

    from gibbsnas_lite.course.widgets import AlphaDashboard

    dash = AlphaDashboard(headless=False, wait_for_view=30)
    dash._repr_mimebundle_()  # the cell's result: the dashboard goes into the output
    dash.start(_tiny(), out_dir=tmp_path / "a")
    assert "the search starts once the page has drawn the dashboard" in capsys.readouterr().out
    time.sleep(1.0)
    assert dash.running and dash.n_records == 0 and dash.status.startswith("waiting for the page")
    assert not dash.view.ui.pause.disabled  # Pause can be clicked while it waits
    _view_drew(dash.figure)
    assert dash.view.ui.rendered.is_set() and dash.view.ui.view_seconds > 0
    result = dash.wait(timeout=120)
    assert result is not None and dash.n_records > 0 and "finished" in dash.status
    assert 1.0 <= dash.view_wait_seconds < 30
    assert "after start(): the page had drawn the dashboard" in dash.status
    # once drawn, a later start (resume, a second run) does not wait
    dash.start(_tiny(), out_dir=tmp_path / "b")
    dash.wait(timeout=120)
    assert dash.view_wait_seconds is None


def test_wait_stop_or_no_display_end_the_wait(in_kernel, tmp_path):
    import time

    from gibbsnas_lite.course.widgets import AlphaDashboard

    dash = AlphaDashboard(headless=False, wait_for_view=60)
    dash._repr_mimebundle_()
    t0 = time.perf_counter()
    dash.start(_tiny(), out_dir=tmp_path / "a")
    dash.wait(timeout=120)  # the kernel is busy now and cannot hear from the page: start at once
    assert dash.view_wait_seconds < 10 and time.perf_counter() - t0 < 50

    stopped = AlphaDashboard(headless=False, wait_for_view=60)
    stopped._repr_mimebundle_()
    stopped.start(_tiny(), out_dir=tmp_path / "b")
    time.sleep(0.5)
    stopped.stop()
    result = stopped.wait(timeout=120)
    assert result.stopped_early and stopped.view_wait_seconds < 10

    hidden = AlphaDashboard(headless=False, wait_for_view=60)  # never put in an output
    hidden.start(_tiny(), out_dir=tmp_path / "c")
    deadline = time.time() + 60
    while hidden.n_records == 0 and time.time() < deadline:
        time.sleep(0.1)
    assert hidden.n_records > 0 and hidden.view_wait_seconds is None
    hidden.wait(timeout=120)


def test_a_page_that_never_draws_delays_the_search_at_most_wait_for_view(in_kernel, tmp_path, capsys):
    from gibbsnas_lite.course.widgets import AlphaDashboard

    dash = AlphaDashboard(headless=False, wait_for_view=3)
    dash._repr_mimebundle_()
    dash.start(_tiny(), out_dir=tmp_path / "a")
    while dash.view_wait_seconds is None and dash.running:
        __import__("time").sleep(0.1)
    assert 3 <= dash.view_wait_seconds < 10
    dash.runner.thread.join(120)
    assert "had not drawn the dashboard after 3 s" in capsys.readouterr().out
    assert dash.result is not None


def test_headless_start_never_waits(in_kernel, tmp_path):
    from gibbsnas_lite.course.widgets import AlphaDashboard

    dash = AlphaDashboard(headless=True, wait_for_view=60)
    dash.start(_tiny(), out_dir=tmp_path / "a")  # foreground, at once
    assert dash.result is not None and dash.view_wait_seconds is None
