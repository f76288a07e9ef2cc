"""Diagonal quasi-Newton Gaussian sampler for the network weights ω (paper Eq. 15)."""
from __future__ import annotations

import torch
from torch.optim import Optimizer

from ._common import (
    MODES,
    PAIR_SOURCES,
    check_at_least,
    check_choice,
    check_clipping,
    check_count,
    check_finite_grads,
    check_group,
    make_generator,
    ratio_clip_factor,
    standard_normal,
    warmup_scale,
)

DIAGONALS = ("secant", "lbfgs")


def secant_diagonal(s_history: torch.Tensor, y_history: torch.Tensor, h_min: float, h_max: float) -> torch.Tensor:
    """Per-coordinate secant estimate of the inverse Hessian's diagonal from k pairs (rows).

    ``D_i = Σ_k s_ki² / Σ_k s_ki y_ki`` (a least-squares fit of y_i ≈ a_i s_i, Becker & LeCun
    1988 style): exact for a separable quadratic. A coordinate without positive curvature
    (Σ s y <= 0, e.g. minibatch noise or a flat direction) gets ``h_max``; all are clamped
    to ``[h_min, h_max]``.
    """
    curvature = (s_history * y_history).sum(0)
    squares = (s_history * s_history).sum(0)
    estimate = torch.where(curvature > 0, squares / curvature.clamp_min(torch.finfo(curvature.dtype).tiny), h_max)
    return estimate.clamp(h_min, h_max)


def lbfgs_diagonal(s_history: torch.Tensor, y_history: torch.Tensor, h_min: float, h_max: float) -> torch.Tensor:
    """Diagonal of the L-BFGS inverse Hessian of k pairs (rows, oldest first), clamped to [h_min, h_max].

    Compact representation (Byrd, Nocedal & Schnabel 1994, Thm 2.2; N&W Eq. 7.24):
    ``H = γI + W M Wᵀ`` with ``W = [S  γY]``, ``γ = s_kᵀy_k / y_kᵀy_k``, R the upper triangle of
    SᵀY, D its diagonal and ``M = [[R⁻ᵀ(D + γYᵀY)R⁻¹, -R⁻ᵀ], [-R⁻¹, 0]]``; so
    ``diag(H)_i = γ + Σ_ab W_ia M_ab W_ib`` costs O(k M) time and memory. Pairs must have sᵀy > 0.
    """
    s, y = s_history.reshape(len(s_history), -1), y_history.reshape(len(y_history), -1)
    sy = s @ y.T
    gamma = sy[-1, -1] / (y[-1] @ y[-1])
    r_inverse = torch.linalg.inv(torch.triu(sy))
    top_left = r_inverse.T @ (torch.diag(sy.diagonal()) + gamma * (y @ y.T)) @ r_inverse
    middle = torch.cat([
        torch.cat([top_left, -r_inverse.T], 1),
        torch.cat([-r_inverse, torch.zeros_like(r_inverse)], 1),
    ])
    w = torch.cat([s, gamma * y])
    diagonal = gamma + ((middle @ w) * w).sum(0)
    return diagonal.clamp(h_min, h_max).view_as(s_history[0])


class DiagLBFGSGaussian(Optimizer):
    r"""Gibbs step for ω: draw from a diagonal quasi-Newton Gaussian of Eq. 15.

    Same target and conventions as :class:`~gibbsnas_lite.samplers.BFGSGaussian`:
    ``U(θ) = L_mean(θ) + (λ/2) ‖θ‖²``, posterior ∝ exp(-N U / T), ``p.grad`` holds ∇L_mean and
    the sampler adds λθ (Eq. 7 up to sign). With ``g = ∇U`` and a diagonal ``D ≈ diag(Ã_ω)⁻¹``
    (Eq. 8 under the diagonal approximation of Becker & LeCun 1988), one step draws

        θ_{t+1} ~ N(θ_t - η D ⊙ g,  (T/N) diag(D))                            (Eq. 15)

    as ``θ_t - η D ⊙ g + sqrt(T/N) sqrt(D) ⊙ z``, z ~ N(0, I) from the sampler's own generator.
    (Eq. 15 as printed steps uphill; this is the downhill Newton step it means.)

    D comes from the last ``history_size`` curvature pairs of each parameter tensor
    (O(m M) memory, never an M×M matrix), formed as in BFGSGaussian: ``s = θ_t - θ_{t-1}``,
    ``y = g_t - g_{t-1}`` from consecutive ``step()`` calls, or, with ``step(closure)``, both
    gradients on the closure's batch (the closure is called again after the move: one extra
    forward/backward per step, as in oLBFGS).

    * ``diag="secant"`` (default): ``D_i = Σ_k s_ki² / Σ_k s_ki y_ki``, exact on a separable
      quadratic (:func:`secant_diagonal`).
    * ``diag="lbfgs"``: the diagonal of the L-BFGS inverse matrix of the tensor's pairs
      (:func:`lbfgs_diagonal`); pairs with sᵀy <= 1e-8 ‖s‖‖y‖ are not stored.

    D is clamped to ``[h_min, h_max]``; before the first pair, and where no positive curvature
    has been seen, D = h_max. The defaults η = 1 (Eq. 15 as printed has no step factor) and
    h_max = 0.1 (the paper's ω learning rate) make the mean a per-coordinate SGD step with
    learning rate in [1e-4, 0.1]: never longer than SGD at lr 0.1, which keeps a network with
    minibatch noise (per-coordinate s·y often <= 0 or tiny) stable. η < 1 is allowed but, with
    next-step pairs and minibatch noise, makes D collapse to h_min (each estimate is biased by
    the noise relative to a step η times shorter than the last estimate); docs/samplers.md has
    the numbers. State is per parameter, in its dtype and on its device.

    Args:
        params: parameters (or param groups) to sample, on one device.
        lr: η (default 1.0, see above); per group, so lr schedulers work.
        data_size: N of the posterior exp(-N U / T) (required; e.g. the training-set size).
        weight_decay: λ, the prior precision (paper: 1e-4). Per group.
        temperature: T (default 1). Per group.
        mode: ``"sample"`` or ``"mean"`` (the mean of Eq. 15 only).
        diag: ``"secant"`` or ``"lbfgs"`` (above).
        history_size: m, the number of pairs kept per tensor (default 5).
        h_min, h_max: the clamp of D (defaults 1e-4 and 0.1).
        pairs: ``"step"`` (default): pairs from consecutive steps and from closures;
            ``"closure"``: only pairs measured by ``step(closure)`` on one batch, so a search
            can pay the closure's extra forward/backward every k-th step only and never mix
            minibatches in a pair.
        warmup_steps, ramp_steps, clip_std, clip_ratio, seed: as in BFGSGaussian (the ratio
            cap uses the norms over all parameters of the sampler).
    """

    def __init__(
        self,
        params,
        lr: float = 1.0,
        *,
        data_size: float,
        weight_decay: float = 1e-4,
        temperature: float = 1.0,
        mode: str = "sample",
        diag: str = "secant",
        history_size: int = 5,
        h_min: float = 1e-4,
        h_max: float = 0.1,
        pairs: str = "step",
        warmup_steps: int = 0,
        ramp_steps: int = 0,
        clip_std: float | None = None,
        clip_ratio: float | None = None,
        seed: int | None = None,
    ):
        owner = type(self).__name__
        defaults = dict(lr=lr, weight_decay=weight_decay, temperature=temperature)
        check_group(owner, defaults)
        check_at_least(owner, "data_size", data_size, 0.0, strict=True)
        check_choice(owner, "mode", mode, MODES)
        check_choice(owner, "diag", diag, DIAGONALS)
        check_choice(owner, "pairs", pairs, PAIR_SOURCES)
        if not isinstance(history_size, int) or isinstance(history_size, bool) or history_size < 1:
            raise ValueError(f"{owner}: history_size must be an int >= 1, got {history_size!r}")
        check_at_least(owner, "h_min", h_min, 0.0, strict=True)
        check_at_least(owner, "h_max (>= h_min)", h_max, h_min)
        check_count(owner, "warmup_steps", warmup_steps)
        check_count(owner, "ramp_steps", ramp_steps)
        check_clipping(owner, clip_std, clip_ratio)
        super().__init__(params, defaults)

        params = [p for group in self.param_groups for p in group["params"]]
        if any(p.device != params[0].device for p in params):
            raise ValueError(f"{owner}: all parameters must be on one device (one noise generator)")
        self.data_size = float(data_size)
        self.mode, self.diag, self.history_size = mode, diag, history_size
        self.pairs = pairs
        self.h_min, self.h_max = float(h_min), float(h_max)
        self.warmup_steps, self.ramp_steps = warmup_steps, ramp_steps
        self.clip_std, self.clip_ratio = clip_std, clip_ratio
        self._generator = make_generator(params[0].device, seed)

    def state_dict(self) -> dict:
        state_dict = super().state_dict()
        state_dict["generator_state"] = self._generator.get_state()
        return state_dict

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        generator_state = state_dict.pop("generator_state", None)
        super().load_state_dict(state_dict)
        if generator_state is not None:
            self._generator.set_state(generator_state)

    # ------------------------------------------------------------ public view
    def inverse_hessian_diagonal(self) -> list[torch.Tensor]:
        """D for each parameter (shaped like it): the diagonal the next step will use."""
        return [self._diagonal(self.state[p], p) for group in self.param_groups for p in group["params"]]

    def variance(self) -> list[torch.Tensor]:
        """(T/N) D for each parameter: the variance of the next draw at full noise."""
        return [
            self._diagonal(self.state[p], p) * (group["temperature"] / self.data_size)
            for group in self.param_groups for p in group["params"]
        ]

    # ------------------------------------------------------------------ step
    def _diagonal(self, state: dict, p: torch.Tensor) -> torch.Tensor:
        count = min(state.get("pairs", 0), self.history_size)
        if count == 0:
            return torch.full_like(p, self.h_max)
        if self.diag == "secant":  # a sum over the pairs: their order does not matter
            return secant_diagonal(state["s_history"][:count], state["y_history"][:count], self.h_min, self.h_max)
        order = [(state["pairs"] - count + k) % self.history_size for k in range(count)]  # oldest first
        return lbfgs_diagonal(state["s_history"][order], state["y_history"][order], self.h_min, self.h_max)

    def _store_pair(self, state: dict, p: torch.Tensor, s: torch.Tensor, y: torch.Tensor) -> None:
        if self.diag == "lbfgs" and not float(s.flatten() @ y.flatten()) > 1e-8 * float(s.norm() * y.norm()):
            return
        if "s_history" not in state:
            state["s_history"] = torch.zeros((self.history_size, *p.shape), dtype=p.dtype, device=p.device)
            state["y_history"] = torch.zeros_like(state["s_history"])
        slot = state["pairs"] % self.history_size
        state["s_history"][slot].copy_(s)
        state["y_history"][slot].copy_(y)
        state["pairs"] += 1

    @torch.no_grad()
    def step(self, closure=None):
        """One draw (``mode="sample"``) or one mean step (``mode="mean"``); returns the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        owner = type(self).__name__
        check_finite_grads(owner, [p for group in self.param_groups for p in group["params"]])
        for group in self.param_groups:
            check_group(owner, group)

        moves = []  # (param, mean step, noise or None)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"], state["pairs"] = 0, 0
                state["step"] += 1
                gradient = p.grad.add(p, alpha=group["weight_decay"])
                if "prev_param" in state:
                    self._store_pair(state, p, p - state.pop("prev_param"), gradient - state.pop("prev_grad"))
                if closure is not None or self.pairs == "step":
                    state["prev_param"], state["prev_grad"] = p.detach().clone(), gradient
                diagonal = self._diagonal(state, p)
                mean_step = diagonal.mul(gradient).mul_(group["lr"])
                noise = None
                scale = warmup_scale(state["step"], self.warmup_steps, self.ramp_steps)
                if self.mode == "sample" and scale > 0.0:
                    z = standard_normal(p.shape, p.dtype, p.device, self._generator, self.clip_std)
                    noise = z.mul_(diagonal.sqrt()).mul_(scale * (group["temperature"] / self.data_size) ** 0.5)
                moves.append((p, mean_step, noise))

        factor = 1.0
        if self.clip_ratio is not None:
            noise_square = [n.double().square().sum() for _, _, n in moves if n is not None]
            step_square = [m.double().square().sum() for _, m, _ in moves]
            if noise_square:
                noise_norm, step_norm = torch.stack([sum(noise_square), sum(step_square)]).sqrt().tolist()
                factor = ratio_clip_factor(noise_norm, step_norm, self.clip_ratio)
        for p, mean_step, noise in moves:
            p.sub_(mean_step)
            if noise is not None:
                p.add_(noise, alpha=factor)

        if closure is not None:
            # The pairs on the closure's own batch: y = ∇U_B(θ_{t+1}) - ∇U_B(θ_t) (as in oLBFGS).
            with torch.enable_grad():
                closure()
            for group in self.param_groups:
                for p in group["params"]:
                    state = self.state[p]
                    if "prev_param" in state and p.grad is not None:
                        gradient = p.grad.add(p, alpha=group["weight_decay"])
                        self._store_pair(state, p, p - state.pop("prev_param"), gradient - state.pop("prev_grad"))
        return loss
