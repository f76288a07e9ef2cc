"""Headless batch runs of the course notebooks (papermill underneath).

Every notebook in ``notebooks/`` has a cell tagged ``parameters`` holding at least
``profile`` ("smoke" | "cpu" | "full") and ``seed``. :func:`run_notebooks` executes them in
order, writes the executed copies to an output folder and a summary table (what ran, how
long, the headline numbers each notebook recorded with :func:`record`).

Used by ``make run`` and ``gibbsnas-lite notebooks run``; the tests call
:func:`execute_notebook` once per notebook in the smoke profile.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

PROFILES = ("smoke", "cpu", "full")
HEADLINE_MARKER = "GIBBSNAS_HEADLINE "
_NAME_RE = re.compile(r"^(\d\d)_.*\.ipynb$")


class NotebookError(RuntimeError):
    """A notebook failed; the message names the notebook, the cell and the error."""


def record(**numbers: Any) -> dict:
    """Record a notebook's headline numbers (call it in the notebook's last cell).

    Prints one marker line that :func:`run_notebooks` reads back from the executed copy,
    so the batch summary can show e.g. the derived architecture and its accuracy.
    Values must be JSON-serialisable (numbers, strings, lists, dicts).
    """
    line = json.dumps(numbers, sort_keys=True, default=float)
    print(HEADLINE_MARKER + line)
    return numbers


def find_notebook_dir(start: Path | None = None) -> Path:
    """The repository's ``notebooks/`` folder (the package lives next to it)."""
    candidates = []
    if start is not None:
        candidates.append(Path(start))
    candidates += [Path.cwd() / "notebooks", Path(__file__).resolve().parent.parent / "notebooks"]
    for path in candidates:
        if path.is_dir() and any(path.glob("*.ipynb")):
            return path
    raise FileNotFoundError(
        "no notebooks folder found (looked in: "
        + ", ".join(str(p) for p in candidates)
        + "); run from the repository root or pass --notebooks DIR"
    )


def list_notebooks(notebook_dir: Path, only: Iterable[str] | None = None) -> list[Path]:
    """Course notebooks ``NN_name.ipynb`` in order; ``only`` keeps numbers like ["01", "04"]."""
    books = sorted(p for p in Path(notebook_dir).glob("*.ipynb") if _NAME_RE.match(p.name))
    if only:
        wanted = {str(n).zfill(2) for n in only}
        known = {_NAME_RE.match(p.name).group(1) for p in books}
        unknown = sorted(wanted - known)
        if unknown:
            raise ValueError(
                f"unknown notebook number(s) {', '.join(unknown)}; available: {', '.join(sorted(known))}"
            )
        books = [p for p in books if _NAME_RE.match(p.name).group(1) in wanted]
    return books


def read_headline(executed_path: Path) -> dict:
    """The numbers a notebook recorded with :func:`record` (last one wins)."""
    nb = json.loads(Path(executed_path).read_text())
    headline: dict = {}
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            text = out.get("text", "")
            text = "".join(text) if isinstance(text, list) else text
            for line in text.splitlines():
                if line.startswith(HEADLINE_MARKER):
                    headline.update(json.loads(line[len(HEADLINE_MARKER):]))
    return headline


def execute_notebook(
    path: Path,
    out_path: Path,
    profile: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    kernel_name: str | None = None,
    progress: bool = False,
) -> dict:
    """Execute one notebook with papermill; raise :class:`NotebookError` naming the failing cell."""
    import papermill as pm  # heavy import, only when running notebooks

    params = dict(parameters or {})
    if profile is not None:
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
        params["profile"] = profile
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # the kernel inherits this: the dashboard keeps no multi-MB widget state in executed copies
    previous = os.environ.get("GIBBSNAS_HEADLESS")
    os.environ["GIBBSNAS_HEADLESS"] = "1"
    try:
        pm.execute_notebook(
            str(path),
            str(out_path),
            parameters=params,
            kernel_name=kernel_name,
            progress_bar=progress,
            cwd=str(Path(path).parent),
        )
    except pm.PapermillExecutionError as err:
        source = _cell_source(out_path, err.exec_count)
        raise NotebookError(
            f"{Path(path).name}: cell {err.cell_index} (execution {err.exec_count}) failed with "
            f"{err.ename}: {err.evalue}\n--- cell source ---\n{source}\n"
            f"--- executed copy (with the traceback): {out_path}"
        ) from None
    finally:
        if previous is None:
            os.environ.pop("GIBBSNAS_HEADLESS", None)
        else:
            os.environ["GIBBSNAS_HEADLESS"] = previous
    return read_headline(out_path)


def _cell_source(executed_path: Path, exec_count: int | None) -> str:
    try:
        nb = json.loads(Path(executed_path).read_text())
    except (OSError, ValueError):
        return "<unavailable>"
    for cell in nb.get("cells", []):
        if cell.get("execution_count") == exec_count and cell.get("cell_type") == "code":
            src = cell.get("source", "")
            return "".join(src) if isinstance(src, list) else src
    return "<unavailable>"


@dataclass
class NotebookRun:
    notebook: str
    output: str
    profile: str
    seconds: float
    ok: bool
    headline: dict = field(default_factory=dict)
    error: str = ""


def run_notebooks(
    out_dir: Path,
    profile: str | None = None,
    only: Iterable[str] | None = None,
    parameters: Mapping[str, Any] | None = None,
    notebook_dir: Path | None = None,
    stop_on_error: bool = False,
    echo=print,
) -> list[NotebookRun]:
    """Execute the course notebooks; write ``summary.json`` and ``summary.md`` in ``out_dir``."""
    notebook_dir = find_notebook_dir(notebook_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runs: list[NotebookRun] = []
    for path in list_notebooks(notebook_dir, only):
        out_path = out_dir / path.name
        label = profile or "default"
        echo(f"[{len(runs) + 1}] {path.name} (profile: {label}) ...")
        start = time.perf_counter()
        try:
            headline = execute_notebook(path, out_path, profile, parameters)
            run = NotebookRun(path.name, str(out_path), label, time.perf_counter() - start, True, headline)
        except NotebookError as err:
            run = NotebookRun(path.name, str(out_path), label, time.perf_counter() - start, False, {}, str(err))
        runs.append(run)
        echo(f"    {'ok' if run.ok else 'FAILED'} in {run.seconds:.1f} s" + (f"\n{run.error}" if run.error else ""))
        if not run.ok and stop_on_error:
            break
    _write_summary(out_dir, runs)
    return runs


def _write_summary(out_dir: Path, runs: list[NotebookRun]) -> None:
    payload = json.dumps([asdict(r) for r in runs], indent=2, default=float)
    _atomic_write(out_dir / "summary.json", payload)
    lines = ["| notebook | profile | status | seconds | headline |", "|---|---|---|---|---|"]
    for r in runs:
        head = ", ".join(f"{k}={_short(v)}" for k, v in r.headline.items())
        lines.append(f"| {r.notebook} | {r.profile} | {'ok' if r.ok else 'FAILED'} | {r.seconds:.1f} | {head} |")
    _atomic_write(out_dir / "summary.md", "\n".join(lines) + "\n")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = json.dumps(value, default=float) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def parse_parameters(pairs: Iterable[str]) -> dict:
    """``["key=value", ...]`` to a dict; values parsed as JSON when they parse, else strings."""
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"parameter {pair!r} must look like key=value")
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def main_run(args) -> int:
    """Entry for ``gibbsnas-lite notebooks run`` (see :mod:`gibbsnas_lite.cli`)."""
    only = [s for s in (args.only or "").split(",") if s] or None
    runs = run_notebooks(
        Path(args.out),
        profile=args.profile,
        only=only,
        parameters=parse_parameters(args.param or []),
        notebook_dir=Path(args.notebooks) if args.notebooks else None,
        stop_on_error=args.stop_on_error,
    )
    out = Path(args.out).resolve()
    failed = [r for r in runs if not r.ok]
    print(f"\nexecuted notebooks: {out}")
    print(f"summary: {out / 'summary.md'}")
    print((out / "summary.md").read_text())
    if failed:
        print(f"{len(failed)} notebook(s) failed: {', '.join(r.notebook for r in failed)}", file=sys.stderr)
        return 1
    return 0
