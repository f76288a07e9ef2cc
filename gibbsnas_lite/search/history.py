"""A search's history: per-epoch records and an alpha trace, in memory and as JSON lines.

``history.jsonl`` holds one JSON object per line, ``{"kind": "epoch", ...}`` or
``{"kind": "alpha", ...}``; :meth:`History.load` reads it back (the dashboard replays it), also
gzipped as ``history.jsonl.gz`` (how the kit ships the deep study's example runs).
On resume the file is rewritten from the checkpoint's copy, so records of a killed,
unfinished epoch never survive.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..runs import atomic_write_text, read_history

__all__ = ["History", "atomic_write_text"]


class History:
    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path is not None else None
        self.epochs: list[dict[str, Any]] = []
        self.alpha: list[dict[str, Any]] = []

    def log_epoch(self, record: dict[str, Any]) -> None:
        self.epochs.append(record)
        self._append({"kind": "epoch", **record})

    def log_alpha(self, record: dict[str, Any]) -> None:
        self.alpha.append(record)
        self._append({"kind": "alpha", **record})

    def _append(self, obj: dict[str, Any]) -> None:
        if self.path is not None:
            with open(self.path, "a") as fh:
                fh.write(json.dumps(obj, default=float) + "\n")

    def records(self) -> list[dict[str, Any]]:
        """All records with their ``kind``, in the order a run writes them: each epoch's
        alpha records, then that epoch's record."""
        out = []
        alphas = sorted(self.alpha, key=lambda r: (r["epoch"], r.get("step", 0)))
        i = 0
        for record in self.epochs:
            while i < len(alphas) and alphas[i]["epoch"] <= record["epoch"]:
                out.append({"kind": "alpha", **alphas[i]})
                i += 1
            out.append({"kind": "epoch", **record})
        out += [{"kind": "alpha", **r} for r in alphas[i:]]
        return out

    def rewrite(self) -> None:
        """Make the file hold exactly the in-memory records, in run order (used on resume)."""
        if self.path is None:
            return
        lines = [json.dumps(obj, default=float) for obj in self.records()]
        atomic_write_text(self.path, "".join(line + "\n" for line in lines))

    def state_dict(self) -> dict[str, Any]:
        return {"epochs": list(self.epochs), "alpha": list(self.alpha)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epochs = list(state["epochs"])
        self.alpha = list(state["alpha"])

    @classmethod
    def load(cls, path: Path) -> History:
        """Read a ``history.jsonl`` written by a search (for plots and replay):
        :func:`gibbsnas_lite.runs.read_history`'s records, sorted by kind."""
        history = cls(None)
        for obj in read_history(path, what="search"):
            kind = obj.pop("kind", None)
            if kind == "epoch":
                history.epochs.append(obj)
            elif kind == "alpha":
                history.alpha.append(obj)
        return history
