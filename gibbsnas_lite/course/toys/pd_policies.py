"""The positive-definite policies of BFGS on curvature pairs with ``sᵀy <= 0``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from .helpers import relative_error, seeded_generator, symmetrize, to_numpy
from .targets import GaussianPosterior


def bfgs_inverse_update_unprotected(h: torch.Tensor, s: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The textbook BFGS inverse update with no positive-definite policy (teaching only).

    ``H+ = (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ``, ``ρ = 1/(sᵀy)`` (Nocedal & Wright
    Eq. 6.17).  When ``sᵀy < 0`` the result is indefinite: it has a negative
    eigenvalue and no Cholesky factor, so nothing can be sampled from it.  The
    samplers never do this; they ``"skip"`` or ``"damp"`` such pairs
    (:func:`gibbsnas_lite.samplers.bfgs_inverse_update`).
    """
    rho = 1.0 / float(s @ y)
    eye = torch.eye(len(s), dtype=h.dtype, device=h.device)
    left = eye - rho * torch.outer(s, y)
    out = left @ h @ left.T + rho * torch.outer(s, s)
    return symmetrize(out)


def noisy_secant_pairs(
    target: GaussianPosterior, n_pairs: int, *, step_std: float = 0.3, grad_noise: float = 1.0, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Curvature pairs ``(s, y = A s + ε)`` as minibatch gradients give them.

    ``s ~ N(0, step_std² I)`` and ``ε ~ N(0, 2·grad_noise² I)`` (the difference of two
    noisy gradients).  With noise comparable to ``A s``, many pairs have ``sᵀy <= 0``.
    Returns ``(S, Y)`` of shape ``(n_pairs, d)``.
    """
    g = seeded_generator(seed, target.device)
    s = step_std * torch.randn(n_pairs, target.dim, generator=g, dtype=target.dtype, device=target.device)
    eps = (
        math.sqrt(2.0)
        * grad_noise
        * torch.randn(n_pairs, target.dim, generator=g, dtype=target.dtype, device=target.device)
    )
    return s, s @ target.precision + eps


def compare_pd_policies(
    target: GaussianPosterior,
    s_pairs: torch.Tensor,
    y_pairs: torch.Tensor,
    policies: Sequence[str] = ("skip", "damp", "none"),
) -> dict[str, dict[str, np.ndarray]]:
    """Feed the same curvature pairs to BFGS under each positive-definite policy.

    ``"skip"``/``"damp"`` use the samplers' own
    :func:`gibbsnas_lite.samplers.bfgs_inverse_update`; ``"none"`` the unprotected
    textbook update (:func:`bfgs_inverse_update_unprotected`).  H starts at ``I``.
    For each policy returns arrays over pairs: ``min_eig`` (smallest eigenvalue of
    H, negative means it is no longer a covariance), ``error``
    (``‖H − A⁻¹‖_F/‖A⁻¹‖_F``), ``outcome`` (updated / damped / skipped / raw) and
    ``sy`` (``sᵀy`` of each pair).
    """
    from gibbsnas_lite.samplers import bfgs_inverse_update

    target_inv = target.cov
    out: dict[str, dict[str, np.ndarray]] = {}
    sy = (s_pairs * y_pairs).sum(dim=1)
    for pol in policies:
        h = torch.eye(target.dim, dtype=target.dtype, device=target.device)
        mins, errs, outcomes = [], [], []
        for s, y in zip(s_pairs, y_pairs):
            if pol == "none":
                h, oc = bfgs_inverse_update_unprotected(h, s, y), "raw"
            else:
                h, oc = bfgs_inverse_update(h, s, y, pd_policy=pol)
            mins.append(float(torch.linalg.eigvalsh(h)[0]))
            errs.append(relative_error(h, target_inv))
            outcomes.append(oc)
        out[pol] = {
            "min_eig": np.array(mins),
            "error": np.array(errs),
            "outcome": np.array(outcomes),
            "sy": to_numpy(sy),
        }
    return out
