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
    from gibbsnas_lite.widgets import _figure_widget

    fig, rec = _figure_opens(monkeypatch, lambda: _figure_widget(_plain(monkeypatch)))
    figure_states = [s for s in rec.opened if "_widget_data" in s]
    assert len(figure_states) == 1, "one comm for the figure"
    state = figure_states[0]
    assert len(state["_widget_data"]) == 1 and list(state["_widget_data"][0]["y"]) == [1, 2, 3]
    assert state["_widget_layout"]["title"]["text"] == "t" and state["_widget_layout"]["height"] == 200
    assert not [m for m in rec.sent if m and "_widget_data" in (m.get("state") or {})], \
        "no figure state sent as an update after the comm opened"
    # still a working FigureWidget: a later change is an update message
    n = len(rec.sent)
    fig.data[0].y = [3, 2, 1]
    assert len(rec.sent) > n
    assert list(fig.data[0].y) == [3, 2, 1]


def test_plotly_figure_widget_opens_empty(monkeypatch):
    """The behaviour _figure_widget works around (if plotly changes it, the helper can go)."""
    import plotly.graph_objects as go

    _, rec = _figure_opens(monkeypatch, lambda: go.FigureWidget(_plain(monkeypatch)))
    state = [s for s in rec.opened if "_widget_data" in s][0]
    assert state["_widget_data"] == [] and state["_widget_layout"] == {}
    assert any(m and "_widget_data" in (m.get("state") or {}) for m in rec.sent)


def test_dashboard_figures_open_complete(monkeypatch):
    from gibbsnas_lite.widgets import AlphaDashboard

    import ipywidgets.widgets.widget as wmod

    rec = _Recorder()
    monkeypatch.setattr(wmod.comm, "create_comm", rec)
    dash = AlphaDashboard(headless=False)
    dash.widget
    figs = [s for s in rec.opened if "_widget_data" in s]
    assert len(figs) == 5
    titles = [((s["_widget_layout"].get("title") or {}).get("text")) for s in figs]
    assert "softmax(α), all edges" in titles and "derived cell" in titles
    assert not [m for m in rec.sent if m and "_widget_data" in (m.get("state") or {})]


def test_finished_run_stores_the_final_figures_in_the_models(monkeypatch):
    """A view made after the run (plotly's front end keeps no updates in its model) gets the final state."""
    from gibbsnas_lite.widgets import AlphaDashboard

    import ipywidgets.widgets.widget as wmod

    rec = _Recorder()
    monkeypatch.setattr(wmod.comm, "create_comm", rec)
    dash = AlphaDashboard(headless=False, min_interval=0, max_overhead=1.0)
    dash.widget
    alpha = [[0.1, 0.2, 0.3, 0.4, 0.5]] * 6
    dash({"kind": "alpha", "epoch": 1, "step": 1, "global_step": 1, "alpha": alpha})
    dash._finish(None, None)
    edge = dash.figures["edge"]
    assert [round(v, 6) for v in edge._widget_data[0]["y"]] == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert any(m and "_widget_data" in (m.get("state") or {}) for m in rec.sent)
