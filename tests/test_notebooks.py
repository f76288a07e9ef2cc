"""Every course notebook runs headless in the smoke profile (one test per notebook), its exercises
answered by the hidden reference solutions; the notebooks and their text sources are in sync."""

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

from gibbsnas_lite.course.notebooks import execute_notebook, list_notebooks

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = list_notebooks(ROOT / "notebooks") if (ROOT / "notebooks").is_dir() else []


TESTS = Path(__file__).resolve().parent
_ANSWER_RE = re.compile(r"^(\w+) = None(\s*#.*)?$", flags=re.M)
_DEF_RE = re.compile(r"^def (\w+)\((.*)\):", flags=re.M)


def with_reference_answers(path: Path, out_dir: Path) -> tuple[Path, int]:
    """A copy of the notebook whose exercises are answered with tests/exercise_solutions.py.

    ``name = None`` lines become the reference expression of NOTEBOOK_ANSWERS, a function's
    ``return None  # your code`` a call of the reference function of the same name. Returns the
    copy's path and the number of check calls in it (each must then say "right")."""
    sys.path.insert(0, str(TESTS))
    import exercise_solutions as S

    answers = S.NOTEBOOK_ANSWERS[path.name[:2]]
    nb = nbformat.read(str(path), as_version=4)
    checks = 0
    first = next(
        i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "gibbsnas_lite.course.exercises" in c.source
    )
    for cell in nb.cells[first:]:
        if cell.cell_type != "code":
            continue
        src = _ANSWER_RE.sub(lambda m: f"{m.group(1)} = {answers.pop(m.group(1))}", cell.source)
        fn = _DEF_RE.search(src)
        if fn and "return None  # your code" in src:
            args = ", ".join(a.split("=")[0].strip() for a in fn.group(2).split(",") if a.strip())
            src = src.replace("return None  # your code", f"return _S.{fn.group(1)}({args})")
        checks += len(re.findall(r"^check_\w+\(", src, flags=re.M))
        cell.source = src
    assert not answers, f"{path.name}: no exercise cell for {sorted(answers)}"
    nb.cells.insert(
        first,
        nbformat.v4.new_code_cell(f"import sys\nsys.path.insert(0, {str(TESTS)!r})\nimport exercise_solutions as _S"),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    copy = out_dir / path.name
    nbformat.write(nb, str(copy))
    return copy, checks


def _verdicts(executed: Path) -> list[str]:
    nb = nbformat.read(str(executed), as_version=4)
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text = out.get("data", {}).get("text/plain", "") if out.get("output_type") == "execute_result" else ""
            if text.startswith("[") and "] " in text and ("right" in text or "not yet" in text or "no answer" in text):
                found.append(text)
    return found


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_profile(path, tmp_path):
    """Each notebook runs with its exercises answered by the hidden reference solutions; every check
    in it must say "right" (a broken exercise, or a check that no longer fits the notebook, fails here)."""
    filled, checks = with_reference_answers(path, tmp_path / "notebooks")
    assert checks >= 2, f"{path.name} has fewer than two checked exercises"
    headline = execute_notebook(filled, tmp_path / "executed" / path.name, profile="smoke")
    assert headline, f"{path.name} recorded no headline numbers (call gibbsnas_lite.course.notebooks.record)"
    verdicts = _verdicts(tmp_path / "executed" / path.name)
    assert len(verdicts) == checks, verdicts
    assert all(v.startswith("[✓ right]") for v in verdicts), verdicts
    import exercise_solutions as S  # on the path since with_reference_answers

    executed = nbformat.read(str(tmp_path / "executed" / path.name), as_version=4)
    assert not S.answers_shown_above(executed, path.name[:2]), "an exercise's answer is printed above it"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_committed_clean_with_parameters(path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), (
        f"{path.name} is committed with outputs; clear them before committing"
    )
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    source = "".join(params[0]["source"])
    assert "profile" in source and "seed" in source
    assert nb["cells"][0]["cell_type"] == "markdown", f"{path.name} must open with prose"


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2


# Each notebook is a jupytext pair (notebooks/jupytext.toml): NN_name.md (MyST markdown, the reviewed text)
# and NN_name.ipynb (what Jupyter opens and the runner executes). Editing either in JupyterLab keeps them
# in step; an edit made to one file only, outside Jupyter, fails here until `jupytext --sync` is run.
TEXT_SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md"))


def _cells(nb):
    """What a pair must agree on: each cell's type, source and metadata (tags, collapsed state)."""
    return [(c.cell_type, c.source, dict(c.metadata)) for c in nb.cells]


def test_every_notebook_has_a_text_source():
    assert [p.stem for p in TEXT_SOURCES] == [p.stem for p in NOTEBOOKS]
    config = (ROOT / "notebooks" / "jupytext.toml").read_text()
    assert 'formats = "ipynb,md:myst"' in config


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_and_its_text_source_are_in_sync(path):
    jupytext = pytest.importorskip("jupytext")
    text = jupytext.read(str(path.with_suffix(".md")))
    nb = nbformat.read(str(path), as_version=4)
    assert text.metadata["jupytext"]["text_representation"]["format_name"] == "myst"
    assert _cells(text) == _cells(nb), (
        f"{path.name} and {path.stem}.md differ: run `.venv/bin/jupytext --sync notebooks/{path.stem}.md` "
        "(the newer file wins) and commit both"
    )
    assert text.metadata["kernelspec"] == nb.metadata["kernelspec"]


def test_sync_test_sees_an_edit_in_one_file_only(tmp_path):
    jupytext = pytest.importorskip("jupytext")
    path = NOTEBOOKS[0]
    text = jupytext.read(str(path.with_suffix(".md")))
    text.cells[0].source += "\nOne more sentence."
    assert _cells(text) != _cells(nbformat.read(str(path), as_version=4))


def test_no_generator_scripts_left():
    assert not sorted((ROOT / "scripts").glob("make_notebook*.py")), "the notebooks' sources are notebooks/*.md"


def test_learner_sees_no_plumbing():
    """The headline numbers are recorded in one collapsed cell tagged `headline`; nothing prints JSON."""
    for path in NOTEBOOKS:
        nb = nbformat.read(str(path), as_version=4)
        recording = [c for c in nb.cells if c.cell_type == "code" and "record(" in c.source]
        assert len(recording) == 1, path.name
        assert recording[0].metadata.get("tags") == ["headline"], path.name
        assert recording[0].metadata.get("jupyter", {}).get("source_hidden") is True, path.name
        assert not any("print(json.dumps" in c.source for c in nb.cells if c.cell_type == "code"), path.name
        assert "SPEC §" not in "\n".join(c.source for c in nb.cells), path.name


# The paper's numbers that the prose of the search notebooks may cite (Table 3: DARTS-V1 39.77 / 54.30,
# GibbsNAS 92.72; Table 2: 97.20-97.47). Any other accuracy-like number in their prose would be one run's
# result stated as if the learner's run will reproduce it: those come from code cells (the learner's run,
# the shipped seed study) instead.
PAPER_NUMBERS = {"39.77", "54.30", "92.72", "97.20", "97.47"}


@pytest.mark.parametrize(
    "name", ["04_nb201_search_dashboard.ipynb", "05_ablation_sample_mean_order.ipynb", "08_sweeps_on_ray.ipynb"]
)
def test_search_notebooks_state_no_run_results_in_prose(name):
    import re

    nb = nbformat.read(str(ROOT / "notebooks" / name), as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    numbers = set(re.findall(r"\b\d{2}\.\d{1,2}\b", prose))
    assert numbers <= PAPER_NUMBERS, sorted(numbers - PAPER_NUMBERS)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "seed_study.load()" in code  # the distribution is drawn from the shipped study
