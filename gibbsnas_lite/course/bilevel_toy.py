"""The bi-level problem of one-shot NAS on a toy whose answer is known (notebook 03).

One edge of a supernet mixes three candidate operations with softmax(α) weights
(DARTS's continuous relaxation)::

    o(x) = p_none · 0 + p_skip · x + p_linear · Ŵ x,        p = softmax(α),

where ``Ŵ`` is the weight matrix ``W`` with each row scaled to unit length: on whitened
inputs that is what ``BatchNorm(affine=False)`` after a linear map does (DARTS's search ops
end in such a BatchNorm), and it stops ``W`` from growing to cancel a small ``p_linear``.
The data are made by a rotation ``R`` near the identity, ``y = R x + noise``, so

* the parametric op can represent the target exactly (``Ŵ = R``), the identity only
  roughly: **the right op is "linear" by construction** (:meth:`BilevelToy.op_losses`);
* early in training ``Ŵ`` is a random map and the identity already explains most of ``y``:
  the α gradient at the current weights favours "skip" — the setting in which DARTS is
  said to collapse toward parameter-free operations.

The loss of an edge is a quadratic in its effective matrix ``M = p_skip I + p_linear Ŵ``,
``L(M) = mean_i ||M x_i - y_i||² = tr(M Sxx Mᵀ) - 2 tr(M Sxy) + s_yy``, so a split is
three small statistics and no step touches the examples. The training inputs are whitened
(``Sxx = I``), which gives the inner problem of Eq. 2 a closed form: for fixed α the best
unit rows are ``ŵ_i ∝ (Sxyᵀ - p_skip I)_i`` (:meth:`BilevelToy.inner_optimum`), so the true
bi-level objective ``F(α) = L_val(w*(α), α)`` (Eq. 1) can be drawn on a grid.

Methods (the package's strategy names, :data:`METHODS`), all on full-batch gradients, ω on
the training split and α on the validation split:

* ``darts-v1``: α by Adam on ∇_α L_val(w, α) at the current w (first-order DARTS), ω by SGD;
* ``darts-v2``: α by Adam on the unrolled gradient ∇_α L_val(w - ξ ∇_w L_train(w, α), α),
  computed exactly by autograd here (DARTS's Eq. 7; the search code uses the finite
  difference of Eq. 8);
* ``gibbs2``: Algorithm 1: ω ~ :class:`~gibbsnas_lite.samplers.DiagonalGaussian` (Eq. 15),
  then α ~ :class:`~gibbsnas_lite.samplers.BFGSGaussian` (Eq. 16), both with same-batch
  (closure) curvature pairs;
* ``gibbs1``: α as in ``gibbs2``, ω by the same SGD as DARTS (Table 2's "ω 1st order");
* ``gibbs2-mean``, ``gibbs1-mean``: the same with the mean of each draw (Table 2 ablation);
* ``exact``: the reference DARTS approximates: α by the same Adam on the exact hypergradient
  ∇F(α), through the closed-form w*(α) (no ω is trained).

Everything returns plain data (numpy arrays, floats, strings) so tests and notebooks can
assert on it and plot it. The defaults and the evidence for them: docs/notebooks/03_bilevel_toy.md.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..samplers import BFGSGaussian, DiagonalGaussian

OPS = ("none", "skip", "linear")
RIGHT_OP = "linear"
METHODS = ("darts-v1", "darts-v2", "gibbs2", "gibbs1", "gibbs2-mean", "gibbs1-mean", "exact")
DTYPE = torch.float64


# ----------------------------------------------------------------------------- the problem


@dataclass(frozen=True)
class SplitStats:
    """One data split as the three statistics the quadratic loss needs.

    ``xx = XᵀX/n``, ``xy = XᵀY/n`` (both d×d) and ``yy = mean ||y||²``; then
    ``mean_i ||M x_i - y_i||² = tr(M xx Mᵀ) - 2 tr(M xy) + yy``.
    """

    xx: torch.Tensor
    xy: torch.Tensor
    yy: float
    n: int

    @classmethod
    def from_data(cls, x: torch.Tensor, y: torch.Tensor) -> SplitStats:
        n = x.shape[0]
        return cls(xx=x.T @ x / n, xy=x.T @ y / n, yy=float((y * y).sum(1).mean()), n=n)

    def loss(self, m: torch.Tensor) -> torch.Tensor:
        """Mean squared error ``mean_i ||M x_i - y_i||²`` of the edge matrix ``M`` (differentiable)."""
        return (m @ self.xx * m).sum() - 2.0 * (m * self.xy.T).sum() + self.yy


def _whiten(x: torch.Tensor) -> torch.Tensor:
    """Rows of ``x`` with zero mean and ``XᵀX/n = I`` exactly."""
    x = x - x.mean(0)
    chol = torch.linalg.cholesky(x.T @ x / x.shape[0])
    return torch.linalg.solve_triangular(chol, x.T, upper=False).T


def normalize_rows(weight: torch.Tensor) -> torch.Tensor:
    """``Ŵ``: each row of ``weight`` scaled to unit length (BatchNorm(affine=False) on whitened inputs)."""
    return weight / weight.norm(dim=-1, keepdim=True)


@dataclass
class BilevelToy:
    """One instance of the toy: the target rotation, the two splits, and the exact answers.

    Build it with :func:`make_problem`. ``alpha`` is a length-3 tensor over :data:`OPS`,
    ``weight`` the d×d matrix of the linear op.
    """

    target: torch.Tensor
    train: SplitStats
    valid: SplitStats
    noise: float
    angle: float
    seed: int

    @property
    def dim(self) -> int:
        return self.target.shape[0]

    def edge_matrix(self, alpha: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """``M = p_skip I + p_linear Ŵ`` (``p_none`` multiplies the zero op)."""
        p = torch.softmax(alpha, -1)
        eye = torch.eye(self.dim, dtype=weight.dtype)
        return p[..., 1, None, None] * eye + p[..., 2, None, None] * normalize_rows(weight)

    def loss(self, alpha: torch.Tensor, weight: torch.Tensor, split: str = "train") -> torch.Tensor:
        """Mean squared error of the mixed edge on ``split`` ("train" or "valid")."""
        return self._split(split).loss(self.edge_matrix(alpha, weight))

    def _split(self, split: str) -> SplitStats:
        if split not in ("train", "valid"):
            raise ValueError(f"split must be 'train' or 'valid', got {split!r}")
        return self.train if split == "train" else self.valid

    def inner_optimum(self, alpha: Any) -> torch.Tensor:
        """``Ŵ*(α) = argmin_Ŵ L_train`` (Eq. 2), exact: rows of ``Sxyᵀ - p_skip I``, normalized.

        With whitened training inputs ``L_train = Σ_i ||m_i||² - 2 m_iᵀ c_i + const``,
        ``m_i = p_skip e_i + p_linear ŵ_i`` and ``c_i`` the i-th row of ``Sxyᵀ``; over unit ``ŵ_i``
        it is smallest at ``ŵ_i ∝ c_i - p_skip e_i`` (for any ``p_linear > 0``). Works on a batch
        of α (shape ``(..., 3)``).
        """
        alpha = torch.as_tensor(alpha, dtype=DTYPE)
        p_skip = torch.softmax(alpha, -1)[..., 1, None, None]
        return normalize_rows(self.train.xy.T - p_skip * torch.eye(self.dim, dtype=DTYPE))

    def bilevel_objective(self, alpha: Any) -> torch.Tensor:
        """``F(α) = L_val(w*(α), α)`` (Eqs. 1-2), exactly; batched over leading dimensions of α."""
        alpha = torch.as_tensor(alpha, dtype=DTYPE)
        m = self.edge_matrix(alpha, self.inner_optimum(alpha))
        xx, xy = self.valid.xx, self.valid.xy
        return (m @ xx * m).sum((-2, -1)) - 2.0 * (m * xy.T).sum((-2, -1)) + self.valid.yy

    def op_matrix(self, op: str) -> torch.Tensor:
        """The edge matrix of the discrete architecture that keeps only ``op``, trained on the train split."""
        if op == "none":
            return torch.zeros(self.dim, self.dim, dtype=DTYPE)
        if op == "skip":
            return torch.eye(self.dim, dtype=DTYPE)
        if op == "linear":
            return normalize_rows(self.train.xy.T)
        raise ValueError(f"op must be one of {OPS}, got {op!r}")

    def op_losses(self) -> dict[str, float]:
        """Validation loss of each discrete architecture (one op, its weights trained): the known answer."""
        return {op: float(self.valid.loss(self.op_matrix(op))) for op in OPS}

    def best_op(self) -> str:
        losses = self.op_losses()
        return min(losses, key=losses.get)

    def noise_floor(self) -> float:
        """``d σ²``: the expected loss of the true map (what no architecture can beat on average)."""
        return self.dim * self.noise**2


def make_problem(
    seed: int = 0, *, dim: int = 4, n_train: int = 64, n_valid: int = 64, angle: float = 0.3, noise: float = 0.3
) -> BilevelToy:
    """A toy instance: ``y = R x + noise·ε``, ``R = exp(angle · S)`` for a random skew ``S`` (‖S‖₂ = 1).

    ``angle`` is the largest rotation angle of ``R`` (radians): the smaller, the closer the target
    is to the identity and the better "skip" looks before the linear op has learned anything.
    Training inputs are whitened exactly; validation inputs are plain N(0, I) draws.
    """
    g = torch.Generator().manual_seed(int(seed))
    skew = torch.randn(dim, dim, generator=g, dtype=DTYPE)
    skew = skew - skew.T
    skew = skew / torch.linalg.matrix_norm(skew, 2)
    target = torch.linalg.matrix_exp(angle * skew)
    x_train = _whiten(torch.randn(n_train, dim, generator=g, dtype=DTYPE))
    x_valid = torch.randn(n_valid, dim, generator=g, dtype=DTYPE)
    y_train = x_train @ target.T + noise * torch.randn(n_train, dim, generator=g, dtype=DTYPE)
    y_valid = x_valid @ target.T + noise * torch.randn(n_valid, dim, generator=g, dtype=DTYPE)
    return BilevelToy(
        target=target,
        train=SplitStats.from_data(x_train, y_train),
        valid=SplitStats.from_data(x_valid, y_valid),
        noise=noise,
        angle=angle,
        seed=int(seed),
    )


# ----------------------------------------------------------------------------- runs


@dataclass
class ToyRun:
    """One search on the toy, as plain data.

    ``alpha``, ``probs``: α and softmax(α) after each step, shape ``(steps + 1, 3)`` (row 0: the
    start). ``alpha_std``: for GibbsNAS, the std of each α entry *relative to the edge's mean*
    (the softmax ignores a common shift, along which the prior alone sets the variance) from the
    BFGS covariance (T/N) H the next draw uses, same shape; ``None`` for DARTS.
    ``train_loss``, ``valid_loss``: the supernet's losses after each step, shape ``(steps + 1,)``.
    ``argmax_frequency``: over the last ``tail`` fraction of the steps, how often each op was
    the argmax of α (for GibbsNAS a Monte Carlo estimate of P(op ranks first | D)).
    ``picked``: the derived op, the most frequent argmax over the tail (for DARTS, which has
    settled by then, the argmax of its final α); ``picked_mean``: argmax of α averaged over the
    tail (``tail_alpha``); ``picked_final``: argmax of the last α (the paper's rule: the final
    sample). The three agree for a run that has settled; for a sampler they can differ.
    ``covariance``: the final (T/N) H (3×3) for GibbsNAS, else ``None``.
    """

    method: str
    seed: int
    alpha: np.ndarray
    probs: np.ndarray
    train_loss: np.ndarray
    valid_loss: np.ndarray
    picked: str
    picked_mean: str
    picked_final: str
    tail_alpha: np.ndarray
    argmax_frequency: np.ndarray
    alpha_std: np.ndarray | None = None
    covariance: np.ndarray | None = None
    settings: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def right(self) -> bool:
        return self.picked == RIGHT_OP


# The settings the notebook and the tests use (evidence: docs/notebooks/03_bilevel_toy.md).
DEFAULTS: dict[str, Any] = dict(
    steps=300,
    # DARTS (Liu et al. 2019; NAS-Bench-201's DARTS config): Adam betas (0.5, 0.999), wd 1e-3 on α;
    # SGD momentum 0.9, wd 5e-4 on ω. Learning rates: see the docs (toy time scale).
    a_lr=0.03,
    w_lr=0.01,
    w_momentum=0.9,
    a_weight_decay=1e-3,
    w_weight_decay=5e-4,
    # GibbsNAS (Xue et al. 2021): α lr 0.1, importance and weight decay 1e-4, T = 1 (the Bayesian
    # posterior) with N = the split's size; ω's own temperature 0.1 and h_max 0.1 (the package's
    # gibbs2 defaults when the toy's study was measured; the NAS-Bench-201 defaults have moved
    # since, docs/search.md, the toy keeps its own). gibbs1 trains ω with the DARTS SGD above.
    gibbs_a_lr=0.1,
    gibbs_a_weight_decay=1e-4,
    gibbs_w_weight_decay=1e-4,
    temperature=1.0,
    w_temperature=0.1,
    h_max=0.1,
    tail=0.25,
)


def _settings(overrides: dict) -> dict:
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown setting(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    return {**DEFAULTS, **overrides}


def init_point(problem: BilevelToy, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """α = 1e-3 · N(0, I) (DARTS's init) and W uniform in ±1/sqrt(d) (torch.nn.Linear's), from ``seed``."""
    g = torch.Generator().manual_seed(10_000 + int(seed))
    d = problem.dim
    weight = ((2 * torch.rand(d, d, generator=g, dtype=DTYPE) - 1) / math.sqrt(d)).requires_grad_()
    alpha = (1e-3 * torch.randn(len(OPS), generator=g, dtype=DTYPE)).requires_grad_()
    return alpha, weight


def centered_std(cov: torch.Tensor) -> torch.Tensor:
    """Std of ``α_k - mean_j α_j`` under covariance ``cov``: what the softmax can see."""
    k = cov.shape[-1]
    c = torch.eye(k, dtype=cov.dtype) - 1.0 / k
    return torch.diagonal(c @ cov @ c).clamp_min(0).sqrt()


def run(problem: BilevelToy, method: str, seed: int = 0, **overrides) -> ToyRun:
    """Search the toy's edge with ``method`` (one of :data:`METHODS`); settings: :data:`DEFAULTS`."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    s = _settings(overrides)
    start = time.perf_counter()
    alpha, weight = init_point(problem, seed)
    if method == "exact":
        track = _run_exact(problem, alpha, s)
    else:
        from ..search.registry import get

        spec = get(method)  # the strategy of the same name: its family, order and mode
        if spec.family == "darts":
            track = _run_darts(problem, alpha, weight, s, unrolled=spec.order == 2)
        else:
            track = _run_gibbs(problem, alpha, weight, s, spec.order, spec.mode, seed)
    alphas = np.stack(track["alpha"])
    tail = alphas[-max(1, int(round(s["tail"] * (len(alphas) - 1)))) :]
    tail_alpha = tail.mean(0)
    freq = np.bincount(tail.argmax(1), minlength=len(OPS)) / len(tail)
    return ToyRun(
        method=method,
        seed=int(seed),
        alpha=alphas,
        probs=_softmax_np(alphas),
        train_loss=np.array(track["train"]),
        valid_loss=np.array(track["valid"]),
        picked=OPS[int(freq.argmax())],
        picked_mean=OPS[int(tail_alpha.argmax())],
        picked_final=OPS[int(alphas[-1].argmax())],
        tail_alpha=tail_alpha,
        argmax_frequency=freq,
        alpha_std=np.stack(track["std"]) if track.get("std") else None,
        covariance=track.get("cov"),
        settings=s,
        seconds=time.perf_counter() - start,
    )


def _softmax_np(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _record(track: dict, problem: BilevelToy, alpha: torch.Tensor, weight: torch.Tensor) -> None:
    with torch.no_grad():
        track["alpha"].append(alpha.detach().numpy().copy())
        track["train"].append(float(problem.loss(alpha, weight, "train")))
        track["valid"].append(float(problem.loss(alpha, weight, "valid")))


def _run_darts(problem: BilevelToy, alpha, weight, s: dict, unrolled: bool) -> dict:
    a_opt = torch.optim.Adam([alpha], lr=s["a_lr"], betas=(0.5, 0.999), weight_decay=s["a_weight_decay"])
    w_opt = torch.optim.SGD([weight], lr=s["w_lr"], momentum=s["w_momentum"], weight_decay=s["w_weight_decay"])
    track = {"alpha": [], "train": [], "valid": []}
    _record(track, problem, alpha, weight)
    for _ in range(s["steps"]):
        # α step on the validation split (DARTS's reference code takes it before the ω step)
        if unrolled:  # w' = w - ξ (momentum·buf + ∇_w L_train + wd·w), ξ = the ω learning rate
            (grad_w,) = torch.autograd.grad(problem.loss(alpha, weight, "train"), [weight], create_graph=True)
            step = grad_w + s["w_weight_decay"] * weight
            buf = w_opt.state.get(weight, {}).get("momentum_buffer")
            if buf is not None:
                step = step + s["w_momentum"] * buf
            valid_loss = problem.loss(alpha, weight - s["w_lr"] * step, "valid")
        else:
            valid_loss = problem.loss(alpha, weight, "valid")
        (alpha.grad,) = torch.autograd.grad(valid_loss, [alpha])
        a_opt.step()
        # ω step on the training split
        w_opt.zero_grad()
        problem.loss(alpha, weight, "train").backward()
        w_opt.step()
        _record(track, problem, alpha, weight)
    return track


def _run_exact(problem: BilevelToy, alpha, s: dict) -> dict:
    a_opt = torch.optim.Adam([alpha], lr=s["a_lr"], betas=(0.5, 0.999), weight_decay=s["a_weight_decay"])
    track = {"alpha": [], "train": [], "valid": []}
    _record(track, problem, alpha, problem.inner_optimum(alpha.detach()))
    for _ in range(s["steps"]):
        (alpha.grad,) = torch.autograd.grad(problem.bilevel_objective(alpha), [alpha])
        a_opt.step()
        _record(track, problem, alpha, problem.inner_optimum(alpha.detach()))
    return track


def _run_gibbs(problem: BilevelToy, alpha, weight, s: dict, order: int, mode: str, seed: int) -> dict:
    w_temperature = s["temperature"] if s["w_temperature"] is None else s["w_temperature"]
    if order == 2:  # the sampler's operating point: η = 1, D clamped to [1e-4, h_max] (docs/samplers.md §4)
        w_opt = DiagonalGaussian(
            [weight],
            lr=1.0,
            data_size=problem.train.n,
            temperature=w_temperature,
            weight_decay=s["gibbs_w_weight_decay"],
            h_max=s["h_max"],
            h_min=min(1e-4, s["h_max"]),
            mode=mode,
            pairs="closure",
            seed=seed + 1,
        )
    else:
        w_opt = torch.optim.SGD([weight], lr=s["w_lr"], momentum=s["w_momentum"], weight_decay=s["w_weight_decay"])
    a_opt = BFGSGaussian(
        [alpha],
        lr=s["gibbs_a_lr"],
        data_size=problem.valid.n,
        temperature=s["temperature"],
        weight_decay=s["gibbs_a_weight_decay"],
        mode=mode,
        pairs="closure",
        seed=seed + 2,
    )

    def omega_closure():
        w_opt.zero_grad()
        loss = problem.loss(alpha.detach(), weight, "train")
        loss.backward()
        return loss

    def alpha_closure():
        a_opt.zero_grad()
        loss = problem.loss(alpha, weight.detach(), "valid")
        loss.backward()
        return loss

    track = {"alpha": [], "train": [], "valid": [], "std": []}
    _record(track, problem, alpha, weight)
    track["std"].append(centered_std(a_opt.covariance()).numpy())
    for _ in range(s["steps"]):
        if order == 2:
            w_opt.step(omega_closure)  # Algorithm 1, line 4: ω_t ~ p(ω | D, α_t)   (Eq. 15)
        else:
            omega_closure()
            w_opt.step()
        a_opt.step(alpha_closure)  # line 5: α_{t+1} ~ p(α | D, ω_t)           (Eq. 16)
        _record(track, problem, alpha, weight)
        track["std"].append(centered_std(a_opt.covariance()).numpy())
    track["cov"] = a_opt.covariance().numpy()
    return track


# ----------------------------------------------------------------------------- many seeds, summaries


def compare(
    methods: Sequence[str] = METHODS,
    seeds: Iterable[int] = range(5),
    *,
    progress: bool = False,
    problem_kwargs: dict | None = None,
    **overrides,
) -> dict[str, list[ToyRun]]:
    """Run every method on the toy instance of every seed (``make_problem(seed)``, init from ``seed``)."""
    seeds = list(seeds)
    problems = {s: make_problem(s, **(problem_kwargs or {})) for s in seeds}
    jobs = [(m, s) for m in methods for s in seeds]
    if progress:
        from tqdm.auto import tqdm

        jobs = tqdm(jobs, desc="toy searches")
    results: dict[str, list[ToyRun]] = {m: [] for m in methods}
    for m, s in jobs:
        results[m].append(run(problems[s], m, s, **overrides))
    return results


def summarize(results: dict[str, list[ToyRun]], rule: str = "picked") -> dict[str, dict]:
    """Per method: how many seeds picked each op (``rule``: "picked", "picked_mean" or "picked_final"),
    the fraction that picked :data:`RIGHT_OP`, and the mean P(linear ranks first) over the tail."""
    out = {}
    for method, runs in results.items():
        picks = [getattr(r, rule) for r in runs]
        out[method] = {
            "n": len(runs),
            "picks": {op: picks.count(op) for op in OPS},
            "right": picks.count(RIGHT_OP),
            "fraction_right": picks.count(RIGHT_OP) / max(1, len(runs)),
            "mean_p_right_first": float(np.mean([r.argmax_frequency[OPS.index(RIGHT_OP)] for r in runs])),
        }
    return out


def argmax_probabilities(mean: Any, cov: Any, n: int = 4000, seed: int = 0) -> np.ndarray:
    """P(op k has the largest α) under N(mean, cov), by ``n`` Monte Carlo draws (the Gaussian's verdict)."""
    mean = torch.as_tensor(np.asarray(mean), dtype=DTYPE)
    cov = torch.as_tensor(np.asarray(cov), dtype=DTYPE)
    chol = torch.linalg.cholesky(cov + 1e-12 * torch.eye(len(mean), dtype=DTYPE) * cov.diagonal().mean())
    z = torch.randn(n, len(mean), generator=torch.Generator().manual_seed(seed), dtype=DTYPE)
    draws = mean + z @ chol.T
    return np.bincount(draws.argmax(1).numpy(), minlength=len(mean)) / n


def landscape(problem: BilevelToy, span: float = 8.0, n: int = 121) -> dict[str, np.ndarray]:
    """F(α) on a grid of ``u = α_skip - α_none`` and ``v = α_linear - α_none`` (softmax ignores the rest).

    Returns ``u``, ``v`` (1-D) and ``F`` with ``F[i, j] = F(α)`` at ``v[i]``, ``u[j]``, and the grid
    point of smallest F (``argmin`` as (u, v)) with the op its α ranks first (``argmin_op``).
    """
    axis = torch.linspace(-span, span, n, dtype=DTYPE)
    vv, uu = torch.meshgrid(axis, axis, indexing="ij")
    alpha = torch.stack([torch.zeros_like(uu), uu, vv], -1)
    f = problem.bilevel_objective(alpha)
    i = int(f.argmin())
    best = alpha.reshape(-1, 3)[i]
    return {
        "u": axis.numpy(),
        "v": axis.numpy(),
        "F": f.numpy(),
        "argmin": (float(best[1]), float(best[2])),
        "argmin_op": OPS[int(best.argmax())],
        "F_min": float(f.min()),
    }
