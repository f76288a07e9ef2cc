"""The dependency lists agree: pyproject.toml (the core and its extras), environment.yml (local
conda, every extra) and binder/requirements.txt (Binder: the core and [course], pinned); the
Makefile installs and checks what the README says."""

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
BINDER = ROOT / "binder"
# conda-forge names of the PyPI packages (the torch build differs on purpose: GPU vs CPU).
CONDA_TO_PYPI = {"pytorch": "torch", "pytorch-cpu": "torch", "ray-core": "ray"}
NOT_PACKAGES = {"python", "pip"}


def _split(spec: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", spec)
    assert m, f"cannot parse requirement {spec!r}"
    return canonicalize_name(m.group(1)), m.group(2).replace(" ", "")


def pyproject_requirements(extras=("course", "test")) -> dict[str, str]:
    """{name: specifier} of the core and the named extras; an extra's gibbsnas-lite[...] is expanded."""
    meta = PYPROJECT["project"]
    specs = list(meta["dependencies"])
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for spec in meta["optional-dependencies"][extra]:
            req = Requirement(spec)
            if canonicalize_name(req.name) == canonicalize_name(meta["name"]):
                todo.extend(req.extras)
            else:
                specs.append(spec)
    return dict(_split(s) for s in specs)


def conda_requirements(path: Path) -> dict[str, str]:
    reqs = {}
    in_deps = False
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if line.startswith("dependencies:"):
            in_deps = True
            continue
        if not in_deps or not line.strip():
            continue
        m = re.match(r"^  - (\S.*)$", line)
        if not m:  # nested pip: section or its items
            continue
        spec = m.group(1)
        if re.match(r"^[\w.\-]+=[^=]", spec):  # conda's name=version
            spec = spec.replace("=", "==", 1)
        name, version = _split(spec)
        if name in NOT_PACKAGES or name.startswith("pip:"):
            continue
        reqs[CONDA_TO_PYPI.get(name, name)] = version
    return reqs


def binder_requirements(path: Path = BINDER / "requirements.txt") -> dict[str, Version]:
    """{name: pinned version} of binder/requirements.txt (pip options and comments left out)."""
    pins = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"binder/requirements.txt: {line!r} is not pinned (==)"
        pins[canonicalize_name(req.name)] = Version(specs[0].version)
    return pins


def test_the_core_needs_only_torch_and_numpy():
    assert set(pyproject_requirements(extras=())) == {"torch", "numpy"}


def test_the_extras_by_layer():
    course = pyproject_requirements(("course",))
    assert {"plotly", "ipywidgets", "anywidget", "ipython", "tqdm", "jupyterlab", "papermill"} <= set(course)
    assert course["plotly"] == ">=6"  # the dashboard relies on plotly 6's anywidget FigureWidget
    test = pyproject_requirements(("test",))
    assert set(course) <= set(test), "the tests cover the course layer: [test] must include [course]"
    assert {"pytest", "scipy", "playwright", "psutil", "jupytext", "nbval", "ruff"} <= set(test)
    assert {"ray", "pyyaml"} == set(pyproject_requirements(("sweep",))) - {"torch", "numpy"}
    for runtime_only_in_tests in ("nbval", "pytest", "ruff", "scipy"):
        assert runtime_only_in_tests not in course


def test_conda_environment_matches_pyproject():
    # the local environment has every layer and extra (GPU machines, clusters, the tests)
    assert conda_requirements(ROOT / "environment.yml") == pyproject_requirements(("course", "test", "sweep"))


def test_binder_pins_the_core_and_the_course_extra():
    pins = binder_requirements()
    wanted = pyproject_requirements(("course",))
    assert set(pins) == set(wanted), "binder/requirements.txt and pyproject's core + [course] differ"
    for name, version in pins.items():
        assert version in SpecifierSet(wanted[name]), f"Binder pins {name}=={version}, pyproject wants {wanted[name]}"
    test_only = set(pyproject_requirements(("test",))) - set(wanted)
    assert not test_only & set(pins), "no test-only package on Binder"


def test_binder_uses_cpu_torch_the_kits_python_and_installs_the_package():
    pins = binder_requirements()
    assert pins["torch"].local == "cpu", "Binder has no GPU: it must take the CPU build of torch"
    text = (BINDER / "requirements.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text
    # the same torch release as the Makefile's default (the one the tests run on)
    make_torch = re.search(r"^TORCH_SPEC\s*\?=\s*torch==(\S+)", (ROOT / "Makefile").read_text(), flags=re.M)
    assert make_torch and pins["torch"].public == make_torch.group(1)
    runtime = (BINDER / "runtime.txt").read_text().strip()
    m = re.fullmatch(r"python-(\d+\.\d+)", runtime)
    assert m and Version(m.group(1)) in SpecifierSet(PYPROJECT["project"]["requires-python"]), runtime
    # repo2docker reads environment.yml before requirements.txt: there must be none beside it
    assert not (BINDER / "environment.yml").exists()
    post = (BINDER / "postBuild").read_text()
    assert "pip install --no-deps -e ." in post


def test_make_installs_every_extra_and_lints_before_the_tests():
    make = (ROOT / "Makefile").read_text()
    assert 'pip install --quiet -e ".[course,test,sweep]"' in make
    assert re.search(r"^test: .*\blint\b", make, flags=re.M)
    assert "ruff check" in make and "ruff format --check" in make
    assert "--nbval-lax" in make  # nbval is used, not just installed
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_ruff_is_configured():
    ruff = PYPROJECT["tool"]["ruff"]
    assert ruff["line-length"] == 120 and ruff["target-version"] == "py311"
    assert {"E", "F", "W", "I"} <= set(ruff["lint"]["select"])
    assert "notebooks/*.ipynb" in ruff["extend-exclude"]


def test_parser_sees_every_line():
    # a guard against the parsers silently dropping entries
    reqs = conda_requirements(ROOT / "environment.yml")
    assert {"torch", "numpy", "plotly", "scipy", "pytest", "ray", "ruff"} <= set(reqs)
    assert reqs["torch"] == ">=2.1" and reqs["ruff"] == ">=0.17.6,<0.18"
    assert {"torch", "numpy", "plotly", "jupyterlab"} <= set(binder_requirements())
