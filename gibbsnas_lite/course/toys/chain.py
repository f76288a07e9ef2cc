"""Algorithm 1 on a joint Gaussian over (ω, α): exact block Gibbs vs the GibbsNAS way (each
block's conditional approximated by its quasi-Newton Gaussian)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .driver import grad_fn_of, inverse_hessian_of
from .gibbs import exact_gibbs
from .helpers import DEFAULT_DTYPE, to_tensor
from .targets import GaussianPosterior


@dataclass
class ChainResult:
    """Output of :func:`gibbsnas_chain`: ``samples`` after each sweep, ``(n_sweeps + 1, d)``.

    For ``method="gibbsnas"`` also the two samplers (``omega_sampler``,
    ``alpha_sampler``) and, when asked, the α inverse-Hessian estimate after each
    sweep (``alpha_inverse_hessians``) and the ω diagonal (``omega_inverse_hessians``).
    """

    samples: torch.Tensor
    method: str
    omega: list[int]
    alpha: list[int]
    omega_sampler: Any = None
    alpha_sampler: Any = None
    omega_inverse_hessians: torch.Tensor | None = None
    alpha_inverse_hessians: torch.Tensor | None = None
    diverged_at: int | None = None


def gibbsnas_chain(
    target: Any,
    n_sweeps: int,
    *,
    method: str = "gibbsnas",
    omega: Sequence[int] | None = None,
    alpha: Sequence[int] | None = None,
    lr: float = 1.0,
    mode: str = "sample",
    omega_kwargs: dict | None = None,
    alpha_kwargs: dict | None = None,
    init: Any = None,
    seed: int = 0,
    pairs: str = "sampler",
    divergence_bound: float = 1e6,
    record_inverse_hessian: bool = False,
    progress: bool = False,
) -> ChainResult:
    """Algorithm 1 on a toy joint posterior over ``θ = (ω, α)``.

    Each sweep ``t`` draws ``ω_t ~ p(ω | α_t)`` (step 4, Eq. 15) then
    ``α_{t+1} ~ p(α | ω_t)`` (step 5, Eq. 16).

    * ``method="exact"``: the closed-form Gaussian conditionals (``target`` must be a
      :class:`GaussianPosterior`) - block Gibbs, :func:`exact_gibbs`.
    * ``method="gibbsnas"``: the GibbsNAS way.  Each conditional is replaced by its
      quasi-Newton Gaussian ``N(θ_b − η H_b ∇_b E, H_b)``, with ``H_ω`` the diagonal of
      :class:`~gibbsnas_lite.samplers.DiagonalGaussian` and ``H_α`` the dense BFGS
      matrix of :class:`~gibbsnas_lite.samplers.BFGSGaussian`, each estimated from its
      own block's curvature pairs.  Both run with ``data_size=1, temperature=1,
      weight_decay=0`` so they target ``exp(−E)``; ``lr`` is η (1 makes each draw
      the local Laplace Gaussian; on a Gaussian with exact ``H_b`` that *is* the
      exact conditional).  ``omega_kwargs``/``alpha_kwargs`` override the sampler
      arguments (the ω defaults are ``diag="secant", h_min=1e-4, h_max=1``: the
      library defaults are tuned for deep networks, not toys).

    ``pairs`` (gibbsnas only): ``"sampler"`` calls ``step()`` with ``.grad`` set, so
    each sampler forms ``y = g_t − g_{t−1}`` from consecutive calls - across the other
    block's update, exactly as a search loop that does not pass a closure (then
    ``y = A_bb s + A_bo Δθ_other`` on a Gaussian: contaminated).  ``"conditional"``
    calls ``step(closure)``: the samplers evaluate the closure before and after their
    own move, with the other block fixed, so each pair measures the conditional's
    curvature only (``y = A_bb s``; one extra gradient per block and sweep - the
    samplers' "same-batch" pairs, as in oBFGS/oLBFGS).

    The chain stops early (``diverged_at`` = the sweep) when a coordinate becomes
    non-finite or exceeds ``divergence_bound`` in absolute value, or a sampler raises.

    ``omega``/``alpha`` default to ``target.info["omega"/"alpha"]`` (see
    :func:`two_block_gaussian`), else the first/second coordinate.  ``init``
    defaults to the target mean + 3 std (as :func:`exact_gibbs`).
    """
    info = getattr(target, "info", {}) or {}
    om = list(omega if omega is not None else info.get("omega", [0]))
    al = list(alpha if alpha is not None else info.get("alpha", [1]))
    d = len(om) + len(al)
    if sorted(om + al) != list(range(d)):
        raise ValueError("omega and alpha must partition the coordinates")
    if init is None:
        if isinstance(target, GaussianPosterior):
            init = target.mean + 3.0 * torch.sqrt(torch.diagonal(target.cov))
        else:
            init = torch.zeros(d, dtype=DEFAULT_DTYPE)
    x0 = to_tensor(init, DEFAULT_DTYPE).reshape(-1)
    if method == "exact":
        if not isinstance(target, GaussianPosterior):
            raise TypeError("method='exact' needs a GaussianPosterior (closed-form conditionals)")
        tr = exact_gibbs(target, n_sweeps, blocks=[om, al], init=x0, seed=seed, progress=progress)
        return ChainResult(samples=tr.samples, method=method, omega=om, alpha=al)
    if method != "gibbsnas":
        raise ValueError(f"method must be 'exact' or 'gibbsnas', got {method!r}")
    if pairs not in ("sampler", "conditional"):
        raise ValueError(f"pairs must be 'sampler' or 'conditional', got {pairs!r}")

    from gibbsnas_lite.samplers import BFGSGaussian, DiagonalGaussian

    common = dict(lr=lr, mode=mode, data_size=1, temperature=1.0, weight_decay=0.0)
    kw_w = {**common, "diag": "secant", "h_min": 1e-4, "h_max": 1.0, "seed": seed, **(omega_kwargs or {})}
    kw_a = {**common, "seed": seed + 1, **(alpha_kwargs or {})}
    w = torch.nn.Parameter(x0[om].clone())
    a = torch.nn.Parameter(x0[al].clone())
    opt_w = DiagonalGaussian([w], **kw_w)
    opt_a = BFGSGaussian([a], **kw_a)
    grad = grad_fn_of(target)
    om_t, al_t = torch.tensor(om), torch.tensor(al)
    theta = x0.clone()
    out = torch.empty(n_sweeps + 1, d, dtype=DEFAULT_DTYPE)
    out[0] = theta
    hw, ha = [], []
    diverged_at = None
    it = range(n_sweeps)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="GibbsNAS sweeps")
    state = {"theta": theta}

    def block_closure(param: torch.nn.Parameter, idx: torch.Tensor) -> Callable[[], None]:
        # the block's gradient at its current value, the other block held at its current value
        def closure() -> None:
            th = state["theta"].index_copy(0, idx, param.detach().to(DEFAULT_DTYPE))
            param.grad = grad(th).index_select(0, idx).to(param.dtype)

        return closure

    close_w, close_a = block_closure(w, om_t), block_closure(a, al_t)

    def sweep() -> None:
        # step 4: ω_t ~ p(ω | α_t), by Eq. 15
        if pairs == "conditional":
            opt_w.step(close_w)
        else:
            with torch.no_grad():
                w.grad = grad(state["theta"]).index_select(0, om_t)
            opt_w.step()
        state["theta"] = state["theta"].index_copy(0, om_t, w.detach())
        # step 5: α_{t+1} ~ p(α | ω_t), by Eq. 16
        if pairs == "conditional":
            opt_a.step(close_a)
        else:
            with torch.no_grad():
                a.grad = grad(state["theta"]).index_select(0, al_t)
            opt_a.step()
        state["theta"] = state["theta"].index_copy(0, al_t, a.detach())

    for t in it:
        try:
            sweep()
        except (ValueError, RuntimeError):  # a sampler refused a NaN gradient: the chain blew up
            diverged_at = t + 1
            out = out[: t + 1]
            break
        theta = state["theta"]
        out[t + 1] = theta
        if record_inverse_hessian:
            hw.append(inverse_hessian_of(opt_w))
            ha.append(inverse_hessian_of(opt_a))
        if not bool(torch.isfinite(theta).all()) or float(theta.abs().max()) > divergence_bound:
            diverged_at = t + 1
            out = out[: t + 2]
            break
    return ChainResult(
        diverged_at=diverged_at,
        samples=out,
        method=method,
        omega=om,
        alpha=al,
        omega_sampler=opt_w,
        alpha_sampler=opt_a,
        omega_inverse_hessians=torch.stack(hw) if hw else None,
        alpha_inverse_hessians=torch.stack(ha) if ha else None,
    )
