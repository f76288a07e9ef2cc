"""The two layers (docs/architecture.md): the core searches with only torch and numpy installed,
and never reaches into the course layer or into another subpackage's private names.

(a) builds the core-only environment inside this one: a subprocess whose ``sitecustomize`` makes
    every package outside the core's dependencies unimportable (``sys.modules[name] = None``), which
    imports ``gibbsnas_lite.search`` and runs a smoke search to the end;
(b) reads the import graph of ``gibbsnas_lite/`` with ``ast`` (lazy imports inside functions included).
"""

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gibbsnas_lite"
# everything the extras bring that a core module might reach for; the core must do without them
NOT_IN_THE_CORE = (
    "plotly",
    "ipywidgets",
    "anywidget",
    "papermill",
    "tqdm",
    "scipy",
    "yaml",
    "ray",
    "jupytext",
    "nbformat",
    "nbclient",
    "IPython",
    "ipykernel",
    "psutil",
    "pandas",
    "playwright",
    "jupyterlab",
    "matplotlib",
    "nbval",
)
# the course layer and the command line (which imports course modules lazily) sit above the core
ABOVE_THE_CORE = ("gibbsnas_lite.course", "gibbsnas_lite.cli", "gibbsnas_lite.__main__")


# ----------------------------------------------------------------------------- (a) torch + numpy only
SITECUSTOMIZE = """\
import sys
for _name in {names!r}:
    sys.modules[_name] = None  # `import name` now raises ImportError, as if it were not installed
"""

SMOKE_SEARCH = """\
import json, sys
import gibbsnas_lite.search as S
from gibbsnas_lite.search import make_config, run_search

config = make_config("gibbs2", "smoke", epochs=1, train_limit=64, batch_size=16, image_size=8, alpha_every=2)
result = run_search(config, out_dir=sys.argv[1])
loaded = sorted(m for m, mod in sys.modules.items() if mod is not None)
print(json.dumps({{
    "arch": result.arch,
    "blocked_but_loaded": sorted(m for m in loaded if m.split(".")[0] in {names!r}),
    "course_loaded": sorted(m for m in loaded if m.startswith({above!r})),
}}))
"""


@pytest.mark.slow
def test_the_core_searches_with_only_torch_and_numpy(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE.format(names=NOT_IN_THE_CORE))
    script = tmp_path / "smoke_search.py"
    script.write_text(SMOKE_SEARCH.format(names=set(NOT_IN_THE_CORE), above=ABOVE_THE_CORE))
    env = dict(os.environ, PYTHONPATH=str(site), OMP_NUM_THREADS="1", PYTHONWARNINGS="default")
    # the guard works: with the sitecustomize in place, plotly (installed here) cannot be imported
    probe = subprocess.run([sys.executable, "-c", "import plotly"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "import of plotly halted" in probe.stderr, probe.stderr[-2000:]
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "run")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["arch"].startswith("|") and not report["blocked_but_loaded"] and not report["course_loaded"]
    assert (tmp_path / "run" / "summary.json").exists() and (tmp_path / "run" / "checkpoint.pt").exists()


# ----------------------------------------------------------------------------- (b) the import graph
def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute name of what ``from ... import`` names (relative imports resolved)."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> list[tuple[str, int, str, list[str], bool]]:
    """(importing module, line, imported module, names taken from it, whether the edge is inferred) for
    every import in gibbsnas_lite/; ``from pkg import name`` also yields an inferred edge to ``pkg.name``,
    which is a module when ``name`` is a submodule (``from .. import course``)."""
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module, is_package = _module_name(path), path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                edges += [(module, node.lineno, a.name, [], False) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(module, is_package, node)
                edges.append((module, node.lineno, target, [a.name for a in node.names], False))
                # `from . import course` / `from .. import course`: the names may be modules themselves
                edges += [(module, node.lineno, f"{target}.{a.name}", [], True) for a in node.names]
    return edges


def _is_core(module: str) -> bool:
    return not module.startswith(ABOVE_THE_CORE)


def _subpackage(module: str) -> str:
    """gibbsnas_lite.search.loop -> gibbsnas_lite.search; top-level modules are their own part."""
    parts = module.split(".")
    if parts[:2] == ["gibbsnas_lite", "course"]:
        return ".".join(parts[:3])  # course's own parts (toys, dashboard, plots, ...) count separately
    return ".".join(parts[:2])


def test_import_graph_is_read():
    edges = import_graph()
    assert len(edges) > 100
    assert any(src == "gibbsnas_lite.search.loop" and dst.startswith("gibbsnas_lite.") for src, _, dst, _, _ in edges)


def test_core_modules_never_import_the_course_layer():
    bad = [
        f"{src}:{line} imports {dst}"
        for src, line, dst, _, _ in import_graph()
        if _is_core(src) and dst.startswith(ABOVE_THE_CORE)
    ]
    assert not bad, "the core must not depend on the course layer:\n" + "\n".join(bad)


def test_core_modules_import_only_torch_numpy_and_optional_tqdm():
    """A core module imports the standard library, torch, numpy and the kit; tqdm, Ray and PyYAML
    only inside a function or a try (they are optional), which (a) checks by running."""
    allowed = set(sys.stdlib_module_names) | {"torch", "numpy", "gibbsnas_lite", "nats_bench", "nas_201_api"}
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        if not _is_core(module):
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in tree.body:  # module level only: lazy imports are (a)'s business
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            bad += [f"{module}:{node.lineno} imports {n}" for n in names if n.split(".")[0] not in allowed]
    assert not bad, "\n".join(bad)


def test_no_module_imports_another_subpackages_private_name():
    bad = []
    for src, line, dst, names, inferred in import_graph():
        if inferred or not dst.startswith("gibbsnas_lite") or _subpackage(src) == _subpackage(dst):
            continue
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        private_module = [p for p in dst.split(".")[1:] if p.startswith("_") and not p.startswith("__")]
        if private or private_module:
            bad.append(f"{src}:{line} from {dst} import {', '.join(names) or '...'}")
    assert not bad, "private names used across subpackages (make them public or move them):\n" + "\n".join(bad)


def _parts(folder: Path) -> set[str]:
    """The public modules and subpackages directly in ``folder``."""
    return {
        p.stem if p.is_file() else p.name
        for p in folder.iterdir()
        if not p.name.startswith("_") and (p.suffix == ".py" or (p / "__init__.py").exists())
    }


def test_the_package_docstring_lists_every_part():
    import gibbsnas_lite

    # a part is listed where its name starts a line of the docstring's lists (or follows a comma or a +)
    listed = set(re.findall(r"(?:^ +|, *|\+ *)(\w+)", gibbsnas_lite.__doc__ or "", flags=re.M))
    missing = sorted((_parts(PACKAGE) - {"course"} | _parts(PACKAGE / "course")) - listed)
    assert "``course/``" in gibbsnas_lite.__doc__, "the course layer has its own list"
    assert not missing, f"gibbsnas_lite/__init__.py's docstring does not list {missing}"


def test_the_notebook_runner_without_the_course_extra_says_what_to_install(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE.format(names=("papermill",)))
    env = dict(os.environ, PYTHONPATH=str(site))
    proc = subprocess.run(
        [sys.executable, "-m", "gibbsnas_lite.cli", "notebooks", "run", "--out", str(tmp_path / "nb")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "papermill is not installed" in proc.stderr and "pip install 'gibbsnas-lite[course]'" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "nb").exists()


# ----------------------------------------------------------------------------- (c) no circle, no private name
def _module_edges() -> dict[str, set[str]]:
    """importing module -> the package modules it imports (lazy and TYPE_CHECKING imports included);
    ``from pkg import name`` points at ``pkg.name`` where that is a module, else at ``pkg``."""
    modules = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for src, _, dst, names, inferred in import_graph():
        if inferred:
            continue
        targets = [f"{dst}.{n}" for n in names if f"{dst}.{n}" in modules]
        if not names or len(targets) < len(names):
            targets.append(dst)
        edges[src] |= {t for t in targets if t in modules and t != src}
    return edges


def import_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(found)


def test_import_cycles_are_found():
    assert import_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert import_cycles({"a": {"b"}, "b": set()}) == []


def test_the_package_has_no_import_circle():
    cycles = import_cycles(_module_edges())
    assert cycles == [], "import circles in gibbsnas_lite:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_no_module_imports_another_modules_private_name():
    """Stricter than the subpackage rule above: not even a sibling module's ``_name``."""
    modules = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    bad = []
    for src, line, dst, names, inferred in import_graph():
        if inferred or dst not in modules or dst == src:
            continue
        private = [n for n in names if n.startswith("_") and not n.startswith("__") and f"{dst}.{n}" not in modules]
        if private:
            bad.append(f"{src}:{line} from {dst} import {', '.join(private)}")
    assert not bad, "private names imported from another module:\n" + "\n".join(bad)
