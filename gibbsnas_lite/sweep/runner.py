"""Running a sweep on Ray: each trial one ``run_search`` in its own run folder, resumable at any point.

The driver (:func:`run_sweep`) starts a local Ray in-process (``workers`` trials at once, one
CPU and ``threads`` torch threads each; one GPU per trial where Ray sees GPUs), or joins a
cluster (``address``, or ``RAY_ADDRESS``). It does not schedule: Ray does. What makes the
sweep survive a kill is the run folder, not Ray:

- a trial whose ``trial.json`` says ``ok`` is not submitted again;
- a trial with a checkpoint continues from its last completed epoch through ``run_search``'s
  own resume (bit for bit on CPU with the same threads), whether its worker was killed (Ray
  retries the task, ``retries`` times) or the driver was (the next start submits it again);
- a trial that raises (a bad option, a NaN loss) gets a ``failed`` row with its error; the
  others go on. Failed trials are tried again at the next start.

Two processes never write one run folder: a trial holds an exclusive lock on its folder
while it runs (``fcntl.flock``; on a shared file system that needs working POSIX locks).
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..runs import CHECKPOINT, atomic_write_text
from ..runs import progress as progress_bar
from . import results
from .trials import Trial, check_unique

SWEEP_FILE = "sweep.json"
TRIAL_FILE = "trial.json"
STARTS_FILE = "starts.json"
TRIALS = "trials"
LOCK = ".lock"
INSTALL_HINT = "pip install -e '.[sweep]' (or pip install 'ray>=2.9')"


@dataclass
class SweepResult:
    """What :func:`run_sweep` returns: the sweep folder and one row per trial, in the trials' order."""

    folder: Path
    rows: list[dict[str, Any]]
    seconds: float = 0.0
    ran: list[str] = field(default_factory=list)  # trials submitted by this call (the others were finished)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r.get("status") != "ok"]


def trial_folder(sweep_dir: str | Path, trial: Trial) -> Path:
    return Path(sweep_dir) / TRIALS / trial.name


# ----------------------------------------------------------------------------- one trial (on a worker)
def run_trial(trial: Trial | dict, folder: str | Path, threads: int | None = 1) -> dict[str, Any]:
    """Run, resume or read back one trial in ``folder``; write and return its row. Never raises for
    the trial's own errors: they become a ``failed`` row."""
    trial = trial if isinstance(trial, Trial) else Trial.from_dict(trial)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with _folder_lock(folder):
        _reset_peak_memory()
        cpu_start = _cpu_seconds()
        try:
            if not results.summary_is_complete(folder):
                _search(trial, folder, threads)
            row = results.row_from_folder(folder, trial)
            row["starts"] = _read_starts(folder)
        except Exception as err:  # the trial's error, reported in its row; the sweep goes on
            row = results.failed_row(trial, err)
        row.update(_peak_memory(), cpu_seconds=round(_cpu_seconds() - cpu_start, 2))
        atomic_write_text(folder / TRIAL_FILE, json.dumps(row, indent=1, default=float) + "\n")
    return row


def _search(trial: Trial, folder: Path, threads: int | None) -> None:
    import torch

    from ..search import make_config, run_search
    from ..search.checkpoint import load_checkpoint

    if threads:
        torch.set_num_threads(threads)
    resume = (folder / CHECKPOINT).exists()
    first_epoch = load_checkpoint(folder, map_location="cpu")["epoch"] + 1 if resume else 0
    starts = _read_starts(folder) + [first_epoch]
    atomic_write_text(folder / STARTS_FILE, json.dumps(starts) + "\n")
    if resume:
        run_search(resume=folder)
    else:
        run_search(make_config(**trial.config_args()), out_dir=folder)


def _read_starts(folder: Path) -> list[int]:
    """The epoch each start of this trial began at: [0] for one go, [0, 3] after a kill in epoch 4."""
    path = folder / STARTS_FILE
    return json.loads(path.read_text()) if path.is_file() else []


@contextmanager
def _folder_lock(folder: Path):
    with open(folder / LOCK, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # waits for a writer still alive (e.g. a worker of a killed driver)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _reset_peak_memory() -> None:
    try:  # Linux >= 4.0: "5" resets this process's peak RSS (VmHWM), so a reused worker measures one trial
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process so far (a trial's share: the difference)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_memory() -> dict[str, float | None]:
    """Peak RSS of this process since the reset (MB) and peak GPU memory allocated by torch (MB)."""
    rss = None
    try:
        with open("/proc/self/status") as fh:
            rss = next(int(line.split()[1]) / 1024 for line in fh if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB; the process's lifetime
    import torch

    gpu = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    return {
        "peak_rss_mb": round(rss, 1) if rss is not None else None,
        "peak_gpu_mb": round(gpu, 1) if gpu is not None else None,
    }


def _ray_trial(trial: dict, folder: str, threads: int | None) -> dict[str, Any]:
    return run_trial(trial, folder, threads)


# ----------------------------------------------------------------------------- the driver
def import_ray():
    try:
        import ray
    except ImportError:
        raise ImportError(
            f"gibbsnas-lite sweep runs its trials on Ray, which is not installed: {INSTALL_HINT}. "
            "The notebooks and `gibbsnas-lite search` work without it."
        ) from None
    return ray


def record_trials(sweep_dir: Path, trials: Sequence[Trial]) -> None:
    """Write the sweep's trials to sweep.json; refuse a trial whose name a different trial already has there."""
    path = Path(sweep_dir) / SWEEP_FILE
    known: dict[str, dict] = {}
    if path.exists():
        known = {t["name"]: t for t in json.loads(path.read_text())["trials"]}
    for trial in trials:
        old = known.get(trial.name)
        if old is not None and Trial.from_dict(old) != trial:
            raise ValueError(
                f"{sweep_dir} already holds a different trial named {trial.name!r} ({old} there, {trial.to_dict()} "
                "now): its run folder would be resumed with other settings; use another --out, or delete "
                f"{trial_folder(sweep_dir, trial)}"
            )
        known[trial.name] = trial.to_dict()
    atomic_write_text(path, json.dumps({"trials": list(known.values())}, indent=1, default=float) + "\n")


def load_trials(sweep_dir: str | Path) -> list[Trial]:
    """Every trial a sweep folder has seen (its sweep.json): rerun a sweep without retyping it."""
    path = Path(sweep_dir) / SWEEP_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: {sweep_dir} is not a sweep folder")
    return [Trial.from_dict(t) for t in json.loads(path.read_text())["trials"]]


def finished_row(sweep_dir: Path, trial: Trial) -> dict[str, Any] | None:
    path = trial_folder(sweep_dir, trial) / TRIAL_FILE
    if not path.is_file():
        return None
    row = json.loads(path.read_text())
    return row if row.get("status") == "ok" else None


def run_sweep(
    trials: Sequence[Trial],
    out_dir: str | Path,
    workers: int | None = None,
    address: str | None = None,
    threads: int = 1,
    gpus_per_trial: float | None = None,
    retries: int = 3,
    progress: bool = True,
    echo: Callable[[str], Any] | None = None,
    without_ray: str = "error",
) -> SweepResult:
    """Run every trial not yet finished in ``out_dir`` on Ray; return (and write) one row per trial.

    ``workers``: trials at once on the local Ray (default: the CPU count // ``threads``);
    ignored with ``address`` (the cluster's resources decide). ``gpus_per_trial``: default 1
    where Ray sees a GPU, else 0. ``retries``: how often Ray restarts a trial whose worker died.
    ``without_ray``: what to do when Ray is not installed: ``"error"`` (an ImportError that says
    how to install it) or ``"serial"`` (say so, then run the trials one after another in this
    process with the same :func:`run_trial`, e.g. on Binder; same folders, same rows).
    ``workers=0``: no Ray, the trials one after another in this process (the way to sweep a
    strategy or space registered at run time, e.g. in a notebook: Ray's workers import the
    package afresh and know only the built-in entries).
    """
    if without_ray not in ("error", "serial"):
        raise ValueError(f"without_ray={without_ray!r}; choose 'error' or 'serial'")
    start = time.perf_counter()
    trials = check_unique(list(trials))
    if not trials:
        raise ValueError("the sweep has no trial")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record_trials(out_dir, trials)
    say = echo or (lambda _msg: None)
    rows = {t.name: finished_row(out_dir, t) for t in trials}
    pending = [t for t in trials if rows[t.name] is None]
    if rows and len(pending) < len(trials):
        say(f"{len(trials) - len(pending)} of {len(trials)} trials finished already: not run again")
    if pending and workers == 0:
        _run_here(pending, out_dir, rows, trials, threads, progress, say)
    elif pending:
        check_known_to_workers(pending)
        try:
            import_ray()
        except ImportError as err:
            if without_ray == "error":
                raise
            say(f"{err}\nRunning the {len(pending)} trials one after another in this process instead.")
            _run_here(pending, out_dir, rows, trials, threads, progress, say)
        else:
            _run_on_ray(
                pending, out_dir, rows, trials, workers, address, threads, gpus_per_trial, retries, progress, say
            )
    ordered = [rows[t.name] for t in trials]
    results.write_results(out_dir, ordered)
    return SweepResult(out_dir, ordered, time.perf_counter() - start, [t.name for t in pending])


def check_known_to_workers(trials: Sequence[Trial]) -> None:
    """A ``ValueError`` for a trial whose strategy or space was registered in this process only
    (Ray's workers would not know it): it names the trial and the fix."""
    from ..search import registry as strategies
    from ..search.config import SearchConfig
    from ..spaces import registry as spaces

    for trial in trials:
        space = trial.overrides.get("space", SearchConfig.space)
        for kind, name, built_in in (
            ("strategy", trial.strategy, strategies.BUILT_IN),
            ("space", space, spaces.BUILT_IN),
        ):
            if name not in built_in:
                raise ValueError(
                    f"trial {trial.name} uses the {kind} {name!r}, registered in this process only; Ray's "
                    "workers know the built-in entries alone: run the sweep with workers=0 (--workers 0: "
                    "one trial after another here) or register it in a module the package imports"
                )


def _run_here(pending, out_dir, rows, trials, threads, progress, say):
    bar = progress_bar(progress, len(pending), desc="sweep", unit="trial")
    for trial in pending:
        rows[trial.name] = row = run_trial(trial, trial_folder(out_dir, trial), threads)
        results.write_results(out_dir, [rows[t.name] for t in trials if rows[t.name] is not None])
        bar.update(1)
        say(_trial_line(row))
    bar.close()


def _run_on_ray(pending, out_dir, rows, trials, workers, address, threads, gpus_per_trial, retries, progress, say):
    ray = import_ray()
    started_here = not ray.is_initialized()
    if started_here:
        _init_ray(ray, address or os.environ.get("RAY_ADDRESS"), workers, threads)
    try:
        if gpus_per_trial is None:
            gpus_per_trial = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        task = ray.remote(_ray_trial).options(
            num_cpus=threads, num_gpus=gpus_per_trial, max_retries=retries, retry_exceptions=False
        )
        refs = {task.remote(t.to_dict(), str(trial_folder(out_dir, t)), threads): t for t in pending}
        bar = progress_bar(progress, len(pending), desc="sweep", unit="trial")
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            for ref in done:
                trial = refs.pop(ref)
                try:
                    row = ray.get(ref)
                except ray.exceptions.RayError as err:  # its worker died more than `retries` times
                    row = results.failed_row(trial, err)
                rows[trial.name] = row
                results.write_results(out_dir, [rows[t.name] for t in trials if rows[t.name] is not None])
                bar.update(1)
                say(_trial_line(row))
        bar.close()
    finally:
        if started_here:
            ray.shutdown()


def _init_ray(ray, address, workers, threads):
    import logging

    common = dict(log_to_driver=False, logging_level=logging.ERROR, include_dashboard=False)
    if address:
        ray.init(address=address, **common)
        return
    cpus = os.cpu_count() or 1
    workers = workers or max(1, cpus // max(1, threads))
    if workers < 1:
        raise ValueError(f"workers={workers}: a sweep needs at least one worker")
    ray.init(num_cpus=workers * max(1, threads), **common)


def _trial_line(row: dict[str, Any]) -> str:
    head = f"{row['name']}: {row['status']}"
    if row["status"] != "ok":
        return f"{head} | {row['error']}"
    acc = row.get("cifar10_test")
    parts = [head, f"arch {row['arch']}"]
    if acc is not None:
        parts.append(f"nb201 cifar10 test {acc:.2f}")
    parts.append(f"{row['search_seconds']:.1f}s")
    return " | ".join(parts)
