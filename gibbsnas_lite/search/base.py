"""What every search strategy shares: the step interface, the loss, and the NaN guard.

A strategy owns the optimizers (or samplers) of one search method and performs one search
step on a search-train batch (omega) and a search-valid batch (alpha). The loop
(:mod:`gibbsnas_lite.search.loop`) owns data, epochs, history and checkpoints, so every
strategy runs under the same budget, data and bookkeeping.

No host syncs in a step: on a GPU a search step is host-bound (thousands of small kernels),
and every read of a device value on the host (``.item()``, ``float(t)``, ``bool(t)``,
``.tolist()``) or blocking upload makes the host wait for the device to drain its queue. So a
step returns its metrics as device tensors (the loop sums them on the device and reads the
sums once per epoch), losses are kept for one NaN/Inf check per epoch
(:meth:`Strategy.check_finite`), and the random numbers a strategy draws on the host (its CPU
generator keeps a seeded run's numbers the same on every device) are drawn a block of steps
at a time and uploaded at once (:class:`BlockDraws`). tests/test_host_syncs.py pins the count.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ..runs import NonFiniteLossError  # noqa: F401 - its home before issue 21, re-exported for one version
from ..samplers import NonFiniteWatch

#: a strategy driven without the loop's epoch check (e.g. a script calling ``step()``) checks its
#: NaN/Inf record after this many noted values, so the values kept for the check stay bounded
WATCH_LIMIT = 1 << 16


def logits_of(output: Any) -> torch.Tensor:
    """Supernets may return ``(features, logits)`` like the benchmark's code; take the logits."""
    return output[-1] if isinstance(output, (tuple, list)) else output


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Top-1 accuracy, a 0-dim float32 tensor on the logits' device (no host sync; ``float()`` it
    to read it); ``targets`` are class indices (B) or class probabilities (B x classes).

    Probability targets (e.g. a teacher's softmax) work everywhere in the search, since
    ``F.cross_entropy`` accepts them too; their argmax is the class counted here.
    """
    if targets.dim() == logits.dim():
        targets = targets.argmax(dim=1)
    return (logits.argmax(dim=1) == targets).float().mean()


class BlockDraws:
    """A strategy's host-side random draws, made ``block`` steps at a time: ``next()`` gives one step's.

    Why: a strategy draws from a CPU generator so that a seeded run has the same numbers on
    every device, but a draw made on the host at every step must be copied to the device at
    every step, and on CUDA a copy from pageable host memory waits for the device. Drawing a
    block of steps at once gives the same numbers (a CPU generator's stream is sequential:
    one draw of n x k numbers is n draws of k) with one copy per block. ``draw(generator, n)``
    draws n steps' worth, indexable by step (a device tensor with one row per step, or a list).

    The loop runs ``steps_per_epoch`` steps per epoch and checkpoints at epoch ends, so with
    ``block = steps_per_epoch`` a block is drawn at each epoch's first step and is used up
    when the checkpoint saves the generator: its state is the one drawing step by step gives.
    A state saved mid-block (:meth:`state_dict`) holds the generator's state from before the
    block and the steps used, and :meth:`load_state_dict` draws the block again.
    """

    def __init__(self, generator: torch.Generator, draw: Callable[[torch.Generator, int], Any], block: int):
        self.generator, self.draw, self.block = generator, draw, max(1, int(block))
        self._rows: Any = None
        self._used = 0
        self._start: torch.Tensor | None = None  # the generator's state before the block

    def next(self) -> Any:
        if self._rows is None or self._used == self.block:
            self._start = self.generator.get_state()
            self._rows, self._used = self.draw(self.generator, self.block), 0
        self._used += 1
        return self._rows[self._used - 1]

    def state_dict(self) -> dict[str, Any]:
        if self._rows is None or self._used == self.block:
            return {"used": 0}
        return {"used": self._used, "start": self._start}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        self._rows, self._used = None, 0
        if state and state["used"]:
            self.generator.set_state(state["start"])
            self.next()
            self._used = int(state["used"])


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
        # the losses (and the omega sampler's gradient norms), kept for the epoch's NaN/Inf check
        self.watch = NonFiniteWatch()
        # the generator's draws, a block of steps ahead (GDAS, RSPS); saved with the generator
        self.draws: BlockDraws | None = None

    # --- the step ------------------------------------------------------------------
    def step(self, train_batch, valid_batch, epoch: int, step: int) -> dict[str, torch.Tensor | float]:
        """One search step; returns its metrics (losses, accuracies) as 0-dim device tensors
        (or Python numbers), which the loop sums on the device and reads once per epoch."""
        raise NotImplementedError

    def end_epoch(self, epoch: int) -> None:
        """Called after each epoch (learning-rate schedules)."""

    def forward_loss(self, x, y, where: str, **forward_kwargs):
        """The loss on (x, y) and the logits; the loss is noted in :attr:`watch` under ``where``
        (no host sync: :meth:`check_finite` reads the losses noted, once per epoch in the loop)."""
        use_amp = bool(self.config.amp) and x.is_cuda
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=use_amp):
            logits = logits_of(self.model(x, **forward_kwargs))
        if logits.dtype in (torch.float16, torch.bfloat16):  # autocast: the loss in float32
            logits = logits.float()
        loss = F.cross_entropy(logits, y)
        if self.watch.pending >= WATCH_LIMIT:  # only when nobody reads it (no loop): keep it bounded
            self.check_finite()
        self.watch.context = where
        self.watch.note(loss, "loss")
        return loss, logits

    def check_finite(self, epoch: int | None = None) -> None:
        """Raise :class:`NonFiniteLossError` naming the first NaN/Inf loss (or sampler gradient)
        since the last check, with its step; one host sync. The loop calls it at each epoch's
        end, before anything of the epoch is recorded or saved."""
        found = self.watch.first()
        if found is None:
            return
        where, what, value = found
        when = "" if epoch is None else f" (found at the end of epoch {epoch}, before its checkpoint)"
        raise NonFiniteLossError(
            f"non-finite {what} ({value}) at {where}{when}; lower the learning rate (--w-lr/--a-lr), "
            "raise the warm-up, or check the data; the last good checkpoint is left as it was"
        )

    def backward_weights(self, loss: torch.Tensor) -> None:
        """``loss.backward()`` for the network weights only (into their ``.grad``, accumulating).

        Why: ``loss.backward()`` also differentiates through alpha (DARTS's mixing weights or
        GDAS's Gumbel weights) and leaves a gradient there that an omega step throws away:
        about 1,500 of DARTS-V1's 6,900 ops per step at C=16, N=5. The weights' gradients are
        the same numbers (the same graph, pruned of the alpha branches).
        """
        weights = [w for w in self.model.weight_parameters() if w.requires_grad]
        grads = torch.autograd.grad(loss, weights, allow_unused=True)
        for w, g in zip(weights, grads):
            if g is not None:
                w.grad = g if w.grad is None else w.grad + g

    def clip_weights_grad(self) -> None:
        if self.config.grad_clip and self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.weight_parameters(), self.config.grad_clip)

    # --- what the loop records ------------------------------------------------------
    def derive(self) -> str:
        """The architecture this strategy would return now: the supernet's arch string (an NB201
        arch string, a DARTS genotype's one-line form)."""
        return self.model.arch_string()

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
        if self.draws is not None:  # a block drawn ahead of the steps (its docstring)
            state["draws"] = self.draws.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name, obj in self.optimizers().items():
            obj.load_state_dict(state[name])
        self.generator.set_state(state["generator"])
        if self.draws is not None:
            self.draws.load_state_dict(state.get("draws"))


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
