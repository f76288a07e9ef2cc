"""Mixing diagnostics: autocorrelation, integrated autocorrelation time, effective sample size
(of exact Gibbs and of the GibbsNAS chain, against the correlation), and errors of the
inverse-Hessian estimates."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .chain import gibbsnas_chain
from .gibbs import exact_gibbs
from .helpers import DEFAULT_DTYPE, to_numpy, to_tensor
from .targets import bivariate_gaussian, two_block_gaussian


def autocorrelation(x: Any, max_lag: int | None = None) -> np.ndarray:
    """Normalized autocorrelation ``ρ_k``, ``k = 0..max_lag``, of a chain along axis 0.

    ``x`` of shape ``(n,)`` gives shape ``(max_lag+1,)``; ``(n, d)`` gives
    ``(max_lag+1, d)``.  FFT-based, with the usual biased (``1/n``) estimator.
    """
    a = to_numpy(x)
    one_d = a.ndim == 1
    a = a.reshape(a.shape[0], -1)
    n = a.shape[0]
    if n < 2:
        raise ValueError("need at least 2 samples")
    max_lag = n - 1 if max_lag is None else min(int(max_lag), n - 1)
    a = a - a.mean(axis=0)
    nfft = 1 << int(math.ceil(math.log2(2 * n)))
    f = np.fft.rfft(a, n=nfft, axis=0)
    acov = np.fft.irfft(f * np.conj(f), n=nfft, axis=0)[: max_lag + 1] / n
    var = acov[0].copy()
    var[var == 0] = 1.0
    rho = acov / var
    return rho[:, 0] if one_d else rho


def integrated_autocorrelation_time(x: Any) -> np.ndarray | float:
    """``τ = 1 + 2 Σ_{k≥1} ρ_k`` with Geyer's initial monotone positive sequence.

    Sums pairs ``Γ_m = ρ_{2m} + ρ_{2m+1}`` while they are positive, forcing them
    non-increasing (Geyer 1992).  For an AR(1) chain with coefficient ``φ``,
    ``τ = (1+φ)/(1−φ)``.  Scalar for a 1-D chain, array of shape ``(d,)`` for ``(n, d)``.
    """
    rho = autocorrelation(x)
    one_d = rho.ndim == 1
    rho = rho.reshape(rho.shape[0], -1)
    taus = []
    for j in range(rho.shape[1]):
        r = rho[:, j]
        m = len(r) // 2
        gam = r[: 2 * m].reshape(m, 2).sum(axis=1)
        total, prev = 0.0, np.inf
        for gm in gam:
            if gm <= 0:
                break
            gm = min(gm, prev)
            total += gm
            prev = gm
        taus.append(max(-1.0 + 2.0 * total, 1e-12))
    out = np.array(taus)
    return float(out[0]) if one_d else out


def effective_sample_size(x: Any) -> np.ndarray | float:
    """``ESS = n / τ`` (see :func:`integrated_autocorrelation_time`), per coordinate."""
    n = to_numpy(x).shape[0]
    return n / integrated_autocorrelation_time(x)


def ar1_gibbs_ess_fraction(rho: float) -> float:
    """Known ESS/n of the x-chain of the two-coordinate Gibbs sampler on a bivariate Gaussian.

    The chain of one coordinate (one sample per sweep) is AR(1) with coefficient
    ``φ = ρ²``, so ``ESS/n = 1/τ = (1 − ρ²)/(1 + ρ²)``: it goes to 0 as ``ρ → 1``.
    """
    phi = rho * rho
    return (1 - phi) / (1 + phi)


def gibbs_ess_vs_rho(
    rhos: Sequence[float],
    n_sweeps: int,
    *,
    n_chains: int = 4,
    burn_in: int = 0,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Mixing of the exact two-coordinate Gibbs sampler on ``bivariate_gaussian(ρ)``, per ρ.

    Chains start at the mean (no burn-in needed).  Returns arrays over ``rhos``:
    ``ess_fraction`` (measured ESS/n of θ₁, averaged over chains), ``lag1``
    (measured lag-1 autocorrelation), ``theory_ess_fraction`` ``(1−ρ²)/(1+ρ²)``
    and ``theory_lag1`` ``ρ²``.
    """
    ess, lag1 = [], []
    for i, rho in enumerate(rhos):
        tr = exact_gibbs(bivariate_gaussian(float(rho)), n_sweeps, n_chains=n_chains, init=[0.0, 0.0], seed=seed + i)
        x = to_numpy(tr.samples[burn_in:, :, 0])
        ess.append(np.mean([effective_sample_size(x[:, c]) for c in range(n_chains)]) / x.shape[0])
        lag1.append(np.mean([autocorrelation(x[:, c], 1)[1] for c in range(n_chains)]))
    r = np.asarray(rhos, dtype=float)
    return {
        "rho": r,
        "ess_fraction": np.asarray(ess),
        "lag1": np.asarray(lag1),
        "theory_ess_fraction": (1 - r**2) / (1 + r**2),
        "theory_lag1": r**2,
    }


def inverse_hessian_error(estimates: Any, target_inverse: Any) -> np.ndarray:
    """``‖H_t − A⁻¹‖_F / ‖A⁻¹‖_F`` for each estimate ``H_t`` (``(n, d, d)``, or ``(n, d)`` diagonals vs a vector)."""
    h = to_numpy(estimates)
    t = to_numpy(target_inverse)
    axes = tuple(range(1, h.ndim))
    return np.sqrt(((h - t) ** 2).sum(axis=axes)) / np.sqrt((t**2).sum())


def chain_ess_vs_rho(
    rhos: Sequence[float],
    n_sweeps: int,
    *,
    methods: Sequence[str] = ("exact", "gibbsnas"),
    burn_in: int = 50,
    seed: int = 0,
    **chain_kwargs: Any,
) -> dict[str, np.ndarray]:
    """ESS per sweep of the ω-coordinate of :func:`gibbsnas_chain` on ``two_block_gaussian(ρ)``.

    Returns ``{"rho": ..., method: ESS/n, ..., "theory": (1−ρ²)/(1+ρ²)}`` (block Gibbs'
    ω-chain is AR(1) with coefficient ρ², like the 2-coordinate Gibbs chain).
    Chains start at the mean; ``chain_kwargs`` go to :func:`gibbsnas_chain`.
    """
    out: dict[str, Any] = {"rho": np.asarray(rhos, dtype=float)}
    for method in methods:
        vals = []
        for i, rho in enumerate(rhos):
            tgt = two_block_gaussian(float(rho))
            res = gibbsnas_chain(
                tgt, n_sweeps, method=method, init=torch.zeros(2, dtype=DEFAULT_DTYPE), seed=seed + i, **chain_kwargs
            )
            x = to_numpy(res.samples[burn_in:, 0])
            vals.append(effective_sample_size(x) / len(x) if res.diverged_at is None else float("nan"))
        out[method] = np.asarray(vals)
    r = out["rho"]
    out["theory"] = (1 - r**2) / (1 + r**2)
    return out


def spectrum(matrices: Any) -> np.ndarray:
    """Eigenvalues (ascending) of each symmetric matrix in a stack ``(n, d, d)`` → ``(n, d)``."""
    return to_numpy(torch.linalg.eigvalsh(to_tensor(matrices)))
