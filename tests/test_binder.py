"""Binder runs the notebooks: every package they import is in binder/environment.yml and in
pyproject.toml's dependencies (a notebook that imports something Binder lacks fails there only)."""
import ast
import sys
from pathlib import Path

import nbformat
import pytest

from test_packaging import conda_requirements, pyproject_requirements

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# the distribution that provides a module the notebooks import, where the names differ
PROVIDED_BY = {"IPython": "jupyterlab"}  # IPython comes with JupyterLab's kernel


def notebook_imports(path: Path) -> set[str]:
    """Top-level modules imported by a notebook's code cells, the standard library left out."""
    nb = nbformat.read(str(path), as_version=4)
    names = set()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "gibbsnas_lite"}


def test_import_scan_sees_the_notebooks_imports():
    seen = set().union(*(notebook_imports(p) for p in NOTEBOOKS))
    assert {"torch", "numpy", "plotly", "IPython"} <= seen, seen


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_binder_and_pyproject_provide_what_the_notebook_imports(path):
    binder = conda_requirements(ROOT / "binder" / "environment.yml")
    runtime = pyproject_requirements(extras=())
    for module in sorted(notebook_imports(path)):
        dist = PROVIDED_BY.get(module, module).lower()
        assert dist in binder, f"{path.name} imports {module}: add {dist} to binder/environment.yml"
        assert dist in runtime, f"{path.name} imports {module}: add {dist} to pyproject.toml's dependencies"
