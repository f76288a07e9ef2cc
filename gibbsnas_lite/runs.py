"""Run folders: the one place for what every run (search, training, sweep, course) writes.

- file names: :data:`CHECKPOINT`, :data:`HISTORY`, :data:`SUMMARY`, :data:`CONFIG`;
- atomic writes (temporary file in the same folder, fsync, rename; a killed run never leaves a
  half-written file): :func:`atomic_write_text`, :func:`atomic_write_json`,
  :func:`atomic_torch_save` (checkpoints), and :func:`read_checkpoint_file`;
- random-number-generator state: :func:`seed_everything`, :func:`capture_rng`, :func:`restore_rng`;
- :data:`PROFILES` (smoke, cpu, full: the presets of every command) and :func:`choice`;
- :func:`resolve_device`, and :func:`open_run` / :func:`resume_error`: how a run starts or resumes;
- :func:`progress`: a tqdm bar when tqdm is installed, else a silent stand-in (the core needs
  only torch and numpy);
- :class:`NonFiniteLossError`: a NaN/Inf loss stops a run (search or training);
- :class:`ConfigDict`: ``to_dict``/``from_dict`` for the run configs (dataclasses);
  :func:`option`: a config field that is also a command-line option (its help text in the field's
  metadata; ``gibbsnas_lite.cli`` builds the options from them); and :func:`parse_settings`: the one
  ``KEY=VALUE`` reader of config fields (``search --set``, ``sweep -o``, the scripts' overrides);
- reading a run folder back: :func:`read_run` (a :class:`RunFolder`: summary, config, history
  records, measurements), the one reader that the seed study, the sweep results, the report and
  the plots use; :func:`read_history` reads a ``history.jsonl`` (or ``.jsonl.gz``) alone.

torch and numpy are imported where they are used, so the course layer can use the text
helpers without them.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

__all__ = [
    "CHECKPOINT",
    "CONFIG",
    "HISTORY",
    "SUMMARY",
    "PROFILES",
    "ConfigDict",
    "NonFiniteLossError",
    "NullProgress",
    "RunFolder",
    "atomic_torch_save",
    "atomic_write_json",
    "atomic_write_text",
    "capture_rng",
    "choice",
    "open_run",
    "option",
    "parse_settings",
    "progress",
    "read_checkpoint_file",
    "read_history",
    "read_run",
    "resolve_device",
    "restore_rng",
    "resume_error",
    "seed_everything",
]

CHECKPOINT = "checkpoint.pt"
HISTORY = "history.jsonl"
SUMMARY = "summary.json"
CONFIG = "config.json"

#: The presets every command offers: ``smoke`` (seconds, synthetic data), ``cpu`` (minutes on
#: 2 cores), ``full`` (the paper's protocol, a GPU).
PROFILES = ("smoke", "cpu", "full")


# ------------------------------------------------------------------------------- atomic writes
def _tmp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename (never half-written)."""
    path = Path(path)
    tmp = _tmp_path(path)
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: str | Path, obj: Any, indent: int | None = 2, default=float) -> None:
    """``json.dumps(obj, indent=indent, default=default)`` written with :func:`atomic_write_text`."""
    atomic_write_text(path, json.dumps(obj, indent=indent, default=default))


def atomic_torch_save(path: str | Path, payload: Any) -> None:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``.

    A run killed while saving leaves the previous checkpoint intact.
    """
    import torch

    path = Path(path)
    tmp = _tmp_path(path)
    with open(tmp, "wb") as fh:
        torch.save(payload, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_checkpoint_file(path: str | Path, map_location=None, made_by: str = "search") -> tuple[Path, Any]:
    """(file, payload) of ``path`` (a run folder or its checkpoint.pt), with the errors a user can act on;
    ``made_by`` names the command whose run folder ``--resume`` takes. Callers check the payload's kind."""
    import torch

    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}; --resume takes the run folder of an earlier {made_by}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # a truncated or foreign file
        raise ValueError(
            f"cannot read checkpoint {path} ({type(err).__name__}: {err}); "
            "it is corrupt or not a gibbsnas-lite checkpoint"
        ) from None
    return path, payload


class NonFiniteLossError(ValueError):
    """The loss became NaN/Inf; the run (a search or a training) stops and the last good checkpoint is kept."""


# ------------------------------------------------------------------------------- random state
def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's generators (all devices)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def capture_rng() -> dict[str, Any]:
    """The generators' states, as a checkpoint stores them (``torch``, ``python``, ``numpy``, ``cuda``)."""
    import numpy as np
    import torch

    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": np.random.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Put back the states of :func:`capture_rng` (``cuda`` only where CUDA is available)."""
    import numpy as np
    import torch

    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def resolve_device(name: str):
    """``torch.device`` of ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"`` (an error without CUDA)."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but CUDA is not available; use --device cpu or auto")
    return torch.device(name)


# ------------------------------------------------------------------------------- opening a run
def open_run(config, out_dir, resume, *, load_checkpoint, config_class, needs: str):
    """The start every run shares (search and training): ``(config, out_dir, checkpoint, device)``.

    ``resume=DIR`` reads DIR's checkpoint (``load_checkpoint(DIR, map_location="cpu")``) and its
    saved config; a ``config`` given with it only contributes its ``device`` (the kind of device
    the checkpoint was written on; another machine of that kind is fine). Without either, a
    ``ValueError`` that says what to pass (``needs``). The config is validated and the device
    resolved before anything is written; then ``out_dir/config.json`` is written atomically.
    """
    checkpoint = None
    if resume is not None:
        out_dir = Path(resume)
        checkpoint = load_checkpoint(out_dir, map_location="cpu")
        saved = config_class.from_dict(checkpoint["config"])
        if config is not None:
            saved.device = config.device
        config = saved
    if config is None:
        raise ValueError(f"{needs} or resume=DIR")
    config.validate()
    device = resolve_device(config.device)  # before anything is written
    out_dir = Path(out_dir) if out_dir is not None else None
    if out_dir is not None:
        if out_dir.exists() and not out_dir.is_dir():
            raise FileExistsError(
                f"the run folder {out_dir} is a file; give a folder (new, or a run folder to replace)"
            )
        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out_dir / CONFIG, json.dumps(config.to_dict(), indent=2))
    return config, out_dir, checkpoint, device


def resume_error(out_dir, checkpoint: dict, device, err: Exception) -> ValueError:
    """The error for a checkpoint whose state does not fit the run being resumed (raise it ``from None``)."""
    saved_on = checkpoint.get("device", "an unrecorded device")
    return ValueError(
        f"cannot resume {out_dir}: its checkpoint does not fit this run ({type(err).__name__}: {err}); "
        f"it was written on {saved_on}, this run is on {device.type}: resume it on the same kind "
        "of device, with the same gibbsnas-lite version"
    )


# ------------------------------------------------------------------------------- configs
def choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``allowed`` (the message lists them)."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; choose one of: {', '.join(allowed)}")


def option(
    default: Any,
    *,
    help: str | None = None,
    flag: str | None = None,
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] | None = None,
    with_resume: bool = False,
) -> Any:
    """A config field that is also a command-line option: ``dataclasses.field(default=default)``
    with the option in the field's metadata, under ``"cli"``.

    ``help``: the option's help text. ``flag``: its name on the command line (default: ``--`` and
    the field's name with ``-`` for ``_``, e.g. ``--batch-size``). ``choices``: the values it takes,
    a tuple or a function that returns one when the parser is built (a registry that may grow).
    ``with_resume``: the option may go with ``--resume`` (``--device``); the others are refused
    there, as the run's checkpoint holds them. The option's type is the field's; a ``bool`` field is
    an on/off flag (``--download``). ``gibbsnas_lite.cli`` builds its options from these fields.
    """
    return dataclasses.field(
        default=default, metadata={"cli": dict(help=help, flag=flag, choices=choices, with_resume=with_resume)}
    )


def parse_settings(items, flag: str = "--set") -> dict:
    """``["image_size=16", "alpha_max_step=None"]`` -> ``{"image_size": 16, "alpha_max_step": None}``.

    The one reader of ``KEY=VALUE`` config settings (``search --set``, ``sweep -o``, the benchmark
    and diagnosis scripts). Values are Python literals where they parse as one (``16``, ``0.5``,
    ``None``, ``True``, ``[1, 2]``), ``true``/``false`` in any case are booleans (as JSON and YAML
    sweep files spell them), ``inf``/``nan`` are floats, anything else is a string. Keys and the
    booleans' spelling are stripped of spaces. Unknown keys are refused later by
    ``ConfigDict.from_dict`` with the list of known ones; a ``None`` leaves the value that the
    profile and strategy set (as an omitted flag does). ``flag`` names the option in the error.
    """
    import ast

    settings = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag} expects KEY=VALUE, got {item!r} (e.g. {flag} image_size=16)")
        if text.strip().lower() in ("true", "false"):  # JSON/YAML spelling of a bool, as sweep files write it
            settings[key.strip()] = text.strip().lower() == "true"
            continue
        try:
            settings[key.strip()] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            try:
                settings[key.strip()] = float(text)  # inf, nan
            except ValueError:
                settings[key.strip()] = text
    return settings


class ConfigDict:
    """Mixin for a run's config dataclass: ``to_dict`` and ``from_dict`` (unknown keys are an error
    that lists the known ones). ``config_noun`` names the config in that error."""

    config_noun: ClassVar[str] = "config"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"unknown {cls.config_noun} key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            )
        return cls(**data)


# ------------------------------------------------------------------------------- progress
class NullProgress:
    """A progress bar that shows nothing (disabled, or tqdm not installed)."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def set_description(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> NullProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def progress(enabled: bool, total: int | None, initial: int = 0, desc: str | None = None, **options: Any):
    """A ``tqdm.auto`` bar (``options``: ``unit``, ``leave``...) when ``enabled`` and tqdm is
    importable; otherwise a :class:`NullProgress` with the same ``update/set_postfix/close``."""
    if not enabled:
        return NullProgress()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return NullProgress()
    return tqdm(total=total, initial=initial, desc=desc, **options)


# ------------------------------------------------------------------------------- reading a run folder
TRIAL = "trial.json"  # a sweep trial's own measurements (gibbsnas_lite.sweep.runner)
TIME = "time.txt"  # /usr/bin/time -f "%e %M %U %S" of a run (scripts/run_cpu_study.sh)


def read_history(path: str | Path, what: str = "run") -> list[dict[str, Any]]:
    """The records of a ``history.jsonl`` in file order (``path``: the file or its run folder; a
    ``history.jsonl.gz`` is read where the plain file is absent). A search writes
    ``{"kind": "epoch" | "alpha", ...}`` records, a training run one record per epoch. ``what``
    names the run in the error for a missing file."""
    path = Path(path)
    if path.is_dir():
        gzipped = path / f"{HISTORY}.gz"
        path = gzipped if gzipped.exists() and not (path / HISTORY).exists() else path / HISTORY
    if not path.exists():
        raise FileNotFoundError(f"no {what} history at {path}; pass a run folder or its history.jsonl")
    text = gzip.decompress(path.read_bytes()).decode() if path.suffix == ".gz" else path.read_text()
    records = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError as err:
            raise ValueError(f"{path}:{n} is not valid JSON ({err})") from None
    return records


@dataclasses.dataclass
class RunFolder:
    """A run folder read back by :func:`read_run`.

    ``summary`` (summary.json) and ``config`` (config.json) are ``None`` where the file is absent
    (an unfinished run has no summary); ``epochs`` are the epoch records of history.jsonl (a
    search's ``kind == "epoch"`` records without their ``kind``; every record of a training run),
    ``alpha`` a search's alpha records; ``measured`` the run's own measurements, ``wall_seconds``,
    ``cpu_seconds`` and ``peak_rss_mb``, from a sweep trial's trial.json or a ``time.txt``
    (``None`` without either).
    """

    folder: Path
    summary: dict[str, Any] | None
    config: dict[str, Any] | None
    epochs: list[dict[str, Any]]
    alpha: list[dict[str, Any]]
    measured: dict[str, Any] | None

    def finished_summary(self) -> dict[str, Any]:
        """``summary``, or a ``FileNotFoundError`` for a run that has not finished."""
        if self.summary is None:
            raise FileNotFoundError(f"{self.folder} holds no {SUMMARY}: the run has not finished")
        return self.summary


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def _measured(folder: Path) -> dict[str, Any] | None:
    trial, timing = folder / TRIAL, folder / TIME
    if trial.exists():
        measured = json.loads(trial.read_text())
        return {
            "wall_seconds": measured.get("search_seconds"),
            "peak_rss_mb": measured.get("peak_rss_mb"),
            "cpu_seconds": measured.get("cpu_seconds"),
        }
    if timing.exists():
        fields = timing.read_text().split()
        if len(fields) >= 4:
            return {
                "wall_seconds": float(fields[0]),
                "peak_rss_mb": int(fields[1]) / 1024,
                "cpu_seconds": float(fields[2]) + float(fields[3]),
            }
    return None


def read_run(folder: str | Path, history: bool = True, what: str = "run") -> RunFolder:
    """Read a run folder (a search's, a sweep trial's or a training run's): see :class:`RunFolder`.

    ``history=False`` skips history.jsonl (``epochs`` and ``alpha`` are empty); with it, a folder
    without a history is a ``FileNotFoundError``, as a folder that does not exist (``what`` names the
    run in that error).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a {what} run folder")
    epochs: list[dict[str, Any]] = []
    alpha: list[dict[str, Any]] = []
    if history:
        for record in read_history(folder, what):
            kind = record.pop("kind", "epoch")
            if kind == "epoch":
                epochs.append(record)
            elif kind == "alpha":
                alpha.append(record)
    return RunFolder(
        folder, _read_json(folder / SUMMARY), _read_json(folder / CONFIG), epochs, alpha, _measured(folder)
    )
