"""Toy posteriors for learning what GibbsNAS does, on problems whose answer is known.

Everything here is small, seeded and exact where it can be, so that a notebook can
put the GibbsNAS approximations (paper Eqs. 15-16, the samplers in
:mod:`gibbsnas_lite.samplers`) next to the truth.

Conventions
-----------
* A *potential* ``E(θ)`` is a negative log density up to a constant,
  ``p(θ) ∝ exp(−E(θ))``.  It is any callable mapping a tensor of shape ``(..., d)``
  to a tensor of shape ``(...)`` (every toy here is batch-friendly), or an object
  with a ``potential`` method.
* The samplers target ``exp(−N·U(θ)/T)`` with ``U = L_mean + (λ/2)‖θ‖²``.  For a
  toy potential we run them with ``data_size=1, temperature=1, weight_decay=0`` and
  put ``∇E`` in ``.grad``, so their target is exactly ``exp(−E)``.  The logistic
  regression toy also exposes the paper's own split (``loss_mean``, ``data_size``,
  ``weight_decay``) so both conventions can be checked to agree.
* Tensors are float64 by default and live on the device of the toy's mean.

Contents
--------
* :class:`GaussianPosterior` - quadratic posterior ``N(μ, Σ)`` (``A = Σ⁻¹``):
  potential, gradient, log density, exact samples, closed-form conditionals of any
  block given the rest, marginals.
* :func:`bivariate_gaussian`, :func:`two_block_gaussian` - the 2-D and the
  (ω, α) toy targets.
* :func:`exact_gibbs` - systematic-scan Gibbs sampler with the closed-form
  conditionals (coordinate-wise or blockwise, many chains at once).
* :func:`laplace_approximation` - Newton mode + autograd Hessian → Gaussian.
* :class:`LogisticRegressionPosterior`, :class:`BananaPosterior` - non-Gaussian
  posteriors.
* :func:`grid_moments` - exact moments of a 2-D density by quadrature (the truth
  for the 2-D non-Gaussian toys).
* :func:`run_sampler` - drive a ``torch.optim``-style sampler on a potential and
  keep its trace (and, optionally, its inverse-Hessian estimates); consecutive or
  same-batch (``step(closure)``) curvature pairs; optional gradient noise; a
  divergence guard.
* :func:`gibbsnas_chain` - Algorithm 1 on a joint Gaussian over (ω, α): exact
  block Gibbs vs. the GibbsNAS way (each block's conditional approximated by its
  quasi-Newton Gaussian), with the samplers' own or conditional curvature pairs.
* :func:`gibbsnas_stationary_cov`, :func:`linear_chain_stationary_cov`,
  :func:`stationary_inflation` - what the quasi-Newton Gaussian steps converge to
  for a fixed ``H`` and learning rate η (exact, by a Lyapunov equation).
* :func:`compare_pd_policies`, :func:`noisy_secant_pairs`,
  :func:`bfgs_inverse_update_unprotected` - the positive-definite policies of BFGS
  on pairs with ``sᵀy <= 0``.
* :func:`autocorrelation`, :func:`integrated_autocorrelation_time`,
  :func:`effective_sample_size`, :func:`ar1_gibbs_ess_fraction`,
  :func:`gibbs_ess_vs_rho`, :func:`chain_ess_vs_rho` - mixing diagnostics.
* small helpers: :func:`sample_mean_cov`, :func:`relative_error`,
  :func:`correlation_of`, :func:`inverse_hessian_error`, :func:`spectrum`,
  :func:`random_gaussian`, :func:`box_around`, :func:`to_numpy`.

Modules (one idea each; this package re-exports their public names, so ``toys.X`` works)
-------------------------------------------------------------------------------------------
* :mod:`.targets`     - the toy posteriors: Gaussians, potentials, Laplace, logistic, banana, grid moments;
* :mod:`.gibbs`       - exact Gibbs with the closed-form conditionals;
* :mod:`.driver`      - the sampler driver (:func:`run_sampler`);
* :mod:`.chain`       - Algorithm 1 on a joint Gaussian (:func:`gibbsnas_chain`);
* :mod:`.stationary`  - stationary covariances of the quasi-Newton Gaussian steps;
* :mod:`.pd_policies` - BFGS's positive-definite policies on bad curvature pairs;
* :mod:`.diagnostics` - mixing diagnostics (autocorrelation, IAT, ESS) and estimate errors;
* :mod:`.helpers`     - small helpers (tensors, sample moments, errors).

Speed: the samplers on 2-D toys are dominated by per-call overhead, and MKL's
threads make tiny ``linalg`` calls 10-20x slower on a busy machine;
``torch.set_num_threads(1)`` is what the notebooks use.
"""

from .chain import ChainResult, gibbsnas_chain
from .diagnostics import (
    ar1_gibbs_ess_fraction,
    autocorrelation,
    chain_ess_vs_rho,
    effective_sample_size,
    gibbs_ess_vs_rho,
    integrated_autocorrelation_time,
    inverse_hessian_error,
    spectrum,
)
from .driver import SamplerTrace, run_sampler
from .gibbs import GibbsTrace, exact_gibbs
from .helpers import DEFAULT_DTYPE, correlation_of, relative_error, sample_mean_cov, to_numpy  # noqa: F401
from .pd_policies import bfgs_inverse_update_unprotected, compare_pd_policies, noisy_secant_pairs
from .stationary import gibbsnas_stationary_cov, linear_chain_stationary_cov, stationary_inflation
from .targets import (
    BananaPosterior,
    GaussianPosterior,
    LogisticRegressionPosterior,
    bivariate_gaussian,
    box_around,
    equicorrelation,
    grid_moments,
    laplace_approximation,
    potential_fn,
    potential_grad,
    potential_hessian,
    random_gaussian,
    two_block_gaussian,
)

__all__ = [
    "GaussianPosterior",
    "bivariate_gaussian",
    "two_block_gaussian",
    "equicorrelation",
    "GibbsTrace",
    "exact_gibbs",
    "potential_fn",
    "potential_grad",
    "potential_hessian",
    "laplace_approximation",
    "LogisticRegressionPosterior",
    "BananaPosterior",
    "SamplerTrace",
    "run_sampler",
    "inverse_hessian_error",
    "ChainResult",
    "gibbsnas_chain",
    "gibbsnas_stationary_cov",
    "random_gaussian",
    "box_around",
    "chain_ess_vs_rho",
    "spectrum",
    "bfgs_inverse_update_unprotected",
    "noisy_secant_pairs",
    "compare_pd_policies",
    "autocorrelation",
    "integrated_autocorrelation_time",
    "effective_sample_size",
    "ar1_gibbs_ess_fraction",
    "gibbs_ess_vs_rho",
    "grid_moments",
    "linear_chain_stationary_cov",
    "stationary_inflation",
    "sample_mean_cov",
    "relative_error",
    "correlation_of",
    "to_numpy",
]
