"""The sampler driver: run a ``torch.optim``-style sampler on a potential and keep its trace
(and, optionally, its inverse-Hessian estimates)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .helpers import DEFAULT_DTYPE, seeded_generator, to_tensor
from .targets import potential_grad


@dataclass
class SamplerTrace:
    """Output of :func:`run_sampler`.

    ``theta``: recorded points, shape ``(n_records, d)`` (row 0 is the start);
    ``steps``: the step index of each row; ``inverse_hessians``: the sampler's
    inverse-Hessian estimate after each recorded step (``(n_records-1, d, d)`` for
    ``BFGSGaussian``, ``(n_records-1, d)`` diagonals for ``DiagonalGaussian``;
    ``None`` unless asked); ``covariances``: likewise, ``(T/N)·H`` (the covariance
    of the next draw); ``sampler``: the optimizer itself (its ``state`` has e.g.
    ``pairs_damped``); ``diverged_at``: the step at which the run was stopped
    because ``|θ|`` exceeded ``divergence_bound``, became non-finite, or the
    sampler raised (its message in ``error``), else ``None``.
    """

    theta: torch.Tensor
    steps: np.ndarray
    inverse_hessians: torch.Tensor | None = None
    covariances: torch.Tensor | None = None
    sampler: Any = None
    diverged_at: int | None = None
    error: str = ""

    def final_inverse_hessian(self) -> torch.Tensor:
        return inverse_hessian_of(self.sampler)

    def pair_counts(self) -> dict[str, int]:
        """``updated``/``damped``/``skipped`` curvature-pair counts of a ``BFGSGaussian``."""
        st = self.sampler.state[self.sampler.param_groups[0]["params"][0]]
        return {k: int(st.get(f"pairs_{k}", 0)) for k in ("updated", "damped", "skipped")}


def inverse_hessian_of(sampler: Any) -> torch.Tensor:
    if hasattr(sampler, "inverse_hessian"):
        return sampler.inverse_hessian()
    if hasattr(sampler, "inverse_hessian_diagonal"):
        return torch.cat([d.reshape(-1).double() for d in sampler.inverse_hessian_diagonal()])
    raise TypeError(f"{type(sampler).__name__} exposes no inverse-Hessian estimate")


def _covariance_of(sampler: Any) -> torch.Tensor:
    if hasattr(sampler, "covariance"):
        return sampler.covariance()
    if hasattr(sampler, "variance"):
        return torch.cat([v.reshape(-1).double() for v in sampler.variance()])
    raise TypeError(f"{type(sampler).__name__} exposes no covariance")


def grad_fn_of(potential: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    g = getattr(potential, "grad", None)
    if callable(g):
        return lambda x: g(x)
    return lambda x: potential_grad(potential, x)


def run_sampler(
    sampler_cls: Callable[..., torch.optim.Optimizer],
    potential: Any,
    init: Any,
    n_steps: int,
    *,
    loss: Callable[[torch.Tensor], torch.Tensor] | None = None,
    seed: int = 0,
    record_every: int = 1,
    record_inverse_hessian: bool = False,
    grad_noise: float = 0.0,
    pairs: str = "consecutive",
    divergence_bound: float = 1e6,
    progress: bool = False,
    dtype=None,
    device=None,
    **sampler_kwargs: Any,
) -> SamplerTrace:
    """Run a ``torch.optim``-style sampler on a potential and keep the trace.

    Each step sets ``θ.grad`` and calls ``sampler.step()``, exactly as a training loop
    would.  By default the gradient is ``∇E`` of the potential and the sampler gets
    ``data_size=1, temperature=1, weight_decay=0``, so it targets ``exp(−E)``.  To use
    the paper's split instead, pass ``loss`` (e.g. ``post.loss_mean``, whose gradient
    goes into ``.grad``) with ``data_size=N`` and ``weight_decay=λ``.

    Args:
        sampler_cls: e.g. ``gibbsnas_lite.samplers.BFGSGaussian`` or ``DiagonalGaussian``
            (any callable ``(params, **kwargs) -> Optimizer``).
        potential: the toy (callable or object with ``.potential``; ``.grad`` used if present).
        init: starting point, shape ``(d,)``.
        n_steps: number of ``step()`` calls.
        seed: the sampler's ``seed`` (unless given in ``sampler_kwargs``).
        record_every: keep every k-th point (and estimate).
        record_inverse_hessian: also keep ``H_t`` and ``(T/N)·H_t`` after each recorded step.
        grad_noise: add ``N(0, grad_noise²)`` to every gradient coordinate (seeded by
            ``seed``), a stand-in for minibatch noise: it makes curvature pairs with
            ``sᵀy <= 0`` common, which is what ``pd_policy`` is for.
        pairs: ``"consecutive"`` sets ``.grad`` and calls ``step()``: the sampler pairs the
            gradients of consecutive steps, each with its own noise draw (two different
            "minibatches").  ``"same_batch"`` calls ``step(closure)``: the closure returns
            the gradient plus *this step's* noise draw, evaluated before and after the move,
            so the noise cancels in ``y`` (oBFGS-style pairs).
        divergence_bound: stop (and set ``diverged_at``) when ``|θ|`` exceeds it; the run
            also stops, instead of raising, when the sampler raises ``ValueError`` or
            ``RuntimeError`` (a NaN gradient far out in a tail, say).
        progress: show a tqdm bar.
        **sampler_kwargs: passed to ``sampler_cls`` (``lr``, ``mode``, ``pd_policy``, ...).
    """
    kw = dict(sampler_kwargs)
    kw.setdefault("data_size", 1)
    kw.setdefault("temperature", 1.0)
    kw.setdefault("weight_decay", 0.0)
    kw.setdefault("seed", seed)
    x0 = to_tensor(init, dtype or DEFAULT_DTYPE, device).reshape(-1)
    param = torch.nn.Parameter(x0.clone())
    sampler = sampler_cls([param], **kw)
    grad = (lambda x: potential_grad(loss, x)) if loss is not None else grad_fn_of(potential)
    rows, steps, hs, covs = [x0.clone()], [0], [], []
    it = range(1, n_steps + 1)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc=getattr(sampler_cls, "__name__", "sampler"))
    gnoise = seeded_generator(seed + 7919, x0.device) if grad_noise > 0 else None
    if pairs not in ("consecutive", "same_batch"):
        raise ValueError(f"pairs must be 'consecutive' or 'same_batch', got {pairs!r}")
    batch = {"noise": None}

    def closure() -> None:
        with torch.no_grad():
            gt = grad(param.detach()).to(param.dtype)
            if batch["noise"] is not None:
                gt = gt + batch["noise"]
            param.grad = gt

    diverged_at, error = None, ""
    for t in it:
        if gnoise is not None:
            batch["noise"] = grad_noise * torch.randn(
                x0.shape, generator=gnoise, dtype=param.dtype, device=param.device
            )
        try:
            if pairs == "same_batch":
                sampler.step(closure)
            else:
                closure()
                sampler.step()
        except (ValueError, RuntimeError) as err:  # e.g. a NaN gradient far out in the tails
            diverged_at, error = t, f"{type(err).__name__}: {err}"
            break
        if not bool(torch.isfinite(param).all()) or float(param.detach().abs().max()) > divergence_bound:
            diverged_at, error = t, f"|θ| exceeded {divergence_bound:g}"
            rows.append(param.detach().clone())
            steps.append(t)
            break
        if t % record_every == 0:
            rows.append(param.detach().clone())
            steps.append(t)
            if record_inverse_hessian:
                hs.append(inverse_hessian_of(sampler))
                covs.append(_covariance_of(sampler))
    return SamplerTrace(
        theta=torch.stack(rows),
        steps=np.asarray(steps),
        inverse_hessians=torch.stack(hs) if hs else None,
        covariances=torch.stack(covs) if covs else None,
        sampler=sampler,
        diverged_at=diverged_at,
        error=error,
    )
