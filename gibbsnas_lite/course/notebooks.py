"""Headless batch runs of the course notebooks (papermill underneath).

Every notebook in ``notebooks/`` has a cell tagged ``parameters`` holding at least
``profile`` ("smoke" | "cpu" | "full") and ``seed``. :func:`run_notebooks` executes them in
order, writes the executed copies to an output folder and a summary table (what ran, how
long, the headline numbers each notebook recorded with :func:`record`).

Headline numbers travel without a visible cell: :func:`record` only notes them in the kernel;
the runner appends one cell of its own to the copy it executes (:data:`HEADLINE_TAG`), which
prints them once, reads them back, and takes that cell out again, so the executed copy keeps
the numbers in its metadata (``metadata.gibbsnas.headline``) and ends where the notebook ends.

Used by ``make run`` and ``gibbsnas-lite notebooks run``; the tests call
:func:`execute_notebook` once per notebook in the smoke profile.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..runs import PROFILES, atomic_write_text

HEADLINE_MARKER = "GIBBSNAS_HEADLINE "
HEADLINE_TAG = "gibbsnas-headline"  # the runner's own appended cell
_RECORDED: dict = {}  # what record() noted in this kernel
_NAME_RE = re.compile(r"^(\d\d)_.*\.ipynb$")


class NotebookError(RuntimeError):
    """A notebook failed; the message names the notebook, the cell and the error."""


def record(**numbers: Any) -> None:
    """Note a notebook's headline numbers for the batch runner; prints nothing.

    Call it in a notebook cell (the course keeps it in one collapsed cell tagged
    ``headline``); later calls add to / overwrite earlier keys. Values must be
    JSON-serialisable (numbers, strings, lists, dicts); a value that is not fails here.
    """
    json.dumps(numbers, default=float)  # fail in the cell that recorded it, not at the end
    _RECORDED.update(numbers)


def recorded() -> dict:
    """A copy of everything :func:`record` noted in this process."""
    return dict(_RECORDED)


def emit_headline() -> None:
    """Print the recorded numbers as one marker line (the runner's appended cell calls it)."""
    print(HEADLINE_MARKER + json.dumps(_RECORDED, sort_keys=True, default=float))


def _headline_cell():
    import nbformat

    cell = nbformat.v4.new_code_cell("from gibbsnas_lite.course.notebooks import emit_headline\nemit_headline()")
    cell.metadata["tags"] = [HEADLINE_TAG]
    return cell


def _with_headline_cell(path: Path, tmp_dir: Path) -> Path:
    """A copy of the notebook at ``path`` with the runner's headline cell appended."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    nb.cells.append(_headline_cell())
    copy = Path(tmp_dir) / Path(path).name
    nbformat.write(nb, str(copy))
    return copy


def _take_out_headline_cell(executed_path: Path) -> dict:
    """Read the marker from the runner's cell, remove that cell, keep the numbers in metadata."""
    import nbformat

    nb = nbformat.read(str(executed_path), as_version=4)
    headline: dict = {}
    kept = []
    for cell in nb.cells:
        if HEADLINE_TAG in cell.get("metadata", {}).get("tags", []):
            headline.update(_markers(cell))
        else:
            kept.append(cell)
    nb.cells = kept
    nb.metadata.setdefault("gibbsnas", {})["headline"] = headline
    nbformat.write(nb, str(executed_path))
    return headline


def _markers(cell) -> dict:
    found: dict = {}
    for out in cell.get("outputs", []):
        text = out.get("text", "")
        text = "".join(text) if isinstance(text, list) else text
        for line in text.splitlines():
            if line.startswith(HEADLINE_MARKER):
                found.update(json.loads(line[len(HEADLINE_MARKER) :]))
    return found


def find_notebook_dir(start: Path | None = None) -> Path:
    """The repository's ``notebooks/`` folder (the package lives next to it)."""
    candidates = []
    if start is not None:
        candidates.append(Path(start))
    candidates += [Path.cwd() / "notebooks", Path(__file__).resolve().parents[2] / "notebooks"]
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
            raise ValueError(f"unknown notebook number(s) {', '.join(unknown)}; available: {', '.join(sorted(known))}")
        books = [p for p in books if _NAME_RE.match(p.name).group(1) in wanted]
    return books


def read_headline(executed_path: Path) -> dict:
    """The numbers a notebook recorded with :func:`record`, from its executed copy."""
    nb = json.loads(Path(executed_path).read_text())
    stored = nb.get("metadata", {}).get("gibbsnas", {}).get("headline")
    if stored is not None:
        return dict(stored)
    headline: dict = {}  # a copy executed some other way: marker lines in any output
    for cell in nb.get("cells", []):
        headline.update(_markers(cell))
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
    tmp = tempfile.TemporaryDirectory(prefix="gibbsnas-nb-")
    try:
        pm.execute_notebook(
            str(_with_headline_cell(Path(path), Path(tmp.name))),
            str(out_path),
            parameters=params,
            kernel_name=kernel_name,
            progress_bar=progress,
            cwd=str(Path(path).parent),
        )
    except pm.PapermillExecutionError as err:
        source = _cell_source(out_path, err.exec_count)
        try:
            _take_out_headline_cell(out_path)
        except (OSError, ValueError):
            pass
        raise NotebookError(
            f"{Path(path).name}: cell {err.cell_index} (execution {err.exec_count}) failed with "
            f"{err.ename}: {err.evalue}\n--- cell source ---\n{source}\n"
            f"--- executed copy (with the traceback): {out_path}"
        ) from None
    finally:
        tmp.cleanup()
        if previous is None:
            os.environ.pop("GIBBSNAS_HEADLESS", None)
        else:
            os.environ["GIBBSNAS_HEADLESS"] = previous
    return _take_out_headline_cell(out_path)


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
    atomic_write_text(out_dir / "summary.json", payload)
    lines = ["| notebook | profile | status | seconds | headline |", "|---|---|---|---|---|"]
    for r in runs:
        head = ", ".join(f"{k}={_short(v)}" for k, v in r.headline.items())
        lines.append(f"| {r.notebook} | {r.profile} | {'ok' if r.ok else 'FAILED'} | {r.seconds:.1f} | {head} |")
    atomic_write_text(out_dir / "summary.md", "\n".join(lines) + "\n")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = json.dumps(value, default=float) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


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
