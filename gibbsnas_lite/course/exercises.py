"""Checked answers for the course's exercises (the "Exercises" section at the end of each notebook).

Each ``check_...`` takes the learner's answer (a number, a choice, or a function they wrote),
compares it with what the kit computes, and returns a :class:`Feedback`: right or not, and
*why*, shown as the cell's output. An unanswered exercise (``None``) is not wrong: the check
says what to fill in, so a notebook runs top to bottom before any exercise is done.

The reference solutions are not here: ``tests/exercise_solutions.py`` holds them and
``tests/test_exercises.py`` runs every check on its reference (must be right) and on a wrong
answer (must be told it is wrong), so a broken exercise fails ``make test``.

The checks are grouped by notebook; each names the notebook and exercise it belongs to.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

__all__ = [
    "Feedback",
    "check_ess_per_sweep",
    "check_conditional_2d",
    "check_stationary_inflation",
    "check_bfgs_update",
    "check_noisy_pair_keeps_pd",
    "check_edge_matrix",
    "check_discretization_gap",
    "check_none_edge_probability",
    "check_derive_arch",
    "check_alpha_noise_std",
    "check_mean_mode_step",
    "check_skips_after_bias",
    "check_count_skips",
    "check_skip_win_probability",
    "check_error_bar_scaling",
    "check_trial_count",
    "check_rerun_after_kill",
]


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer: ``ok`` is True (right), False (not yet) or None (no answer yet)."""

    exercise: str
    ok: bool | None
    message: str

    def __bool__(self) -> bool:
        return bool(self.ok)

    @property
    def label(self) -> str:
        return {True: "✓ right", False: "✗ not yet", None: "… no answer yet"}[self.ok]

    def __repr__(self) -> str:
        return f"[{self.label}] {self.exercise}: {self.message}"

    def _repr_markdown_(self) -> str:
        return f"**{self.label}** ({self.exercise}): {self.message}"


def _missing(exercise: str, what: str) -> Feedback:
    return Feedback(exercise, None, f"replace `None` with {what}, then run the cell again.")


def _numeric(
    exercise: str, answer: Any, truth: float, rtol: float, why: str, hint: str, what: str = "a number"
) -> Feedback:
    if answer is None:
        return _missing(exercise, what)
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return Feedback(exercise, False, f"expected {what}, got {answer!r}.")
    if math.isfinite(value) and abs(value - truth) <= rtol * abs(truth):
        return Feedback(exercise, True, f"{value:.4g} (exact: {truth:.4g}). {why}")
    off = "is not" if rtol == 0 else f"is not within {rtol:.0%} of"
    return Feedback(exercise, False, f"{value:.4g} {off} the answer. Hint: {hint}")


def _choice(exercise: str, answer: Any, options: Sequence[str], right: str, why: str) -> Feedback:
    if answer is None:
        return _missing(exercise, "one of " + ", ".join(repr(o) for o in options))
    if not isinstance(answer, str) or answer.strip().lower() not in options:
        return Feedback(exercise, False, f"answer with one of {', '.join(repr(o) for o in options)}; got {answer!r}.")
    if answer.strip().lower() == right:
        return Feedback(exercise, True, why)
    return Feedback(exercise, False, f"not {answer!r}: think again about the formula in the section above.")


def _function(exercise: str, fn: Any, cases: Sequence[tuple], reference: Callable, atol: float, why: str) -> Feedback:
    """Run ``fn(*case)`` against ``reference(*case)`` on every case; report the first mismatch."""
    if fn is None:
        return _missing(exercise, "your function")
    if not callable(fn):
        return Feedback(exercise, False, f"expected a function, got {type(fn).__name__}.")
    for i, case in enumerate(cases):
        want = reference(*case)
        try:
            got = fn(*case)
        except Exception as err:  # the learner's code: show what went wrong, do not raise
            return Feedback(exercise, False, f"your function raised {type(err).__name__}: {err} (case {i}).")
        if got is None:
            return _missing(exercise, "a body for your function (it returns None)")
        got_arr = np.asarray(got.detach() if isinstance(got, torch.Tensor) else got, dtype=float)
        want_arr = np.asarray(want.detach() if isinstance(want, torch.Tensor) else want, dtype=float)
        if got_arr.shape != want_arr.shape:
            return Feedback(exercise, False, f"case {i}: shape {got_arr.shape}, expected {want_arr.shape}.")
        if not np.allclose(got_arr, want_arr, atol=atol, rtol=1e-6):
            err = float(np.max(np.abs(got_arr - want_arr)))
            return Feedback(exercise, False, f"case {i}: largest difference {err:.3g} from the library's answer.")
    return Feedback(exercise, True, f"agrees with the library on {len(cases)} cases. {why}")


# ------------------------------------------------------------------- 01 Gibbs sampling


def check_ess_per_sweep(answer: Any, rho: float = 0.95) -> Feedback:
    """01, exercise 1: the predicted effective sample size per sweep of exact Gibbs at ``rho``."""
    truth = (1 - rho**2) / (1 + rho**2)
    why = (
        f"ESS per sweep is 1/τ = (1 − ρ²)/(1 + ρ²): at ρ = {rho:g} one independent draw costs "
        f"about {1 / truth:.0f} sweeps. Now run the next cell and compare with the measurement."
    )
    return _numeric(
        "01 · exercise 1",
        answer,
        truth,
        0.05,
        why,
        "the integrated autocorrelation time τ of section 3; ESS per sweep is 1/τ.",
    )


def _conditional_reference(mu, sigma, rho, given):
    return (mu[0] + rho * sigma[0] / sigma[1] * (given - mu[1]), sigma[0] ** 2 * (1 - rho**2))


def check_conditional_2d(fn: Any) -> Feedback:
    """01, exercise 2: ``fn(mu, sigma, rho, given) -> (mean, var)`` of θ₁ | θ₂ = given."""
    from .toys import bivariate_gaussian

    rng = np.random.default_rng(0)
    cases = []
    for _ in range(5):
        mu = tuple(float(v) for v in rng.normal(size=2))
        sigma = tuple(float(v) for v in rng.uniform(0.3, 3.0, size=2))
        cases.append((mu, sigma, float(rng.uniform(-0.95, 0.95)), float(rng.normal(scale=2.0))))

    def reference(mu, sigma, rho, given):  # the library's block conditional, not the 2-D formula
        cond = bivariate_gaussian(rho, sigmas=sigma, mean=mu).conditional(0, [0.0, given])
        return (cond.mean.item(), cond.cov.item())

    return _function(
        "01 · exercise 2",
        fn,
        cases,
        reference,
        1e-8,
        "The mean moves by ρ σ₁/σ₂ per unit of θ₂; the variance shrinks by (1 − ρ²) and does "
        "not depend on the value given.",
    )


def check_stationary_inflation(answer: Any, eta: float = 0.1) -> Feedback:
    """01 exercise 3 and 02 exercise 2: variance of the damped-Newton chain over the target's, at ``eta``."""
    from .toys import stationary_inflation

    truth = float(stationary_inflation(eta))
    why = (
        "θ' − μ = (1 − η)(θ − μ) + noise gives Var = Σ/(1 − (1 − η)²) = Σ/(η(2 − η)). At the paper's "
        "η = 0.1 the samples are about 5× too wide unless T is lowered to match (docs/notation.md)."
    )
    return _numeric(
        f"damped step, η = {eta:g}",
        answer,
        truth,
        0.02,
        why,
        "write the one-block update as an AR(1) process and solve Var = (1 − η)² Var + Σ.",
    )


# ------------------------------------------------------------------- 02 Laplace and BFGS


def check_bfgs_update(fn: Any) -> Feedback:
    """02, exercise 1: ``fn(H, s, y) -> H_plus``, the BFGS inverse update (Nocedal & Wright Eq. 6.17)."""
    from ..samplers.bfgs import bfgs_inverse_update

    gen = torch.Generator().manual_seed(0)
    cases = []
    for d in (2, 3, 5):
        a = torch.randn(d, d, generator=gen, dtype=torch.float64)
        h = a @ a.T + d * torch.eye(d, dtype=torch.float64)
        b = torch.randn(d, d, generator=gen, dtype=torch.float64)
        hess = b @ b.T + torch.eye(d, dtype=torch.float64)
        s = torch.randn(d, generator=gen, dtype=torch.float64)
        cases.append((h, s, hess @ s))  # a quadratic's pair: sᵀy > 0, no damping

    return _function(
        "02 · exercise 1",
        fn,
        cases,
        lambda h, s, y: bfgs_inverse_update(h, s, y, pd_policy="skip")[0],
        1e-8,
        "Check the secant equation too: H₊ y = s holds exactly after the update.",
    )


def check_noisy_pair_keeps_pd(answer: Any) -> Feedback:
    """02, exercise 3: does the textbook update keep H positive definite after a pair with sᵀy < 0?"""
    return _choice(
        "02 · exercise 3",
        answer,
        ("yes", "no"),
        "no",
        "With sᵀy < 0, ρ = 1/(sᵀy) < 0 and the ρ s sᵀ term subtracts along s: H₊ has a negative "
        "eigenvalue (yᵀH₊y = sᵀy < 0), so no Gaussian can be drawn from it. The samplers skip or "
        "damp such pairs (section 3).",
    )


# ------------------------------------------------------------------- 03 the bi-level toy


def check_edge_matrix(fn: Any) -> Feedback:
    """03, exercise 1: ``fn(alpha, W) -> M``, the relaxed edge p_skip I + p_linear Ŵ (DARTS's mixed op)."""
    from .bilevel_toy import make_problem

    problem = make_problem(0)
    gen = torch.Generator().manual_seed(1)
    cases = [
        (
            torch.randn(3, generator=gen, dtype=torch.float64) * 2,
            torch.randn(problem.dim, problem.dim, generator=gen, dtype=torch.float64),
        )
        for _ in range(4)
    ]
    cases.append((torch.tensor([0.0, 5.0, 5.0], dtype=torch.float64) + 7.0, cases[0][1]))  # a common shift
    return _function(
        "03 · exercise 1",
        fn,
        cases,
        problem.edge_matrix,
        1e-10,
        "softmax(α) mixes the ops; adding a constant to all of α changes nothing (the shift case).",
    )


def check_discretization_gap(answer: Any, problem: Any, run: Any) -> Feedback:
    """03, exercise 2: the derived op's validation loss alone minus the supernet's final one, for ``run``."""
    truth = float(problem.op_losses()[run.picked] - run.valid_loss[-1])
    why = (
        f"The supernet's validation loss was {run.valid_loss[-1]:.3f}; the '{run.picked}' op alone, retrained, "
        f"scores {problem.op_losses()[run.picked]:.3f}. That difference is the discretization gap: the "
        "relaxed search ranked ops inside a mixture, the benchmark scores one op alone."
    )
    return _numeric(
        "03 · exercise 2",
        answer,
        truth,
        0.02,
        why,
        "`problem.op_losses()` scores each op alone; `run.valid_loss[-1]` is the supernet's last loss.",
    )


# ------------------------------------------------------------------- 04 NAS-Bench-201


def check_none_edge_probability(answer: Any) -> Feedback:
    """04, exercise 1: P(a cell derived from a random α has at least one `none` edge)."""
    from ..spaces.nb201.arch import NUM_EDGES, OPS

    p_none = 1.0 / len(OPS)
    truth = 1.0 - (1.0 - p_none) ** NUM_EDGES
    return _numeric(
        "04 · exercise 1",
        answer,
        truth,
        0.02,
        f"each edge's argmax is `none` with probability 1/{len(OPS)} when α is random; the cell keeps "
        f"every edge only with probability (1 − 1/{len(OPS)})^{NUM_EDGES}. NAS-Bench-201's rule lets a "
        "search cut edges; DARTS's rule never keeps `none` (notebook 06).",
        "first the chance that one edge is not `none`, then that all six are not.",
    )


def check_derive_arch(fn: Any) -> Feedback:
    """04, exercise 2: ``fn(alpha) -> arch string``, NAS-Bench-201's argmax rule on a (6, 5) α."""
    from ..spaces.nb201.arch import derive_arch, parse_arch

    gen = torch.Generator().manual_seed(2)
    alphas = [torch.randn(6, 5, generator=gen) for _ in range(6)]
    if fn is None:
        return _missing("04 · exercise 2", "your function")
    for i, alpha in enumerate(alphas):
        try:
            got = fn(alpha.clone())
        except Exception as err:
            return Feedback("04 · exercise 2", False, f"your function raised {type(err).__name__}: {err}.")
        want = derive_arch(alpha)
        try:
            same = parse_arch(str(got)) == parse_arch(want)
        except ValueError:
            return Feedback("04 · exercise 2", False, f"{got!r} is not an arch string like {want!r}.")
        if not same:
            return Feedback("04 · exercise 2", False, f"case {i}: got {got}, expected {want}.")
    return Feedback(
        "04 · exercise 2",
        True,
        "argmax per edge, `none` included, as NAS-Bench-201 does (DARTS's own rule drops `none`).",
    )


# ------------------------------------------------------------------- 05 ablation


def check_alpha_noise_std(
    answer: Any, temperature: float = 10.0, data_size: float = 4096.0, inverse_hessian: float = 1.0
) -> Feedback:
    """05, exercise 1: the std of one α coordinate's draw, sqrt((T/N)·H)."""
    truth = math.sqrt(temperature / data_size * inverse_hessian)
    return _numeric(
        "05 · exercise 1",
        answer,
        truth,
        0.02,
        f"The draw is N(mean, (T/N)H): std = sqrt({temperature:g}/{data_size:g} × {inverse_hessian:g}). "
        "Compare it with the α differences between ops early in the search (the dashboard of 04).",
        "the covariance of the draw is (T/N)·H; a std is the square root of a variance.",
    )


def check_mean_mode_step(answer: Any) -> Feedback:
    """05, exercise 2: what α's update becomes in mean mode (no draws)."""
    return _choice(
        "05 · exercise 2",
        answer,
        ("adam", "newton", "random"),
        "newton",
        "Mean mode keeps the mean of Eq. 16: α − η H ∇U, a quasi-Newton (Newton-preconditioned) "
        "DARTS-V1 step with no noise. That is why the mean twins collapse like DARTS.",
    )


# ------------------------------------------------------------------- 06 DARTS space


def check_skips_after_bias(answer: Any, alpha_normal: Any, alpha_reduce: Any, bias: float = 3.0) -> Feedback:
    """06, exercise 1: skip_connect ops in the normal cell derived after adding ``bias`` to skip's α column."""
    from ..spaces.darts.genotypes import PRIMITIVES, derive_genotype

    a = np.array(alpha_normal, dtype=float, copy=True)
    a[:, PRIMITIVES.index("skip_connect")] += bias
    truth = float(sum(op == "skip_connect" for op, _ in derive_genotype(a, alpha_reduce).normal))
    return _numeric(
        "06 · exercise 1",
        answer,
        truth,
        0.0,
        f"with skip's logit raised by {bias:g} on every edge, skip is the strongest non-`none` op on "
        "most edges, and the rule keeps 2 edges per node whatever their op: a cell of skips. Skips "
        "are parameter-free and fit early, which is how a DARTS search collapses.",
        "the rule ranks edges by their strongest non-`none` op and always keeps 8 edges.",
    )


def check_count_skips(fn: Any) -> Feedback:
    """06, exercise 2: ``fn(genotype) -> number of skip_connect`` in the normal cell."""
    from ..spaces.darts.genotypes import NUM_EDGES, PRIMITIVES, derive_genotype

    gen = torch.Generator().manual_seed(3)
    skip = PRIMITIVES.index("skip_connect")
    cases = []
    for bias in (0.0, 1.0, 3.0):
        a = torch.randn(NUM_EDGES, len(PRIMITIVES), generator=gen, dtype=torch.float64)
        a[:, skip] += bias  # more skips as the bias grows: the DARTS collapse in miniature
        r = torch.randn(NUM_EDGES, len(PRIMITIVES), generator=gen, dtype=torch.float64)
        cases.append((derive_genotype(a, r),))
    return _function(
        "06 · exercise 2",
        fn,
        cases,
        lambda g: sum(op == "skip_connect" for op, _ in g.normal),
        0,
        "A normal cell full of skips is the DARTS collapse: cheap to search, poor when retrained.",
    )


# ------------------------------------------------------------------- 07 the architecture posterior


def check_skip_win_probability(answer: Any, margin: float = 0.5, spread: float = 3.0) -> Feedback:
    """07, exercise 1: P(skip_connect wins edge 0) in ``posterior.disagreement_example(margin, spread)``."""
    x = np.linspace(1.0, margin + 12.0 * spread, 200_001)  # skip must beat none (fixed at 1) and three others
    phi = np.exp(-0.5 * ((x - margin) / spread) ** 2) / (spread * math.sqrt(2 * math.pi))
    cdf = 0.5 * (1 + np.vectorize(math.erf)(x / spread / math.sqrt(2)))
    truth = float(np.trapezoid(phi * cdf**3, x))
    return _numeric(
        "07 · exercise 1",
        answer,
        truth,
        0.03,
        f"P = ∫₁^∞ N(x; {margin:g}, {spread:g}²) Φ(x/{spread:g})³ dx: skip must exceed `none` (fixed at 1) "
        "and each of the three others. Monte Carlo over the draws gives the same within its error.",
        "count, over many draws of edge 0, how often skip_connect is the largest entry.",
    )


def check_error_bar_scaling(answer: Any) -> Feedback:
    """07, exercise 2: by what factor the α error bars grow when T doubles."""
    return _numeric(
        "07 · exercise 2",
        answer,
        math.sqrt(2.0),
        0.02,
        "The covariance is (T/N)H, so each std scales with sqrt(T): doubling T widens every error "
        "bar by sqrt(2). Run the next cell to see it.",
        "which power of T does a standard deviation of N(α, (T/N)H) carry?",
    )


# ------------------------------------------------------------------- 08 sweeps


def check_trial_count(
    answer: Any, strategies: str = "gibbs2,darts-v1,gdas", seeds: str = "0-4", datasets: str = "cifar10,cifar100"
) -> Feedback:
    """08, exercise 1: the number of trials in a grid."""
    from ..sweep import grid

    truth = float(len(grid(strategies, seeds, datasets=datasets)))
    return _numeric(
        "08 · exercise 1",
        answer,
        truth,
        0.0,
        "one trial per strategy × dataset × seed; `grid(...)` lists them (run the next cell).",
        'a trial is one (strategy, dataset, seed); "0-4" is five seeds.',
    )


def check_rerun_after_kill(answer: Any) -> Feedback:
    """08, exercise 2: which trials run when the same sweep is started again after a kill."""
    return _choice(
        "08 · exercise 2",
        answer,
        ("all", "unfinished", "none"),
        "unfinished",
        "A finished trial's folder holds its summary and is skipped; an interrupted one resumes from "
        "its last epoch checkpoint; a trial that never started starts.",
    )
