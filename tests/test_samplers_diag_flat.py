"""DiagonalGaussian on one flat vector: the same arithmetic as the per-tensor sampler it replaced.

``PerTensorReference`` below is that sampler's code as it was (git a266239), kept as the
reference: mean mode must give the same weights and diagonals, old checkpoints must load, and
the number of kernels per step must not grow with the number of parameter tensors.
"""

import copy
import io

import pytest
import torch
from torch.optim import Optimizer

from gibbsnas_lite.samplers import DiagonalGaussian
from gibbsnas_lite.samplers._common import (
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
from gibbsnas_lite.samplers.diag_lbfgs import DIAGONALS, lbfgs_diagonal, secant_diagonal


class PerTensorReference(Optimizer):
    """The per-tensor sampler as it was before the flat layout (git a266239), kept as the reference."""

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
            for group in self.param_groups
            for p in group["params"]
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


def make_net(seed=0, dtype=torch.float32):
    torch.manual_seed(seed)
    net = torch.nn.Sequential(
        torch.nn.Linear(12, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4)
    ).to(dtype)
    return net


def param_groups(net):
    """Two groups with their own lr and weight decay (the flat layout keeps a slice per group)."""
    params = list(net.parameters())
    return [dict(params=params[:3], lr=0.7, weight_decay=1e-3), dict(params=params[3:], lr=1.0, weight_decay=1e-4)]


def run(net, sampler, steps, use_closure, seed=1):
    """Minibatch steps on a regression-like classification problem (other batch each step)."""
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(32, 12, generator=g, dtype=next(net.parameters()).dtype)
        y = torch.randint(0, 4, (32,), generator=g)

        def closure():
            sampler.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(x), y)
            loss.backward()
            return loss

        if use_closure:
            sampler.step(closure)
        else:
            closure()
            sampler.step()


SETTINGS = [
    (diag, pairs, closure)
    for diag in ("secant", "lbfgs")
    for pairs, closure in (("step", False), ("step", True), ("closure", True))
]


@pytest.mark.parametrize("diag, pairs, use_closure", SETTINGS)
def test_mean_mode_matches_the_per_tensor_reference(diag, pairs, use_closure):
    net = make_net()
    twin = copy.deepcopy(net)
    kwargs = dict(data_size=1000, mode="mean", diag=diag, history_size=3, pairs=pairs, h_min=1e-4, h_max=5.0)
    reference = PerTensorReference(param_groups(net), **kwargs)
    flat = DiagonalGaussian(param_groups(twin), **kwargs)
    run(net, reference, 12, use_closure)
    run(twin, flat, 12, use_closure)
    moved = max(float((p - q).detach().abs().max()) for p, q in zip(twin.parameters(), make_net().parameters()))
    assert moved > 0.05  # the weights did move
    # float32 rounding at most (measured: identical, max |difference| 0 in all six settings)
    for p, q in zip(net.parameters(), twin.parameters()):
        assert torch.allclose(p, q, rtol=1e-6, atol=1e-7), float((p - q).detach().abs().max())
    diagonal = torch.cat([d.flatten() for d in flat.inverse_hessian_diagonal()])
    for d_ref, d_flat in zip(reference.inverse_hessian_diagonal(), flat.inverse_hessian_diagonal()):
        assert d_ref.shape == d_flat.shape
        assert torch.allclose(d_ref, d_flat, rtol=1e-6, atol=1e-12)
    assert float((diagonal < 5.0).float().mean()) > 0.5  # the pairs set D (measured: 71-100% under h_max)


def test_sample_mode_draws_the_reference_noise():
    """Sample mode: the same mean and the same variance (T/N) D as the reference; only the draws differ
    (one flat draw of M normals instead of one per tensor). Five noise-free warm-up steps bring three
    copies (reference, flat, flat in mean mode) to the same point; the sixth step draws."""
    nets = [make_net(dtype=torch.float64) for _ in range(3)]
    kwargs = dict(data_size=50, history_size=3, temperature=2.0, warmup_steps=5, h_max=5.0)
    samplers = [
        PerTensorReference(nets[0].parameters(), seed=0, **kwargs),
        DiagonalGaussian(nets[1].parameters(), seed=0, **kwargs),
        DiagonalGaussian(nets[2].parameters(), mode="mean", **kwargs),
    ]
    for net, sampler in zip(nets, samplers):
        run(net, sampler, 5, use_closure=True)
    assert all(torch.equal(p, q) for p, q in zip(nets[0].parameters(), nets[1].parameters()))
    std = torch.cat([v.flatten() for v in samplers[1].variance()]).sqrt()
    assert std.min() < 0.5 * std.max()  # D differs across coordinates
    for net, sampler in zip(nets, samplers):
        run(net, sampler, 1, use_closure=True, seed=2)
    mean = torch.cat([p.detach().flatten() for p in nets[2].parameters()])
    for net in nets[:2]:  # standardized draws: N(0, 1) per coordinate (548 of them)
        z = (torch.cat([p.detach().flatten() for p in net.parameters()]) - mean) / std
        assert 0.85 < float(z.square().mean()) < 1.15 and abs(float(z.mean())) < 0.15
        assert 0.62 < float((z.abs() < 1).double().mean()) < 0.74  # N(0, 1): 0.683


@pytest.mark.parametrize("diag", ["secant", "lbfgs"])
def test_a_per_tensor_checkpoint_loads_and_continues_as_before(diag):
    net = make_net()
    kwargs = dict(data_size=1000, mode="mean", diag=diag, history_size=3, h_max=0.5)
    old = PerTensorReference(param_groups(net), **kwargs)
    run(net, old, 7, use_closure=False)  # pairs="step": a pending half-pair is in the checkpoint
    buffer = io.BytesIO()
    torch.save(old.state_dict(), buffer)
    buffer.seek(0)
    twin = copy.deepcopy(net)
    flat = DiagonalGaussian(param_groups(twin), **kwargs)
    flat.load_state_dict(torch.load(buffer, weights_only=False))
    run(net, old, 5, use_closure=False, seed=2)
    run(twin, flat, 5, use_closure=False, seed=2)
    for p, q in zip(net.parameters(), twin.parameters()):
        assert torch.allclose(p, q, rtol=1e-6, atol=1e-7)
    assert "flat_numel" in flat.state_dict()["state"][0]


def test_a_checkpoint_of_another_history_size_is_refused_by_name():
    net = make_net()
    old = PerTensorReference(net.parameters(), data_size=10, history_size=3)
    run(net, old, 3, use_closure=False)
    flat = DiagonalGaussian(net.parameters(), data_size=10, history_size=5)
    with pytest.raises(ValueError, match="history_size"):
        flat.load_state_dict(old.state_dict())


def test_a_parameter_without_gradient_stays_and_the_others_step_as_before():
    net, frozen = make_net(), torch.nn.Parameter(torch.ones(3, 2))
    twin, frozen_twin = copy.deepcopy(net), torch.nn.Parameter(torch.ones(3, 2))
    kwargs = dict(data_size=1000, mode="mean", history_size=3, h_max=0.5)
    reference = PerTensorReference([frozen, *net.parameters()], **kwargs)
    flat = DiagonalGaussian([frozen_twin, *twin.parameters()], **kwargs)
    run(net, reference, 6, use_closure=True)
    run(twin, flat, 6, use_closure=True)
    assert torch.equal(frozen_twin.detach(), torch.ones(3, 2))
    assert torch.equal(flat.inverse_hessian_diagonal()[0], torch.full((3, 2), 0.5))
    for p, q in zip(net.parameters(), twin.parameters()):
        assert torch.allclose(p, q, rtol=1e-6, atol=1e-7)


def test_parameters_of_two_dtypes_are_refused():
    with pytest.raises(ValueError, match="one dtype"):
        DiagonalGaussian(
            [torch.zeros(2, requires_grad=True), torch.zeros(2, dtype=torch.float64, requires_grad=True)], data_size=1
        )


class OpCounter(torch.utils._python_dispatch.TorchDispatchMode):
    """Non-view aten ops (about one kernel launch each on a GPU) and host syncs."""

    def __init__(self):
        super().__init__()
        self.ops = self.syncs = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += not func.is_view
        self.syncs += func.overloadpacket.__name__ == "_local_scalar_dense"
        return func(*args, **(kwargs or {}))


def ops_per_step(tensors: int, use_closure: bool) -> tuple[int, int]:
    params = [torch.nn.Parameter(torch.randn(4, 3)) for _ in range(tensors)]
    sampler = DiagonalGaussian(params, data_size=100, clip_std=3.0, pairs="closure", seed=0)

    def closure():
        for p in params:
            p.grad = 0.5 * p.detach()
        return 0.0

    for _ in range(3):  # past the first pair
        sampler.step(closure)
    closure()
    counter = OpCounter()
    with counter:
        sampler.step(closure) if use_closure else sampler.step()
    closure_ops = 0
    if use_closure:  # the closure's own ops are the caller's
        inner = OpCounter()
        with inner:
            closure()
        closure_ops = 2 * inner.ops
    return counter.ops - closure_ops, counter.syncs


@pytest.mark.parametrize("use_closure", [False, True])
def test_kernels_per_step_do_not_grow_with_the_number_of_tensors(use_closure):
    """The per-tensor loop launched ~25 kernels per tensor (5,030 for NB201's 201 tensors)."""
    few, many = ops_per_step(3, use_closure), ops_per_step(60, use_closure)
    assert few == many, (few, many)
    ops, syncs = many
    assert ops <= (31 if use_closure else 26) and syncs == 1, many  # measured: 31 and 26


def test_group_settings_changed_after_a_resume_are_used():
    """load_state_dict replaces the param groups: a scheduler's lr/temperature after a resume must act."""
    start, twin = make_net(), make_net()
    kwargs = dict(data_size=1000, mode="mean", history_size=3, h_max=0.5)
    straight = DiagonalGaussian(param_groups(start), **kwargs)
    run(start, straight, 3, use_closure=True)
    resumed = DiagonalGaussian(param_groups(twin), **kwargs)
    twin.load_state_dict(start.state_dict())
    resumed.load_state_dict(copy.deepcopy(straight.state_dict()))  # a copy, as a checkpoint file gives
    for sampler in (straight, resumed):
        sampler.param_groups[1]["lr"] = 0.01  # what CosineAnnealingLR does, epoch by epoch
    before = [p.detach().clone() for p in twin.parameters()]
    run(start, straight, 2, use_closure=True, seed=3)
    run(twin, resumed, 2, use_closure=True, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(start.parameters(), twin.parameters()))
    last = list(twin.parameters())[-1]
    assert 0 < float((last.detach() - before[-1]).abs().max()) < 0.01  # the small lr was used
