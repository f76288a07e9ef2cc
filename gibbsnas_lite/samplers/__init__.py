"""The GibbsNAS samplers (paper Eqs. 15-16), as torch.optim optimizers.

* :class:`BFGSGaussian` - α (architecture importance): full BFGS inverse Hessian, Eq. 16.
* :class:`DiagLBFGSGaussian` - ω (network weights): diagonal inverse Hessian from the last
  few curvature pairs, Eq. 15.

Both draw ``θ ~ N(θ - η H ∇U, (T/N) H)`` for ``U = L_mean + (λ/2)‖θ‖²``; see docs/samplers.md.
"""

from .bfgs import BFGSGaussian, bfgs_inverse_update
from .diag_lbfgs import DiagLBFGSGaussian, lbfgs_diagonal, secant_diagonal

__all__ = ["BFGSGaussian", "DiagLBFGSGaussian", "bfgs_inverse_update", "lbfgs_diagonal", "secant_diagonal"]
