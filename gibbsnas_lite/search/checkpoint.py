"""Search checkpoints: what the loop stores and the check on loading it.

The atomic write, the file reader and the random-number-generator states live in
:mod:`gibbsnas_lite.runs` (shared with training and sweeps); they are re-exported here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..runs import atomic_torch_save, capture_rng, read_checkpoint_file, restore_rng, seed_everything

__all__ = [
    "CHECKPOINT_KEYS",
    "capture_rng",
    "load_checkpoint",
    "read_checkpoint_file",
    "restore_rng",
    "save_checkpoint",
    "seed_everything",
]

# What the search loop stores (and needs back on resume).
CHECKPOINT_KEYS = ("config", "epoch", "model", "strategy", "data", "history", "rng")

#: ``torch.save`` through a temporary file and a rename (:func:`gibbsnas_lite.runs.atomic_torch_save`).
save_checkpoint = atomic_torch_save


def load_checkpoint(path: Path, map_location=None) -> dict[str, Any]:
    path, payload = read_checkpoint_file(path, map_location)
    missing = [k for k in CHECKPOINT_KEYS if not isinstance(payload, dict) or k not in payload]
    if missing:
        raise ValueError(
            f"{path} is not a gibbsnas-lite search checkpoint (missing {', '.join(missing)}); "
            "--resume takes the run folder of an earlier `gibbsnas-lite search`"
        )
    return payload
