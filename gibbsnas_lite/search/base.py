"""What every search strategy shares: the step interface, the loss, and the NaN guard.

A strategy owns the optimizers (or samplers) of one search method and performs one search
step on a search-train batch (omega) and a search-valid batch (alpha). The loop
(:mod:`gibbsnas_lite.search.loop`) owns data, epochs, history and checkpoints, so every
strategy runs under the same budget, data and bookkeeping.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
import torch.nn.functional as F


class NonFiniteLossError(ValueError):
    """The loss became NaN/Inf; the run stops and the last good checkpoint is kept."""


def logits_of(output: Any) -> torch.Tensor:
    """Supernets may return ``(features, logits)`` like the benchmark's code; take the logits."""
    return output[-1] if isinstance(output, (tuple, list)) else output


def check_finite(loss: torch.Tensor, where: str) -> None:
    if not torch.isfinite(loss.detach()).all():
        raise NonFiniteLossError(
            f"non-finite loss ({loss.item()}) at {where}; lower the learning rate (--w-lr/--a-lr), "
            "raise the warm-up, or check the data; the last good checkpoint is left as it was"
        )


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Top-1 accuracy; ``targets`` are class indices (B) or class probabilities (B x classes).

    Probability targets (e.g. a teacher's softmax) work everywhere in the search, since
    ``F.cross_entropy`` accepts them too; their argmax is the class counted here.
    """
    if targets.dim() == logits.dim():
        targets = targets.argmax(dim=1)
    return (logits.argmax(dim=1) == targets).float().mean().item()


class Strategy:
    """Base class: one search method's optimizers and its step.

    Subclasses implement :meth:`step`, and use :meth:`forward_loss` for every loss so the
    autocast policy and the NaN guard apply everywhere.
    """

    name = "base"
    uses_alpha = True  # RSPS has no architecture weights

    def __init__(self, model: torch.nn.Module, config, steps_per_epoch: int, search_sizes: tuple[int, int]):
        self.model = model
        self.config = config
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.train_size, self.valid_size = search_sizes
        self.device = next(model.parameters()).device
        # one search-valid batch in dataset order, set by the loop (RSPS scores candidates on it)
        self.fixed_valid_batch = None
        self.generator = torch.Generator(device="cpu")
        self.generator.manual_seed(int(config.seed) + 7919)

    # --- the step ------------------------------------------------------------------
    def step(self, train_batch, valid_batch, epoch: int, step: int) -> dict[str, float]:
        raise NotImplementedError

    def end_epoch(self, epoch: int) -> None:
        """Called after each epoch (learning-rate schedules)."""

    def forward_loss(self, x, y, where: str, **forward_kwargs):
        use_amp = bool(self.config.amp) and x.is_cuda
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=use_amp):
            logits = logits_of(self.model(x, **forward_kwargs))
        if logits.dtype in (torch.float16, torch.bfloat16):  # autocast: the loss in float32
            logits = logits.float()
        loss = F.cross_entropy(logits, y)
        check_finite(loss, where)
        return loss, logits

    def clip_weights_grad(self) -> None:
        if self.config.grad_clip and self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.weight_parameters(), self.config.grad_clip)

    # --- what the loop records ------------------------------------------------------
    def derive(self) -> str:
        """The architecture this strategy would return now (NB201 arch string or genotype)."""
        genotype = self.model.genotype()
        if isinstance(genotype, str):
            return genotype
        from ..spaces.darts.genotypes import format_genotype

        return format_genotype(genotype)

    def alpha_state(self) -> dict[str, Any]:
        """alpha, softmax probabilities and (when the method has one) a per-entry std."""
        if not self.uses_alpha:
            return {}
        alphas = [a.detach().float().cpu() for a in self.model.arch_parameters()]
        return {
            "alpha": [a.tolist() for a in alphas],
            "probs": [torch.softmax(a, dim=-1).tolist() for a in alphas],
            "std": None,
        }

    def drive_report(self) -> dict[str, Any]:
        """What moved alpha, data or noise (:mod:`gibbsnas_lite.search.drive`); {} without a sampler."""
        return {}

    # --- resume ---------------------------------------------------------------------
    def optimizers(self) -> dict[str, Any]:
        """Named objects with state_dict()/load_state_dict() (optimizers, schedulers)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        state = {name: obj.state_dict() for name, obj in self.optimizers().items()}
        state["generator"] = self.generator.get_state()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, obj in self.optimizers().items():
            obj.load_state_dict(state[name])
        self.generator.set_state(state["generator"])


def cosine_lr(optimizer, epochs: int, eta_min: float):
    return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, epochs), eta_min=eta_min)


def weights_sgd(model: torch.nn.Module, config):
    """(optimizer, schedule) of omega as DARTS trains it: SGD at ``w_lr`` with momentum ``w_momentum``
    (Nesterov when > 0) and weight decay ``w_weight_decay``, cosine to ``w_lr_min`` over the epochs."""
    c = config
    optimizer = torch.optim.SGD(
        model.weight_parameters(),
        lr=c.w_lr,
        momentum=c.w_momentum,
        weight_decay=c.w_weight_decay,
        nesterov=c.w_momentum > 0,
    )
    return optimizer, cosine_lr(optimizer, c.epochs, c.w_lr_min)


def advance_schedules(*schedulers) -> None:
    """Step per-epoch learning-rate schedules at the end of an epoch.

    torch warns "Detected call of ``lr_scheduler.step()`` before ``optimizer.step()``" at a
    schedule's first step when its optimizer has not stepped yet: the symptom of a per-step
    schedule called before the optimizer. Here every schedule is per epoch and must advance
    even when its block did not move in that epoch: GibbsNAS's alpha during
    ``alpha_warmup_epochs``, or while its gradient accumulates over more batches than the
    first epoch has (``alpha_accum`` > steps per epoch); the call order within a step is
    optimizer first everywhere. So that one message is a false alarm and is not shown (torch
    checks only at a schedule's first step, ``last_epoch == 0``, so only that step is wrapped:
    ``catch_warnings`` swaps process-wide state); the schedules' values are the same either way.
    """
    for scheduler in schedulers:
        if scheduler.last_epoch != 0:
            scheduler.step()
            continue
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before", category=UserWarning
            )
            scheduler.step()


class SgdAdamStrategy(Strategy):
    """omega by SGD with a cosine schedule (:func:`weights_sgd`), alpha by Adam at ``a_lr`` with
    betas (0.5, 0.999) and weight decay ``a_weight_decay``: the optimizers of NAS-Bench-201's
    DARTS and GDAS configs (sources in :mod:`gibbsnas_lite.search.config`), shared by
    DARTS-V1/V2 and GDAS. Subclasses write :meth:`step`."""

    def __init__(self, model, config, steps_per_epoch, search_sizes):
        super().__init__(model, config, steps_per_epoch, search_sizes)
        self.w_optimizer, self.w_scheduler = weights_sgd(model, config)
        self.a_optimizer = torch.optim.Adam(
            model.arch_parameters(), lr=config.a_lr, betas=(0.5, 0.999), weight_decay=config.a_weight_decay
        )

    def optimizers(self):
        return {"w_optimizer": self.w_optimizer, "w_scheduler": self.w_scheduler, "a_optimizer": self.a_optimizer}

    def end_epoch(self, epoch):
        advance_schedules(self.w_scheduler)


def finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
