"""What the quasi-Newton Gaussian steps converge to for a fixed ``H`` and learning rate η
(exact, by a Lyapunov equation)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .helpers import symmetrize, to_tensor
from .targets import GaussianPosterior


def linear_chain_stationary_cov(m: Any, q: Any) -> torch.Tensor:
    """Stationary covariance ``S = M S Mᵀ + Q`` of the linear chain ``θ' = M θ + c + ξ``, ``ξ ~ N(0, Q)``.

    Solved exactly with a Kronecker product (small ``d`` only).  With a fixed
    preconditioner ``H``, the GibbsNAS step on a Gaussian ``N(μ, A⁻¹)`` is such a
    chain: ``M = I − η H A`` and ``Q = H`` (at ``T/N = 1``), so this predicts what
    the sampler's cloud converges to.
    """
    m, q = to_tensor(m), to_tensor(q)
    d = m.shape[0]
    eye = torch.eye(d * d, dtype=m.dtype, device=m.device)
    # vec(M S Mᵀ) = (M ⊗ M) vec(S) (row-major vec works the same for this form)
    s = torch.linalg.solve(eye - torch.kron(m, m), q.reshape(-1))
    return symmetrize(s.reshape(d, d))


def stationary_inflation(lr: float) -> float:
    """Variance inflation ``1/(η(2−η))`` of the quasi-Newton Gaussian step with the exact Hessian.

    With ``H = A⁻¹`` and learning rate η, ``θ' − μ = (1−η)(θ − μ) + A^{-1/2} z``, an
    AR(1) whose stationary covariance is ``A⁻¹ / (1 − (1−η)²)``: exact only at
    η = 1 (and 5.3× too wide at the paper's η = 0.1, at T = 1).
    """
    return 1.0 / (lr * (2.0 - lr))


def gibbsnas_stationary_cov(
    target: GaussianPosterior,
    blocks: Sequence[Sequence[int]],
    lr: float = 1.0,
    inverse_hessians: Sequence[Any] | None = None,
) -> torch.Tensor:
    """Exact stationary covariance of block quasi-Newton Gaussian steps with fixed ``H_b``.

    One sweep updates each block ``b`` in turn by
    ``θ_b ← θ_b − η H_b ∇_b E(θ) + H_b^{1/2} z`` (Eqs. 15-16 at ``T/N = 1``) on the
    Gaussian ``target``.  Each update is linear, ``θ ← M_b θ + c + ξ_b`` with
    ``M_b = I − η P_b H_b P_bᵀ A`` and ``Cov ξ_b = P_b H_b P_bᵀ``, so the sweep is too, and
    its stationary covariance solves a Lyapunov equation
    (:func:`linear_chain_stationary_cov`).  ``inverse_hessians[b]`` is a matrix or a
    vector (a diagonal); default: the exact conditional covariances ``A_bb⁻¹``, where
    η = 1 gives back ``Σ`` exactly (that is block Gibbs) and a single block gives
    ``Σ/(η(2−η))``.
    """
    d = target.dim
    a = target.precision
    eye = torch.eye(d, dtype=a.dtype, device=a.device)
    m_total, q_total = eye.clone(), torch.zeros_like(a)
    for i, b in enumerate(blocks):
        b = list(b)
        if inverse_hessians is None or inverse_hessians[i] is None:
            h = torch.linalg.inv(a[b][:, b])
        else:
            h = to_tensor(inverse_hessians[i], a.dtype, a.device)
            if h.ndim == 1:
                h = torch.diag(h)
        hb = torch.zeros_like(a)
        hb[np.ix_(b, b)] = h
        m_b = eye - lr * hb @ a
        m_total = m_b @ m_total
        q_total = m_b @ q_total @ m_b.T + hb
    return linear_chain_stationary_cov(m_total, q_total)
