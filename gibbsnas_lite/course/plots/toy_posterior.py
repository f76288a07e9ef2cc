"""Plotly figures for toy posteriors: covariance ellipses, Gibbs paths, traces, mixing.

Every function returns a ``plotly.graph_objects`` object and never calls
``show()``, so it is safe headless (papermill, tests).  Inputs may be torch
tensors (any device), numpy arrays or lists.  A "Gaussian" argument is a
:class:`gibbsnas_lite.course.toys.GaussianPosterior` or a ``(mean, cov)`` pair.

The k-σ ellipse of ``N(μ, Σ)`` is ``{x : (x−μ)ᵀ Σ⁻¹ (x−μ) = k²}``; for a 2-D
Gaussian it holds a fraction ``1 − exp(−k²/2)`` of the mass (39 % for k = 1,
86 % for k = 2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

__all__ = [
    "PALETTE",
    "ellipse_points",
    "ellipse_trace",
    "gaussian_ellipse_traces",
    "ellipses_figure",
    "density_contour_trace",
    "gibbs_path_figure",
    "trace_figure",
    "autocorrelation_figure",
    "ess_figure",
    "convergence_figure",
    "ellipse_evolution_figure",
    "mass_fraction",
    "conditional_figure",
    "pd_policy_figure",
]

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]


def _np(x: Any) -> np.ndarray:
    try:
        import torch

        if isinstance(x, torch.Tensor):
            return x.detach().cpu().numpy().astype(float)
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return np.asarray(x, dtype=float)


def _mean_cov(g: Any, dims: Sequence[int] = (0, 1)) -> tuple[np.ndarray, np.ndarray]:
    if hasattr(g, "mean") and hasattr(g, "cov") and not isinstance(g, (tuple, list)):
        mean, cov = _np(g.mean), _np(g.cov)
    else:
        mean, cov = _np(g[0]), _np(g[1])
    mean = mean.reshape(-1)
    cov = cov.reshape(mean.size, mean.size)
    d = list(dims)
    return mean[d], cov[np.ix_(d, d)]


def mass_fraction(k: float) -> float:
    """Probability mass inside the k-σ ellipse of a 2-D Gaussian: ``1 − exp(−k²/2)``."""
    return 1.0 - math.exp(-0.5 * k * k)


def ellipse_points(mean: Any, cov: Any, k: float = 1.0, n: int = 120) -> np.ndarray:
    """``n`` points (closed curve, first = last) on the k-σ contour of ``N(mean, cov)`` (2-D).

    The points are ``μ + k·L·(cos t, sin t)`` with ``Σ = L Lᵀ``, so each satisfies
    ``(x−μ)ᵀ Σ⁻¹ (x−μ) = k²`` exactly.  Shape ``(n, 2)``.
    """
    mean = _np(mean).reshape(2)
    cov = _np(cov).reshape(2, 2)
    cov = 0.5 * (cov + cov.T)
    lower = np.linalg.cholesky(cov)
    t = np.linspace(0.0, 2.0 * np.pi, n)
    circle = np.stack([np.cos(t), np.sin(t)])
    return (mean[:, None] + k * lower @ circle).T


def ellipse_trace(
    mean: Any,
    cov: Any,
    k: float = 1.0,
    *,
    name: str | None = None,
    color: str | None = None,
    dash: str | None = None,
    width: float = 2.0,
    showlegend: bool = True,
    legendgroup: str | None = None,
    n: int = 120,
) -> go.Scatter:
    """One k-σ ellipse as a line ``go.Scatter``."""
    pts = ellipse_points(mean, cov, k, n)
    return go.Scatter(
        x=pts[:, 0],
        y=pts[:, 1],
        mode="lines",
        name=name if name is not None else f"{k:g}σ",
        line=dict(color=color, dash=dash, width=width),
        showlegend=showlegend,
        legendgroup=legendgroup,
        hoverinfo="name",
    )


def gaussian_ellipse_traces(
    gaussian: Any,
    *,
    name: str,
    color: str | None = None,
    ks: Sequence[float] = (1.0, 2.0),
    dash: str | None = None,
    dims: Sequence[int] = (0, 1),
    show_mean: bool = True,
) -> list[go.Scatter]:
    """Ellipses at each k in ``ks`` (legend shows the first) plus a marker at the mean."""
    mean, cov = _mean_cov(gaussian, dims)
    out = [
        ellipse_trace(mean, cov, k, name=name, color=color, dash=dash, showlegend=(i == 0), legendgroup=name)
        for i, k in enumerate(ks)
    ]
    if show_mean:
        out.append(
            go.Scatter(
                x=[mean[0]],
                y=[mean[1]],
                mode="markers",
                name=f"{name} mean",
                marker=dict(color=color, symbol="x", size=10),
                showlegend=False,
                legendgroup=name,
            )
        )
    return out


def _layout(
    fig: go.Figure, title: str | None, xlabel: str, ylabel: str, equal: bool = False, height: int = 450
) -> go.Figure:
    fig.update_layout(
        title=title, template="plotly_white", height=height, margin=dict(l=50, r=20, t=50 if title else 20, b=40)
    )
    fig.update_xaxes(title_text=xlabel)
    fig.update_yaxes(title_text=ylabel)
    if equal:
        fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def ellipses_figure(
    gaussians: Mapping[str, Any],
    samples: Mapping[str, Any] | Any | None = None,
    *,
    ks: Sequence[float] = (1.0, 2.0),
    dims: Sequence[int] = (0, 1),
    title: str | None = None,
    labels: Sequence[str] = ("θ₁", "θ₂"),
    max_points: int = 2000,
    background: go.Contour | None = None,
    paths: Mapping[str, Any] | None = None,
    max_path: int = 40,
    equal: bool = True,
) -> go.Figure:
    """Scatter of samples with the k-σ ellipses of several Gaussians, e.g. target / Laplace / BFGS.

    ``gaussians``: name → Gaussian (``GaussianPosterior`` or ``(mean, cov)``); the
    first is drawn solid, the rest dashed.  ``samples``: an array ``(n, d)`` or a
    name → array mapping (thinned to ``max_points`` each).  ``background``: an
    optional contour trace (see :func:`density_contour_trace`).  ``paths``: name →
    array ``(n, d)`` drawn as lines with markers (the first ``max_path + 1`` points),
    e.g. the first steps of a chain or a mean-mode trajectory.
    """
    fig = go.Figure()
    if background is not None:
        fig.add_trace(background)
    if samples is not None:
        groups = samples if isinstance(samples, Mapping) else {"samples": samples}
        for i, (name, s) in enumerate(groups.items()):
            x = _np(s).reshape(len(s), -1)[:, list(dims)]
            color = PALETTE[(i + 7) % len(PALETTE)] if i else "#7f7f7f"
            fig.add_trace(_sample_dots(x, name, color, max_points, opacity=0.35))
    for i, (name, g) in enumerate(gaussians.items()):
        for tr in gaussian_ellipse_traces(
            g, name=name, color=PALETTE[i % len(PALETTE)], ks=ks, dash=None if i == 0 else "dash", dims=dims
        ):
            fig.add_trace(tr)
    for i, (name, path) in enumerate((paths or {}).items()):
        x = _np(path).reshape(len(path), -1)[: max_path + 1][:, list(dims)]
        fig.add_trace(
            go.Scatter(
                x=x[:, 0],
                y=x[:, 1],
                mode="lines+markers",
                name=name,
                line=dict(width=1, color=PALETTE[(len(gaussians) + i) % len(PALETTE)]),
                marker=dict(size=4),
            )
        )
    return _layout(fig, title, labels[0], labels[1], equal=equal)


def density_contour_trace(
    potential: Callable,
    xlim: Sequence[float],
    ylim: Sequence[float],
    *,
    n: int = 80,
    levels: int = 12,
    colorscale: str = "Blues",
    name: str = "density",
) -> go.Contour:
    """Filled contour of ``exp(−E)`` for a 2-D potential (evaluated batched on a grid)."""
    import torch

    xs = np.linspace(*xlim, n)
    ys = np.linspace(*ylim, n)
    gx, gy = np.meshgrid(xs, ys)
    pts = torch.as_tensor(np.stack([gx, gy], -1), dtype=torch.float64)
    with torch.no_grad():
        e = _np(potential(pts))
    dens = np.exp(-(e - e.min()))
    return go.Contour(
        x=xs,
        y=ys,
        z=dens,
        ncontours=levels,
        colorscale=colorscale,
        showscale=False,
        contours=dict(coloring="fill", showlines=False),
        opacity=0.6,
        name=name,
        hoverinfo="skip",
    )


def _sample_dots(x: np.ndarray, name: str, color: str, max_points: int, opacity: float) -> go.Scatter:
    """Sample points as small dots, every k-th of ``x`` (n, 2) so that at most ``max_points`` remain.

    An SVG ``Scatter``, not ``Scattergl``: plotly draws WebGL traces on a canvas above every SVG
    trace, so thousands of gl dots hid the ellipses and paths drawn "over" them.
    """
    step = max(1, -(-len(x) // max_points))
    label = name if step == 1 else f"{name} (1 in {step} of {len(x)})"
    return go.Scatter(
        x=x[::step, 0], y=x[::step, 1], mode="markers", name=label, marker=dict(size=3, opacity=opacity, color=color)
    )


def gibbs_path_figure(
    path: Any,
    target: Any | None = None,
    *,
    samples: Any | None = None,
    ks: Sequence[float] = (1.0, 2.0),
    title: str | None = None,
    labels: Sequence[str] = ("θ₁", "θ₂"),
    max_steps: int = 60,
    max_points: int = 1500,
) -> go.Figure:
    """The staircase of a coordinate-wise Gibbs sampler (first ``max_steps`` updates) over the
    target ellipses, on faint sample dots (thinned to ``max_points``, drawn below the rest)."""
    fig = go.Figure()
    if samples is not None:
        s = _np(samples).reshape(len(samples), -1)
        fig.add_trace(_sample_dots(s, "samples", "#9a9a9a", max_points, opacity=0.25))
    if target is not None:
        for tr in gaussian_ellipse_traces(target, name="target", color=PALETTE[0], ks=ks):
            fig.add_trace(tr)
    p = _np(path).reshape(len(path), -1)[: max_steps + 1]
    fig.add_trace(
        go.Scatter(
            x=p[:, 0],
            y=p[:, 1],
            mode="lines+markers",
            name=f"Gibbs path ({len(p) - 1} updates)",
            line=dict(color=PALETTE[1], width=1.5),
            marker=dict(size=4),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=[p[0, 0]], y=[p[0, 1]], mode="markers", name="start", marker=dict(color="black", size=10, symbol="star")
        )
    )
    return _layout(fig, title, labels[0], labels[1], equal=True)


def trace_figure(
    chains: Mapping[str, Any] | Any,
    *,
    coordinate: int | None = None,
    names: Sequence[str] | None = None,
    title: str | None = None,
    xlabel: str = "step",
    ylabel: str = "value",
    max_points: int = 5000,
) -> go.Figure:
    """Trace plot: value vs step.

    ``chains`` is one array ``(n,)``/``(n, d)`` (one line per coordinate, named by
    ``names``) or a name → array mapping (then ``coordinate`` picks the column of
    each 2-D array, default 0).
    """
    fig = go.Figure()
    if isinstance(chains, Mapping):
        items = []
        for name, c in chains.items():
            a = _np(c)
            items.append((name, a if a.ndim == 1 else a.reshape(len(a), -1)[:, coordinate or 0]))
    else:
        a = _np(chains)
        a = a.reshape(len(a), -1)
        nm = list(names) if names is not None else [f"θ{j + 1}" for j in range(a.shape[1])]
        cols = range(a.shape[1]) if coordinate is None else [coordinate]
        items = [(nm[j], a[:, j]) for j in cols]
    for i, (name, y) in enumerate(items):
        step = max(1, len(y) // max_points)
        x = np.arange(len(y))[::step]
        fig.add_trace(
            go.Scattergl(x=x, y=y[::step], mode="lines", name=name, line=dict(width=1, color=PALETTE[i % len(PALETTE)]))
        )
    return _layout(fig, title, xlabel, ylabel)


def autocorrelation_figure(
    acfs: Mapping[str, Any],
    *,
    reference: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> go.Figure:
    """Autocorrelation ρ_k vs lag k, one line per chain; ``reference``: dashed curves (e.g. ρ²ᵏ)."""
    fig = go.Figure()
    for i, (name, r) in enumerate(acfs.items()):
        r = _np(r)
        fig.add_trace(
            go.Scatter(
                x=np.arange(len(r)),
                y=r,
                mode="lines+markers",
                name=name,
                marker=dict(size=4),
                line=dict(color=PALETTE[i % len(PALETTE)]),
            )
        )
    for i, (name, r) in enumerate((reference or {}).items()):
        r = _np(r)
        fig.add_trace(
            go.Scatter(
                x=np.arange(len(r)),
                y=r,
                mode="lines",
                name=name,
                line=dict(dash="dot", color=PALETTE[i % len(PALETTE)]),
            )
        )
    fig.add_hline(y=0.0, line=dict(color="black", width=1))
    return _layout(fig, title, "lag k", "autocorrelation ρ_k")


def ess_figure(
    rhos: Any,
    ess: Mapping[str, Any],
    *,
    reference: Any | None = None,
    reference_name: str = "theory (1−ρ²)/(1+ρ²)",
    title: str | None = None,
    ylabel: str = "ESS / n",
    log_y: bool = True,
) -> go.Figure:
    """Effective sample size (per draw) vs correlation ρ, one line per method; optional theory curve."""
    fig = go.Figure()
    x = _np(rhos)
    for i, (name, e) in enumerate(ess.items()):
        fig.add_trace(
            go.Scatter(x=x, y=_np(e), mode="lines+markers", name=name, line=dict(color=PALETTE[i % len(PALETTE)]))
        )
    if reference is not None:
        ref = _np(reference)
        xr = x if len(ref) == len(x) else np.linspace(x.min(), x.max(), len(ref))
        fig.add_trace(go.Scatter(x=xr, y=ref, mode="lines", name=reference_name, line=dict(color="black", dash="dot")))
    fig = _layout(fig, title, "correlation ρ", ylabel)
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def convergence_figure(
    errors: Mapping[str, Any],
    *,
    steps: Any | None = None,
    title: str | None = None,
    ylabel: str = "‖H_t − A⁻¹‖_F / ‖A⁻¹‖_F",
    log_y: bool = True,
) -> go.Figure:
    """Relative error of an inverse-Hessian estimate vs step, one line per run."""
    fig = go.Figure()
    for i, (name, e) in enumerate(errors.items()):
        e = _np(e)
        x = np.arange(len(e)) if steps is None else _np(steps)
        fig.add_trace(go.Scatter(x=x, y=e, mode="lines", name=name, line=dict(color=PALETTE[i % len(PALETTE)])))
    fig = _layout(fig, title, "step t", ylabel)
    if log_y:
        fig.update_yaxes(type="log", exponentformat="power")
    return fig


def ellipse_evolution_figure(
    target: Any,
    means: Any,
    covs: Any,
    *,
    steps: Sequence[int] | None = None,
    k: float = 1.0,
    name: str = "estimate",
    title: str | None = None,
    labels: Sequence[str] = ("θ₁", "θ₂"),
    points: Any | None = None,
) -> go.Figure:
    """Animated k-σ ellipse of an estimate ``N(means[i], covs[i])`` over steps, with a slider.

    The target ellipse stays fixed; ``points`` (optional, ``(n_frames, 2)``) marks
    the sampler's current point in each frame.  Works headless: the frames are data.
    """
    means, covs = _np(means), _np(covs)
    nf = len(covs)
    means = np.broadcast_to(means.reshape(-1, 2), (nf, 2)) if means.size in (2, 2 * nf) else means
    steps = list(range(nf)) if steps is None else list(steps)
    tm, tc = _mean_cov(target)
    all_pts = [ellipse_points(tm, tc, k)] + [ellipse_points(means[i], covs[i], k) for i in range(nf)]
    lo = np.min([p.min(axis=0) for p in all_pts], axis=0)
    hi = np.max([p.max(axis=0) for p in all_pts], axis=0)
    pad = 0.1 * (hi - lo)
    pts_arr = None if points is None else _np(points).reshape(nf, 2)

    def frame_traces(i):
        e = ellipse_points(means[i], covs[i], k)
        out = [
            go.Scatter(x=e[:, 0], y=e[:, 1], mode="lines", name=name, line=dict(color=PALETTE[1], dash="dash", width=2))
        ]
        if pts_arr is not None:
            out.append(
                go.Scatter(
                    x=[pts_arr[i, 0]],
                    y=[pts_arr[i, 1]],
                    mode="markers",
                    name="θ_t",
                    marker=dict(color=PALETTE[1], size=9),
                )
            )
        return out

    fig = go.Figure(data=[ellipse_trace(tm, tc, k, name="target", color=PALETTE[0])] + frame_traces(0))
    fig.frames = [
        go.Frame(data=frame_traces(i), traces=list(range(1, 1 + len(frame_traces(i)))), name=str(s))
        for i, s in enumerate(steps)
    ]
    fig.update_layout(
        sliders=[
            dict(
                active=0,
                currentvalue=dict(prefix="step "),
                pad=dict(t=40),
                steps=[
                    dict(
                        label=str(s),
                        method="animate",
                        args=[
                            [str(s)],
                            dict(mode="immediate", frame=dict(duration=0, redraw=False), transition=dict(duration=0)),
                        ],
                    )
                    for s in steps
                ],
            )
        ],
        updatemenus=[
            dict(
                type="buttons",
                showactive=False,
                x=0.0,
                y=1.12,
                xanchor="left",
                buttons=[
                    dict(
                        label="▶ play",
                        method="animate",
                        args=[
                            None,
                            dict(frame=dict(duration=150, redraw=False), fromcurrent=True, transition=dict(duration=0)),
                        ],
                    )
                ],
            )
        ],
    )
    fig.update_xaxes(range=[lo[0] - pad[0], hi[0] + pad[0]])
    fig.update_yaxes(range=[lo[1] - pad[1], hi[1] + pad[1]])
    return _layout(fig, title, labels[0], labels[1], equal=True, height=520)


def conditional_figure(
    target: Any,
    given: float,
    *,
    block: int = 0,
    ks: Sequence[float] = (1.0, 2.0),
    n: int = 400,
    title: str | None = None,
    labels: Sequence[str] = ("θ₁", "θ₂"),
) -> go.Figure:
    """A 2-D Gaussian and one of its conditionals, two panels.

    Left: the target's ellipses, the line ``θ_other = given`` and the conditional
    mean ± 1 std on it.  Right: the closed-form conditional density of
    ``θ_block`` next to the *slice* of the joint density along that line,
    renormalized numerically - the two curves coincide, which is all that
    "conditional" means.
    """
    import torch
    from plotly.subplots import make_subplots

    from gibbsnas_lite.course.toys import GaussianPosterior

    if not isinstance(target, GaussianPosterior):
        mean, cov = _mean_cov(target)
        target = GaussianPosterior(mean, cov)
    other = 1 - block
    theta = target.mean.clone()
    theta[other] = float(given)
    cond = target.conditional(block, theta)
    cm, cs = float(cond.mean[0]), float(cond.cov[0, 0]) ** 0.5
    sd = float(target.cov[block, block]) ** 0.5
    grid = torch.linspace(float(target.mean[block]) - 4 * sd, float(target.mean[block]) + 4 * sd, n, dtype=target.dtype)
    pts = theta.repeat(n, 1)
    pts[:, block] = grid
    sl = torch.exp(target.log_prob(pts))
    sl = sl / (sl.sum() * (grid[1] - grid[0]))
    dens = torch.exp(cond.log_prob(grid[:, None]))

    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=("joint and the line θ_other = given", f"p({labels[block]} | {labels[other]} = {given:g})"),
    )
    for tr in gaussian_ellipse_traces(target, name="joint", color=PALETTE[0], ks=ks):
        fig.add_trace(tr, row=1, col=1)
    g_np = _np(grid)
    line = np.full_like(g_np, float(given))
    xy = (g_np, line) if block == 0 else (line, g_np)
    fig.add_trace(
        go.Scatter(x=xy[0], y=xy[1], mode="lines", name="line", line=dict(color="#7f7f7f", dash="dot")), row=1, col=1
    )
    seg = np.array([cm - cs, cm + cs])
    seg_xy = (seg, [given, given]) if block == 0 else ([given, given], seg)
    fig.add_trace(
        go.Scatter(
            x=seg_xy[0],
            y=seg_xy[1],
            mode="lines+markers",
            name="conditional mean ± 1 std",
            line=dict(color=PALETTE[1], width=4),
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=g_np, y=_np(dens), mode="lines", name="closed form N(μ_c, σ_c²)", line=dict(color=PALETTE[1], width=3)
        ),
        row=1,
        col=2,
    )
    fig.add_trace(
        go.Scatter(
            x=g_np,
            y=_np(sl),
            mode="lines",
            name="slice of the joint, renormalized",
            line=dict(color="black", dash="dash"),
        ),
        row=1,
        col=2,
    )
    fig.update_xaxes(title_text=labels[0], row=1, col=1)
    fig.update_yaxes(title_text=labels[1], scaleanchor="x", scaleratio=1, row=1, col=1)
    fig.update_xaxes(title_text=labels[block], row=1, col=2)
    fig.update_yaxes(title_text="density", row=1, col=2)
    fig.update_layout(title=title, template="plotly_white", height=420)
    return fig


def pd_policy_figure(
    results: Mapping[str, Mapping[str, Any]], *, floor: float = 1e-3, title: str | None = None
) -> go.Figure:
    """Smallest eigenvalue of the BFGS estimate per pair, one line per positive-definite policy.

    ``results`` is the output of :func:`gibbsnas_lite.course.toys.compare_pd_policies`.  The
    y axis is a signed log, ``sign(λ)·log10(1 + |λ|/floor)``, so that both tiny positive
    and large negative eigenvalues are visible; below 0 the estimate is not a covariance.
    Pairs with ``sᵀy <= 0`` are marked on the x axis.
    """
    fig = go.Figure()
    sy = None
    for i, (pol, r) in enumerate(results.items()):
        lam = _np(r["min_eig"])
        y = np.sign(lam) * np.log10(1.0 + np.abs(lam) / floor)
        fig.add_trace(
            go.Scatter(
                x=np.arange(1, len(lam) + 1),
                y=y,
                mode="lines",
                name=pol,
                line=dict(color=PALETTE[i % len(PALETTE)]),
                customdata=lam,
                hovertemplate="pair %{x}: λ_min = %{customdata:.3g}",
            )
        )
        sy = _np(r["sy"]) if "sy" in r else sy
    if sy is not None:
        bad = np.nonzero(sy <= 0)[0] + 1
        fig.add_trace(
            go.Scatter(
                x=bad,
                y=np.zeros(len(bad)),
                mode="markers",
                name="pairs with sᵀy ≤ 0",
                marker=dict(symbol="line-ns-open", size=10, color="black"),
            )
        )
    fig.add_hline(y=0.0, line=dict(color="black", width=1, dash="dot"))
    return _layout(fig, title, "pair", f"sign(λ_min)·log10(1 + |λ_min|/{floor:g})")
