"""The GibbsNAS samplers (paper Eqs. 15-16), as torch.optim optimizers.

* :class:`BFGSGaussian` - α (architecture importance): full BFGS inverse Hessian, Eq. 16.
* :class:`DiagonalGaussian` - ω (network weights): diagonal inverse Hessian from the last
  few curvature pairs (a secant fit by default), Eq. 15. ``DiagLBFGSGaussian``, its earlier
  name, is an alias for one version.

Both draw ``θ ~ N(θ - η H ∇U, c (T/N) H)`` for ``U = L_mean + (λ/2)‖θ‖²``, c = 1 as Eqs. 15-16
print it (``noise="eq16"``) or c = η(2 - η) (``"calibrated"``: the chain spreads as the Laplace
Gaussian at every η, :func:`noise_variance_factor`); see docs/samplers.md.
:class:`NonFiniteWatch` holds values (losses, a sampler's gradient norm) for one NaN/Inf check
later, so that a search checks them once per epoch instead of with a host sync each.
"""

from ._common import NOISES, NonFiniteWatch, noise_variance_factor
from .bfgs import BFGSGaussian, bfgs_inverse_update
from .diag_lbfgs import DiagLBFGSGaussian, DiagonalGaussian, lbfgs_diagonal, secant_diagonal

__all__ = [
    "BFGSGaussian",
    "DiagLBFGSGaussian",
    "DiagonalGaussian",
    "NOISES",
    "NonFiniteWatch",
    "bfgs_inverse_update",
    "lbfgs_diagonal",
    "noise_variance_factor",
    "secant_diagonal",
]
