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

Speed: the samplers on 2-D toys are dominated by per-call overhead, and MKL's
threads make tiny ``linalg`` calls 10-20x slower on a busy machine;
``torch.set_num_threads(1)`` is what the notebooks use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import torch

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

DEFAULT_DTYPE = torch.float64


# ----------------------------------------------------------------------------- helpers


def to_numpy(x: Any) -> np.ndarray:
    """A float numpy array from a tensor (any device), an array or a list."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x, dtype=float)


def _as_tensor(x: Any, dtype=None, device=None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        if dtype is None:
            dtype = x.dtype if x.is_floating_point() else DEFAULT_DTYPE
        return x.to(dtype=dtype, device=device or x.device)
    return torch.as_tensor(np.asarray(x, dtype=float), dtype=dtype or DEFAULT_DTYPE, device=device)


def _generator(seed: int | None, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(0 if seed is None else int(seed))
    return g


def _sym(m: torch.Tensor) -> torch.Tensor:
    return 0.5 * (m + m.transpose(-1, -2))


def sample_mean_cov(samples: Any) -> tuple[np.ndarray, np.ndarray]:
    """Sample mean and (unbiased) covariance of ``samples`` of shape ``(n, d)``."""
    x = to_numpy(samples).reshape(len(samples), -1)
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def correlation_of(cov: Any, i: int = 0, j: int = 1) -> float:
    """Correlation coefficient ``C_ij / sqrt(C_ii C_jj)`` of a covariance matrix."""
    c = to_numpy(cov)
    return float(c[i, j] / math.sqrt(c[i, i] * c[j, j]))


def relative_error(estimate: Any, target: Any, ord: str | int | None = "fro") -> float:
    """``‖estimate − target‖ / ‖target‖`` (Frobenius norm by default)."""
    e, t = to_numpy(estimate), to_numpy(target)
    return float(np.linalg.norm(e - t, ord=ord) / np.linalg.norm(t, ord=ord))


# ----------------------------------------------------------------------------- Gaussian


class GaussianPosterior:
    """A quadratic posterior ``N(μ, Σ)``: potential ``E(θ) = ½ (θ−μ)ᵀ A (θ−μ)``, ``A = Σ⁻¹``.

    Give either ``cov`` (Σ) or ``precision`` (A); the other is computed.  The
    paper's Eqs. 9 and 13 are Gaussians of exactly this kind, with precision
    ``A = ∇²L + σ⁻² I`` (Eqs. 8 and 12).

    Shapes: ``θ`` may carry leading batch dimensions, ``(..., d)``.
    """

    def __init__(self, mean: Any, cov: Any = None, *, precision: Any = None, dtype=None, device=None):
        if (cov is None) == (precision is None):
            raise ValueError("give exactly one of cov or precision")
        dtype = dtype or DEFAULT_DTYPE
        self.mean = _as_tensor(mean, dtype, device).reshape(-1)
        device = self.mean.device
        d = self.mean.numel()
        if cov is not None:
            self.cov = _sym(_as_tensor(cov, dtype, device).reshape(d, d))
            self.precision = _sym(torch.linalg.inv(self.cov))
        else:
            self.precision = _sym(_as_tensor(precision, dtype, device).reshape(d, d))
            self.cov = _sym(torch.linalg.inv(self.precision))
        try:
            self.chol = torch.linalg.cholesky(self.cov)
        except RuntimeError as err:  # torch raises a LinAlgError (a RuntimeError)
            raise ValueError("covariance is not positive definite") from err
        self.info: dict[str, Any] = {}

    # -- basic quantities
    @property
    def dim(self) -> int:
        return self.mean.numel()

    @property
    def device(self) -> torch.device:
        return self.mean.device

    @property
    def dtype(self) -> torch.dtype:
        return self.mean.dtype

    def to(self, device=None, dtype=None) -> "GaussianPosterior":
        g = GaussianPosterior(self.mean.to(device=device, dtype=dtype), self.cov.to(device=device, dtype=dtype))
        g.info = dict(self.info)
        return g

    def __repr__(self) -> str:
        return f"GaussianPosterior(dim={self.dim}, mean={to_numpy(self.mean).round(4).tolist()})"

    def correlation(self) -> torch.Tensor:
        s = torch.sqrt(torch.diagonal(self.cov))
        return self.cov / (s[:, None] * s[None, :])

    # -- density
    def potential(self, theta: torch.Tensor) -> torch.Tensor:
        """``E(θ) = ½ (θ−μ)ᵀ A (θ−μ)`` (the negative log density up to a constant)."""
        r = theta - self.mean
        return 0.5 * torch.einsum("...i,ij,...j->...", r, self.precision, r)

    __call__ = potential

    def grad(self, theta: torch.Tensor) -> torch.Tensor:
        """``∇E(θ) = A (θ−μ)``."""
        return (theta - self.mean) @ self.precision  # A is symmetric

    def hessian(self, theta: torch.Tensor | None = None) -> torch.Tensor:
        """``∇²E = A`` (constant)."""
        return self.precision

    def log_prob(self, theta: torch.Tensor) -> torch.Tensor:
        """Normalized log density ``log N(θ | μ, Σ)``."""
        logdet = 2.0 * torch.log(torch.diagonal(self.chol)).sum()
        return -self.potential(theta) - 0.5 * (self.dim * math.log(2 * math.pi) + logdet)

    def sample(self, n: int, seed: int | None = 0, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` exact i.i.d. draws, shape ``(n, d)``: ``μ + L z`` with ``Σ = L Lᵀ``."""
        g = generator or _generator(seed, self.device)
        z = torch.randn(n, self.dim, generator=g, dtype=self.dtype, device=self.device)
        return self.mean + z @ self.chol.T

    # -- blocks
    def _block(self, block: Sequence[int] | int) -> tuple[torch.Tensor, torch.Tensor]:
        b = [block] if isinstance(block, int) else list(block)
        if not b or len(set(b)) != len(b) or min(b) < 0 or max(b) >= self.dim:
            raise ValueError(f"bad block {block!r} for dim {self.dim}")
        rest = [i for i in range(self.dim) if i not in b]
        return (torch.tensor(b, device=self.device), torch.tensor(rest, dtype=torch.long, device=self.device))

    def conditional_params(self, block: Sequence[int] | int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(K, C)`` with ``θ_b | θ_r ~ N(μ_b + K (θ_r − μ_r), C)``.

        From the precision: ``C = A_bb⁻¹`` and ``K = −A_bb⁻¹ A_br`` (equivalently,
        from the covariance, ``K = Σ_br Σ_rr⁻¹`` and ``C = Σ_bb − Σ_br Σ_rr⁻¹ Σ_rb``).
        """
        b, r = self._block(block)
        a_bb = self.precision[b][:, b]
        c = _sym(torch.linalg.inv(a_bb))
        k = -c @ self.precision[b][:, r]
        return k, c

    def conditional(self, block: Sequence[int] | int, theta: Any) -> "GaussianPosterior":
        """The exact conditional ``p(θ_b | θ_rest)`` as a Gaussian over the block.

        ``theta`` is a full vector of shape ``(d,)``; its entries in ``block`` are ignored.
        """
        b, r = self._block(block)
        theta = _as_tensor(theta, self.dtype, self.device).reshape(-1)
        k, c = self.conditional_params(block)
        m = self.mean[b] + k @ (theta[r] - self.mean[r])
        return GaussianPosterior(m, c)

    def marginal(self, block: Sequence[int] | int) -> "GaussianPosterior":
        """The marginal of ``θ_b``: ``N(μ_b, Σ_bb)``."""
        b, _ = self._block(block)
        return GaussianPosterior(self.mean[b], self.cov[b][:, b])


def equicorrelation(d: int, r: float, dtype=None, device=None) -> torch.Tensor:
    """``(1−r) I + r 11ᵀ`` (positive definite for ``−1/(d−1) < r < 1``)."""
    dtype = dtype or DEFAULT_DTYPE
    return (1 - r) * torch.eye(d, dtype=dtype, device=device) + r * torch.ones(d, d, dtype=dtype, device=device)


def bivariate_gaussian(rho: float, sigmas: Sequence[float] = (1.0, 1.0), mean: Sequence[float] = (0.0, 0.0), device=None) -> GaussianPosterior:
    """2-D Gaussian with standard deviations ``sigmas`` and correlation ``rho``."""
    if not -1 < rho < 1:
        raise ValueError("need |rho| < 1")
    s1, s2 = sigmas
    cov = [[s1 * s1, rho * s1 * s2], [rho * s1 * s2, s2 * s2]]
    return GaussianPosterior(mean, cov, device=device)


def two_block_gaussian(rho: float, d_omega: int = 1, d_alpha: int = 1, within: float = 0.0, scale: float = 1.0, device=None) -> GaussianPosterior:
    """Joint Gaussian over ``θ = (ω, α)``, the toy of Algorithm 1 (mean 0).

    ``Σ = scale² · [[1, ρ], [ρ, 1]] ⊗ W`` with ``W`` the ``d×d`` equicorrelation
    matrix with off-diagonal ``within`` (so ``d_omega == d_alpha`` is required when
    ``d > 1``).  Then ``ω_i`` and ``α_i`` have correlation ``ρ``, and the exact block
    conditionals are ``α | ω ~ N(ρ ω, (1−ρ²) scale² W)`` and symmetrically, so the
    ω-chain of block Gibbs is AR(1) with coefficient ``ρ²``.  The first ``d_omega``
    coordinates are ω, the rest α.
    """
    if d_omega != d_alpha:
        raise ValueError("two_block_gaussian needs d_omega == d_alpha (Kronecker construction)")
    if not -1 < rho < 1:
        raise ValueError("need |rho| < 1")
    w = equicorrelation(d_omega, within, device=device)
    c = torch.tensor([[1.0, rho], [rho, 1.0]], dtype=DEFAULT_DTYPE, device=device)
    cov = scale**2 * torch.kron(c, w)
    g = GaussianPosterior(torch.zeros(2 * d_omega, dtype=DEFAULT_DTYPE, device=device), cov)
    g.info.update(omega=list(range(d_omega)), alpha=list(range(d_omega, 2 * d_omega)), rho=rho, within=within)
    return g


# ----------------------------------------------------------------------------- exact Gibbs


@dataclass
class GibbsTrace:
    """Output of :func:`exact_gibbs`.

    ``samples``: state after each full sweep, shape ``(n_sweeps + 1, d)`` (or
    ``(n_sweeps + 1, n_chains, d)``), row 0 is the initial point.
    ``path``: state after every block update, shape ``(n_sweeps·n_blocks + 1, ...)``
    (only when ``record_path=True``): the staircase a Gibbs sampler walks.
    """

    samples: torch.Tensor
    blocks: list[list[int]]
    path: torch.Tensor | None = None


def _normalize_blocks(blocks, d: int) -> list[list[int]]:
    if blocks is None:
        return [[i] for i in range(d)]
    out = [[b] if isinstance(b, int) else list(b) for b in blocks]
    flat = sorted(i for b in out for i in b)
    if flat != list(range(d)):
        raise ValueError(f"blocks {blocks!r} must partition range({d})")
    return out


def exact_gibbs(
    target: GaussianPosterior,
    n_sweeps: int,
    *,
    blocks: Sequence[Sequence[int] | int] | None = None,
    init: Any = None,
    n_chains: int | None = None,
    seed: int = 0,
    record_path: bool = False,
    progress: bool = False,
) -> GibbsTrace:
    """Systematic-scan Gibbs sampler with the closed-form conditionals of ``target``.

    One sweep updates each block in order, ``θ_b ~ p(θ_b | θ_rest)`` (paper Eqs. 10
    and 14 with the exact conditionals).  ``blocks=None`` means coordinate-wise.
    ``n_chains`` runs that many independent chains in parallel (vectorized).
    ``init`` defaults to the target mean shifted by 3 std in every coordinate, so
    the burn-in is visible.
    """
    bl = _normalize_blocks(blocks, target.dim)
    dev, dt = target.device, target.dtype
    g = _generator(seed, dev)
    batch = 1 if n_chains is None else int(n_chains)
    if init is None:
        x = target.mean + 3.0 * torch.sqrt(torch.diagonal(target.cov))
        x = x.expand(batch, -1).clone()
    else:
        x = _as_tensor(init, dt, dev).reshape(-1, target.dim).expand(batch, -1).clone()
    # Block update as one affine map of the full state: x_b ← μ_b + K_b (x_r − μ_r) + L_b z,
    # written with a d×|b| matrix that is zero on the block's own rows (no gathers in the loop).
    params = []
    for b in bl:
        k, c = target.conditional_params(b)
        rest = [i for i in range(target.dim) if i not in b]
        kfull = torch.zeros(target.dim, len(b), dtype=dt, device=dev)
        kfull[rest] = k.T
        bi = torch.tensor(b, device=dev)
        params.append((bi, target.mean[b] - target.mean @ kfull, kfull, torch.linalg.cholesky(c).T))
    noise = torch.randn(n_sweeps, batch, target.dim, generator=g, dtype=dt, device=dev)
    out = torch.empty(n_sweeps + 1, batch, target.dim, dtype=dt, device=dev)
    out[0] = x
    path = None
    if record_path:
        path = torch.empty(n_sweeps * len(bl) + 1, batch, target.dim, dtype=dt, device=dev)
        path[0] = x
    it = range(n_sweeps)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="exact Gibbs")
    j = 1
    for t in it:
        zt = noise[t]
        for bi, c0, kfull, lct in params:
            x.index_copy_(1, bi, torch.addmm(c0, x, kfull) + zt.index_select(1, bi) @ lct)
            if path is not None:
                path[j] = x
                j += 1
        out[t + 1] = x
    if n_chains is None:
        out = out[:, 0]
        path = None if path is None else path[:, 0]
    return GibbsTrace(samples=out, blocks=bl, path=path)


# ----------------------------------------------------------------------------- potentials


def potential_fn(potential: Any) -> Callable[[torch.Tensor], torch.Tensor]:
    """The callable behind ``potential`` (a callable or an object with ``.potential``)."""
    f = getattr(potential, "potential", potential)
    if not callable(f):
        raise TypeError("potential must be callable or have a .potential method")
    return f


def potential_grad(potential: Any, theta: torch.Tensor) -> torch.Tensor:
    """``∇E(θ)`` by autograd (for a single point ``θ`` of shape ``(d,)``)."""
    f = potential_fn(potential)
    x = theta.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(f(x), x)
    return g.detach()


def potential_hessian(potential: Any, theta: torch.Tensor) -> torch.Tensor:
    """``∇²E(θ)`` by autograd (``torch.autograd.functional.hessian``)."""
    f = potential_fn(potential)
    return _sym(torch.autograd.functional.hessian(f, theta.detach().clone()))


def laplace_approximation(
    potential: Any,
    init: Any,
    *,
    max_iter: int = 100,
    tol: float = 1e-10,
    dtype=None,
) -> GaussianPosterior:
    """Laplace approximation ``N(θ*, H(θ*)⁻¹)`` of ``p(θ) ∝ exp(−E(θ))``.

    The mode ``θ*`` comes from a damped Newton method with exact autograd
    Hessians (a Levenberg shift when the Hessian is not positive definite,
    Armijo backtracking), stopping when ``‖∇E‖∞ < tol``.  The covariance is the
    inverse autograd Hessian at the mode: the same Gaussian the paper's Eqs. 9/13
    build around the current point, here built at the mode.  For a Gaussian
    target this is exact after one Newton step.

    Returns a :class:`GaussianPosterior` whose ``info`` holds ``mode``,
    ``hessian``, ``grad_norm`` (∞-norm at the mode), ``n_iter`` and ``converged``.
    """
    f = potential_fn(potential)
    x = _as_tensor(init, dtype or DEFAULT_DTYPE, None).reshape(-1).detach().clone()
    d = x.numel()
    eye = torch.eye(d, dtype=x.dtype, device=x.device)
    converged = False
    n_iter = 0
    for n_iter in range(max_iter + 1):
        g = potential_grad(f, x)
        if torch.max(torch.abs(g)) < tol:
            converged = True
            break
        if n_iter == max_iter:
            break
        h = potential_hessian(f, x)
        shift = 0.0
        scale = float(torch.max(torch.abs(torch.diagonal(h)))) + 1e-12
        while True:
            chol, info = torch.linalg.cholesky_ex(h + shift * eye)
            if int(info) == 0:
                break
            shift = max(2 * shift, 1e-8 * scale)
        p = -torch.cholesky_solve(g[:, None], chol)[:, 0]  # p = −(H + shift I)⁻¹ g
        f0 = float(f(x))
        slope = float(g @ p)
        t = 1.0
        for _ in range(60):
            if float(f(x + t * p)) <= f0 + 1e-4 * t * slope:
                break
            t *= 0.5
        x_new = (x + t * p).detach()
        if torch.equal(x_new, x):  # no progress possible in floating point
            g = potential_grad(f, x)
            converged = bool(torch.max(torch.abs(g)) < max(tol, 1e3 * torch.finfo(x.dtype).eps))
            break
        x = x_new
    h = potential_hessian(f, x)
    out = GaussianPosterior(x, precision=h)
    out.info.update(mode=x, hessian=h, grad_norm=float(torch.max(torch.abs(g))), n_iter=n_iter, converged=converged)
    return out


class LogisticRegressionPosterior:
    """Bayesian logistic regression on a small synthetic data set (non-Gaussian).

    Data: ``x_i ~ N(0, Σ_x)`` with correlation ``feature_corr`` between features,
    labels ``y_i ∈ {−1, +1}`` with ``P(y=+1) = σ(x_iᵀ w_true)``.  Prior
    ``w ~ N(0, prior_var·I)``.  Potential

        ``E(w) = Σ_i log(1 + exp(−y_i x_iᵀ w)) + ‖w‖² / (2·prior_var)``.

    In the paper's convention this is ``N·U(w)`` with ``U = L_mean + (λ/2)‖w‖²``,
    ``L_mean`` the mean cross-entropy (:meth:`loss_mean`), ``N = data_size`` and
    ``λ = weight_decay = 1/(prior_var·N)`` - the same correspondence as Eq. 7
    (``σ_ω⁻²`` is the weight decay).
    """

    def __init__(
        self,
        n: int = 40,
        dim: int = 2,
        *,
        w_true: Sequence[float] | None = None,
        prior_var: float = 1.0,
        feature_corr: float = 0.5,
        bias: bool = False,
        seed: int = 0,
        device=None,
    ):
        g = _generator(seed, torch.device("cpu"))
        dt = DEFAULT_DTYPE
        cov = equicorrelation(dim, feature_corr)
        x = torch.randn(n, dim, generator=g, dtype=dt) @ torch.linalg.cholesky(cov).T
        if bias:
            x[:, -1] = 1.0
        w = torch.tensor(w_true if w_true is not None else [1.5, -1.0][:dim] + [0.5] * max(0, dim - 2), dtype=dt)
        p = torch.sigmoid(x @ w)
        y = torch.where(torch.rand(n, generator=g, dtype=dt) < p, 1.0, -1.0)
        self.x, self.y, self.w_true = x.to(device), y.to(device), w.to(device)
        self.prior_var = float(prior_var)
        self.dim = dim

    @property
    def data_size(self) -> int:
        return self.x.shape[0]

    @property
    def weight_decay(self) -> float:
        return 1.0 / (self.prior_var * self.data_size)

    def loss_mean(self, w: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy ``L_mean(w) = (1/N) Σ_i log(1 + exp(−y_i x_iᵀ w))``."""
        margins = self.y * (w @ self.x.T)  # (..., N)
        return torch.nn.functional.softplus(-margins).mean(dim=-1)

    def potential(self, w: torch.Tensor) -> torch.Tensor:
        """``E(w) = N·L_mean(w) + ‖w‖²/(2·prior_var)``."""
        return self.data_size * self.loss_mean(w) + 0.5 * (w * w).sum(dim=-1) / self.prior_var

    __call__ = potential

    def grad(self, w: torch.Tensor) -> torch.Tensor:
        """Closed-form ``∇E(w) = −Σ_i σ(−y_i x_iᵀ w) y_i x_i + w/prior_var``."""
        s = torch.sigmoid(-self.y * (w @ self.x.T))
        return -(s * self.y) @ self.x + w / self.prior_var

    def hessian(self, w: torch.Tensor) -> torch.Tensor:
        """Closed-form ``∇²E(w) = Xᵀ diag(σ(1−σ)) X + I/prior_var``."""
        p = torch.sigmoid(w @ self.x.T)
        return (self.x.T * (p * (1 - p))) @ self.x + torch.eye(self.dim, dtype=self.x.dtype, device=self.x.device) / self.prior_var


class BananaPosterior:
    """A banana-shaped ("twisted Gaussian", Haario et al. 1999) 2-D density.

    ``θ₁ ~ N(0, s²)`` and ``θ₂ | θ₁ ~ N(b(θ₁² − s²), 1)``, so

        ``E(θ) = θ₁²/(2s²) + (θ₂ − b(θ₁² − s²))²/2``.

    Exact samples are cheap (:meth:`sample`), the exact moments are known
    (:meth:`exact_mean`, :meth:`exact_cov`), and the Laplace approximation at the
    mode ``(0, −b s²)`` is ``N(mode, diag(s², 1))``: it misses the curvature of
    the banana entirely.
    """

    def __init__(self, s: float = 1.0, b: float = 1.0, device=None):
        self.s, self.b = float(s), float(b)
        self.dim = 2
        self.device = device

    def potential(self, theta: torch.Tensor) -> torch.Tensor:
        t1, t2 = theta[..., 0], theta[..., 1]
        r = t2 - self.b * (t1 * t1 - self.s**2)
        return 0.5 * t1 * t1 / self.s**2 + 0.5 * r * r

    __call__ = potential

    def mode(self) -> torch.Tensor:
        return torch.tensor([0.0, -self.b * self.s**2], dtype=DEFAULT_DTYPE, device=self.device)

    def sample(self, n: int, seed: int | None = 0) -> torch.Tensor:
        g = _generator(seed, torch.device("cpu"))
        z = torch.randn(n, 2, generator=g, dtype=DEFAULT_DTYPE)
        t1 = self.s * z[:, 0]
        t2 = self.b * (t1 * t1 - self.s**2) + z[:, 1]
        return torch.stack([t1, t2], dim=1).to(self.device)

    def exact_mean(self) -> torch.Tensor:
        return torch.zeros(2, dtype=DEFAULT_DTYPE, device=self.device)

    def exact_cov(self) -> torch.Tensor:
        """``Var θ₁ = s²``, ``Var θ₂ = 2b²s⁴ + 1``, ``Cov = b·E[θ₁³] = 0``."""
        return torch.tensor([[self.s**2, 0.0], [0.0, 2 * self.b**2 * self.s**4 + 1.0]], dtype=DEFAULT_DTYPE, device=self.device)


# ----------------------------------------------------------------------------- mixing diagnostics


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


def grid_moments(potential: Any, xlim: Sequence[float], ylim: Sequence[float], n: int = 400) -> GaussianPosterior:
    """Exact (to quadrature error) mean and covariance of a 2-D density ``∝ exp(−E)`` on a grid.

    The reference answer for 2-D non-Gaussian toys (e.g. logistic regression with
    two weights); the grid must cover the mass.  Returned as the moment-matched
    Gaussian.
    """
    f = potential_fn(potential)
    xs = torch.linspace(float(xlim[0]), float(xlim[1]), n, dtype=DEFAULT_DTYPE)
    ys = torch.linspace(float(ylim[0]), float(ylim[1]), n, dtype=DEFAULT_DTYPE)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    pts = torch.stack([gx, gy], dim=-1)
    with torch.no_grad():
        e = f(pts)
    w = torch.exp(-(e - e.min()))
    w = (w / w.sum()).reshape(-1)
    p = pts.reshape(-1, 2)
    mean = w @ p
    r = p - mean
    cov = (r * w[:, None]).T @ r
    out = GaussianPosterior(mean, cov)
    edge = max(float(w.reshape(n, n)[[0, -1]].sum()), float(w.reshape(n, n)[:, [0, -1]].sum()))
    out.info.update(edge_mass=edge)
    return out


def linear_chain_stationary_cov(m: Any, q: Any) -> torch.Tensor:
    """Stationary covariance ``S = M S Mᵀ + Q`` of the linear chain ``θ' = M θ + c + ξ``, ``ξ ~ N(0, Q)``.

    Solved exactly with a Kronecker product (small ``d`` only).  With a fixed
    preconditioner ``H``, the GibbsNAS step on a Gaussian ``N(μ, A⁻¹)`` is such a
    chain: ``M = I − η H A`` and ``Q = H`` (at ``T/N = 1``), so this predicts what
    the sampler's cloud converges to.
    """
    m, q = _as_tensor(m), _as_tensor(q)
    d = m.shape[0]
    eye = torch.eye(d * d, dtype=m.dtype, device=m.device)
    # vec(M S Mᵀ) = (M ⊗ M) vec(S) (row-major vec works the same for this form)
    s = torch.linalg.solve(eye - torch.kron(m, m), q.reshape(-1))
    return _sym(s.reshape(d, d))


def stationary_inflation(lr: float) -> float:
    """Variance inflation ``1/(η(2−η))`` of the quasi-Newton Gaussian step with the exact Hessian.

    With ``H = A⁻¹`` and learning rate η, ``θ' − μ = (1−η)(θ − μ) + A^{-1/2} z``, an
    AR(1) whose stationary covariance is ``A⁻¹ / (1 − (1−η)²)``: exact only at
    η = 1 (and 5.3× too wide at the paper's η = 0.1, at T = 1).
    """
    return 1.0 / (lr * (2.0 - lr))


# ----------------------------------------------------------------------------- running the samplers


@dataclass
class SamplerTrace:
    """Output of :func:`run_sampler`.

    ``theta``: recorded points, shape ``(n_records, d)`` (row 0 is the start);
    ``steps``: the step index of each row; ``inverse_hessians``: the sampler's
    inverse-Hessian estimate after each recorded step (``(n_records-1, d, d)`` for
    ``BFGSGaussian``, ``(n_records-1, d)`` diagonals for ``DiagLBFGSGaussian``;
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
        return _inverse_hessian_of(self.sampler)

    def pair_counts(self) -> dict[str, int]:
        """``updated``/``damped``/``skipped`` curvature-pair counts of a ``BFGSGaussian``."""
        st = self.sampler.state[self.sampler.param_groups[0]["params"][0]]
        return {k: int(st.get(f"pairs_{k}", 0)) for k in ("updated", "damped", "skipped")}


def _inverse_hessian_of(sampler: Any) -> torch.Tensor:
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


def _grad_fn(potential: Any) -> Callable[[torch.Tensor], torch.Tensor]:
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
        sampler_cls: e.g. ``gibbsnas_lite.samplers.BFGSGaussian`` or ``DiagLBFGSGaussian``
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
    x0 = _as_tensor(init, dtype or DEFAULT_DTYPE, device).reshape(-1)
    param = torch.nn.Parameter(x0.clone())
    sampler = sampler_cls([param], **kw)
    grad = (lambda x: potential_grad(loss, x)) if loss is not None else _grad_fn(potential)
    rows, steps, hs, covs = [x0.clone()], [0], [], []
    it = range(1, n_steps + 1)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc=getattr(sampler_cls, "__name__", "sampler"))
    gnoise = _generator(seed + 7919, x0.device) if grad_noise > 0 else None
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
            batch["noise"] = grad_noise * torch.randn(x0.shape, generator=gnoise, dtype=param.dtype, device=param.device)
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
                hs.append(_inverse_hessian_of(sampler))
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


def inverse_hessian_error(estimates: Any, target_inverse: Any) -> np.ndarray:
    """``‖H_t − A⁻¹‖_F / ‖A⁻¹‖_F`` for each estimate ``H_t`` (``(n, d, d)``, or ``(n, d)`` diagonals vs a vector)."""
    h = to_numpy(estimates)
    t = to_numpy(target_inverse)
    axes = tuple(range(1, h.ndim))
    return np.sqrt(((h - t) ** 2).sum(axis=axes)) / np.sqrt((t**2).sum())


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
      :class:`~gibbsnas_lite.samplers.DiagLBFGSGaussian` and ``H_α`` the dense BFGS
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
    x0 = _as_tensor(init, DEFAULT_DTYPE).reshape(-1)
    if method == "exact":
        if not isinstance(target, GaussianPosterior):
            raise TypeError("method='exact' needs a GaussianPosterior (closed-form conditionals)")
        tr = exact_gibbs(target, n_sweeps, blocks=[om, al], init=x0, seed=seed, progress=progress)
        return ChainResult(samples=tr.samples, method=method, omega=om, alpha=al)
    if method != "gibbsnas":
        raise ValueError(f"method must be 'exact' or 'gibbsnas', got {method!r}")
    if pairs not in ("sampler", "conditional"):
        raise ValueError(f"pairs must be 'sampler' or 'conditional', got {pairs!r}")

    from gibbsnas_lite.samplers import BFGSGaussian, DiagLBFGSGaussian

    common = dict(lr=lr, mode=mode, data_size=1, temperature=1.0, weight_decay=0.0)
    kw_w = {**common, "diag": "secant", "h_min": 1e-4, "h_max": 1.0, "seed": seed, **(omega_kwargs or {})}
    kw_a = {**common, "seed": seed + 1, **(alpha_kwargs or {})}
    w = torch.nn.Parameter(x0[om].clone())
    a = torch.nn.Parameter(x0[al].clone())
    opt_w = DiagLBFGSGaussian([w], **kw_w)
    opt_a = BFGSGaussian([a], **kw_a)
    grad = _grad_fn(target)
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
            hw.append(_inverse_hessian_of(opt_w))
            ha.append(_inverse_hessian_of(opt_a))
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
            h = _as_tensor(inverse_hessians[i], a.dtype, a.device)
            if h.ndim == 1:
                h = torch.diag(h)
        hb = torch.zeros_like(a)
        hb[np.ix_(b, b)] = h
        m_b = eye - lr * hb @ a
        m_total = m_b @ m_total
        q_total = m_b @ q_total @ m_b.T + hb
    return linear_chain_stationary_cov(m_total, q_total)


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
    return _sym(out)


def noisy_secant_pairs(
    target: GaussianPosterior, n_pairs: int, *, step_std: float = 0.3, grad_noise: float = 1.0, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Curvature pairs ``(s, y = A s + ε)`` as minibatch gradients give them.

    ``s ~ N(0, step_std² I)`` and ``ε ~ N(0, 2·grad_noise² I)`` (the difference of two
    noisy gradients).  With noise comparable to ``A s``, many pairs have ``sᵀy <= 0``.
    Returns ``(S, Y)`` of shape ``(n_pairs, d)``.
    """
    g = _generator(seed, target.device)
    s = step_std * torch.randn(n_pairs, target.dim, generator=g, dtype=target.dtype, device=target.device)
    eps = math.sqrt(2.0) * grad_noise * torch.randn(n_pairs, target.dim, generator=g, dtype=target.dtype, device=target.device)
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
        out[pol] = {"min_eig": np.array(mins), "error": np.array(errs), "outcome": np.array(outcomes), "sy": to_numpy(sy)}
    return out


def random_gaussian(dim: int, condition_number: float = 100.0, *, seed: int = 0, scale: float = 1.0, device=None) -> GaussianPosterior:
    """A zero-mean Gaussian with a random orientation and covariance eigenvalues log-spaced
    over ``[scale/√κ, scale·√κ]`` (κ = ``condition_number``)."""
    g = _generator(seed, torch.device("cpu"))
    q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=DEFAULT_DTYPE))
    half = 0.5 * math.log10(condition_number)
    ev = scale * torch.logspace(-half, half, dim, dtype=DEFAULT_DTYPE)
    return GaussianPosterior(torch.zeros(dim, dtype=DEFAULT_DTYPE, device=device), (q * ev) @ q.T, device=device)


def box_around(gaussian: GaussianPosterior, k: float = 5.0, dims: Sequence[int] = (0, 1)) -> tuple[tuple[float, float], tuple[float, float]]:
    """``(xlim, ylim)``: mean ± k std in two coordinates (a plotting / quadrature window)."""
    out = []
    for i in dims:
        m, sd = float(gaussian.mean[i]), float(gaussian.cov[i, i]) ** 0.5
        out.append((m - k * sd, m + k * sd))
    return out[0], out[1]


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
            res = gibbsnas_chain(tgt, n_sweeps, method=method, init=torch.zeros(2, dtype=DEFAULT_DTYPE), seed=seed + i, **chain_kwargs)
            x = to_numpy(res.samples[burn_in:, 0])
            vals.append(effective_sample_size(x) / len(x) if res.diverged_at is None else float("nan"))
        out[method] = np.asarray(vals)
    r = out["rho"]
    out["theory"] = (1 - r**2) / (1 + r**2)
    return out


def spectrum(matrices: Any) -> np.ndarray:
    """Eigenvalues (ascending) of each symmetric matrix in a stack ``(n, d, d)`` → ``(n, d)``."""
    return to_numpy(torch.linalg.eigvalsh(_as_tensor(matrices)))
