"""Binder runs the notebooks: every package they import is pinned in binder/requirements.txt and
named in pyproject.toml's core or [course] extra (a notebook that imports something Binder lacks
fails there only), and so is every package the kit imports, directly or through a dependency."""

import ast
import importlib.metadata as md
import sys
from pathlib import Path

import nbformat
import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from test_packaging import binder_requirements, pyproject_requirements

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gibbsnas_lite"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
DISTRIBUTIONS = md.packages_distributions()  # top-level module -> the installed distributions providing it
# the official NAS-Bench-201 APIs: an optional backend of gibbsnas_lite.nasbench that a user brings
# with its benchmark file (docs/nasbench.md), never a dependency
BRING_YOUR_OWN = {"nats_bench", "nas_201_api"}


def _imports(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "gibbsnas_lite"}


def notebook_imports(path: Path) -> set[str]:
    """Top-level modules imported by a notebook's code cells, the standard library left out."""
    nb = nbformat.read(str(path), as_version=4)
    return set().union(*(_imports(ast.parse(c.source)) for c in nb.cells if c.cell_type == "code"))


def package_imports() -> dict[str, set[str]]:
    """{third-party top-level module: the kit's files importing it}, lazy imports inside functions included."""
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for name in _imports(ast.parse(path.read_text(), str(path))):
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def distribution(module: str) -> str:
    dists = DISTRIBUTIONS.get(module)
    assert dists, f"no installed distribution provides {module!r}"
    return canonicalize_name(dists[0])


def closure(names) -> set[str]:
    """The distributions ``names`` install, with their dependencies (as installed here, no extras)."""
    env = dict(default_environment(), extra="")
    todo, seen = [canonicalize_name(n) for n in names], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for spec in requires:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate(env):
                todo.append(canonicalize_name(req.name))
    return seen


def test_import_scan_sees_the_notebooks_and_the_kits_imports():
    seen = set().union(*(notebook_imports(p) for p in NOTEBOOKS))
    assert {"torch", "numpy", "plotly", "IPython"} <= seen, seen
    assert {"torch", "numpy", "plotly", "ipywidgets", "tqdm", "papermill", "ray"} <= set(package_imports())
    assert distribution("IPython") == "ipython" and distribution("yaml") == "pyyaml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_binder_and_pyproject_provide_what_the_notebook_imports(path):
    binder = binder_requirements()
    runtime = pyproject_requirements(extras=("course",))
    for module in sorted(notebook_imports(path)):
        dist = distribution(module)
        assert dist in binder, f"{path.name} imports {module}: pin {dist} in binder/requirements.txt"
        assert dist in runtime, f"{path.name} imports {module}: add {dist} to pyproject.toml's [course] extra"


def test_binder_provides_what_the_kit_imports():
    """Every third-party module the kit imports comes with Binder's packages (directly or as a
    dependency), except the [sweep] extra's: Binder's notebook 08 runs its trials without Ray."""
    on_binder = closure(binder_requirements())
    course = closure(pyproject_requirements(extras=("course",)))
    sweep_only = set(pyproject_requirements(extras=("sweep",))) - set(pyproject_requirements(extras=()))
    missing = {}
    for module, files in sorted(package_imports().items()):
        if module in BRING_YOUR_OWN:
            continue
        dist = distribution(module)
        if dist in sweep_only:
            continue
        if dist not in on_binder or dist not in course:
            missing[module] = sorted(files)
    assert not missing, f"imported by the kit, missing on Binder or in core + [course]: {missing}"
