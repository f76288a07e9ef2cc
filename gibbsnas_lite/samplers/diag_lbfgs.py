"""Diagonal quasi-Newton Gaussian sampler for the network weights ω (paper Eq. 15), on one flat vector."""

from __future__ import annotations

import math

import torch
from torch.optim import Optimizer

from ._common import (
    NOISES,
    NonFiniteWatch,
    check_at_least,
    check_choice,
    check_finite_grads,
    check_group,
    check_sampler_args,
    make_generator,
    noise_variance_factor,
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
    middle = torch.cat(
        [
            torch.cat([top_left, -r_inverse.T], 1),
            torch.cat([-r_inverse, torch.zeros_like(r_inverse)], 1),
        ]
    )
    w = torch.cat([s, gamma * y])
    diagonal = gamma + ((middle @ w) * w).sum(0)
    return diagonal.clamp(h_min, h_max).view_as(s_history[0])


class DiagonalGaussian(Optimizer):
    r"""Gibbs step for ω: draw from a diagonal quasi-Newton Gaussian of Eq. 15.

    Named for what it is, a Gaussian with a *diagonal* inverse-curvature estimate D (as
    :class:`BFGSGaussian` is named for its dense BFGS one): D is by default the secant fit of the
    last curvature pairs, and L-BFGS's diagonal only on request (``diag="lbfgs"``), so the
    earlier name ``DiagLBFGSGaussian`` misled; it stays an alias for one version.

    Same target and conventions as :class:`~gibbsnas_lite.samplers.BFGSGaussian`:
    ``U(θ) = L_mean(θ) + (λ/2) ‖θ‖²``, posterior ∝ exp(-N U / T), ``p.grad`` holds ∇L_mean and
    the sampler adds λθ (Eq. 7 up to sign). With ``g = ∇U`` and a diagonal ``D ≈ diag(Ã_ω)⁻¹``
    (Eq. 8 under the diagonal approximation of Becker & LeCun 1988), one step draws

        θ_{t+1} ~ N(θ_t - η D ⊙ g,  (T/N) diag(D))                            (Eq. 15)

    as ``θ_t - η D ⊙ g + sqrt(T/N) sqrt(D) ⊙ z``, z ~ N(0, I) from the sampler's own generator.
    (Eq. 15 as printed steps uphill; this is the downhill Newton step it means.)

    D comes from the last ``history_size`` curvature pairs (O(m M) memory, never an M×M
    matrix), formed as in BFGSGaussian: ``s = θ_t - θ_{t-1}``, ``y = g_t - g_{t-1}`` from
    consecutive ``step()`` calls, or, with ``step(closure)``, both gradients on the closure's
    batch (the closure is called again after the move: one extra forward/backward per step, as
    in oLBFGS).

    * ``diag="secant"`` (default): ``D_i = Σ_k s_ki² / Σ_k s_ki y_ki``, exact on a separable
      quadratic (:func:`secant_diagonal`).
    * ``diag="lbfgs"``: the diagonal of the L-BFGS inverse matrix of each parameter tensor's
      pairs (:func:`lbfgs_diagonal`); a tensor's pair with sᵀy <= 1e-8 ‖s‖‖y‖ is not stored.

    D is clamped to ``[h_min, h_max]``; before the first pair, and where no positive curvature
    has been seen, D = h_max. The defaults η = 1 (Eq. 15 as printed has no step factor) and
    h_max = 0.1 (the paper's ω learning rate) make the mean a per-coordinate SGD step with
    learning rate in [1e-4, 0.1]: never longer than SGD at lr 0.1, which keeps a network with
    minibatch noise (per-coordinate s·y often <= 0 or tiny) stable. η < 1 is allowed but, with
    next-step pairs and minibatch noise, makes D collapse to h_min (each estimate is biased by
    the noise relative to a step η times shorter than the last estimate); docs/samplers.md has
    the numbers.

    **Flat state.** All parameters are one vector θ of M numbers (in the order of the param
    groups), so a step is a few dozen kernels whatever the number of tensors (about 30 with the
    secant diagonal; docs/bench_search.md): one ``torch.cat`` of the gradients, the arithmetic
    on M-vectors, one draw of M normals, and ``torch._foreach_*`` back into the parameters. As
    in :class:`torch.optim.LBFGS` the state lives in the first parameter's ``state``: ``step``
    and ``pairs`` (counts), ``s_history``/``y_history`` (m × M), and ``prev_param``/``prev_grad``
    (M) while a pair waits for its second half; ``flat_numel`` (M) marks this layout.
    ``load_state_dict`` migrates checkpoints of the earlier per-tensor layout. The parameters
    share one device and one dtype. A parameter whose ``.grad`` is None is not moved; in the
    pairs its loss gradient counts as zero (so a parameter that never gets one has s = y = 0
    and keeps D = h_max). ``diag="lbfgs"`` keeps a per-tensor loop (its pairs and its
    compact matrices are per tensor).

    **Host syncs.** With the secant diagonal a step reads nothing back from the device except
    the finite-gradient check (one sync), and :attr:`finite_watch` defers that check: a search
    sets it to its :class:`~gibbsnas_lite.samplers.NonFiniteWatch`, which it reads once
    per epoch, so its steps have no host sync; a non-finite gradient then moves the parameters
    to NaN/Inf instead of raising at once, and the owner must not keep them. ``diag="lbfgs"``
    reads each tensor's ``sᵀy`` test back when it stores a pair (two syncs per tensor) and
    ``torch.linalg.inv`` checks its result on the host on CUDA: it is not the search's diagonal.

    Args:
        params: parameters (or param groups) to sample, on one device, of one dtype.
        lr: η (default 1.0, see above); per group, so lr schedulers work.
        data_size: N of the posterior exp(-N U / T) (required; e.g. the training-set size).
        weight_decay: λ, the prior precision (paper: 1e-4). Per group.
        temperature: T (default 1). Per group.
        mode: ``"sample"`` or ``"mean"`` (the mean of Eq. 15 only).
        noise: ``"eq16"`` (default: variance (T/N) D per coordinate, Eq. 15 as printed) or
            ``"calibrated"`` (η(2 - η) (T/N) D, so the chain's spread does not grow as a schedule
            lowers η; BFGSGaussian's ``noise`` and docs/samplers.md).
        diag: ``"secant"`` or ``"lbfgs"`` (above).
        history_size: m, the number of pairs kept (default 5).
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
        noise: str = "eq16",
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
        check_sampler_args(
            owner,
            defaults,
            data_size=data_size,
            mode=mode,
            pairs=pairs,
            warmup_steps=warmup_steps,
            ramp_steps=ramp_steps,
            clip_std=clip_std,
            clip_ratio=clip_ratio,
        )
        check_choice(owner, "diag", diag, DIAGONALS)
        check_choice(owner, "noise", noise, NOISES)
        if not isinstance(history_size, int) or isinstance(history_size, bool) or history_size < 1:
            raise ValueError(f"{owner}: history_size must be an int >= 1, got {history_size!r}")
        check_at_least(owner, "h_min", h_min, 0.0, strict=True)
        check_at_least(owner, "h_max (>= h_min)", h_max, h_min)
        super().__init__(params, defaults)

        self._params = [p for group in self.param_groups for p in group["params"]]
        first = self._params[0]
        if any(p.device != first.device for p in self._params):
            raise ValueError(f"{owner}: all parameters must be on one device (one noise generator)")
        if any(p.dtype != first.dtype for p in self._params):
            raise ValueError(
                f"{owner}: all parameters must have one dtype (the state is one flat vector); "
                f"got {sorted({str(p.dtype) for p in self._params})}"
            )
        self._sizes = [p.numel() for p in self._params]
        self._numel = sum(self._sizes)
        self._ranges, start = [], 0  # each param group's slice of the flat vector
        for group in self.param_groups:
            self._ranges.append((start, start + sum(p.numel() for p in group["params"])))
            start = self._ranges[-1][1]
        self.data_size = float(data_size)
        self.mode, self.diag, self.history_size = mode, diag, history_size
        self.noise = noise
        self.pairs = pairs
        self.h_min, self.h_max = float(h_min), float(h_max)
        self.warmup_steps, self.ramp_steps = warmup_steps, ramp_steps
        self.clip_std, self.clip_ratio = clip_std, clip_ratio
        self._generator = make_generator(first.device, seed)

    #: None: a non-finite gradient raises ``ValueError`` at once (one host sync per step); a
    #: :class:`~gibbsnas_lite.samplers.NonFiniteWatch`: it is noted there (no sync).
    finite_watch: NonFiniteWatch | None = None

    # ------------------------------------------------------------ state
    def _flat_state(self) -> dict:
        state = self.state[self._params[0]]
        if not state:
            state.update(flat_numel=self._numel, step=0, pairs=0)
            if self.diag == "lbfgs":
                state["tensor_pairs"] = [0] * len(self._params)
        return state

    def state_dict(self) -> dict:
        state_dict = super().state_dict()
        state_dict["generator_state"] = self._generator.get_state()
        return state_dict

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        generator_state = state_dict.pop("generator_state", None)
        if state_dict["state"] and not any("flat_numel" in s for s in state_dict["state"].values()):
            saved_ids = [i for group in state_dict["param_groups"] for i in group["params"]]
            state_dict["state"] = self._migrate_per_tensor_state(state_dict["state"], saved_ids)
        super().load_state_dict(state_dict)
        state = self.state.get(self._params[0], {})
        if state and state.get("flat_numel") != self._numel:
            raise ValueError(
                f"{type(self).__name__}: the state is for {state.get('flat_numel')} numbers, "
                f"these parameters have {self._numel}"
            )
        if generator_state is not None:
            self._generator.set_state(generator_state)

    def _migrate_per_tensor_state(self, old: dict, saved_ids: list) -> dict:
        """A checkpoint of the per-tensor layout (one state per parameter, before the flat one),
        as the flat state: histories and pending halves concatenated, one step count.

        Exact when every parameter had a gradient at every step (the usual case, and always in
        a search); a parameter without state gets zero pairs and, if a pair is pending, s = y = 0.
        """
        owner = type(self).__name__
        if len(saved_ids) != len(self._params) or not set(old) <= set(saved_ids):
            raise ValueError(f"{owner}: the checkpoint is for other parameters than this sampler's")
        per = [old.get(i, {}) for i in saved_ids]
        present = [s for s in per if s]
        m = self.history_size
        if any("s_history" in s and len(s["s_history"]) != m for s in present):
            raise ValueError(
                f"{owner}: the checkpoint was saved with another history_size; "
                f"build the sampler with the same history_size to load it"
            )
        first = self._params[0]
        like = dict(dtype=first.dtype, device=first.device)
        new = dict(
            flat_numel=self._numel,
            step=max(int(s.get("step", 0)) for s in present),
            pairs=max(int(s.get("pairs", 0)) for s in present),
        )
        if self.diag == "lbfgs":
            new["tensor_pairs"] = [int(s.get("pairs", 0)) for s in per]
        if any("s_history" in s for s in present):
            for key in ("s_history", "y_history"):
                new[key] = torch.cat(
                    [
                        s[key].reshape(m, -1).to(**like) if key in s else torch.zeros(m, p.numel(), **like)
                        for s, p in zip(per, self._params)
                    ],
                    1,
                )
        if any("prev_param" in s for s in present):
            decay = {p: group["weight_decay"] for group in self.param_groups for p in group["params"]}
            new["prev_param"] = torch.cat(
                [
                    (s["prev_param"] if "prev_param" in s else p.detach()).reshape(-1).to(**like)
                    for s, p in zip(per, self._params)
                ]
            )
            new["prev_grad"] = torch.cat(
                [
                    (s["prev_grad"] if "prev_grad" in s else p.detach() * decay[p]).reshape(-1).to(**like)
                    for s, p in zip(per, self._params)
                ]
            )
        return {saved_ids[0]: new}

    # ------------------------------------------------------------ public view
    def inverse_hessian_diagonal(self) -> list[torch.Tensor]:
        """D for each parameter (shaped like it): the diagonal the next step will use."""
        return self._unflatten(self._diagonal(self._flat_state()))

    def variance(self) -> list[torch.Tensor]:
        """(T/N) D for each parameter: the Laplace variance (of the next draw at full noise with
        ``noise="eq16"``; a calibrated draw has η(2 - η) of it)."""
        variance = self._diagonal(self._flat_state())
        for group, (start, end) in self._groups():
            variance[start:end].mul_(group["temperature"] / self.data_size)
        return self._unflatten(variance)

    # ------------------------------------------------------------------ step
    def _groups(self):
        """(group, its slice) pairs; the groups looked up now (load_state_dict replaces them)."""
        return zip(self.param_groups, self._ranges)

    def _unflatten(self, flat: torch.Tensor) -> list[torch.Tensor]:
        return [chunk.view_as(p) for chunk, p in zip(flat.split(self._sizes), self._params)]

    def _flat_param(self) -> torch.Tensor:
        return torch.cat([p.detach().reshape(-1) for p in self._params])

    def _flat_gradient(self, check: bool = True) -> tuple[torch.Tensor, torch.Tensor, bool] | None:
        """(θ, g = ∇L + λθ, whether every parameter has a gradient), flat; None if none has one.

        ``check``: raise, naming the parameter, if a gradient is not finite (one host sync); with
        a :attr:`finite_watch`, note the gradient's largest magnitude there instead (no sync).
        """
        grads = [p.grad for p in self._params]
        complete = all(g is not None for g in grads)
        if not complete and all(g is None for g in grads):
            return None
        gradient = torch.cat(
            [(torch.zeros_like(p) if g is None else g).reshape(-1) for p, g in zip(self._params, grads)]
        )
        if check and self.finite_watch is not None:  # NaN/Inf reach the max norm (1 kernel, no sync)
            self.finite_watch.note(torch.linalg.vector_norm(gradient, math.inf), f"{type(self).__name__} gradient")
        elif check and not math.isfinite(gradient.sum()):  # NaN/Inf reach the sum (2 kernels, 1 sync)
            check_finite_grads(type(self).__name__, self._params)  # finds the parameter and raises
        theta = self._flat_param()
        for group, (start, end) in self._groups():
            if group["weight_decay"]:
                gradient[start:end].add_(theta[start:end], alpha=group["weight_decay"])
        return theta, gradient, complete

    def _diagonal(self, state: dict) -> torch.Tensor:
        if self.diag == "lbfgs":
            return self._lbfgs_diagonal(state)
        count = min(state["pairs"], self.history_size)
        if count == 0:
            first = self._params[0]
            return torch.full((self._numel,), self.h_max, dtype=first.dtype, device=first.device)
        # a sum over the pairs: their order does not matter
        return secant_diagonal(state["s_history"][:count], state["y_history"][:count], self.h_min, self.h_max)

    def _lbfgs_diagonal(self, state: dict) -> torch.Tensor:
        first = self._params[0]
        diagonal = torch.full((self._numel,), self.h_max, dtype=first.dtype, device=first.device)
        start = 0
        for size, pairs in zip(self._sizes, state["tensor_pairs"]):
            count = min(pairs, self.history_size)
            if count:
                order = [(pairs - count + k) % self.history_size for k in range(count)]  # oldest first
                part = slice(start, start + size)
                diagonal[part] = lbfgs_diagonal(
                    state["s_history"][order, part], state["y_history"][order, part], self.h_min, self.h_max
                )
            start += size
        return diagonal

    def _store_pair(self, state: dict, theta: torch.Tensor, gradient: torch.Tensor) -> None:
        """Store ``s = θ - θ_prev``, ``y = g - g_prev`` in the ring of ``history_size`` pairs."""
        prev_param, prev_grad = state.pop("prev_param"), state.pop("prev_grad")
        if "s_history" not in state:
            state["s_history"] = theta.new_zeros(self.history_size, self._numel)
            state["y_history"] = torch.zeros_like(state["s_history"])
        if self.diag == "lbfgs":
            self._store_tensor_pairs(state, theta - prev_param, gradient - prev_grad)
            return
        slot = state["pairs"] % self.history_size
        torch.sub(theta, prev_param, out=state["s_history"][slot])
        torch.sub(gradient, prev_grad, out=state["y_history"][slot])
        state["pairs"] += 1

    def _store_tensor_pairs(self, state: dict, s: torch.Tensor, y: torch.Tensor) -> None:
        start = 0
        for index, size in enumerate(self._sizes):
            part = slice(start, start + size)
            start += size
            s_k, y_k = s[part], y[part]
            if not float(s_k @ y_k) > 1e-8 * float(s_k.norm() * y_k.norm()):
                continue
            slot = state["tensor_pairs"][index] % self.history_size
            state["s_history"][slot, part] = s_k
            state["y_history"][slot, part] = y_k
            state["tensor_pairs"][index] += 1
        state["pairs"] += 1

    @torch.no_grad()
    def step(self, closure=None):
        """One draw (``mode="sample"``) or one mean step (``mode="mean"``); returns the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            check_group(type(self).__name__, group)
        flat = self._flat_gradient()
        if flat is None:
            return loss
        theta, gradient, complete = flat
        state = self._flat_state()
        state["step"] += 1
        if "prev_param" in state:
            self._store_pair(state, theta, gradient)
        if closure is not None or self.pairs == "step":
            state["prev_param"], state["prev_grad"] = theta, gradient
        diagonal = self._diagonal(state)

        mean_step = diagonal.mul(gradient)
        for group, (start, end) in self._groups():
            mean_step[start:end].mul_(group["lr"])
        noise = None
        scale = warmup_scale(state["step"], self.warmup_steps, self.ramp_steps)
        if self.mode == "sample" and scale > 0.0:
            noise = standard_normal(theta.shape, theta.dtype, theta.device, self._generator, self.clip_std)
            noise.mul_(diagonal.sqrt_())
            for group, (start, end) in self._groups():
                factor = noise_variance_factor(self.noise, group["lr"])
                noise[start:end].mul_(scale * (factor * group["temperature"] / self.data_size) ** 0.5)
        if not complete:  # parameters without a gradient stay where they are
            moving = torch.cat(
                [
                    torch.full((p.numel(),), float(p.grad is not None), dtype=theta.dtype, device=theta.device)
                    for p in self._params
                ]
            )
            mean_step.mul_(moving)
            if noise is not None:
                noise.mul_(moving)
        if noise is not None and self.clip_ratio is not None:
            # cap ‖noise‖ at clip_ratio ‖mean step‖ (norms over all parameters), without a host sync
            norms = torch.stack([noise.double().square().sum(), mean_step.double().square().sum()]).sqrt()
            cap = self.clip_ratio * norms[1]
            noise.mul_(torch.where(norms[0] > cap, cap / norms[0], 1.0).to(noise.dtype))
        torch._foreach_sub_(self._params, self._unflatten(mean_step))
        if noise is not None:
            torch._foreach_add_(self._params, self._unflatten(noise))

        if closure is not None:
            # The pair on the closure's own batch: y = ∇U_B(θ_{t+1}) - ∇U_B(θ_t) (as in oLBFGS).
            with torch.enable_grad():
                closure()
            flat = self._flat_gradient(check=False)  # as before the flat layout: no second check
            if flat is not None and "prev_param" in state:
                self._store_pair(state, flat[0], flat[1])
        return loss


DiagLBFGSGaussian = DiagonalGaussian  # the earlier name (issue 21): an alias for one version, removed in 0.2
