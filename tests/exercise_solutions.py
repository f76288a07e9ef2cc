"""The notebooks' exercise answers as the tests use them.

The reference solutions live in the package (gibbsnas_lite/course/solutions.py), so a notebook can
show them collapsed (``show_solution``); they are re-exported here. tests/test_exercises.py feeds
each one to its check in gibbsnas_lite.course.exercises (it must be called right) and a wrong answer
(it must be called wrong); tests/test_notebooks.py fills the notebooks' exercises with them.
"""

from __future__ import annotations

from gibbsnas_lite.course import bilevel_toy as B
from gibbsnas_lite.course.solutions import *  # noqa: F403  (every solution, by its name)
from gibbsnas_lite.course.solutions import derive_arch


def a_darts_v1_run():
    """A cheap DARTS-V1 run on the toy (what notebook 03's exercise 2 is checked on)."""
    problem = B.make_problem(0)
    return problem, B.run(problem, "darts-v1", 0, steps=30)


# The answers as the notebooks' exercise cells name them: tests/test_notebooks.py fills each
# `name = None` line with the expression here (``_S`` is this module, imported in the kernel) and each
# `return None  # your code` with a call of the function of the same name above, runs the notebook
# and expects every check in it to say "right".
my_derive = derive_arch

NOTEBOOK_ANSWERS = {
    "01": {"prediction_ess": "_S.ess_per_sweep(0.97)", "prediction_temperature": "_S.calibrated_temperature(0.1)"},
    "02": {"prediction_tau": "_S.damped_chain_tau(0.25)", "prediction_eigenvalue": "_S.indefinite_update_eigenvalue()"},
    "03": {"gap": "_S.discretization_gap(problem, runs['gibbs2'])"},
    "04": {"prediction_none": "_S.none_edge_probability"},
    "05": {"alpha_std": "_S.calibrated_alpha_std()", "p_fail_gate": "_S.chance_gate_failure()"},
    "06": {"prediction_skips": "_S.skips_after_bias(alpha_normal, alpha_reduce)"},
    "07": {
        "p_skip": "_S.skip_win_probability(1.0, num_samples=100_000)",
        "prediction_none_hot": "_S.none_win_probability(4.0)",
    },
    "08": {"prediction_trials": "_S.trial_count", "prediction_epochs": "_S.epochs_after_kill"},
}

# Numbers that must not stand in a notebook above the exercise that asks for them (in its text, its
# code or, when executed, its outputs): notebook -> exercise number -> the answer.
HIDDEN_ANSWERS = {
    "01": {1: ess_per_sweep(0.97), 3: calibrated_temperature(0.1)},  # noqa: F405
    "02": {3: indefinite_update_eigenvalue()},  # noqa: F405  (02's exercise 2 is 7: too common a digit to scan)
    "04": {1: none_edge_probability},  # noqa: F405
    "05": {1: calibrated_alpha_std(), 2: chance_gate_failure()},  # noqa: F405
    "07": {2: none_win_probability(4.0)},  # noqa: F405
    "08": {2: float(epochs_after_kill)},  # noqa: F405
}


def renderings(value: float) -> set[str]:
    """How a printed number could show ``value``: 2-4 significant digits (and 2-4 decimals);
    integers of three digits or more as themselves. A leading minus sign is not required to match."""
    if float(value).is_integer():
        assert abs(value) >= 100, f"{value}: a small integer is everywhere in a text, choose another answer to hide"
        return {str(int(abs(value)))}
    v = abs(value)
    out = {f"{v:.{k}g}" for k in (2, 3, 4)} | {f"{v:.{d}f}" for d in (2, 3, 4)}
    return {r for r in out if sum(c.isdigit() for c in r.lstrip("0.")) >= 2}


def answers_shown_above(nb, notebook: str) -> list[str]:
    """The hidden answers of ``notebook`` that appear in a cell's source or text output above their exercise."""
    import re

    found = []
    for number, value in HIDDEN_ANSWERS.get(notebook, {}).items():
        above, heading = [], rf"^### Exercise {number}\b"
        for cell in nb.cells:
            if cell.cell_type == "markdown" and re.search(heading, cell.source, flags=re.M):
                above.append(re.split(heading, cell.source, flags=re.M)[0])
                break
            above.append(cell.source)
            for out in cell.get("outputs", []):
                text = out.get("text") or out.get("data", {}).get("text/plain", "")
                above.append("".join(text) if isinstance(text, list) else text)
        else:
            continue  # the notebook has no such exercise
        text = "\n".join(above)
        hits = [r for r in renderings(value) if re.search(rf"(?<![\d.]){re.escape(r)}(?![\d])", text)]
        found += [f"exercise {number}: {value:.4g} shown as {h!r}" for h in hits]
    return found
