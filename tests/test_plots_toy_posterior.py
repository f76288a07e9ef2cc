"""plots.toy_posterior: figures come back with the expected traces; ellipses lie on the k-σ contour."""

import numpy as np
import plotly.graph_objects as go
import pytest

from gibbsnas_lite.course import toys as T
from gibbsnas_lite.course.plots import toy_posterior as P


@pytest.mark.parametrize("k", [1.0, 2.0, 3.0])
def test_ellipse_points_satisfy_quadratic_form(k):
    mean = np.array([1.0, -2.0])
    cov = np.array([[2.0, 1.2], [1.2, 1.5]])
    pts = P.ellipse_points(mean, cov, k, n=200)
    assert pts.shape == (200, 2)
    r = pts - mean
    q = np.einsum("ni,ij,nj->n", r, np.linalg.inv(cov), r)
    np.testing.assert_allclose(q, k * k, rtol=1e-10)
    np.testing.assert_allclose(pts[0], pts[-1])  # closed curve


def test_ellipse_trace_accepts_tensors():
    g = T.bivariate_gaussian(0.5, sigmas=(1.0, 3.0))
    tr = P.ellipse_trace(g.mean, g.cov, 2.0, name="target")
    assert isinstance(tr, go.Scatter) and tr.name == "target"
    r = np.stack([tr.x, tr.y], 1)
    q = np.einsum("ni,ij,nj->n", r, np.linalg.inv(g.cov.numpy()), r)
    np.testing.assert_allclose(q, 4.0, rtol=1e-10)


def test_ellipses_figure_traces():
    g = T.bivariate_gaussian(0.7)
    fig = P.ellipses_figure({"target": g, "estimate": (g.mean, 2 * g.cov)}, samples=g.sample(500), ks=(1, 2))
    assert isinstance(fig, go.Figure)
    names = [t.name for t in fig.data]
    # 1 scatter + 2 gaussians × (2 ellipses + mean marker)
    assert len(fig.data) == 7
    assert names[0] == "samples" and names.count("target") == 2 and names.count("estimate") == 2
    assert fig.data[4].line.dash == "dash"


def test_ellipses_figure_picks_dims_of_higher_dim_gaussian():
    g = T.two_block_gaussian(0.6, 2, 2)
    fig = P.ellipses_figure({"target": g}, dims=(0, 2))
    r = np.stack([fig.data[0].x, fig.data[0].y], 1)
    c = g.cov.numpy()[np.ix_([0, 2], [0, 2])]
    np.testing.assert_allclose(np.einsum("ni,ij,nj->n", r, np.linalg.inv(c), r), 1.0, rtol=1e-10)


def test_gibbs_path_trace_acf_ess_convergence_figures():
    g = T.bivariate_gaussian(0.9)
    tr = T.exact_gibbs(g, 200, record_path=True, seed=0)
    fig = P.gibbs_path_figure(tr.path, g, samples=tr.samples, max_steps=20)
    path = [t for t in fig.data if t.name and t.name.startswith("Gibbs path")][0]
    assert len(path.x) == 21
    fig = P.trace_figure(tr.samples)
    assert len(fig.data) == 2 and fig.data[0].name == "θ1"
    fig = P.trace_figure({"a": tr.samples, "b": tr.samples[:, 1]})
    assert [t.name for t in fig.data] == ["a", "b"]
    acf = T.autocorrelation(tr.samples[:, 0], 10)
    fig = P.autocorrelation_figure({"x": acf}, reference={"ρ²ᵏ": 0.81 ** np.arange(11)})
    assert len(fig.data) == 2 and len(fig.data[0].y) == 11
    fig = P.ess_figure([0.1, 0.5], {"Gibbs": [0.9, 0.5]}, reference=[0.98, 0.6])
    assert len(fig.data) == 2 and fig.layout.yaxis.type == "log"
    fig = P.convergence_figure({"bfgs": np.logspace(0, -3, 50)})
    assert len(fig.data) == 1 and len(fig.data[0].y) == 50


def test_density_contour_and_evolution():
    b = T.BananaPosterior()
    c = P.density_contour_trace(b.potential, (-3, 3), (-3, 6), n=30)
    assert isinstance(c, go.Contour) and np.asarray(c.z).shape == (30, 30)
    assert np.asarray(c.z).max() == pytest.approx(1.0)
    g = T.bivariate_gaussian(0.8)
    covs = np.stack([np.eye(2) * s for s in (1.0, 0.8, 0.6)])
    fig = P.ellipse_evolution_figure(g, np.zeros(2), covs, steps=[0, 5, 10], points=np.zeros((3, 2)))
    assert len(fig.frames) == 3 and fig.frames[1].name == "5"
    assert len(fig.layout.sliders[0].steps) == 3
    q = np.stack([fig.frames[2].data[0].x, fig.frames[2].data[0].y], 1)
    np.testing.assert_allclose((q**2).sum(1) / 0.6, 1.0, rtol=1e-10)


def test_mass_fraction():
    assert P.mass_fraction(1.0) == pytest.approx(0.3935, abs=1e-4)
    s = T.bivariate_gaussian(0.3).sample(20_000)
    r = s.numpy()
    inside = np.einsum("ni,ij,nj->n", r, np.linalg.inv(T.bivariate_gaussian(0.3).cov.numpy()), r) <= 4.0
    assert inside.mean() == pytest.approx(P.mass_fraction(2.0), abs=0.01)


def test_conditional_figure_curves_coincide():
    g = T.bivariate_gaussian(0.8, sigmas=(1.0, 2.0))
    fig = P.conditional_figure(g, 1.5)
    closed = [t for t in fig.data if t.name.startswith("closed form")][0]
    sliced = [t for t in fig.data if t.name.startswith("slice")][0]
    np.testing.assert_allclose(closed.y, sliced.y, atol=1e-6)


def test_ellipses_figure_paths_and_pd_figure():
    g = T.bivariate_gaussian(0.5)
    path = np.cumsum(np.ones((100, 2)), axis=0)
    fig = P.ellipses_figure({"target": g}, paths={"chain": path}, max_path=10)
    assert fig.data[-1].name == "chain" and len(fig.data[-1].x) == 11
    s, y = T.noisy_secant_pairs(g, 30, seed=0)
    res = T.compare_pd_policies(g, s, y)
    fig = P.pd_policy_figure(res)
    assert [t.name for t in fig.data][:3] == ["skip", "damp", "none"]
    assert len(fig.data[0].y) == 30


def test_gibbs_path_keeps_the_ellipses_and_staircase_visible():
    """20k sample dots hid the ellipses and the path (WebGL dots are drawn above all SVG traces):
    the dots are SVG, thinned, and come first, so the ellipses and the staircase lie on top."""
    g = T.bivariate_gaussian(0.9, sigmas=(1.0, 2.0))
    run = T.exact_gibbs(g, 20_000, seed=0, record_path=True)
    fig = P.gibbs_path_figure(run.path, g, samples=run.samples, max_steps=40)
    assert not [t for t in fig.data if t.type == "scattergl"]
    dots = fig.data[0]
    assert dots.name.startswith("samples") and f"1 in 14 of {len(run.samples)}" in dots.name and len(dots.x) <= 1500
    names = [t.name for t in fig.data]
    assert names.index("target") > 0 and names[-2] == "Gibbs path (40 updates)"
