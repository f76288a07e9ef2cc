"""Headless detection: does this kernel have a widget front end, or is it a batch run?

Without one (papermill, nbconvert, pytest, a plain script) the dashboard creates no widgets and
only records events (see :func:`detect_headless`). Part of the dashboard split by what it does
(:mod:`gibbsnas_lite.course.widgets` puts the parts together).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

#: Environment variable forcing the mode: ``1``/``true`` headless, ``0``/``false`` live widgets.
HEADLESS_ENV = "GIBBSNAS_HEADLESS"
_TRUTHY = {"1", "true", "yes", "on"}
_FALSY = {"0", "false", "no", "off"}
# Programs that execute notebooks without a widget frontend (matched against the kernel's
# ancestor processes); ``gibbsnas-lite`` is this package's CLI (``notebooks run``).
_BATCH_PROGRAMS = {
    "papermill",
    "pytest",
    "py.test",
    "nbconvert",
    "jupyter-nbconvert",
    "nbclient",
    "jupyter-execute",
    "gibbsnas-lite",
    "gibbsnas_lite",
    "nbval",
}


def running_in_kernel() -> bool:
    import sys

    if "IPython" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def _ancestor_cmdlines(depth: int = 6) -> list[list[str]]:
    """Command lines of this process's parents (nearest first); empty when unknown."""
    out: list[list[str]] = []
    try:
        import psutil  # a dependency of ipykernel

        for proc in psutil.Process().parents()[:depth]:
            try:
                out.append(list(proc.cmdline()))
            except Exception:  # access denied, zombie: skip that one
                continue
        return out
    except Exception:
        pass
    pid = os.getppid()  # Linux fallback without psutil
    for _ in range(depth):
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
            out.append([a for a in raw.decode(errors="replace").split("\0") if a])
            stat = Path(f"/proc/{pid}/stat").read_text()
            pid = int(stat.rsplit(")", 1)[1].split()[1])
        except Exception:
            break
        if pid <= 1:
            break
    return out


def batch_program(cmdline: Sequence[str]) -> str | None:
    """The notebook-executing program a command line runs, if any (``papermill``, ``pytest``...)."""
    args = list(cmdline)[:5]
    for i, arg in enumerate(args):
        base = os.path.basename(arg).lower()
        for suffix in (".exe", ".py"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
        if base in _BATCH_PROGRAMS:
            return base
        if arg == "-m" and i + 1 < len(args):
            module = args[i + 1].split(".")[0].lower()
            if module in _BATCH_PROGRAMS:
                return module
        if i > 0 and os.path.basename(args[i - 1]).lower() == "jupyter" and base in ("nbconvert", "execute"):
            return f"jupyter {base}"
    return None


def detect_headless(
    env: dict[str, str] | None = None, ancestors: Iterable[Sequence[str]] | None = None, in_kernel: bool | None = None
) -> tuple[bool, str]:
    """Decide whether a dashboard should run headless; returns ``(headless, reason)``.

    In order: ``GIBBSNAS_HEADLESS`` (``1/true/yes`` headless, ``0/false/no`` live); not in an
    IPython kernel (plain Python, CLI, CI) -> headless; a kernel started by papermill,
    nbconvert, nbclient, pytest or ``gibbsnas-lite notebooks`` (an ancestor process) ->
    headless; a kernel of a Jupyter server session (JupyterLab, Notebook 7, Binder: the
    server sets ``JPY_SESSION_NAME``), VS Code or Colab -> live; any other kernel -> headless
    (say ``headless=False`` or ``GIBBSNAS_HEADLESS=0`` to force the widgets).
    ``env``/``ancestors``/``in_kernel`` default to this process's (arguments for tests).
    """
    env = dict(os.environ) if env is None else env
    forced = env.get(HEADLESS_ENV, "").strip().lower()
    if forced in _TRUTHY:
        return True, f"{HEADLESS_ENV}={forced}"
    if forced in _FALSY:
        return False, f"{HEADLESS_ENV}={forced}"
    if in_kernel is None:
        in_kernel = running_in_kernel()
    if not in_kernel:
        return True, "not in an IPython kernel (plain Python, CLI or CI)"
    for cmd in _ancestor_cmdlines() if ancestors is None else ancestors:
        program = batch_program(cmd)
        if program:
            return True, f"kernel started by {program} (batch execution, no widget frontend)"
    if env.get("JPY_SESSION_NAME"):
        return False, "kernel of a Jupyter server session (JupyterLab / Notebook)"
    if any(k.startswith(("VSCODE_", "COLAB_")) for k in env):
        return False, "VS Code or Colab kernel"
    return True, (
        f"kernel without a known widget frontend; pass headless=False or set {HEADLESS_ENV}=0 for the live widgets"
    )
