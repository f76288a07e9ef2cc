"""Checked answers for the course's exercises (the "Exercises" section at the end of each notebook).

Each ``check_...`` takes the learner's answer (a number, a choice, or a function they wrote),
compares it with what the kit computes, and returns a :class:`Feedback`: right or not, and
*why*, shown as the cell's output (coloured HTML in Jupyter, plain text in a terminal). An
unanswered exercise (``None``) is not wrong: the check says what to fill in, so a notebook runs
top to bottom before any exercise is done.

A wrong function is run case by case against the kit's answer; the feedback names the failing
case, its input, the expected and the received value, which output differs, and a hint when the
answer matches a common mistake (each check lists its own: a sign flip, a normalisation along
the wrong axis, a missing softmax, ...). A wrong number gets a hint, not the answer: the
reference solutions are one collapsed click away (:func:`show_solution`, reading
:mod:`gibbsnas_lite.course.solutions`, which ``tests/test_exercises.py`` runs through every check).

The building blocks (:func:`numeric`, :func:`choice`, :func:`function`) are public, so a new
exercise is a few lines: the truth, the tolerance, and its known mistakes.
"""

from __future__ import annotations

import ast
import html
import inspect
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "Feedback",
    "Solution",
    "numeric",
    "choice",
    "function",
    "show_solution",
    "check_ess_per_sweep",
    "check_gibbs_sweep",
    "check_calibrated_temperature",
    "check_bfgs_update",
    "check_damped_chain_tau",
    "check_indefinite_update",
    "check_edge_matrix",
    "check_discretization_gap",
    "check_none_edge_probability",
    "check_derive_arch",
    "check_calibrated_alpha_std",
    "check_chance_gate_failure",
    "check_skips_after_bias",
    "check_count_skips",
    "check_skip_win_probability",
    "check_none_win_probability",
    "check_trial_count",
    "check_epochs_after_kill",
]

_GREEN, _RED, _GREY = "#1a7f37", "#cf222e", "#6e7781"


def _code_html(text: str) -> str:
    """Escape ``text`` for HTML and set its `backticked` parts in code (no markdown: `~` stays `~`)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer: ``ok`` is True (right), False (not yet) or None (no answer yet).

    ``details`` are labelled lines under the message, e.g. ``("expected", "`0.5`")``: the failing
    case, the expected and received values, the hint.
    """

    exercise: str
    ok: bool | None
    message: str
    details: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.ok)

    @property
    def label(self) -> str:
        return {True: "✓ right", False: "✗ not yet", None: "… no answer yet"}[self.ok]

    def __repr__(self) -> str:
        lines = [f"[{self.label}] {self.exercise}: {self.message}"]
        lines += [f"    {key}: {value}" for key, value in self.details]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = {True: _GREEN, False: _RED, None: _GREY}[self.ok]
        rows = "".join(
            f"<tr><td style='padding:0 8px 0 0;vertical-align:top;text-align:left'><b>{html.escape(k)}</b></td>"
            f"<td style='text-align:left'>{_code_html(v)}</td></tr>"
            for k, v in self.details
        )
        table = f"<table style='margin:4px 0 0 0'>{rows}</table>" if rows else ""
        return (
            f"<div class='gibbsnas-feedback' style='border-left:4px solid {colour};padding:2px 10px'>"
            f"<b style='color:{colour}'>{self.label}</b> ({html.escape(self.exercise)}): "
            f"{_code_html(self.message)}{table}</div>"
        )


def _code(value: Any) -> str:
    """A value as the feedback shows it: short, in backticks (tensors and arrays rounded)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        text = np.array2string(value, precision=4, suppress_small=True, max_line_width=100, threshold=40)
    elif isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, tuple) and all(isinstance(v, float) for v in value):
        text = "(" + ", ".join(f"{v:.4g}" for v in value) + ")"
    else:
        text = repr(value)
    text = " ".join(text.split())
    return f"`{text[:300]}{' …' if len(text) > 300 else ''}`"


def _missing(exercise: str, what: str) -> Feedback:
    return Feedback(exercise, None, f"replace `None` with {what}, then run the cell again.")


def numeric(
    exercise: str,
    answer: Any,
    truth: float,
    rtol: float,
    why: str,
    hint: str,
    *,
    mistakes: Sequence[tuple[float, str]] = (),
    what: str = "a number",
) -> Feedback:
    """A number within ``rtol`` of ``truth``. A wrong one gets the hint of the mistake it matches
    (``mistakes``: (the value that mistake gives, its hint); a flipped sign is always recognised),
    else ``hint``; the true value is not shown (it is in :func:`show_solution`)."""
    if answer is None:
        return _missing(exercise, what)
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return Feedback(exercise, False, f"expected {what}, got {_code(answer)}.")

    def near(x: float, y: float) -> bool:
        return math.isfinite(x) and abs(x - y) <= max(rtol * abs(y), 1e-12)

    if near(value, truth):
        return Feedback(exercise, True, f"{_code(value)} (exact: `{truth:.4g}`). {why}")
    known = [(v, h) for v, h in mistakes]
    if truth != 0:
        known.append((-truth, "the sign is flipped: check which quantity is subtracted from which."))
    matched = next((h for v, h in known if near(value, v)), hint)
    off = "is not" if rtol == 0 else f"is not within {rtol:.0%} of"
    return Feedback(exercise, False, f"{_code(value)} {off} the answer.", (("hint", matched),))


def choice(exercise: str, answer: Any, options: Sequence[str], right: str, why: str, hint: str = "") -> Feedback:
    """One of ``options`` (case-insensitive)."""
    listed = ", ".join(f"`{o!r}`" for o in options)
    if answer is None:
        return _missing(exercise, "one of " + listed)
    if not isinstance(answer, str) or answer.strip().lower() not in options:
        return Feedback(exercise, False, f"answer with one of {listed}; got {_code(answer)}.")
    if answer.strip().lower() == right:
        return Feedback(exercise, True, why)
    return Feedback(
        exercise, False, f"not {_code(answer)}.", (("hint", hint or "think again about the section above."),)
    )


def _as_array(x: Any) -> np.ndarray:
    return np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=float)


def _outputs(x: Any) -> list:
    """A function's result as a list of outputs (a tuple or list of several, else one)."""
    return list(x) if isinstance(x, (tuple, list)) and not np.isscalar(x) else [x]


def _close(got: Any, want: Any, atol: float) -> bool:
    try:
        g, w = _as_array(got), _as_array(want)
    except (TypeError, ValueError):
        return False
    return g.shape == w.shape and bool(np.allclose(g, w, atol=atol, rtol=1e-6))


def _generic_hint(got: np.ndarray, want: np.ndarray, atol: float) -> str | None:
    if np.allclose(got, -want, atol=atol, rtol=1e-6):
        return "every entry has the wrong sign: a sign flip."
    if got.ndim == 2 and got.shape == want.T.shape and np.allclose(got, want.T, atol=atol, rtol=1e-6):
        return "your matrix is the transpose of the expected one: check the order of the outer products."
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = got / want
    if want.size > 1 and np.all(np.isfinite(ratio)) and np.ptp(ratio) < 1e-6 * max(1.0, abs(ratio.mean())):
        return f"off by the same factor {ratio.flat[0]:.4g} everywhere: a missing scale or normalisation?"
    return None


def function(
    exercise: str,
    fn: Any,
    cases: Sequence[tuple],
    reference: Callable,
    why: str,
    *,
    atol: float = 1e-8,
    outputs: Sequence[str] | None = None,
    mistakes: Sequence[tuple[Callable, str]] = (),
    same: Callable[[Any, Any], bool] | None = None,
    hint: str = "",
) -> Feedback:
    """Run ``fn(*case)`` against ``reference(*case)`` case by case; report the first mismatch.

    The report names the case and its arguments (by the reference's parameter names), which output
    differs (``outputs`` names them when the function returns several), the expected and the
    received value, and a hint: the first of ``mistakes`` (a wrong implementation, its hint) that
    gives the received value, else a sign flip, a transpose or a constant factor when it is one,
    else ``hint``.
    ``same(got, want)`` replaces the numeric comparison (e.g. for strings).
    """
    if fn is None:
        return _missing(exercise, "your function")
    if not callable(fn):
        return Feedback(exercise, False, f"expected a function, got {type(fn).__name__}.")
    names = list(inspect.signature(reference).parameters)

    def equal(got: Any, want: Any) -> bool:
        return same(got, want) if same is not None else _close(got, want, atol)

    for i, case in enumerate(cases):
        shown = tuple((f"argument `{n}`", _code(v)) for n, v in zip(names, case))
        want = reference(*case)
        try:
            got = fn(*case)
        except Exception as err:  # the learner's code: show what went wrong, do not raise
            detail = shown + (("error", f"{type(err).__name__}: {err}"),)
            return Feedback(exercise, False, f"case {i}: your function raised {type(err).__name__}.", detail)
        if got is None:
            return _missing(exercise, "a body for your function (it returns None)")
        if equal(got, want):
            continue
        wants, gots = _outputs(want), _outputs(got)
        label, w_show, g_show = "result", want, got
        if len(wants) > 1 and len(gots) == len(wants):
            k = next(k for k in range(len(wants)) if not equal(gots[k], wants[k]))
            label = outputs[k] if outputs else f"output {k} of {len(wants)}"
            w_show, g_show = wants[k], gots[k]
        elif len(wants) > 1:
            label = f"the result: {len(wants)} outputs expected, {len(gots)} received"
        detail = [*shown, ("wrong output", label), ("expected", _code(w_show)), ("received", _code(g_show))]
        g_arr = w_arr = None
        if same is None:
            try:
                g_arr, w_arr = _as_array(g_show), _as_array(w_show)
                if g_arr.shape != w_arr.shape:
                    detail.append(("shape", f"expected `{w_arr.shape}`, received `{g_arr.shape}`"))
                elif g_arr.size > 1:
                    worst = np.unravel_index(int(np.argmax(np.abs(g_arr - w_arr))), g_arr.shape)
                    detail.append(
                        (
                            "largest difference",
                            f"`{float(np.max(np.abs(g_arr - w_arr))):.3g}` at entry `{list(map(int, worst))}`",
                        )
                    )
            except (TypeError, ValueError):
                pass
        known = next((h for wrong, h in mistakes if _matches(wrong, case, got, equal)), None)
        if known is None and g_arr is not None and g_arr.shape == w_arr.shape:
            known = _generic_hint(g_arr, w_arr, atol)
        if known or hint:
            detail.append(("hint", known or hint))
        return Feedback(exercise, False, f"case {i} of {len(cases)} differs from the kit's answer.", tuple(detail))
    return Feedback(exercise, True, f"agrees with the kit on all {len(cases)} cases. {why}")


def _matches(wrong: Callable, case: tuple, got: Any, equal: Callable) -> bool:
    try:
        return equal(got, wrong(*case))
    except Exception:
        return False


# ------------------------------------------------------------------- solutions


@dataclass(frozen=True)
class Solution:
    """A reference solution or a model answer, collapsed (``<details>``) in Jupyter."""

    exercise: str
    code: str
    note: str

    def __repr__(self) -> str:
        return f"Solution of {self.exercise}:\n{self.code}\n{self.note}".strip()

    def _repr_html_(self) -> str:
        what = "a solution" if self.code else "a model answer"
        code = f"<pre><code>{html.escape(self.code)}</code></pre>" if self.code else ""
        return (
            f"<details class='gibbsnas-solution'><summary>show {what} ({html.escape(self.exercise)})</summary>"
            f"{code}<p>{_code_html(self.note)}</p></details>"
        )


def show_solution(exercise: str) -> Solution:
    """The reference solution of ``exercise`` (``"01-2"``: notebook 01, exercise 2), or the model
    answer of an open question, from :mod:`gibbsnas_lite.course.solutions` (the code that the
    tests run through the check), to open after trying."""
    from . import solutions

    if exercise not in solutions.SOLUTIONS:
        raise KeyError(f"no solution {exercise!r}; there are: {', '.join(solutions.SOLUTIONS)}")
    names, note = solutions.SOLUTIONS[exercise]
    source = Path(solutions.__file__).read_text(encoding="utf-8")
    parts = []
    for node in ast.parse(source).body:
        targets = [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)]
        if getattr(node, "name", None) in names or set(targets) & set(names):
            parts.append(ast.get_source_segment(source, node))
    notebook, number = exercise.split("-")
    return Solution(f"{notebook} · exercise {number}", "\n\n".join(parts), note)


# ------------------------------------------------------------------- 01 Gibbs sampling


def check_ess_per_sweep(answer: Any, rho: float = 0.97) -> Feedback:
    """01, exercise 1: the predicted effective sample size per sweep of exact Gibbs at ``rho``."""
    truth = (1 - rho**2) / (1 + rho**2)
    why = (
        f"ESS per sweep is 1/τ = (1 − ρ²)/(1 + ρ²): at ρ = {rho:g} one independent draw costs "
        f"about {1 / truth:.0f} sweeps. Now run the next cell and compare with the measurement."
    )
    return numeric(
        "01 · exercise 1",
        answer,
        truth,
        0.01,
        why,
        "the integrated autocorrelation time τ of section 3; ESS per sweep is 1/τ.",
        mistakes=[
            (1 / truth, "that is τ, the sweeps per independent draw; the ESS per sweep is its inverse."),
            (1 - rho**2, "1 − ρ² is the numerator only: τ = 1 + 2 Σ ρ^(2k) also brings the (1 + ρ²)."),
            (1 - rho, "1 − ρ is the ρ → 1 approximation; the exact value is within a few per cent of it."),
        ],
    )


def _gibbs_sweep_reference(theta, mu, sigma, rho, z):
    from .toys import bivariate_gaussian

    target = bivariate_gaussian(rho, sigmas=sigma, mean=mu)
    c1 = target.conditional(0, [0.0, theta[1]])
    t1 = c1.mean.item() + math.sqrt(c1.cov.item()) * z[0]
    c2 = target.conditional(1, [t1, 0.0])
    return (t1, c2.mean.item() + math.sqrt(c2.cov.item()) * z[1])


def check_gibbs_sweep(fn: Any) -> Feedback:
    """01, exercise 2: ``fn(theta, mu, sigma, rho, z) -> (θ₁', θ₂')``, one exact Gibbs sweep."""
    rng = np.random.default_rng(0)
    cases = []
    for _ in range(5):
        mu = tuple(float(v) for v in rng.normal(size=2))
        sigma = tuple(float(v) for v in rng.uniform(0.3, 3.0, size=2))
        theta = tuple(float(v) for v in rng.normal(scale=2.0, size=2))
        cases.append((theta, mu, sigma, float(rng.uniform(-0.95, 0.95)), tuple(float(v) for v in rng.normal(size=2))))

    def sweep(theta, mu, sigma, rho, z, *, old=False, noise=math.sqrt, slope=1.0, shrink=True):
        """One sweep by the 2-D formula, with a mistake switched on (``slope`` multiplies σᵢ/σⱼ)."""
        new = list(theta)
        for i in (0, 1):
            j = 1 - i
            given = theta[j] if old else new[j]
            mean = mu[i] + rho * (sigma[i] / sigma[j]) ** slope * (given - mu[j])
            new[i] = mean + noise(sigma[i] ** 2 * ((1 - rho**2) if shrink else 1.0)) * z[i]
        return tuple(new)

    return function(
        "01 · exercise 2",
        fn,
        cases,
        _gibbs_sweep_reference,
        "Each half-step is a draw from one conditional; the second uses the θ₁ just drawn, which is what "
        "makes it Gibbs (and the staircase of section 2).",
        outputs=("the new θ₁ (first output)", "the new θ₂ (second output)"),
        hint="draw θ₁ from its conditional given θ₂ (section 1), then θ₂ given that new θ₁, each as mean + std × z.",
        mistakes=[
            (
                lambda *c: sweep(*c, old=True),
                "θ₂ was drawn given the *old* θ₁: Gibbs conditions on the θ₁ just drawn (a Jacobi sweep does not).",
            ),
            (
                lambda *c: sweep(*c, noise=float),
                "the noise was scaled by the conditional *variance*; a draw adds std × z, std = its square root.",
            ),
            (
                lambda *c: sweep(*c, slope=-1.0),
                "the slope of the conditional mean is ρ σ₁/σ₂ for θ₁ | θ₂ (σ of the drawn block on top).",
            ),
            (lambda *c: sweep(*c, shrink=False), "the noise used the marginal σ; the conditional std is σ √(1 − ρ²)."),
        ],
    )


def check_calibrated_temperature(answer: Any, eta: float = 0.1) -> Feedback:
    """01, exercise 3: the temperature T at which the damped chain (η) samples the target's variance."""
    truth = eta * (2 - eta)
    return numeric(
        "01 · exercise 3",
        answer,
        truth,
        0.02,
        f"The chain's variance is T·Σ/(η(2 − η)), so T = η(2 − η) = {truth:.4g} gives Σ back. The kit's "
        "`noise='calibrated'` does exactly this at every η (docs/notation.md); at T = 1 the paper's η = 0.1 "
        f"samples a posterior {1 / truth:.1f}× too wide.",
        "write the one-block update as an AR(1) process with noise T·Σ, solve Var = (1 − η)² Var + T·Σ, set Var = Σ.",
        mistakes=[
            (1 / truth, "that is how much too wide the chain is at T = 1; the T you want cancels that factor."),
            (eta, "T = η ignores the (1 − η)² Var carried over from the last step."),
            (eta**2, "T = η² keeps only the noise the mean step removes; solve the AR(1) variance exactly."),
        ],
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

    def no_ss(h, s, y):
        left = torch.eye(len(s), dtype=h.dtype) - torch.outer(s, y) / (s @ y)
        return left @ h @ left.T

    def swapped(h, s, y):
        left = torch.eye(len(s), dtype=h.dtype) - torch.outer(y, s) / (s @ y)
        return left @ h @ left.T + torch.outer(s, s) / (s @ y)

    return function(
        "02 · exercise 1",
        fn,
        cases,
        lambda H, s, y: bfgs_inverse_update(H, s, y, pd_policy="skip")[0],
        "Check the secant equation too: H₊ y = s holds exactly after the update.",
        hint="compare with section 2's formula term by term; a right H₊ satisfies `H₊ @ y == s`.",
        mistakes=[
            (no_ss, "the `+ ρ s sᵀ` term is missing: without it H₊ y = 0, not s."),
            (swapped, "the outer products are swapped: the left factor is (I − ρ s yᵀ), the right one its transpose."),
        ],
    )


def check_damped_chain_tau(answer: Any, eta: float = 0.25) -> Feedback:
    """02, exercise 2: steps per independent draw of the damped sampler at ``eta`` (exact H)."""
    phi = 1 - eta
    truth = (1 + phi) / (1 - phi)
    return numeric(
        "02 · exercise 2",
        answer,
        truth,
        0.02,
        f"θ' − μ = (1 − η)(θ − μ) + noise is AR(1) with φ = 1 − η = {phi:g}, so τ = (1 + φ)/(1 − φ) = (2 − η)/η, "
        "as in notebook 01's section 3 with ρ² replaced by 1 − η. A small η costs twice: a wider chain and "
        "slower mixing.",
        "find the AR(1) coefficient φ of the damped step and use notebook 01's τ = (1 + φ)/(1 − φ).",
        mistakes=[
            (1 / (eta * (2 - eta)), "that is the variance inflation 1/(η(2 − η)), not the correlation time."),
            (1 / eta, "1/η counts one side of the autocorrelation; τ = 1 + 2 Σ φ^k sums both."),
            (phi, "that is φ, the lag-1 autocorrelation; τ = (1 + φ)/(1 − φ)."),
        ],
    )


def indefinite_update_example() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """02, exercise 3's pair: H = I (2×2), s = (1, 0), y = (−1, 1), so sᵀy = −1."""
    f = torch.float64
    return torch.eye(2, dtype=f), torch.tensor([1.0, 0.0], dtype=f), torch.tensor([-1.0, 1.0], dtype=f)


def check_indefinite_update(answer: Any) -> Feedback:
    """02, exercise 3: the smallest eigenvalue of the textbook update on :func:`indefinite_update_example`."""
    from .toys import bfgs_inverse_update_unprotected

    h_plus = bfgs_inverse_update_unprotected(*indefinite_update_example())
    eigs = torch.linalg.eigvalsh(h_plus)
    truth = float(eigs[0])
    return numeric(
        "02 · exercise 3",
        answer,
        truth,
        0.01,
        "H₊ = [[0, 1], [1, 1]] has eigenvalues (1 ± √5)/2: one is negative, so H₊ is no covariance and nothing "
        "can be drawn from it. It had to be: the secant equation H₊y = s gives yᵀH₊y = sᵀy < 0. The samplers "
        "skip or damp such pairs (section 3).",
        "build H₊ (your function of exercise 1 does it) and take `torch.linalg.eigvalsh`.",
        mistakes=[
            (float(eigs[1]), "that is the largest eigenvalue; the question asks for the smallest."),
            (-1.0, "−1 is yᵀH₊y = sᵀy; divided by yᵀy = 2 it bounds the smallest eigenvalue from above."),
            (-0.5, "−0.5 is the Rayleigh quotient yᵀH₊y / yᵀy, an upper bound: the smallest eigenvalue is lower."),
        ],
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
    eye = torch.eye(problem.dim, dtype=torch.float64)

    def with_weights(p, w):
        return p[1] * eye + p[2] * w

    return function(
        "03 · exercise 1",
        fn,
        cases,
        lambda alpha, W: problem.edge_matrix(alpha, W),
        "softmax(α) mixes the ops; adding a constant to all of α changes nothing (the shift case).",
        atol=1e-10,
        hint="p = softmax(α) over (none, skip, linear); M = p[1]·I + p[2]·Ŵ, Ŵ = W with unit rows.",
        mistakes=[
            (
                lambda a, w: with_weights(a, w / w.norm(dim=-1, keepdim=True)),
                "α is used as the weights: the softmax is missing.",
            ),
            (
                lambda a, w: with_weights(torch.softmax(a, -1), w / w.norm(dim=0, keepdim=True)),
                "W was normalised along the wrong axis: Ŵ has unit *rows* (`dim=-1`), not unit columns.",
            ),
            (
                lambda a, w: with_weights(torch.softmax(a, -1), w),
                "W is not normalised: Ŵ is W with each row scaled to unit length.",
            ),
            (
                lambda a, w: torch.softmax(a, -1)[2] * eye + torch.softmax(a, -1)[1] * w / w.norm(dim=-1, keepdim=True),
                "the ops are swapped: the order is (none, skip, linear), so p[1] is skip and p[2] linear.",
            ),
        ],
    )


def check_discretization_gap(answer: Any, problem: Any, run: Any) -> Feedback:
    """03, exercise 2: the derived op's validation loss alone minus the supernet's final one, for ``run``."""
    truth = float(problem.op_losses()[run.picked] - run.valid_loss[-1])
    why = (
        f"The supernet's last validation loss was {run.valid_loss[-1]:.3f}; the '{run.picked}' op alone, retrained, "
        f"scores {problem.op_losses()[run.picked]:.3f}. That difference is the discretization gap: the "
        "relaxed search ranked ops inside a mixture, the benchmark scores one op alone."
    )
    return numeric(
        "03 · exercise 2",
        answer,
        truth,
        0.02,
        why,
        "`problem.op_losses()[run.picked]` scores the derived op alone; `run.valid_loss[-1]` is the supernet's "
        "last loss.",
        mistakes=[(float(run.valid_loss[-1]), "that is the supernet's loss alone; subtract it from the derived op's.")],
    )


# ------------------------------------------------------------------- 04 NAS-Bench-201


def check_none_edge_probability(answer: Any) -> Feedback:
    """04, exercise 1: P(a cell derived from a random α has at least one `none` edge)."""
    from ..spaces.nb201.arch import NUM_EDGES, OPS

    p_none = 1.0 / len(OPS)
    truth = 1.0 - (1.0 - p_none) ** NUM_EDGES
    return numeric(
        "04 · exercise 1",
        answer,
        truth,
        0.02,
        f"each edge's argmax is `none` with probability 1/{len(OPS)} when α is random; the cell keeps "
        f"every edge only with probability (1 − 1/{len(OPS)})^{NUM_EDGES}. NAS-Bench-201's rule lets a "
        "search cut edges; DARTS's rule never keeps `none` (notebook 06).",
        "first the chance that one edge is not `none`, then that all six are not.",
        mistakes=[(NUM_EDGES * p_none, "adding the six edges' chances counts cells with two `none` edges twice.")],
    )


def check_derive_arch(fn: Any) -> Feedback:
    """04, exercise 2: ``fn(alpha) -> arch string``, NAS-Bench-201's argmax rule on a (6, 5) α."""
    from ..spaces.nb201.arch import derive_arch, parse_arch

    gen = torch.Generator().manual_seed(2)

    def same(got: Any, want: str) -> bool:
        try:
            return parse_arch(str(got)) == parse_arch(want)
        except ValueError:
            return False

    def darts_rule(alpha):  # `none` excluded, as DARTS's own derivation does
        return derive_arch(torch.cat([torch.full((alpha.shape[0], 1), -1e9), alpha[:, 1:]], dim=1))

    return function(
        "04 · exercise 2",
        fn,
        [(torch.randn(6, 5, generator=gen),) for _ in range(6)],
        lambda alpha: derive_arch(alpha.clone()),
        "argmax per edge, `none` included, as NAS-Bench-201 does (DARTS's own rule drops `none`).",
        same=same,
        hint="one op per edge, the argmax of its row of α, in the string's edge order (rows 0-5 of α).",
        mistakes=[
            (darts_rule, "`none` was excluded (DARTS's rule); NAS-Bench-201's keeps it: argmax over all five ops.")
        ],
    )


# ------------------------------------------------------------------- 05 ablation


def check_calibrated_alpha_std(
    answer: Any, eta: float = 0.1, temperature: float = 1.0, data_size: float = 4096.0, inverse_hessian: float = 100.0
) -> Feedback:
    """05, exercise 1: the std of one α coordinate's calibrated draw, sqrt(η(2−η)·(T/N)·H)."""
    truth = math.sqrt(eta * (2 - eta) * temperature / data_size * inverse_hessian)
    eq16 = math.sqrt(temperature / data_size * inverse_hessian)
    return numeric(
        "05 · exercise 1",
        answer,
        truth,
        0.02,
        f"The calibrated draw has covariance η(2−η)(T/N)H: std = sqrt({eta * (2 - eta):g} × {temperature:g}/"
        f"{data_size:g} × {inverse_hessian:g}). Along H's flattest directions the draws move α by several "
        "hundredths per step, as far as many mean steps: compare the error bars of the GibbsNAS replay in 04 §8.",
        "the draw's covariance is η(2−η)·(T/N)·H (section 4c); a std is the square root of a variance.",
        mistakes=[
            (truth**2, "that is the variance; the std is its square root."),
            (eq16, "that is Eq. 16 as printed, (T/N)H: the deep stage calibrates it by η(2−η)."),
            (eq16**2, "that is the uncalibrated variance (T/N)H: calibrate by η(2−η), then take the square root."),
        ],
    )


def check_chance_gate_failure(answer: Any, edges: int = 6, ops: int = 5, at_least: int = 3) -> Feedback:
    """05, exercise 2: how often a cell independent of its noise-only control agrees with it on >= 3 of 6 edges."""
    p = 1 / ops
    truth = sum(math.comb(edges, k) * p**k * (1 - p) ** (edges - k) for k in range(at_least, edges + 1))
    exactly = math.comb(edges, at_least) * p**at_least * (1 - p) ** (edges - at_least)
    return numeric(
        "05 · exercise 2",
        answer,
        truth,
        0.03,
        f"The number of agreeing edges is Binomial({edges}, 1/{ops}); P(≥ {at_least}) = 1 − P(0) − P(1) − P(2). "
        "About one seed in ten fails the gate by chance, so the gate is judged pooled over the seeds.",
        f"each edge agrees with probability 1/{ops}, independently: count the ways to agree on "
        f"≥ {at_least} of {edges}.",
        mistakes=[
            (exactly, f"that is P(exactly {at_least}); the gate fails for {at_least} or more."),
            (1 - truth, "that is the probability of passing the gate."),
            (p, "that is the chance agreement of one edge; the gate counts edges out of six."),
        ],
    )


# ------------------------------------------------------------------- 06 DARTS space


def check_skips_after_bias(answer: Any, alpha_normal: Any, alpha_reduce: Any, bias: float = 3.0) -> Feedback:
    """06, exercise 1: skip_connect ops in the normal cell derived after adding ``bias`` to skip's α column."""
    from ..spaces.darts.genotypes import PRIMITIVES, derive_genotype

    a = np.array(alpha_normal, dtype=float, copy=True)
    a[:, PRIMITIVES.index("skip_connect")] += bias
    genotype = derive_genotype(a, alpha_reduce)
    truth = float(sum(op == "skip_connect" for op, _ in genotype.normal))
    return numeric(
        "06 · exercise 1",
        answer,
        truth,
        0.0,
        f"with skip's logit raised by {bias:g} on every edge, skip is the strongest non-`none` op on "
        "most edges, and the rule keeps 2 edges per node whatever their op: a cell of skips. Skips "
        "are parameter-free and fit early, which is how a DARTS search collapses.",
        "the rule ranks edges by their strongest non-`none` op and always keeps 8 edges (2 per node).",
        mistakes=[
            (14.0, "the normal cell has 14 candidate edges but keeps only 8 (2 per node)."),
            (float(sum(op == "skip_connect" for op, _ in genotype.reduce)), "that counts the reduction cell."),
        ],
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
    return function(
        "06 · exercise 2",
        fn,
        cases,
        lambda genotype: sum(op == "skip_connect" for op, _ in genotype.normal),
        "A normal cell full of skips is the DARTS collapse: cheap to search, poor when retrained.",
        atol=0,
        hint="`genotype.normal` is a list of (op, input) pairs: count the pairs whose op is `'skip_connect'`.",
        mistakes=[
            (
                lambda g: sum(op == "skip_connect" for op, _ in g.reduce),
                "that counts the reduction cell (`genotype.reduce`).",
            ),
            (
                lambda g: sum(op == "skip_connect" for op, _ in [*g.normal, *g.reduce]),
                "that counts both cells; the question is the normal cell.",
            ),
        ],
    )


# ------------------------------------------------------------------- 07 the architecture posterior


def _phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def _skip_win(margin: float, spread: float) -> float:
    x = np.linspace(1.0, margin + 12.0 * spread, 200_001)  # skip must beat none (fixed at 1) and three others
    pdf = np.exp(-0.5 * ((x - margin) / spread) ** 2) / (spread * math.sqrt(2 * math.pi))
    cdf = 0.5 * (1 + np.vectorize(math.erf)(x / spread / math.sqrt(2)))
    return float(np.trapezoid(pdf * cdf**3, x))


def check_skip_win_probability(answer: Any, margin: float = 0.5, spread: float = 3.0) -> Feedback:
    """07, exercise 1: P(skip_connect wins edge 0) in ``posterior.disagreement_example(margin, spread)``."""
    return numeric(
        "07 · exercise 1",
        answer,
        _skip_win(margin, spread),
        0.03,
        f"P = ∫₁^∞ N(x; {margin:g}, {spread:g}²) Φ(x/{spread:g})³ dx: skip must exceed `none` (fixed at 1) "
        "and each of the three others. Monte Carlo over the draws gives the same within its error.",
        "count, over many draws of edge 0, how often skip_connect is the largest entry.",
        mistakes=[
            (_skip_win(0.5, spread), "that is the value at margin 0.5 (section 5); the question moves skip's mean."),
            (_phi((1 - margin) / spread) * _phi(1 / spread) ** 3, "that is `none`'s win probability, not skip's."),
        ],
    )


def check_none_win_probability(answer: Any, scale: float = 4.0, margin: float = 0.5, spread: float = 3.0) -> Feedback:
    """07, exercise 2: P(`none` wins edge 0) of the toy when its covariance is multiplied by ``scale``."""
    std = spread * math.sqrt(scale)
    truth = _phi((1 - margin) / std) * _phi(1 / std) ** 3
    return numeric(
        "07 · exercise 2",
        answer,
        truth,
        0.02,
        f"Covariance × {scale:g} is T × {scale:g}: each std grows by √{scale:g}, to {std:g}, and `none` (mean 1, no "
        f"variance) wins when all four rivals fall below 1: Φ({1 - margin:g}/{std:g})·Φ(1/{std:g})³. A hotter "
        "posterior gives a certain op *less* of the wins.",
        "a std of N(α, (T/N)H) scales with √T; then reuse section 5's Φ(·)Φ(·)³ with the new std.",
        mistakes=[
            (
                _phi((1 - margin) / (spread * scale)) * _phi(1 / (spread * scale)) ** 3,
                f"the std was multiplied by {scale:g}; it grows by √{scale:g}.",
            ),
            (_phi((1 - margin) / spread) * _phi(1 / spread) ** 3, "that is the value before the change (section 5)."),
        ],
    )


# ------------------------------------------------------------------- 08 sweeps


def check_trial_count(
    answer: Any, strategies: str = "gibbs2,darts-v1,gdas", seeds: str = "0-4", datasets: str = "cifar10,cifar100"
) -> Feedback:
    """08, exercise 1: the number of trials in a grid."""
    from ..sweep import grid

    trials = grid(strategies, seeds, datasets=datasets)
    n_s, n_d = len({t.strategy for t in trials}), len({t.dataset_name for t in trials})
    return numeric(
        "08 · exercise 1",
        answer,
        float(len(trials)),
        0.0,
        "one trial per strategy × dataset × seed; `grid(...)` lists them (run the next cell).",
        'a trial is one (strategy, dataset, seed); "0-4" is five seeds.',
        mistakes=[
            (
                float(n_s + n_d + len(trials) // (n_s * n_d)),
                "the counts multiply: every strategy runs on every dataset with every seed.",
            ),
            (float(len(trials) // n_d), "each dataset is a trial of its own too."),
        ],
    )


def check_epochs_after_kill(
    answer: Any, trials: int = 30, finished: int = 12, epochs: int = 10, killed_in_epoch: int = 3
) -> Feedback:
    """08, exercise 2: search epochs the rerun computes after a kill (one trial killed in ``killed_in_epoch``)."""
    left = epochs - (killed_in_epoch - 1)  # its checkpoint holds the epochs it finished
    never = trials - finished - 1
    truth = float(never * epochs + left)
    return numeric(
        "08 · exercise 2",
        answer,
        truth,
        0.0,
        f"Finished trials are skipped (their `trial.json` says ok); the {never} that never started run all {epochs} "
        f"epochs; the one killed in epoch {killed_in_epoch} resumes from its last checkpoint (after epoch "
        f"{killed_in_epoch - 1}) and runs {left}. `starts.json` then reads `[0, {killed_in_epoch - 1}]`.",
        "which trials are skipped, which start from scratch, and where does the interrupted one resume?",
        mistakes=[
            (
                float((never + 1) * epochs),
                "the interrupted trial does not start over: it resumes from its last epoch checkpoint.",
            ),
            (float(never * epochs), "the interrupted trial runs too: it has no finished `trial.json`."),
            (float(never * epochs + left - 1), "epoch 3 was not finished when the kill came: it is computed again."),
            (float(trials * epochs), "finished trials are not rerun."),
        ],
    )
