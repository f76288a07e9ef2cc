"""Every checked exercise: its reference solution is called right, a wrong answer wrong,
no answer is neither; every notebook has objectives, a summary and at least two exercises."""

import inspect
import re
import sys
from pathlib import Path

import nbformat
import pytest
import torch

from gibbsnas_lite.course import exercises as E

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import exercise_solutions as S  # noqa: E402  (the reference solutions, as the tests use them)
from gibbsnas_lite.course.solutions import SOLUTIONS  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _toy():
    problem, run = S.a_darts_v1_run()
    return problem, run


def _alphas():
    gen = torch.Generator().manual_seed(5)
    return (torch.randn(14, 8, generator=gen).numpy(), torch.randn(14, 8, generator=gen).numpy())


def _wrong_derive(alpha):  # DARTS's rule: `none` excluded, which differs on some α
    return S.derive_arch(torch.cat([torch.full((6, 1), -1e9), alpha[:, 1:]], dim=1))


def _gibbs_sweep_jacobi(theta, mu, sigma, rho, z):  # θ₂ drawn given the old θ₁
    t1 = S.gibbs_sweep(theta, mu, sigma, rho, z)[0]
    return t1, mu[1] + rho * sigma[1] / sigma[0] * (theta[0] - mu[0]) + sigma[1] * (1 - rho**2) ** 0.5 * z[1]


def _edge_no_softmax(alpha, W):
    return alpha[1] * torch.eye(4, dtype=W.dtype) + alpha[2] * W / W.norm(dim=-1, keepdim=True)


def _edge_column_norm(alpha, W):
    p = torch.softmax(alpha, -1)
    return p[1] * torch.eye(4, dtype=W.dtype) + p[2] * W / W.norm(dim=0, keepdim=True)


# check name -> (call with the reference, call with a wrong answer, call with no answer)
CASES = {
    "check_ess_per_sweep": (
        lambda: E.check_ess_per_sweep(S.ess_per_sweep(0.97), rho=0.97),
        lambda: E.check_ess_per_sweep(1 - 0.97**2, rho=0.97),
        lambda: E.check_ess_per_sweep(None),
    ),
    "check_gibbs_sweep": (
        lambda: E.check_gibbs_sweep(S.gibbs_sweep),
        lambda: E.check_gibbs_sweep(_gibbs_sweep_jacobi),
        lambda: E.check_gibbs_sweep(None),
    ),
    "check_calibrated_temperature": (
        lambda: E.check_calibrated_temperature(S.calibrated_temperature(0.1), eta=0.1),
        lambda: E.check_calibrated_temperature(0.1, eta=0.1),
        lambda: E.check_calibrated_temperature(None),
    ),
    "check_bfgs_update": (
        lambda: E.check_bfgs_update(S.bfgs_update),
        lambda: E.check_bfgs_update(lambda h, s, y: h + torch.outer(s, s) / float(s @ y)),
        lambda: E.check_bfgs_update(None),
    ),
    "check_damped_chain_tau": (
        lambda: E.check_damped_chain_tau(S.damped_chain_tau(0.25), eta=0.25),
        lambda: E.check_damped_chain_tau(4.0, eta=0.25),
        lambda: E.check_damped_chain_tau(None),
    ),
    "check_indefinite_update": (
        lambda: E.check_indefinite_update(S.indefinite_update_eigenvalue()),
        lambda: E.check_indefinite_update(0.5),
        lambda: E.check_indefinite_update(None),
    ),
    "check_edge_matrix": (
        lambda: E.check_edge_matrix(S.edge_matrix),
        lambda: E.check_edge_matrix(
            lambda a, w: torch.softmax(a, -1)[1] * torch.eye(4, dtype=w.dtype) + torch.softmax(a, -1)[2] * w
        ),  # Ŵ not normalised
        lambda: E.check_edge_matrix(None),
    ),
    "check_discretization_gap": (
        lambda: E.check_discretization_gap(S.discretization_gap(*_toy()), *_toy()),
        lambda: E.check_discretization_gap(S.discretization_gap(*_toy()) + 0.1, *_toy()),
        lambda: E.check_discretization_gap(None, *_toy()),
    ),
    "check_none_edge_probability": (
        lambda: E.check_none_edge_probability(S.none_edge_probability),
        lambda: E.check_none_edge_probability(6 / 5 / 6),
        lambda: E.check_none_edge_probability(None),
    ),
    "check_derive_arch": (
        lambda: E.check_derive_arch(S.derive_arch),
        lambda: E.check_derive_arch(_wrong_derive),
        lambda: E.check_derive_arch(None),
    ),
    "check_calibrated_alpha_std": (
        lambda: E.check_calibrated_alpha_std(S.calibrated_alpha_std()),
        lambda: E.check_calibrated_alpha_std((1.0 / 4096.0 * 100.0) ** 0.5),  # Eq. 16 as printed
        lambda: E.check_calibrated_alpha_std(None),
    ),
    "check_chance_gate_failure": (
        lambda: E.check_chance_gate_failure(S.chance_gate_failure()),
        lambda: E.check_chance_gate_failure(20 * 0.2**3 * 0.8**3),  # P(exactly 3)
        lambda: E.check_chance_gate_failure(None),
    ),
    "check_skips_after_bias": (
        lambda: E.check_skips_after_bias(S.skips_after_bias(*_alphas()), *_alphas()),
        lambda: E.check_skips_after_bias(S.skips_after_bias(*_alphas()) - 3, *_alphas()),
        lambda: E.check_skips_after_bias(None, *_alphas()),
    ),
    "check_count_skips": (
        lambda: E.check_count_skips(S.count_skips),
        lambda: E.check_count_skips(lambda g: sum(op == "skip_connect" for op, _ in g.reduce)),
        lambda: E.check_count_skips(None),
    ),
    "check_skip_win_probability": (
        lambda: E.check_skip_win_probability(S.skip_win_probability(1.0), margin=1.0),
        lambda: E.check_skip_win_probability(S.skip_win_probability(0.5), margin=1.0),
        lambda: E.check_skip_win_probability(None),
    ),
    "check_none_win_probability": (
        lambda: E.check_none_win_probability(S.none_win_probability(4.0), scale=4.0),
        lambda: E.check_none_win_probability(S.none_win_probability(16.0), scale=4.0),
        lambda: E.check_none_win_probability(None),
    ),
    "check_trial_count": (
        lambda: E.check_trial_count(S.trial_count),
        lambda: E.check_trial_count(3 + 2 + 5),
        lambda: E.check_trial_count(None),
    ),
    "check_epochs_after_kill": (
        lambda: E.check_epochs_after_kill(S.epochs_after_kill),
        lambda: E.check_epochs_after_kill(180),
        lambda: E.check_epochs_after_kill(None),
    ),
}


def test_every_check_has_a_reference_solution():
    checks = {name for name in E.__all__ if name.startswith("check_")}
    assert checks == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_is_right_wrong_is_wrong(name):
    right, wrong, missing = CASES[name]
    verdict = right()
    assert verdict.ok is True, verdict
    bad = wrong()
    assert bad.ok is False, bad
    assert dict(bad.details).get("hint"), f"a wrong answer gets a hint: {bad!r}"
    none = missing()
    assert none.ok is None and "None" in none.message, none
    assert not bool(none) and bool(verdict)
    assert repr(verdict).startswith("[✓ right]") and repr(bad).startswith("[✗ not yet]")


# the checks that take the learner's function: a wrong one is reported case by case
FUNCTION_CHECKS = sorted(name for name in CASES if "fn" in inspect.signature(getattr(E, name)).parameters)


@pytest.mark.parametrize("name", FUNCTION_CHECKS)
def test_failing_code_check_names_the_case_the_values_and_the_output(name):
    bad = CASES[name][1]()
    details = dict(bad.details)
    assert re.match(r"case \d+ of \d+", bad.message), bad
    assert any(k.startswith("argument `") for k in details), bad  # the failing input, by parameter name
    assert details["expected"].startswith("`") and details["received"].startswith("`"), bad
    assert details["expected"] != details["received"], bad
    assert "wrong output" in details, bad


@pytest.mark.parametrize(
    "check, wrong, hint",
    [
        (E.check_edge_matrix, _edge_no_softmax, "softmax is missing"),
        (E.check_edge_matrix, _edge_column_norm, "wrong axis"),
        (E.check_gibbs_sweep, _gibbs_sweep_jacobi, "*old* θ₁"),
        (E.check_bfgs_update, lambda h, s, y: -S.bfgs_update(h, s, y), "sign flip"),
        (E.check_bfgs_update, lambda h, s, y: 2 * S.bfgs_update(h, s, y), "same factor 2"),
        (E.check_count_skips, lambda g: sum(op == "skip_connect" for op, _ in g.reduce), "reduction cell"),
        (E.check_derive_arch, _wrong_derive, "`none` was excluded"),
        (E.check_calibrated_alpha_std, (1.0 / 4096.0 * 100.0) ** 0.5, "Eq. 16 as printed"),
        (E.check_calibrated_alpha_std, 0.19 / 4096.0 * 100.0, "the variance"),
        (E.check_chance_gate_failure, 20 * 0.2**3 * 0.8**3, "P(exactly 3)"),
        (E.check_chance_gate_failure, 1 - S.chance_gate_failure(), "passing the gate"),
    ],
)
def test_common_mistakes_get_their_hint(check, wrong, hint):
    verdict = check(wrong)
    assert verdict.ok is False and hint in dict(verdict.details)["hint"], verdict


def test_which_output_is_wrong_is_named():
    def only_theta2_wrong(theta, mu, sigma, rho, z):
        t1, t2 = S.gibbs_sweep(theta, mu, sigma, rho, z)
        return t1, t2 + 1.0

    verdict = E.check_gibbs_sweep(only_theta2_wrong)
    assert dict(verdict.details)["wrong output"] == "the new θ₂ (second output)", verdict


def test_numeric_mistakes_get_their_hint_not_the_answer():
    tau = 1 / S.ess_per_sweep(0.97)
    verdict = E.check_ess_per_sweep(tau, rho=0.97)
    assert "that is τ" in dict(verdict.details)["hint"], verdict
    assert f"{S.ess_per_sweep(0.97):.3g}" not in repr(verdict)  # a wrong prediction is not told the answer
    assert "sign is flipped" in dict(E.check_epochs_after_kill(-178).details)["hint"]
    assert "resumes" in dict(E.check_epochs_after_kill(180).details)["hint"]


def test_feedback_is_coloured_html_and_readable_text():
    right = E.check_trial_count(30)
    wrong = E.check_derive_arch(_wrong_derive)
    assert "color:#1a7f37" in right._repr_html_() and "✓ right" in right._repr_html_()
    assert "color:#cf222e" in wrong._repr_html_() and "✗ not yet" in wrong._repr_html_()
    # arch strings in code, with their `~` as typed (markdown would strike pairs of them through)
    page = wrong._repr_html_()
    assert "<code>&#x27;|" in page or "<code>'|" in page, page
    assert "~0|" in page and "<del>" not in page and "<s>" not in page
    text = repr(wrong)
    assert "<" not in text.replace("<-", "") and "expected: `'|" in text, text
    assert not hasattr(wrong, "_repr_markdown_")  # HTML only: Jupyter must not render it as markdown


def test_learner_code_that_raises_is_reported_not_raised():
    verdict = E.check_bfgs_update(lambda h, s, y: 1 / 0)
    assert verdict.ok is False and "ZeroDivisionError" in repr(verdict) and "case 0" in verdict.message
    assert E.check_ess_per_sweep("a lot").ok is False
    unanswered = E.check_bfgs_update(lambda h, s, y: None)  # the notebook's skeleton: not wrong, not done
    assert unanswered.ok is None and "returns None" in unanswered.message


def test_skip_win_probability_is_the_exact_integral():
    # the correction: 0.256, not "about 0.28"
    verdict = E.check_skip_win_probability(0.2557)
    assert verdict.ok and "exact: `0.2557`" in verdict.message
    assert E.check_skip_win_probability(0.28).ok is False  # the number 07 used to print


def test_none_win_probability_matches_draws():
    from gibbsnas_lite.course import arch_posterior as P

    mean, cov = P.disagreement_example()
    edge0 = P.sample_alphas(mean, 4 * cov, 200_000, seed=0)[:, 0]
    measured = float((edge0.argmax(dim=-1) == 0).double().mean())
    assert abs(measured - S.none_win_probability(4.0)) < 0.003
    assert E.check_none_win_probability(measured).ok


def test_indefinite_update_is_the_golden_ratio():
    assert S.indefinite_update_eigenvalue() == pytest.approx((1 - 5**0.5) / 2, abs=1e-12)


@pytest.mark.parametrize("exercise", sorted(SOLUTIONS))
def test_every_solution_shows_tested_code_or_a_model_answer(exercise):
    names, note = SOLUTIONS[exercise]
    shown = E.show_solution(exercise)
    assert note in repr(shown) and "<details" in shown._repr_html_() and "open" not in shown._repr_html_()
    for name in names:
        assert hasattr(S, name), name  # a name the tests run through the checks
        assert re.search(rf"^(def {name}\(|{name} = )", shown.code, flags=re.M), (name, shown.code)
    if not names:
        assert "model answer" in shown._repr_html_() and len(note) > 200
    with pytest.raises(KeyError):
        E.show_solution("99-9")


def _section_titles(nb):
    return [
        line[3:].strip()
        for c in nb.cells
        if c.cell_type == "markdown"
        for line in c.source.splitlines()
        if line.startswith("## ")
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_has_objectives_summary_and_exercises(path):
    nb = nbformat.read(str(path), as_version=4)
    titles = _section_titles(nb)
    assert titles[0] == "Learning objectives", titles[:2]
    assert titles[-2:] == ["What you saw", "Exercises"], titles[-3:]
    text = "\n".join(c.source for c in nb.cells)
    exercises = re.findall(r"^### Exercise \d", text, flags=re.M)
    assert len(exercises) >= 2, path.name
    assert "open question" in text.lower(), f"{path.name}: one open question tied to the paper"
    # every check a notebook calls exists and is tested above
    used = set(re.findall(r"\b(check_\w+)\(", "\n".join(c.source for c in nb.cells if c.cell_type == "code")))
    assert used, f"{path.name} has no checked exercise"
    assert used <= set(CASES), used - set(CASES)
    # the collapsed headline cell comes before the summary: the last visible cells are summary and exercises
    head = next(i for i, c in enumerate(nb.cells) if "headline" in c.metadata.get("tags", []))
    saw = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## What you saw" in c.source)
    assert head < saw


# notebooks whose exercises each end with a collapsed solution (04 and 05 are being rewritten)
WITH_SOLUTIONS = ("01", "02", "03", "04", "05", "06", "07", "08")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_every_exercise_has_a_collapsed_solution(path):
    nb = nbformat.read(str(path), as_version=4)
    numbers = re.findall(r"^### Exercise (\d)", "\n".join(c.source for c in nb.cells), flags=re.M)
    shown = re.findall(r'show_solution\("(\d\d-\d)"\)', "\n".join(c.source for c in nb.cells if c.cell_type == "code"))
    if path.name[:2] not in WITH_SOLUTIONS and not shown:
        pytest.skip("not converted yet")
    assert shown == [f"{path.name[:2]}-{n}" for n in numbers], (numbers, shown)
    assert set(shown) <= set(SOLUTIONS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_answer_stands_above_its_exercise(path):
    """The numeric answers are not in the text or code above their question (the executed outputs are
    scanned the same way by tests/test_notebooks.py)."""
    nb = nbformat.read(str(path), as_version=4)
    assert not S.answers_shown_above(nb, path.name[:2])


def test_the_answer_scan_finds_an_answer():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("At η = 0.1 use T = 0.19."),
        nbformat.v4.new_markdown_cell("### Exercise 3 (predict)"),
    ]
    assert S.answers_shown_above(nb, "01") == ["exercise 3: 0.19 shown as '0.19'"]
    nb.cells[0] = nbformat.v4.new_code_cell("x = 1", outputs=[nbformat.v4.new_output("stream", text="ESS 0.03045\n")])
    assert S.answers_shown_above(nb, "01") == []  # exercise 1 is not in this notebook: its answer may stand anywhere
    nb.cells.append(nbformat.v4.new_markdown_cell("### Exercise 1"))
    assert S.answers_shown_above(nb, "01") == ["exercise 1: 0.03045 shown as '0.03045'"]
