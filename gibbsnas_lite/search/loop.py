"""The search loop shared by every strategy (Algorithm 1's outer loop, and the baselines').

Per epoch: ``steps_per_epoch`` steps, each on one search-train batch (omega) and one
search-valid batch (alpha); alpha recorded every ``alpha_every`` steps; at the epoch's end
the learning-rate schedules step, the architecture is derived (and looked up in the
NAS-Bench-201 table), the history grows by one record and a checkpoint is written
atomically. ``resume`` continues a killed run from its last checkpoint and, on CPU with the
same seed and the same number of threads (float reductions are ordered by thread), reaches
bit-for-bit the result of the uninterrupted run, also from another process.

Stopping: a callback that returns ``"stop"`` (or raises :class:`StopSearch`) at an ``epoch``
event stops after that epoch's checkpoint; at an ``alpha`` event (mid-epoch) it stops at
once and the unfinished epoch is dropped, like a killed run: the checkpoint stays the last
completed epoch's, and ``resume`` redoes the epoch (its alpha records in ``history.jsonl``
are rewritten away). The returned result then holds the mid-epoch model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..runs import (
    CHECKPOINT,
    HISTORY,
    SUMMARY,
    atomic_torch_save,
    atomic_write_text,
    capture_rng,
    open_run,
    restore_rng,
    resume_error,
    seed_everything,
)
from ..runs import (
    progress as progress_bar,
)
from ..spaces import registry as spaces
from . import registry
from .checkpoint import load_checkpoint
from .config import SearchConfig
from .history import History

Callback = Callable[[dict[str, Any]], Any]


class StopSearch(Exception):
    """Raise from a callback (or return ``"stop"``) to stop; the last checkpoint is a clean one."""


@dataclass
class SearchResult:
    config: SearchConfig
    arch: str
    history: History
    out_dir: Path | None
    benchmark: dict[str, float] = field(default_factory=dict)
    stopped_early: bool = False
    seconds: float = 0.0
    strategy: Any = None
    model: Any = None
    data: dict[str, Any] = field(default_factory=dict)  # the search data's identity (search/data.py)

    def summary(self) -> dict[str, Any]:
        last = self.history.epochs[-1] if self.history.epochs else {}
        return {
            "strategy": self.config.strategy,
            "space": self.config.space,
            "dataset": self.config.dataset,
            "profile": self.config.profile,
            "seed": self.config.seed,
            "arch": self.arch,
            "benchmark": self.benchmark,
            "epochs_done": len(self.history.epochs),
            "stopped_early": self.stopped_early,
            "seconds": round(self.seconds, 3),
            "final": {k: v for k, v in last.items() if k not in ("alpha", "probs", "std", "drive")},
            "drive": last.get("drive", {}),
            "data": self.data,
            "config": self.config.to_dict(),
        }


def build_model(config: SearchConfig, num_classes: int, in_channels: int) -> torch.nn.Module:
    """The supernet of ``config.space`` (:mod:`gibbsnas_lite.spaces.registry`)."""
    return spaces.get(config.space).build_supernet(config, num_classes, in_channels)


def build_strategy(config: SearchConfig, model, steps_per_epoch: int, sizes: tuple[int, int]):
    """The strategy object of ``config.strategy`` (:mod:`gibbsnas_lite.search.registry`)."""
    return registry.build(config, model, steps_per_epoch, sizes)


def benchmark_accuracies(config: SearchConfig, arch: str) -> dict[str, float]:
    """The space's benchmark accuracies of a derived arch string (NAS-Bench-201's for nb201; empty
    for a space without a benchmark, such as DARTS)."""
    return spaces.get(config.space).benchmark_accuracies(arch)


def run_search(
    config: SearchConfig | None = None,
    out_dir: str | Path | None = None,
    resume: str | Path | None = None,
    callback: Callback | None = None,
    progress: bool = False,
    echo: Callable[[str], Any] | None = None,
) -> SearchResult:
    """Run (or resume) one search. ``out_dir`` gets checkpoint.pt, history.jsonl, summary.json.

    ``resume=DIR`` continues the run saved in DIR with its saved config; a ``config`` given
    with it only contributes its ``device`` (the kind of device the checkpoint was written on;
    another machine of that kind is fine, and CPU continues bit for bit).
    """
    from .data import build_search_data

    start_time = time.perf_counter()
    config, out_dir, ckpt, device = open_run(
        config,
        out_dir,
        resume,
        load_checkpoint=load_checkpoint,
        config_class=SearchConfig,
        needs="run_search needs a config (gibbsnas_lite.search.make_config)",
    )

    seed_everything(config.seed)
    data = build_search_data(config, device)
    model = build_model(config, data.num_classes, data.in_channels).to(device)
    if config.channels_last:  # the cpu profiles' default (config.py): the layout the loaders' batches come in
        model = model.to(memory_format=torch.channels_last)
    strategy = build_strategy(config, model, data.steps_per_epoch, data.sizes)
    strategy.fixed_valid_batch = data.fixed_valid_batch()
    history = History(out_dir / HISTORY if out_dir is not None else None)
    start_epoch = 0
    if ckpt is not None:
        try:
            model.load_state_dict(ckpt["model"])
            strategy.load_state_dict(ckpt["strategy"])
            data.load_state_dict(ckpt["data"])
            history.load_state_dict(ckpt["history"])
            restore_rng(ckpt["rng"])
        except (RuntimeError, KeyError, TypeError) as err:
            raise resume_error(out_dir, ckpt, device, err) from None
        start_epoch = ckpt["epoch"] + 1
        history.rewrite()
    elif out_dir is not None and (out_dir / HISTORY).exists():
        (out_dir / HISTORY).unlink()

    say = echo or (lambda _msg: None)
    stopped = False
    arch = history.epochs[-1]["arch"] if history.epochs else strategy.derive()
    bar = progress_bar(
        progress,
        total=config.epochs * data.steps_per_epoch,
        initial=start_epoch * data.steps_per_epoch,
        desc=f"{config.strategy} {config.space}/{config.dataset}",
        unit="step",
        leave=False,
    )
    try:
        for epoch in range(start_epoch, config.epochs):
            model.train()
            epoch_start = time.perf_counter()
            sums: dict[str, Any] = {}
            for step, (train_batch, valid_batch) in enumerate(data.epoch_batches(epoch)):
                metrics = strategy.step(train_batch, valid_batch, epoch, step)
                for key, value in metrics.items():  # on the device: read once, after the epoch
                    sums[key] = sums.get(key, 0.0) + _float64(value)
                global_step = epoch * data.steps_per_epoch + step
                bar.update(1)
                if strategy.uses_alpha and (global_step + 1) % config.alpha_every == 0:
                    record = {"epoch": epoch, "step": global_step, **strategy.alpha_state()}
                    history.log_alpha(record)
                    if callback is not None and _notify(
                        callback, {"kind": "alpha", "metrics": _host(metrics), **record}
                    ):
                        raise StopSearch  # mid-epoch: drop the unfinished epoch (module docstring)
            # The epoch's NaN/Inf check (one host sync): a non-finite loss stops the search here,
            # before the epoch is recorded or its checkpoint written (the last good one stays).
            strategy.check_finite(epoch)
            sums = _host(sums)  # the epoch's metric sums, read in one sync
            strategy.end_epoch(epoch)
            n = max(1, data.steps_per_epoch)
            arch = strategy.derive()
            record = {
                "epoch": epoch,
                **{k: v / n for k, v in sums.items()},
                "arch": arch,
                "benchmark": benchmark_accuracies(config, arch),
                "seconds": time.perf_counter() - epoch_start,
                "drive": strategy.drive_report(),
                **strategy.alpha_state(),
            }
            history.log_epoch(record)
            if out_dir is not None:
                atomic_torch_save(
                    out_dir / CHECKPOINT,
                    {
                        "config": config.to_dict(),
                        "epoch": epoch,
                        "model": model.state_dict(),
                        "strategy": strategy.state_dict(),
                        "data": data.state_dict(),
                        "history": history.state_dict(),
                        "rng": capture_rng(),
                        "arch": arch,
                        "device": device.type,
                    },
                )
            say(_epoch_line(config, record))
            if _notify(callback, {"kind": "epoch", **record}):
                stopped = True
                break
    except StopSearch:
        stopped = True
    finally:  # NonFiniteLossError and any other error propagate; the last checkpoint stays as it was
        bar.close()

    result = SearchResult(
        config,
        arch,
        history,
        out_dir,
        benchmark_accuracies(config, arch),
        stopped,
        time.perf_counter() - start_time,
        strategy,
        model,
        data.describe(),
    )
    if out_dir is not None:
        atomic_write_text(out_dir / SUMMARY, json.dumps(result.summary(), indent=2, default=float))
    return result


def _float64(value: Any) -> Any:
    """A step metric for the epoch's sums: a device tensor in float64 (the same sums as Python
    floats would give, float64 additions in the same order), or the Python number it is."""
    return value.detach().to(torch.float64) if isinstance(value, torch.Tensor) else value


def _host(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` with its tensors read into Python floats, all in one host sync."""
    keys = [k for k, v in values.items() if isinstance(v, torch.Tensor)]
    if not keys:
        return dict(values)
    read = torch.stack([values[k].detach().to(torch.float64) for k in keys]).tolist()
    return {**values, **dict(zip(keys, read))}


def _notify(callback: Callback | None, event: dict[str, Any]) -> bool:
    if callback is None:
        return False
    return callback(event) == "stop"


def _epoch_line(config: SearchConfig, record: dict[str, Any]) -> str:
    parts = [f"epoch {record['epoch'] + 1}/{config.epochs}"]
    for key in ("train_loss", "train_acc", "valid_loss", "valid_acc"):
        if key in record:
            parts.append(f"{key} {record[key]:.4f}")
    parts.append(f"arch {record['arch']}")
    if "cifar10_test" in (record.get("benchmark") or {}):
        parts.append(f"{config.space} cifar10 test {record['benchmark']['cifar10_test']:.2f}")
    parts.append(f"{record['seconds']:.1f}s")
    return " | ".join(parts)
