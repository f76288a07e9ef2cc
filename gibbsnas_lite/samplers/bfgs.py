"""BFGS Gaussian sampler for the architecture importance α (paper Eq. 16)."""

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
    ratio_clip_factor,
    standard_normal,
    warmup_scale,
)

HESSIANS = ("bfgs", "identity")
PD_POLICIES = ("damp", "skip")
POWELL_THRESHOLD = 0.2  # Nocedal & Wright, Procedure 18.2
ROUND_OFF = 1e-30  # pairs with ||s||^2 or ||y||^2 below this are skipped


#: the outcome codes of :func:`bfgs_inverse_update_codes`, by index
OUTCOMES = ("updated", "damped", "skipped")
UPDATED, DAMPED, SKIPPED = range(3)


def bfgs_inverse_update(
    inverse_hessian: torch.Tensor,
    s: torch.Tensor,
    y: torch.Tensor,
    pd_policy: str = "damp",
    pd_eps: float = 1e-8,
) -> tuple[torch.Tensor, str]:
    """One BFGS update of an inverse-Hessian estimate ``H`` with the pair ``(s, y)``.

    Nocedal & Wright (2006) Eq. 6.17: ``H+ = (I - ρ s yᵀ) H (I - ρ y sᵀ) + ρ s sᵀ``, ρ = 1/(sᵀy),
    evaluated as ``H - ρ(H y sᵀ + s yᵀH) + (ρ² yᵀHy + ρ) s sᵀ`` and symmetrized.

    ``H+`` is positive definite whenever ``H`` is and ``sᵀy > 0``. The policy for other pairs:

    * ``"skip"``: keep ``H`` when ``sᵀy <= pd_eps · ‖s‖ ‖y‖``.
    * ``"damp"``: Powell damping (N&W Procedure 18.2) written for the inverse update, i.e. with
      the roles of s and y swapped: when ``sᵀy <= 0.2 · yᵀHy`` replace s by
      ``θ s + (1 - θ) H y`` with ``θ = 0.8 / (1 - sᵀy / yᵀHy)``, so that the new ``sᵀy`` equals
      ``0.2 · yᵀHy > 0``. (This is scipy's ``BFGS(exception_strategy='damp_update')``.)

    Either policy skips a pair with ``s = 0``, ``y = 0``, a non-finite entry, or one at round-off
    level (‖s‖² or ‖y‖² below 1e-30, or ``yᵀHy`` not positive): such pairs carry no curvature
    and, in mean mode near a mode, made the damping divide by a vanishing ``yᵀHy``.
    Returns ``(H+, outcome)`` with outcome ``"updated"``, ``"damped"`` or ``"skipped"`` (a
    skipped pair returns ``H`` itself). The outcome is read on the host (one sync); the sampler
    uses :func:`bfgs_inverse_update_codes`, the same update with the outcome left on the device.
    """
    updated, code = bfgs_inverse_update_codes(inverse_hessian, s, y, pd_policy, pd_eps)
    outcome = OUTCOMES[int(code)]
    return (inverse_hessian if outcome == "skipped" else updated), outcome


def bfgs_inverse_update_codes(
    inverse_hessian: torch.Tensor,
    s: torch.Tensor,
    y: torch.Tensor,
    pd_policy: str = "damp",
    pd_eps: float = 1e-8,
) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`bfgs_inverse_update` without a host sync: ``(H+, outcome code)``, the code a 0-dim
    int64 tensor indexing :data:`OUTCOMES` (``H+`` equals ``H`` bit for bit when skipped).

    Why branch-free: every branch of the policy depends on dot products that live on the
    device, and each ``if`` on one is a host sync (five per pair). Here both branches are
    computed and ``torch.where`` picks, so the numbers are the branchy code's bit for bit (the
    same operations in the same order on the same operands; a branch not taken may hold
    NaN/Inf, which ``where`` never lets through). The cost is a few n×n kernels more per pair.
    Every constant enters as a Python number in arithmetic (a kernel argument) or as a tensor
    filled on the device, never as a number that ``torch.where`` would copy to the device.
    """
    ss, sy, yy = s @ s, s @ y, y @ y
    hy = inverse_hessian @ y
    yhy = y @ hy
    skip = ~((ss > ROUND_OFF) & (yy > ROUND_OFF) & torch.isfinite(ss + sy + yy))
    skip |= ~((yhy > 0) & torch.isfinite(yhy))
    damp = torch.zeros_like(skip)
    if pd_policy == "skip":
        skip |= sy <= pd_eps * torch.sqrt(ss * yy)
    else:
        damp = ~skip & (sy <= POWELL_THRESHOLD * yhy)
        # θ = 0.8 / (1 - sᵀy / yᵀHy); written as a division (a Python number over a tensor
        # would be a reciprocal times the number: not the same rounding)
        theta = torch.full_like(sy, 1.0 - POWELL_THRESHOLD) / (1.0 - sy / yhy)
        s = torch.where(damp, theta * s + (1.0 - theta) * hy, s)
        sy = torch.where(damp, s @ y, sy)
    rho = torch.ones_like(sy) / sy
    cross = torch.outer(hy, s)
    updated = inverse_hessian - rho * (cross + cross.T) + (rho * rho * yhy + rho) * torch.outer(s, s)
    updated = torch.where(skip, inverse_hessian, (updated + updated.T) / 2)
    code = skip.to(torch.int64) * SKIPPED + damp.to(torch.int64) * DAMPED  # never both; neither: UPDATED (0)
    return updated, code


def cap_eigenvalues(matrix: torch.Tensor, h_max: float) -> torch.Tensor:
    """The symmetric ``matrix`` with its eigenvalues above ``h_max`` set to ``h_max``.

    Eigenvectors are kept, so the capped H is still positive definite and its action on
    directions of curvature above 1/h_max is unchanged. Branch-free: the capped matrix is
    always formed and ``torch.where`` keeps ``matrix``'s own entries (bit for bit) when no
    eigenvalue is above the cap, so no eigenvalue is read on the host. ``torch.linalg.eigh``
    itself checks its convergence on the host on CUDA (a sync inside torch that no flag turns off).
    """
    values, vectors = torch.linalg.eigh(matrix)
    capped = (vectors * values.clamp(max=h_max)) @ vectors.T
    return torch.where(values[-1] <= h_max, matrix, (capped + capped.T) / 2)


def cholesky_with_jitter(matrix: torch.Tensor) -> torch.Tensor:
    """Cholesky factor of a symmetric positive-definite ``matrix``.

    The BFGS policies keep H positive definite in exact arithmetic; if round-off makes the
    factorization fail, a growing multiple of the mean diagonal is added until it succeeds.

    One host sync: whether the factorization succeeded (``info``) is read on the host. It
    stays: the fallback is a loop of up to 30 factorizations, which a branch-free form would
    have to run every time, and a factor of a failed factorization is not a usable one.
    """
    factor, info = torch.linalg.cholesky_ex(matrix)
    if int(info) == 0:
        return factor
    eye = torch.eye(matrix.shape[0], dtype=matrix.dtype, device=matrix.device)
    jitter = 1e-12 * float(matrix.diagonal().abs().mean())
    for _ in range(30):
        factor, info = torch.linalg.cholesky_ex(matrix + jitter * eye)
        if int(info) == 0:
            return factor
        jitter *= 10.0
    raise RuntimeError("BFGSGaussian: the inverse Hessian estimate is not positive definite (a bug)")


class BFGSGaussian(Optimizer):
    r"""Gibbs step for α: draw from the quasi-Newton (Laplace) Gaussian of Eq. 16, H by BFGS.

    Target: the posterior ``p(θ | D) ∝ exp(-N U(θ) / T)`` with the per-example objective
    ``U(θ) = L_mean(θ) + (λ/2) ‖θ‖²`` (λ = ``weight_decay``, the prior precision σ_α⁻² of
    Eqs. 11-12). ``p.grad`` must hold ∇L_mean (what ``loss.backward()`` gives for a mean loss);
    the sampler adds λθ itself. With ``g = ∇U(θ_t)`` (Eq. 11 up to sign) and ``H ≈ Ã_α⁻¹``, the
    inverse of the Hessian of U (Eq. 12), one step draws

        θ_{t+1} ~ N(θ_t - η H g,  (T/N) H)                                    (Eq. 16)

    as ``θ_t - η H g + sqrt(T/N) L z`` with ``H = L Lᵀ`` (Cholesky) and ``z ~ N(0, I)`` from the
    sampler's own generator. Eq. 16 as printed reads ``α_t - Ã⁻¹ b`` with ``b = -g`` (Eq. 11),
    an uphill step; the mean here is the downhill Newton step, which is what the text means.
    η = 1 makes a draw from the local Laplace Gaussian; at η < 1 the mean is a damped Newton
    step and, on a quadratic, the chain's stationary covariance is (T/N) A⁻¹ / (η (2 - η)).
    ``noise="calibrated"`` draws N(0, η(2 - η) (T/N) H) instead, so that the chain's spread is
    the Laplace Gaussian's (T/N) A⁻¹ at every η (:func:`~._common.noise_variance_factor`).

    The sampler keeps the sum of its mean steps (``drift``) and of its noise (``noise``) since
    its first step, with the parameters at that step (``start``): :meth:`movement`. Whether the
    data or the noise moved θ is then a question the run can answer (``start + noise`` is where
    the noise alone would have taken it; :mod:`gibbsnas_lite.search.drive`).

    H is one dense matrix over all parameters of the sampler flattened together, in the order
    of ``param_groups`` (e.g. DARTS' two 14×8 α tensors give 224×224). It is kept in float64
    whatever the params' dtype: α's Hessian is nearly singular along each edge's softmax-shift
    direction (curvature λ only), so H is ill-conditioned, and rank-two updates and the
    Cholesky factorization in float32 lose positive definiteness. The mean and the noise are
    cast to the params' dtype when applied; all state lives on the params' device.

    Curvature pairs ``(s, y)`` update H by BFGS (N&W Eq. 6.17, :func:`bfgs_inverse_update`):

    * ``step()`` without a closure: at each step from the second on, ``s = θ_t - θ_{t-1}`` and
      ``y = g_t - g_{t-1}`` with the gradient seen at this step, before the move. With
      deterministic gradients (a toy posterior) this is the textbook pair, exact on a quadratic
      even in sample mode, where s includes the last draw's noise (y = A s still holds). With
      minibatch gradients y mixes two batches (and, in a search, two ω's); the noise in g_t sits
      in both s and y and biases every pair, so that H shrinks towards 0 at η = 0.1 and grows
      unboundedly at η = 1 (docs/samplers.md has the numbers).
    * ``step(closure)``: the closure (which zeroes the grads, computes the loss on the current
      batch and calls backward) is called before the move, as in every torch optimizer, and
      once more after it, so that ``y = ∇U_B(θ_{t+1}) - ∇U_B(θ_t)`` is measured on one batch B
      (oBFGS, Schraudolph, Yu & Günter 2007). One extra forward/backward per step; the way to
      use the sampler with minibatches. After ``step(closure)`` the grads hold ∇L_B(θ_{t+1}).

    ``pd_policy`` keeps H positive definite for any pair.

    Args:
        params: parameters (or param groups) to sample; all of one dtype and device.
        lr: η, the step length of the mean (paper: 0.1 for α); per group, so lr schedulers work.
        data_size: N of the posterior exp(-N U / T), e.g. the number of examples behind L_mean.
            Required: the noise scale sqrt(T/N) depends on it and no default fits every run.
        weight_decay: λ, the prior precision (paper: 1e-4 for α). Per group.
        temperature: T (default 1, the Bayesian posterior). Per group; with several groups the
            noise of each coordinate is scaled by sqrt(T_group / N).
        mode: ``"sample"`` draws from the Gaussian; ``"mean"`` takes its mean (Table 2 ablation).
        noise: ``"eq16"`` (default: the covariance (T/N) H of Eq. 16 as printed) or
            ``"calibrated"`` (η(2 - η) (T/N) H: the chain's spread is (T/N) H at every η).
        hessian: ``"bfgs"`` (default) or ``"identity"`` (H = I always: in mean mode the step is
            exactly ``torch.optim.SGD(lr, weight_decay)``, i.e. first-order DARTS).
        init_scale: H₀ = init_scale · I before the first pair; ``"auto"`` (default) starts from
            I and, at the first pair with sᵀy > 0, rescales to (sᵀy / yᵀy) I before updating
            (N&W Eq. 6.20), which makes the sampler invariant to the scale of the loss.
        pd_policy: ``"damp"`` (default: Powell damping, every pair still teaches H something,
            which matters when minibatch noise makes sᵀy <= 0 common) or ``"skip"``.
        pd_eps: ε of the skip rule sᵀy <= ε ‖s‖ ‖y‖ (default 1e-8).
        warmup_steps: the first ``warmup_steps`` steps draw no noise (the mean only) ...
        ramp_steps: ... then the noise grows linearly to full over ``ramp_steps`` steps.
        clip_std: clamp each standardized noise coordinate z_i to ±clip_std (None: off).
        clip_ratio: cap the noise norm at clip_ratio × ‖η H g‖ (None: off).
        h_max: cap on H's eigenvalues (None: off). After every BFGS update (and the N&W 6.20
            initial scaling) the eigenvalues of H above ``h_max`` are set to ``h_max``, so the
            Gaussian's covariance is at most (T/N) h_max I and the mean step at most
            η h_max ‖g‖: a floor 1/h_max on the curvature that the Laplace approximation uses,
            where a nearly flat loss (α early in a search, or along each edge's softmax-shift
            direction) would otherwise give H ~ 1/λ. docs/search.md has the evidence.
        max_step: trust radius of one draw (None: off): the whole move, mean step plus noise,
            is scaled down to norm ``max_step`` when longer ("sampling clipping").
        pairs: ``"step"`` (default): curvature pairs from consecutive steps and from closures;
            ``"closure"``: only from ``step(closure)`` (same-batch pairs, paid for only on the
            steps that pass a closure).
        seed: seed of the sampler's generator (None: drawn from torch's global generator).
    """

    def __init__(
        self,
        params,
        lr: float = 0.1,
        *,
        data_size: float,
        weight_decay: float = 1e-4,
        temperature: float = 1.0,
        mode: str = "sample",
        noise: str = "eq16",
        hessian: str = "bfgs",
        init_scale: float | str = "auto",
        pd_policy: str = "damp",
        pd_eps: float = 1e-8,
        pairs: str = "step",
        warmup_steps: int = 0,
        ramp_steps: int = 0,
        clip_std: float | None = None,
        clip_ratio: float | None = None,
        h_max: float | None = None,
        max_step: float | None = None,
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
        check_choice(owner, "noise", noise, NOISES)
        check_choice(owner, "hessian", hessian, HESSIANS)
        check_choice(owner, "pd_policy", pd_policy, PD_POLICIES)
        if init_scale != "auto":
            check_at_least(owner, "init_scale (a number > 0 or 'auto')", init_scale, 0.0, strict=True)
        check_at_least(owner, "pd_eps", pd_eps, 0.0)
        if h_max is not None:
            check_at_least(owner, "h_max (a number > 0 or None)", h_max, 0.0, strict=True)
        if max_step is not None:
            check_at_least(owner, "max_step (a number > 0 or None)", max_step, 0.0, strict=True)
        super().__init__(params, defaults)

        self._params = [p for group in self.param_groups for p in group["params"]]
        first = self._params[0]
        if any(p.dtype != first.dtype or p.device != first.device for p in self._params):
            raise ValueError(f"{owner}: all parameters must share one dtype and device (H spans them all)")
        self.data_size = float(data_size)
        self.mode, self.hessian, self.pd_policy, self.pd_eps = mode, hessian, pd_policy, pd_eps
        self.noise = noise
        self.init_scale = init_scale
        self.pairs = pairs
        self.warmup_steps, self.ramp_steps = warmup_steps, ramp_steps
        self.clip_std, self.clip_ratio = clip_std, clip_ratio
        self.h_max = None if h_max is None else float(h_max)
        self.max_step = None if max_step is None else float(max_step)
        self._sizes = [p.numel() for p in self._params]
        self._numel = sum(self._sizes)
        self._generator = make_generator(first.device, seed)

    #: None: a non-finite gradient raises ``ValueError`` at once, nothing changed (one host sync
    #: per step); a :class:`~gibbsnas_lite.samplers.NonFiniteWatch`: it is noted there (no sync)
    #: and the owner discards the step when it reads the watch (a search: before its checkpoint).
    finite_watch: NonFiniteWatch | None = None

    def add_param_group(self, param_group: dict) -> None:
        if hasattr(self, "_params"):
            raise ValueError(
                f"{type(self).__name__}: H spans the parameters given at construction; "
                "build a new sampler to sample more parameters"
            )
        super().add_param_group(param_group)

    # ----------------------------------------------------------------- state
    def _state(self) -> dict:
        """All of the sampler's state lives with its first parameter (as in torch.optim.LBFGS)."""
        state = self.state[self._params[0]]
        if not state:
            state["step"] = 0
            if self.hessian == "bfgs":
                scale = 1.0 if self.init_scale == "auto" else float(self.init_scale)
                state["inverse_hessian"] = scale * torch.eye(
                    self._numel, dtype=torch.float64, device=self._params[0].device
                )
                state["initial_scale_set"] = self.init_scale != "auto"
                state["pairs_updated"] = state["pairs_damped"] = state["pairs_skipped"] = 0
        return state

    def state_dict(self) -> dict:
        state_dict = super().state_dict()
        state_dict["generator_state"] = self._generator.get_state()
        return state_dict

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        generator_state = state_dict.pop("generator_state", None)
        super().load_state_dict(state_dict)
        # torch casts floating state to the params' dtype; H is float64 by design (see class doc).
        saved = state_dict["state"].get(0, {})
        if "inverse_hessian" in saved:
            self._state()["inverse_hessian"] = saved["inverse_hessian"].to(
                dtype=torch.float64, device=self._params[0].device, copy=True
            )
        # ... and the flag and the pair counters, device tensors (_update_curvature), to it too
        for key, dtype in (("initial_scale_set", torch.bool), *((f"pairs_{o}", torch.int64) for o in OUTCOMES)):
            if isinstance(saved.get(key), torch.Tensor):
                self._state()[key] = saved[key].to(dtype=dtype, device=self._params[0].device, copy=True)
        if generator_state is not None:
            self._generator.set_state(generator_state)

    # ------------------------------------------------------------ public view
    def inverse_hessian(self) -> torch.Tensor:
        """A float64 copy of the current H ≈ Ã⁻¹ (n×n, params flattened in group order)."""
        if self.hessian == "identity":
            return torch.eye(self._numel, dtype=torch.float64, device=self._params[0].device)
        return self._state()["inverse_hessian"].clone()

    def covariance(self) -> torch.Tensor:
        """(T/N) H, the Laplace Gaussian's covariance: the α uncertainty (float64).

        With ``noise="eq16"`` it is also the covariance of the next draw at full noise; with
        ``"calibrated"`` a draw adds η(2 - η) of it, and (T/N) H is the chain's spread."""
        std = torch.cat(
            [
                torch.full((p.numel(),), math.sqrt(group["temperature"] / self.data_size), dtype=torch.float64)
                for group, p in self._grouped()
            ]
        ).to(self._params[0].device)
        return std[:, None] * self.inverse_hessian() * std[None, :]

    def movement(self) -> dict[str, torch.Tensor]:
        """Where θ started (``start``, at the first step) and the sums of the mean steps
        (``drift``) and of the noise (``noise``) applied since (flat, params' dtype; trust-radius
        scaling included), so θ = start + drift + noise up to float rounding. Empty before the
        first step."""
        state = self._state()
        return {k: state[k].clone() for k in ("start", "drift", "noise") if k in state}

    def noise_scale(self) -> float:
        """The warm-up multiplier of the next step's noise (0 in mean mode)."""
        if self.mode == "mean":
            return 0.0
        return warmup_scale(self._state()["step"] + 1, self.warmup_steps, self.ramp_steps)

    # ------------------------------------------------------------------ step
    @torch.no_grad()
    def step(self, closure=None):
        """One draw (``mode="sample"``) or one mean step (``mode="mean"``); returns the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        owner = type(self).__name__
        if self.finite_watch is None:
            check_finite_grads(owner, self._params)
        else:  # deferred: NaN/Inf reach the max norm (no sync); the owner reads the watch later
            grads = [p.grad.reshape(-1) for p in self._params if p.grad is not None]
            if grads:
                self.finite_watch.note(torch.linalg.vector_norm(torch.cat(grads), math.inf), f"{owner} gradient")
        for group in self.param_groups:
            check_group(owner, group)

        gradients = self._gradients()
        state = self._state()
        state["step"] += 1
        if self.hessian == "identity":
            directions = gradients
        else:
            theta = torch.cat([p.detach().reshape(-1) for p in self._params])
            gradient = torch.cat([g.reshape(-1) for g in gradients])
            if "prev_params" in state:
                s = theta.double() - state.pop("prev_params").double()
                y = gradient.double() - state.pop("prev_grad").double()
                self._update_curvature(state, s, y)
            if closure is None and self.pairs == "step":
                state["prev_params"], state["prev_grad"] = theta, gradient
            newton = state["inverse_hessian"] @ gradient.double()
            directions = [c.view_as(p).to(p.dtype) for c, p in zip(newton.split(self._sizes), self._params)]

        noise, noise_scales = self._noise(state), []
        if noise is not None:
            noise_scales = [
                math.sqrt(noise_variance_factor(self.noise, group["lr"]) * group["temperature"] / self.data_size)
                for group, _ in self._grouped()
            ]
            if self.clip_ratio is not None:
                noise_norm = math.sqrt(sum(c * c * float(n.square().sum()) for c, n in zip(noise_scales, noise)))
                step_norm = math.sqrt(
                    sum(
                        group["lr"] ** 2 * float(d.double().square().sum())
                        for (group, _), d in zip(self._grouped(), directions)
                    )
                )
                factor = ratio_clip_factor(noise_norm, step_norm, self.clip_ratio)
                noise_scales = [c * factor for c in noise_scales]
        factor = self._trust_factor(state, directions, noise, noise_scales)
        if "start" not in state:
            state["start"] = torch.cat([p.detach().reshape(-1) for p in self._params])
            state["drift"], state["noise"] = torch.zeros_like(state["start"]), torch.zeros_like(state["start"])
        drift, noise_sum, offset = state["drift"], state["noise"], 0
        for index, (group, p) in enumerate(self._grouped()):
            part = slice(offset, offset + p.numel())
            offset += p.numel()
            drift[part].add_(directions[index].reshape(-1), alpha=-group["lr"] * factor)
            p.add_(directions[index], alpha=-group["lr"] * factor)
            if noise is not None:
                scaled = noise[index].to(p.dtype)
                noise_sum[part].add_(scaled.reshape(-1), alpha=noise_scales[index] * factor)
                p.add_(scaled, alpha=noise_scales[index] * factor)

        if closure is not None and self.hessian == "bfgs":
            # The pair on the closure's own batch: y = ∇U_B(θ_{t+1}) - ∇U_B(θ_t) (oBFGS).
            with torch.enable_grad():
                closure()
            new_gradient = torch.cat([g.reshape(-1) for g in self._gradients()])
            new_theta = torch.cat([p.detach().reshape(-1) for p in self._params])
            self._update_curvature(
                state, new_theta.double() - theta.double(), new_gradient.double() - gradient.double()
            )
        return loss

    def _trust_factor(self, state: dict, directions, noise, noise_scales) -> float:
        """1, or max_step / ‖move‖ when the draw's move (mean step + noise) is longer than max_step."""
        if self.max_step is None:
            return 1.0
        squared = 0.0
        for index, (group, _) in enumerate(self._grouped()):
            move = directions[index].double() * -group["lr"]
            if noise is not None:
                move = move + noise[index] * noise_scales[index]
            squared += float(move.square().sum())
        norm = math.sqrt(squared)
        state["last_move_norm"] = norm
        if norm <= self.max_step:
            return 1.0
        state["steps_clipped"] = state.get("steps_clipped", 0) + 1
        return self.max_step / norm

    def _gradients(self) -> list[torch.Tensor]:
        """g = ∇L_mean + λθ per parameter, in the params' dtype (exactly SGD's weight decay)."""
        return [
            (p.grad if p.grad is not None else torch.zeros_like(p)).add(p, alpha=group["weight_decay"])
            for group, p in self._grouped()
        ]

    def _grouped(self):
        return [(group, p) for group in self.param_groups for p in group["params"]]

    def _update_curvature(self, state: dict, s: torch.Tensor, y: torch.Tensor) -> None:
        """Update H with the pair (s, y): N&W's initial scaling at the first usable pair, the BFGS
        update (:func:`bfgs_inverse_update_codes`), the eigenvalue cap.

        No host sync (the cap's ``eigh`` aside, on CUDA): whether the initial scaling is done
        (``initial_scale_set``) and the pair counters (``pairs_updated``/``_damped``/``_skipped``)
        are 0-dim tensors on the device, and each branch is a ``torch.where`` (the same numbers
        as branching on the host). A state from before (Python bool and ints) is taken as is.
        """
        inverse_hessian = state["inverse_hessian"]
        scale_set = state["initial_scale_set"]
        if not isinstance(scale_set, torch.Tensor):  # a Python bool (a new state): filled on the device
            scale_set = torch.full((), bool(scale_set), dtype=torch.bool, device=s.device)
        sy, yy = s @ y, y @ y
        # N&W Eq. 6.20, at the first usable pair (sy > 0 and yy > 0)
        rescale = ~scale_set & (sy > 0) & (yy > 0)
        eye = torch.eye(self._numel, dtype=torch.float64, device=s.device)
        inverse_hessian = torch.where(rescale, (sy / yy) * eye, inverse_hessian)
        state["initial_scale_set"] = scale_set | rescale
        updated, code = bfgs_inverse_update_codes(inverse_hessian, s, y, self.pd_policy, self.pd_eps)
        if self.h_max is not None:  # unchanged when already under the cap (e.g. a skipped pair)
            updated = cap_eigenvalues(updated, self.h_max)
        state["inverse_hessian"] = updated
        for index, outcome in enumerate(OUTCOMES):
            state[f"pairs_{outcome}"] = state[f"pairs_{outcome}"] + (code == index)

    def _noise(self, state: dict) -> list[torch.Tensor] | None:
        """Warm-up scaled L z per parameter (float64, before the sqrt(T/N) factor); None when off."""
        scale = warmup_scale(state["step"], self.warmup_steps, self.ramp_steps)
        if self.mode == "mean" or scale == 0.0:
            return None
        device = self._params[0].device
        z = standard_normal((self._numel,), torch.float64, device, self._generator, self.clip_std)
        if self.hessian == "bfgs":
            z = cholesky_with_jitter(state["inverse_hessian"]) @ z
        return [chunk.view_as(p) for chunk, p in zip(z.mul_(scale).split(self._sizes), self._params)]
