"""Every checked exercise: its reference solution is called right, a wrong answer wrong,
no answer is neither; every notebook has objectives, a summary and at least two exercises."""

import re
import sys
from pathlib import Path

import nbformat
import pytest
import torch

from gibbsnas_lite.course import exercises as E

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import exercise_solutions as S  # noqa: E402  (the hidden reference solutions)

NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _toy():
    problem, run = S.a_darts_v1_run()
    return problem, run


def _alphas():
    gen = torch.Generator().manual_seed(5)
    return (torch.randn(14, 8, generator=gen).numpy(), torch.randn(14, 8, generator=gen).numpy())


def _wrong_derive(alpha):  # DARTS's rule: `none` excluded, which differs on some α
    return S.derive_arch(torch.cat([torch.full((6, 1), -1e9), alpha[:, 1:]], dim=1))


# check name -> (call with the reference, call with a wrong answer, call with no answer)
CASES = {
    "check_ess_per_sweep": (
        lambda: E.check_ess_per_sweep(S.ess_per_sweep_095),
        lambda: E.check_ess_per_sweep(1 - 0.95**2),
        lambda: E.check_ess_per_sweep(None),
    ),
    "check_conditional_2d": (
        lambda: E.check_conditional_2d(S.conditional_2d),
        lambda: E.check_conditional_2d(lambda mu, sg, r, g: (mu[0] + r * (g - mu[1]), sg[0] ** 2)),
        lambda: E.check_conditional_2d(None),
    ),
    "check_stationary_inflation": (
        lambda: E.check_stationary_inflation(S.stationary_inflation(0.1), eta=0.1),
        lambda: E.check_stationary_inflation(1 / 0.1, eta=0.1),
        lambda: E.check_stationary_inflation(None),
    ),
    "check_bfgs_update": (
        lambda: E.check_bfgs_update(S.bfgs_update),
        lambda: E.check_bfgs_update(lambda h, s, y: h + torch.outer(s, s) / float(s @ y)),
        lambda: E.check_bfgs_update(None),
    ),
    "check_noisy_pair_keeps_pd": (
        lambda: E.check_noisy_pair_keeps_pd(S.noisy_pair_keeps_pd),
        lambda: E.check_noisy_pair_keeps_pd("yes"),
        lambda: E.check_noisy_pair_keeps_pd(None),
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
    "check_alpha_noise_std": (
        lambda: E.check_alpha_noise_std(S.alpha_noise_std),
        lambda: E.check_alpha_noise_std(10.0 / 4096.0),
        lambda: E.check_alpha_noise_std(None),
    ),
    "check_mean_mode_step": (
        lambda: E.check_mean_mode_step(S.mean_mode_step),
        lambda: E.check_mean_mode_step("adam"),
        lambda: E.check_mean_mode_step(None),
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
    "check_error_bar_scaling": (
        lambda: E.check_error_bar_scaling(S.error_bar_scaling),
        lambda: E.check_error_bar_scaling(2.0),
        lambda: E.check_error_bar_scaling(None),
    ),
    "check_trial_count": (
        lambda: E.check_trial_count(S.trial_count),
        lambda: E.check_trial_count(3 + 2 + 5),
        lambda: E.check_trial_count(None),
    ),
    "check_rerun_after_kill": (
        lambda: E.check_rerun_after_kill(S.rerun_after_kill),
        lambda: E.check_rerun_after_kill("all"),
        lambda: E.check_rerun_after_kill(None),
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
    assert "not" in bad.message or "expected" in bad.message or "case" in bad.message, bad
    none = missing()
    assert none.ok is None and "None" in none.message, none
    assert not bool(none) and bool(verdict)
    assert verdict._repr_markdown_().startswith("**✓ right**")


def test_learner_code_that_raises_is_reported_not_raised():
    verdict = E.check_bfgs_update(lambda h, s, y: 1 / 0)
    assert verdict.ok is False and "ZeroDivisionError" in verdict.message
    assert E.check_ess_per_sweep("a lot").ok is False
    unanswered = E.check_bfgs_update(lambda h, s, y: None)  # the notebook's skeleton: not wrong, not done
    assert unanswered.ok is None and "returns None" in unanswered.message


def test_skip_win_probability_is_the_exact_integral():
    # the correction: 0.256, not "about 0.28"
    verdict = E.check_skip_win_probability(0.2557)
    assert verdict.ok and "exact: 0.2557" in verdict.message
    assert E.check_skip_win_probability(0.28).ok is False  # the number 07 used to print


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
