"""The toy targets (posteriors whose answer is known): Gaussians (any block's closed-form
conditional), potentials and their derivatives, the Laplace approximation, the logistic-regression
and banana posteriors, and exact 2-D moments by quadrature."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from .helpers import DEFAULT_DTYPE, seeded_generator, symmetrize, to_numpy, to_tensor


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
        self.mean = to_tensor(mean, dtype, device).reshape(-1)
        device = self.mean.device
        d = self.mean.numel()
        if cov is not None:
            self.cov = symmetrize(to_tensor(cov, dtype, device).reshape(d, d))
            self.precision = symmetrize(torch.linalg.inv(self.cov))
        else:
            self.precision = symmetrize(to_tensor(precision, dtype, device).reshape(d, d))
            self.cov = symmetrize(torch.linalg.inv(self.precision))
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

    def to(self, device=None, dtype=None) -> GaussianPosterior:
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
        g = generator or seeded_generator(seed, self.device)
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
        c = symmetrize(torch.linalg.inv(a_bb))
        k = -c @ self.precision[b][:, r]
        return k, c

    def conditional(self, block: Sequence[int] | int, theta: Any) -> GaussianPosterior:
        """The exact conditional ``p(θ_b | θ_rest)`` as a Gaussian over the block.

        ``theta`` is a full vector of shape ``(d,)``; its entries in ``block`` are ignored.
        """
        b, r = self._block(block)
        theta = to_tensor(theta, self.dtype, self.device).reshape(-1)
        k, c = self.conditional_params(block)
        m = self.mean[b] + k @ (theta[r] - self.mean[r])
        return GaussianPosterior(m, c)

    def marginal(self, block: Sequence[int] | int) -> GaussianPosterior:
        """The marginal of ``θ_b``: ``N(μ_b, Σ_bb)``."""
        b, _ = self._block(block)
        return GaussianPosterior(self.mean[b], self.cov[b][:, b])


def equicorrelation(d: int, r: float, dtype=None, device=None) -> torch.Tensor:
    """``(1−r) I + r 11ᵀ`` (positive definite for ``−1/(d−1) < r < 1``)."""
    dtype = dtype or DEFAULT_DTYPE
    return (1 - r) * torch.eye(d, dtype=dtype, device=device) + r * torch.ones(d, d, dtype=dtype, device=device)


def bivariate_gaussian(
    rho: float, sigmas: Sequence[float] = (1.0, 1.0), mean: Sequence[float] = (0.0, 0.0), device=None
) -> GaussianPosterior:
    """2-D Gaussian with standard deviations ``sigmas`` and correlation ``rho``."""
    if not -1 < rho < 1:
        raise ValueError("need |rho| < 1")
    s1, s2 = sigmas
    cov = [[s1 * s1, rho * s1 * s2], [rho * s1 * s2, s2 * s2]]
    return GaussianPosterior(mean, cov, device=device)


def two_block_gaussian(
    rho: float, d_omega: int = 1, d_alpha: int = 1, within: float = 0.0, scale: float = 1.0, device=None
) -> GaussianPosterior:
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
    return symmetrize(torch.autograd.functional.hessian(f, theta.detach().clone()))


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
    x = to_tensor(init, dtype or DEFAULT_DTYPE, None).reshape(-1).detach().clone()
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
        g = seeded_generator(seed, torch.device("cpu"))
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
        return (self.x.T * (p * (1 - p))) @ self.x + torch.eye(
            self.dim, dtype=self.x.dtype, device=self.x.device
        ) / self.prior_var


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
        g = seeded_generator(seed, torch.device("cpu"))
        z = torch.randn(n, 2, generator=g, dtype=DEFAULT_DTYPE)
        t1 = self.s * z[:, 0]
        t2 = self.b * (t1 * t1 - self.s**2) + z[:, 1]
        return torch.stack([t1, t2], dim=1).to(self.device)

    def exact_mean(self) -> torch.Tensor:
        return torch.zeros(2, dtype=DEFAULT_DTYPE, device=self.device)

    def exact_cov(self) -> torch.Tensor:
        """``Var θ₁ = s²``, ``Var θ₂ = 2b²s⁴ + 1``, ``Cov = b·E[θ₁³] = 0``."""
        return torch.tensor(
            [[self.s**2, 0.0], [0.0, 2 * self.b**2 * self.s**4 + 1.0]], dtype=DEFAULT_DTYPE, device=self.device
        )


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


def random_gaussian(
    dim: int, condition_number: float = 100.0, *, seed: int = 0, scale: float = 1.0, device=None
) -> GaussianPosterior:
    """A zero-mean Gaussian with a random orientation and covariance eigenvalues log-spaced
    over ``[scale/√κ, scale·√κ]`` (κ = ``condition_number``)."""
    g = seeded_generator(seed, torch.device("cpu"))
    q, _ = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=DEFAULT_DTYPE))
    half = 0.5 * math.log10(condition_number)
    ev = scale * torch.logspace(-half, half, dim, dtype=DEFAULT_DTYPE)
    return GaussianPosterior(torch.zeros(dim, dtype=DEFAULT_DTYPE, device=device), (q * ev) @ q.T, device=device)


def box_around(
    gaussian: GaussianPosterior, k: float = 5.0, dims: Sequence[int] = (0, 1)
) -> tuple[tuple[float, float], tuple[float, float]]:
    """``(xlim, ylim)``: mean ± k std in two coordinates (a plotting / quadrature window)."""
    out = []
    for i in dims:
        m, sd = float(gaussian.mean[i]), float(gaussian.cov[i, i]) ** 0.5
        out.append((m - k * sd, m + k * sd))
    return out[0], out[1]
