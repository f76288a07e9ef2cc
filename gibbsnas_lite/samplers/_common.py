"""What both samplers share: argument checks, the warm-up schedule, noise clipping, gradient checks,
and :class:`NonFiniteWatch`, the deferred (sync-free) form of those checks that a search uses."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

MODES = ("sample", "mean")
# where curvature pairs come from: consecutive steps (and closures), or closures only
PAIR_SOURCES = ("step", "closure")
# the covariance of a draw: (T/N) H as Eq. 15/16 print it, or eta(2 - eta) (T/N) H (noise_variance_factor)
NOISES = ("eq16", "calibrated")


def check_at_least(owner: str, name: str, value, low: float, *, strict: bool = False) -> None:
    """Raise ``ValueError`` unless ``value >= low`` (``> low`` when ``strict``); NaN fails too."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (number and (value > low if strict else value >= low)):
        bound = f"> {low}" if strict else f">= {low}"
        raise ValueError(f"{owner}: {name} must be a number {bound}, got {value!r}")


def check_choice(owner: str, name: str, value, allowed: Sequence[str]) -> None:
    if value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{owner}: {name} must be one of {choices}, got {value!r}")


def check_count(owner: str, name: str, value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{owner}: {name} must be an int >= 0, got {value!r}")


def check_clipping(owner: str, clip_std, clip_ratio) -> None:
    if clip_std is not None:
        check_at_least(owner, "clip_std", clip_std, 0.0, strict=True)
    if clip_ratio is not None:
        check_at_least(owner, "clip_ratio", clip_ratio, 0.0)


def check_group(owner: str, group: dict) -> None:
    """The per-group numbers (a scheduler may change them later; they are checked again at each step)."""
    check_at_least(owner, "lr", group["lr"], 0.0)
    check_at_least(owner, "weight_decay", group["weight_decay"], 0.0)
    check_at_least(owner, "temperature", group["temperature"], 0.0)


def check_sampler_args(
    owner: str, defaults: dict, *, data_size, mode, pairs, warmup_steps, ramp_steps, clip_std, clip_ratio
) -> None:
    """The checks both samplers' constructors make: the group numbers (lr, weight_decay,
    temperature), ``data_size > 0``, ``mode`` in :data:`MODES`, ``pairs`` in :data:`PAIR_SOURCES`,
    the warm-up counts and the clipping knobs. Each sampler then checks its own arguments."""
    check_group(owner, defaults)
    check_at_least(owner, "data_size", data_size, 0.0, strict=True)
    check_choice(owner, "mode", mode, MODES)
    check_choice(owner, "pairs", pairs, PAIR_SOURCES)
    check_count(owner, "warmup_steps", warmup_steps)
    check_count(owner, "ramp_steps", ramp_steps)
    check_clipping(owner, clip_std, clip_ratio)


def noise_variance_factor(noise: str, lr: float) -> float:
    """The factor c of a draw's covariance c (T/N) H at step factor η = ``lr``.

    ``"eq16"``: c = 1, the paper's Eqs. 15-16 as printed. A chain x' = x - η H g + N(0, c (T/N) H)
    on a quadratic with Hessian A and H = A⁻¹ has the stationary covariance
    c (T/N) A⁻¹ / (η (2 - η)) (x - μ shrinks by (1 - η) per step), so with c = 1 it is
    1/(η(2 - η)) times the Laplace Gaussian (T/N) A⁻¹: 5.3x at the paper's η = 0.1.

    ``"calibrated"``: c = η (2 - η), so that stationary covariance is (T/N) A⁻¹ at every η: at
    η = 1 exactly Eq. 16, and for small η the preconditioned Langevin step (noise variance
    2η (T/N) H; Welling & Teh 2011, Li et al. 2016), whose spread is (T/N) A⁻¹ for *any*
    positive-definite H as η → 0. With an H that is not A⁻¹ (a capped or secant estimate) the
    spread along an eigendirection where H A has eigenvalue κ is (T/N) A⁻¹ (2 - η)/(2 - ηκ):
    exact at κ = 1, between 1/2 and 1 of the Laplace spread for 0 < κ < 1 (docs/samplers.md).
    Needs 0 <= η <= 2 (beyond, the mean step alone diverges on a quadratic).
    """
    if noise == "eq16":
        return 1.0
    if not 0.0 <= lr <= 2.0:
        raise ValueError(f"calibrated noise needs a step factor lr in [0, 2] (eta(2 - eta) >= 0), got {lr!r}")
    return lr * (2.0 - lr)


def warmup_scale(step: int, warmup_steps: int, ramp_steps: int) -> float:
    """Noise multiplier of the ``step``-th call of ``step()`` (1-based).

    0 for ``step <= warmup_steps``; then a linear ramp ``(step - warmup_steps) / ramp_steps``
    up to 1, reached at ``step = warmup_steps + ramp_steps``; 1 afterwards.
    """
    if step <= warmup_steps:
        return 0.0
    if ramp_steps == 0:
        return 1.0
    return min(1.0, (step - warmup_steps) / ramp_steps)


def ratio_clip_factor(noise_norm: float, step_norm: float, clip_ratio: float | None) -> float:
    """Factor that caps the noise norm at ``clip_ratio`` x the mean step's norm (1 when off or not needed)."""
    if clip_ratio is None or noise_norm <= clip_ratio * step_norm:
        return 1.0
    return clip_ratio * step_norm / noise_norm


def check_finite_grads(owner: str, params: Sequence[torch.Tensor]) -> None:
    """Raise ``ValueError`` naming the first parameter whose gradient holds NaN or Inf.

    Called before anything is changed, so the params and the sampler's state stay as they were.
    One device synchronization for all parameters: raising needs the answer on the host. A
    caller that can wait for the answer (a search reads it once per epoch) notes the gradient
    in a :class:`NonFiniteWatch` instead (``DiagonalGaussian.finite_watch``).
    """
    flags = [torch.isfinite(p.grad).all() for p in params if p.grad is not None]
    if not flags or bool(torch.stack(flags).all()):
        return
    for index, p in enumerate(params):
        if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
            bad = int((~torch.isfinite(p.grad)).sum())
            raise ValueError(
                f"{owner}: the gradient of parameter {index} (shape {tuple(p.shape)}) has {bad} "
                f"NaN/Inf entries; nothing was changed. Lower the learning rate, check the loss "
                f"for NaN/Inf (e.g. log(0), a division by zero) or clip the gradients before step()."
            )


def standard_normal(shape, dtype, device, generator: torch.Generator, clip_std: float | None) -> torch.Tensor:
    """Draws of N(0, 1) of the given shape, dtype and device, each clamped to ``±clip_std`` if given."""
    z = torch.randn(shape, dtype=dtype, device=device, generator=generator)
    if clip_std is not None:
        z.clamp_(-clip_std, clip_std)
    return z


def make_generator(device: torch.device, seed: int | None) -> torch.Generator:
    """The sampler's own generator; ``seed=None`` draws a seed from torch's global generator."""
    if seed is None:
        seed = int(torch.randint(0, 2**62, ()).item())
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    return generator


class NonFiniteWatch:
    """Values to check for NaN/Inf later: the check reads them all at once, in one host sync.

    Why: checking a loss or a gradient for NaN/Inf where it is computed
    (``bool(torch.isfinite(x).all())``) makes the host wait for the device at every check,
    and on a GPU a search step is host-bound: one wait per loss is one stall per forward pass.
    :meth:`note` keeps a reference to the (0-dim, detached) value and launches no kernel;
    :meth:`first` stacks the values noted since the last read, reads them in one sync (e.g.
    once per epoch) and names the first non-finite one. The price: the work after a
    non-finite value until the read is wasted, and its results (NaN parameters) must not be
    kept; the search raises before it writes a checkpoint.

    ``context`` is a label the owner sets as it goes (e.g. the step being run); each note is
    reported with the context it was noted in, so a sampler's gradient note names the step.
    """

    def __init__(self):
        self.context = ""
        self._values: list[torch.Tensor] = []
        self._sites: list[tuple[str, str]] = []

    @property
    def pending(self) -> int:
        """How many values were noted since the last :meth:`first`."""
        return len(self._values)

    def note(self, value: torch.Tensor, site: str) -> None:
        """Keep ``value`` (a 0-dim tensor, e.g. a loss) for the next :meth:`first`; no kernel, no sync."""
        self._values.append(value.detach())
        self._sites.append((self.context, site))

    def first(self) -> tuple[str, str, float] | None:
        """``(context, site, value)`` of the first non-finite value noted since the last call, or
        None; one host sync (a stack per dtype, read together). The record starts afresh."""
        values, sites = self._values, self._sites
        self._values, self._sites = [], []
        if not values:
            return None
        groups: dict[tuple[torch.dtype, torch.device], list[int]] = {}  # torch.stack needs one of each
        for index, value in enumerate(values):
            groups.setdefault((value.dtype, value.device), []).append(index)
        device = values[0].device
        stacked = torch.cat(
            [torch.stack([values[i] for i in indices]).to(device, torch.float64) for indices in groups.values()]
        )
        read = dict(zip([i for indices in groups.values() for i in indices], stacked.tolist()))
        for index in range(len(values)):
            if not math.isfinite(read[index]):
                context, site = sites[index]
                return context, site, read[index]
        return None
