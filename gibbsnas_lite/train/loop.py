"""The training loop of the evaluation network (:func:`train_network`): data, network,
checkpoints after every epoch, resume, the result (:class:`TrainResult`); the protocol and
its config are in :mod:`.config`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data import Augment, DeviceLoader, load_dataset
from ..runs import (
    CHECKPOINT,
    HISTORY,
    SUMMARY,
    NonFiniteLossError,
    atomic_torch_save,
    atomic_write_text,
    capture_rng,
    open_run,
    read_checkpoint_file,
    restore_rng,
    resume_error,
    seed_everything,
)
from ..runs import (
    progress as progress_bar,
)
from ..spaces.darts.genotypes import (
    format_genotype,
)
from ..spaces.darts.model import NetworkCIFAR, NetworkImageNet, count_parameters
from .config import TrainConfig, drop_path_at, parse_genotype_arg

CHECKPOINT_KIND = "gibbsnas-lite train"


# ------------------------------------------------------------------------------- network and data
def build_network(config: TrainConfig, num_classes: int = 10, in_channels: int = 3) -> nn.Module:
    """The evaluation network of ``config.genotype`` (``NetworkCIFAR`` or ``NetworkImageNet``)."""
    genotype = parse_genotype_arg(config.genotype)
    cls = NetworkCIFAR if config.network == "cifar" else NetworkImageNet
    return cls(
        C=config.channels,
        num_classes=num_classes,
        layers=config.layers,
        auxiliary=config.auxiliary,
        genotype=genotype,
        in_channels=in_channels,
    )


@dataclass
class _Data:
    train: DeviceLoader
    test: DeviceLoader
    num_classes: int
    in_channels: int
    steps_per_epoch: int
    sizes: tuple[int, int]


def _build_data(config: TrainConfig, device: torch.device) -> _Data:
    options: dict[str, Any] = {}
    if config.dataset == "synthetic":
        options = dict(
            num_train=max(config.train_limit or 1024, 64),
            num_test=max(config.test_limit or 512, 64),
            size=32,
            seed=config.seed,
        )
    elif config.dataset == "fashion-mnist":
        options = dict(pad_to_32=True)
    train, test = load_dataset(config.dataset, config.data_root, config.download, **options)
    if config.train_limit:
        train = train.subset(range(min(config.train_limit, len(train))))
    if config.test_limit:
        test = test.subset(range(min(config.test_limit, len(test))))
    base = train.augment
    augment = Augment(crop_padding=base.crop_padding, flip=base.flip, cutout=config.cutout)
    batch = min(config.batch_size, len(train))
    train_loader = DeviceLoader(train, batch, device=device, seed=config.seed, augment=augment, drop_last=True)
    test_loader = DeviceLoader(test, config.test_batch_size, device=device, shuffle=False, augment=False)
    steps = len(train_loader)
    if config.max_steps_per_epoch:
        steps = min(steps, int(config.max_steps_per_epoch))
    return _Data(
        train_loader, test_loader, train.num_classes, int(train.images.shape[1]), steps, (len(train), len(test))
    )


def _objective(
    logits: torch.Tensor, logits_aux: torch.Tensor | None, targets: torch.Tensor, auxiliary_weight: float
) -> torch.Tensor:
    """DARTS's training loss: cross-entropy plus ``auxiliary_weight`` x the auxiliary head's."""
    loss = F.cross_entropy(logits, targets)
    if logits_aux is not None and auxiliary_weight:
        loss = loss + auxiliary_weight * F.cross_entropy(logits_aux, targets)
    return loss


@torch.no_grad()
def evaluate(model: nn.Module, loader: DeviceLoader) -> tuple[float, float]:
    """(mean loss, top-1 accuracy in %) of ``model`` on one pass of ``loader``."""
    was_training = model.training
    model.eval()
    total_loss, correct, n = 0.0, 0, 0
    for x, y in loader:
        logits, _ = model(x)
        total_loss += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(1) == y).sum())
        n += int(y.numel())
    model.train(was_training)
    return total_loss / max(1, n), 100.0 * correct / max(1, n)


# ------------------------------------------------------------------------------- result
@dataclass
class TrainResult:
    config: TrainConfig
    genotype: str
    params: int  # without the auxiliary head, as DARTS counts
    history: list[dict[str, Any]]
    out_dir: Path | None
    seconds: float = 0.0
    stopped_early: bool = False
    model: Any = None

    @property
    def params_m(self) -> float:
        return self.params / 1e6

    @property
    def test_acc(self) -> float | None:
        """Test accuracy (%) after the last finished epoch (None before any test)."""
        tested = [r["test_acc"] for r in self.history if r.get("test_acc") is not None]
        return tested[-1] if tested else None

    @property
    def train_loss(self) -> list[float]:
        return [r["train_loss"] for r in self.history]

    @property
    def train_acc(self) -> list[float]:
        return [r["train_acc"] for r in self.history]

    def summary(self) -> dict[str, Any]:
        return {
            "genotype": self.genotype,
            "dataset": self.config.dataset,
            "profile": self.config.profile,
            "seed": self.config.seed,
            "params": self.params,
            "params_m": round(self.params_m, 6),
            "epochs_done": len(self.history),
            "test_acc": self.test_acc,
            "test_error": None if self.test_acc is None else round(100.0 - self.test_acc, 4),
            "stopped_early": self.stopped_early,
            "seconds": round(self.seconds, 3),
            "history": self.history,
            "config": self.config.to_dict(),
        }


# ------------------------------------------------------------------------------- checkpoints
def load_train_checkpoint(path: str | Path, map_location=None) -> dict[str, Any]:
    """The payload of a training run's checkpoint (``path``: the run folder or the file)."""
    path, payload = read_checkpoint_file(path, map_location, made_by="`gibbsnas-lite train`")
    if not isinstance(payload, dict) or payload.get("kind") != CHECKPOINT_KIND:
        raise ValueError(
            f"{path} is not a gibbsnas-lite training checkpoint (a search run folder? "
            "train its genotype with --genotype DIR instead of --resume DIR)"
        )
    return payload


def _write_history(out_dir: Path, history: list[dict[str, Any]]) -> None:
    atomic_write_text(out_dir / HISTORY, "".join(json.dumps(r, default=float) + "\n" for r in history))


# ------------------------------------------------------------------------------- the loop
Callback = Callable[[dict[str, Any]], Any]


def train_network(
    config: TrainConfig | None = None,
    out_dir: str | Path | None = None,
    resume: str | Path | None = None,
    callback: Callback | None = None,
    progress: bool = False,
    echo: Callable[[str], Any] | None = None,
) -> TrainResult:
    """Train the evaluation network of ``config.genotype`` (or resume the run in ``resume``).

    ``out_dir`` gets checkpoint.pt (atomically, after every epoch), history.jsonl, summary.json.
    ``resume=DIR`` continues from DIR's checkpoint with its saved config; a ``config`` given with
    it only contributes its ``device``. ``callback(record)`` is called after every epoch with
    that epoch's record; returning ``"stop"`` stops there (the checkpoint is already written).
    A NaN/Inf loss raises :class:`NonFiniteLossError`; the last checkpoint stays as it was.
    """
    start_time = time.perf_counter()
    config, out_dir, ckpt, device = open_run(
        config,
        out_dir,
        resume,
        load_checkpoint=load_train_checkpoint,
        config_class=TrainConfig,
        needs="train_network needs a config (gibbsnas_lite.train.make_train_config)",
    )
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as DARTS's train.py: fixed input sizes

    seed_everything(config.seed)
    data = _build_data(config, device)
    model = build_network(config, data.num_classes, data.in_channels).to(device)
    params = count_parameters(model)
    optimizer = torch.optim.SGD(
        model.parameters(), config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs, eta_min=config.lr_min)
    history: list[dict[str, Any]] = []
    start_epoch = 0
    if ckpt is not None:
        try:
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            scheduler.load_state_dict(ckpt["scheduler"])
            data.train.load_state_dict(ckpt["data"])
            restore_rng(ckpt["rng"])
        except (RuntimeError, KeyError, TypeError, ValueError) as err:
            raise resume_error(out_dir, ckpt, device, err) from None
        history = list(ckpt["history"])
        start_epoch = int(ckpt["epoch"]) + 1
    if out_dir is not None:
        _write_history(out_dir, history)  # a killed epoch's records never survive

    say = echo or (lambda _msg: None)
    genotype_text = format_genotype(parse_genotype_arg(config.genotype))
    stopped = False
    bar = progress_bar(
        progress,
        total=config.epochs * data.steps_per_epoch,
        initial=start_epoch * data.steps_per_epoch,
        desc=f"train {config.dataset}",
        unit="step",
        leave=False,
    )
    model.train()
    try:
        for epoch in range(start_epoch, config.epochs):
            epoch_start = time.perf_counter()
            model.train()
            model.drop_path_prob = drop_path_at(config, epoch)
            lr = optimizer.param_groups[0]["lr"]
            loss_sum, correct, seen = 0.0, 0, 0
            for step in range(data.steps_per_epoch):
                x, y = data.train.next_batch()
                optimizer.zero_grad(set_to_none=True)
                logits, logits_aux = model(x)
                loss = _objective(logits, logits_aux, y, config.auxiliary_weight)
                if not torch.isfinite(loss.detach()).all():
                    kept = (
                        f"the last good checkpoint ({out_dir / CHECKPOINT}, after epoch {epoch}) is left as it was"
                        if out_dir is not None and epoch > 0
                        else "no checkpoint was written"
                    )
                    raise NonFiniteLossError(
                        f"non-finite training loss ({loss.item()}) at epoch {epoch + 1}, step {step + 1}; "
                        f"{kept}. Lower the learning rate (--lr), keep gradient clipping on, or check the data."
                    )
                loss.backward()
                if config.grad_clip and config.grad_clip > 0:
                    nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
                optimizer.step()
                n = int(y.numel())
                loss_sum += float(loss.detach()) * n
                correct += int((logits.detach().argmax(1) == y).sum())
                seen += n
                bar.update(1)
            scheduler.step()
            record: dict[str, Any] = {
                "epoch": epoch,
                "lr": lr,
                "drop_path_prob": model.drop_path_prob,
                "train_loss": loss_sum / max(1, seen),
                "train_acc": 100.0 * correct / max(1, seen),
                "test_loss": None,
                "test_acc": None,
            }
            if (epoch + 1) % config.eval_every == 0 or epoch + 1 == config.epochs:
                record["test_loss"], record["test_acc"] = evaluate(model, data.test)
            record["seconds"] = time.perf_counter() - epoch_start
            history.append(record)
            if out_dir is not None:
                atomic_torch_save(
                    out_dir / CHECKPOINT,
                    {
                        "kind": CHECKPOINT_KIND,
                        "config": config.to_dict(),
                        "epoch": epoch,
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "data": data.train.state_dict(),
                        "history": history,
                        "rng": capture_rng(),
                        "genotype": genotype_text,
                        "params": params,
                        "device": device.type,
                    },
                )
                _write_history(out_dir, history)
            say(_epoch_line(config, record))
            if callback is not None and callback(dict(record)) == "stop":
                stopped = True
                break
    finally:  # NonFiniteLossError and any other error propagate; the last checkpoint stays as it was
        bar.close()

    result = TrainResult(
        config, genotype_text, params, history, out_dir, time.perf_counter() - start_time, stopped, model
    )
    if out_dir is not None:
        atomic_write_text(out_dir / SUMMARY, json.dumps(result.summary(), indent=2, default=float))
    return result


def _epoch_line(config: TrainConfig, record: dict[str, Any]) -> str:
    parts = [
        f"epoch {record['epoch'] + 1}/{config.epochs}",
        f"lr {record['lr']:.5f}",
        f"drop_path {record['drop_path_prob']:.3f}",
        f"train_loss {record['train_loss']:.4f}",
        f"train_acc {record['train_acc']:.2f}",
    ]
    if record.get("test_acc") is not None:
        parts.append(f"test_acc {record['test_acc']:.2f}")
    parts.append(f"{record['seconds']:.1f}s")
    return " | ".join(parts)
