"""The dependency lists of pyproject.toml, environment.yml and binder/environment.yml agree."""
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# conda-forge names of the PyPI packages (the torch build differs on purpose: GPU vs CPU).
CONDA_TO_PYPI = {"pytorch": "torch", "pytorch-cpu": "torch", "ray-core": "ray"}
NOT_PACKAGES = {"python", "pip"}


def _split(spec: str) -> tuple[str, str]:
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", spec)
    assert m, f"cannot parse requirement {spec!r}"
    return m.group(1).lower(), m.group(2).replace(" ", "")


def pyproject_requirements(extras=("test",)) -> dict[str, str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(meta["dependencies"]) + [s for e in extras for s in meta["optional-dependencies"][e]]
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
        name, version = _split(m.group(1).replace("=", "==", 1) if re.match(r"^[\w.\-]+=[^=]", m.group(1)) else m.group(1))
        if name in NOT_PACKAGES or name.startswith("pip:"):
            continue
        reqs[CONDA_TO_PYPI.get(name, name)] = version
    return reqs


def test_conda_environment_matches_pyproject():
    # the local environment can run sweeps (GPU machines, clusters)
    assert conda_requirements(ROOT / "environment.yml") == pyproject_requirements(("test", "sweep"))


def test_binder_environment_matches_pyproject():
    # Binder runs the notebooks, which work without Ray (the sweep section says how to add it)
    assert conda_requirements(ROOT / "binder" / "environment.yml") == pyproject_requirements()


def test_binder_uses_cpu_torch_and_installs_the_package():
    text = (ROOT / "binder" / "environment.yml").read_text()
    assert "pytorch-cpu" in text, "Binder has no GPU: it must take the CPU build of torch"
    post = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install --no-deps -e ." in post


def test_parser_sees_every_line():
    # a guard against the parser silently dropping entries
    reqs = conda_requirements(ROOT / "environment.yml")
    assert {"torch", "numpy", "plotly", "scipy", "pytest"} <= set(reqs)
    assert reqs["torch"] == ">=2.1"
