"""Checkpoints written atomically, and the random-number-generator states a resume needs."""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch


# What the search loop stores (and needs back on resume).
CHECKPOINT_KEYS = ("config", "epoch", "model", "strategy", "data", "history", "rng")


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``.

    A run killed while saving leaves the previous checkpoint intact.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        torch.save(payload, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_checkpoint_file(path: Path, map_location=None, made_by: str = "search") -> tuple[Path, Any]:
    """(file, payload) of ``path`` (a run folder or its checkpoint.pt), with the errors a user can act on;
    ``made_by`` names the command whose run folder ``--resume`` takes. Callers check the payload's kind."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}; --resume takes the run folder of an earlier {made_by}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # a truncated or foreign file
        raise ValueError(f"cannot read checkpoint {path} ({type(err).__name__}: {err}); "
                         "it is corrupt or not a gibbsnas-lite checkpoint") from None
    return path, payload


def load_checkpoint(path: Path, map_location=None) -> dict[str, Any]:
    path, payload = read_checkpoint_file(path, map_location)
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(payload, dict) or k not in payload]
    if missing:
        raise ValueError(f"{path} is not a gibbsnas-lite search checkpoint (missing {', '.join(missing)}); "
                         "--resume takes the run folder of an earlier `gibbsnas-lite search`")
    return payload


def capture_rng() -> dict[str, Any]:
    state = {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": np.random.get_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
