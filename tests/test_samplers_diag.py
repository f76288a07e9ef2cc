"""DiagonalGaussian (paper Eq. 15): checked against known truths (diagonal Gaussians, dense BFGS, SGD bounds)."""

import copy
import io
import math

import pytest
import torch

from gibbsnas_lite.samplers import DiagonalGaussian, bfgs_inverse_update, lbfgs_diagonal, secant_diagonal
from helpers import assert_same, noisy_quadratic_run

F64 = torch.float64


def diagonal_target(d=50, seed=0):
    """U(θ) = ½ Σ a_i (θ_i - μ_i)²; curvatures 10..1000, so 1/a spans [1e-3, 0.1] (two decades, inside the clamps)."""
    mu = torch.randn(d, generator=torch.Generator().manual_seed(seed), dtype=F64)
    return torch.logspace(1, 3, d, dtype=F64), mu


@pytest.fixture(scope="module")
def diagonal_chain():
    """10,000 draws: 10 independent copies of the 50-D target in one sampler (D is per coordinate)."""
    a, mu = diagonal_target()
    chains, data_size, burn_in, steps = 10, 4.0, 50, 1000
    theta = torch.zeros(chains, 50, dtype=F64, requires_grad=True)
    sampler = DiagonalGaussian([theta], data_size=data_size, weight_decay=0.0, seed=0)
    samples = torch.empty(steps, chains, 50, dtype=F64)
    for t in range(burn_in + steps):
        theta.grad = a * (theta.detach() - mu)
        sampler.step()
        if t >= burn_in:
            samples[t - burn_in] = theta.detach()
    return dict(a=a, mu=mu, data_size=data_size, samples=samples.reshape(-1, 50), sampler=sampler)


def test_sample_mode_recovers_the_variances(diagonal_chain):
    a, samples = diagonal_chain["a"], diagonal_chain["samples"]
    target = 1.0 / (a * diagonal_chain["data_size"])  # (T/N) / a_i
    relative_error = (samples.var(0) - target).abs() / target
    assert relative_error.max() < 0.10  # measured 0.04 (10k draws: one std is 0.014)
    mean_error = (samples.mean(0) - diagonal_chain["mu"]) / target.sqrt()
    assert mean_error.abs().max() < 0.05
    (variance,) = diagonal_chain["sampler"].variance()
    assert torch.allclose(variance, target.expand(10, 50), rtol=1e-9)


def test_secant_diagonal_is_exact_on_a_separable_quadratic(diagonal_chain):
    (estimate,) = diagonal_chain["sampler"].inverse_hessian_diagonal()
    assert torch.allclose(estimate, (1.0 / diagonal_chain["a"]).expand(10, 50), rtol=1e-9)


def test_mean_mode_converges_to_the_mode():
    a, mu = diagonal_target(seed=1)
    theta = torch.zeros(50, dtype=F64, requires_grad=True)
    sampler = DiagonalGaussian([theta], data_size=1, weight_decay=0.0, mode="mean", h_min=1e-4, h_max=1.0)
    for _ in range(8):
        theta.grad = a * (theta.detach() - mu)
        sampler.step()
    assert torch.linalg.norm(theta.detach() - mu) < 1e-10 * torch.linalg.norm(mu)


def test_lbfgs_diagonal_is_the_diagonal_of_dense_bfgs():
    """The compact form's diagonal equals dense BFGS from H0 = γI (γ = s_kᵀy_k / y_kᵀy_k) over the same pairs."""
    g = torch.Generator().manual_seed(2)
    a = torch.randn(12, 12, generator=g, dtype=F64)
    a = a @ a.T / 12 + 0.5 * torch.eye(12, dtype=F64)
    s = torch.randn(6, 12, generator=g, dtype=F64)
    y = s @ a
    gamma = (s[-1] @ y[-1]) / (y[-1] @ y[-1])
    dense = gamma * torch.eye(12, dtype=F64)
    for s_k, y_k in zip(s, y):
        dense, outcome = bfgs_inverse_update(dense, s_k, y_k, pd_policy="skip")
        assert outcome == "updated"
    ours = lbfgs_diagonal(s.reshape(6, 3, 4), y.reshape(6, 3, 4), 1e-12, 1e12)
    assert ours.shape == (3, 4)
    assert torch.allclose(ours.flatten(), dense.diagonal(), rtol=1e-10)


def test_secant_clamps_and_the_no_curvature_rule():
    s = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0]], dtype=F64)
    y = torch.tensor([[2.0, -1.0, 1e-9, 1e6, 3.0]], dtype=F64)
    # 1/2; negative curvature -> h_max; tiny curvature -> clamped to h_max; huge -> h_min; never moved -> h_max
    expected = torch.tensor([0.5, 0.8, 0.8, 1e-3, 0.8], dtype=F64)
    assert torch.equal(secant_diagonal(s, y, 1e-3, 0.8), expected)


def make_mlp_problem():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2048, 32, generator=g)
    labels = (x @ torch.randn(32, 10, generator=g) + 0.5 * torch.randn(2048, 10, generator=g)).argmax(1)
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10)
    )
    torch.random.set_rng_state(torch_state)
    return x, labels, net


def test_defaults_train_a_network_with_minibatch_noise():
    """Sample mode at the defaults (η = 1, D in [1e-4, 0.1]) on a 3-layer MLP, batch 64: stable and learning."""
    x, labels, net = make_mlp_problem()
    sampler = DiagonalGaussian(net.parameters(), data_size=len(x), seed=0)
    batches = torch.Generator().manual_seed(1)
    loss = torch.nn.functional.cross_entropy
    with torch.no_grad():
        start = loss(net(x), labels).item()
    for _ in range(300):
        index = torch.randint(0, len(x), (64,), generator=batches)
        sampler.zero_grad()
        loss(net(x[index]), labels[index]).backward()
        sampler.step()
    with torch.no_grad():
        end = loss(net(x), labels).item()
    assert start > 2.2 and end < 0.8  # measured 0.46 after 300 steps
    diagonal = torch.cat([d.flatten() for d in sampler.inverse_hessian_diagonal()])
    assert diagonal.min() >= 1e-4 and diagonal.max() <= 0.1


@pytest.mark.parametrize("use_closure", [False, True])
def test_gradient_noise_and_closure_pairs(use_closure):
    """Additive gradient noise: next-step pairs see it in s and y and are biased; same-batch pairs stay exact."""
    a, mu = diagonal_target(20, seed=3)
    theta = torch.zeros(20, dtype=F64, requires_grad=True)
    sampler = DiagonalGaussian([theta], lr=0.1, data_size=100, weight_decay=0.0, mode="mean", h_min=1e-5, h_max=1.0)
    g = torch.Generator().manual_seed(4)
    for _ in range(200):
        batch_noise = torch.randn(20, generator=g, dtype=F64)

        def closure():
            theta.grad = a * (theta.detach() - mu) + batch_noise
            return 0.0

        if use_closure:
            sampler.step(closure)
        else:
            closure()
            sampler.step()
    (estimate,) = sampler.inverse_hessian_diagonal()
    if use_closure:
        assert torch.allclose(estimate, 1.0 / a, rtol=1e-9)
    else:  # measured: D·a from 1e-4 to 1.02, median 0.40
        ratio = estimate * a
        assert ratio.median() < 0.6 and ratio.min() < 0.01


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(lr=-1.0), "lr"),
        (dict(temperature=-0.5), "temperature"),
        (dict(data_size=0.0), "data_size"),
        (dict(weight_decay=-1.0), "weight_decay"),
        (dict(mode="map"), "mode must be one of 'sample', 'mean'"),
        (dict(diag="full"), "diag must be one of 'secant', 'lbfgs'"),
        (dict(history_size=0), "history_size"),
        (dict(h_min=0.0), "h_min"),
        (dict(h_min=0.5, h_max=0.1), "h_max"),
        (dict(warmup_steps=-2), "warmup_steps"),
        (dict(clip_std=-3.0), "clip_std"),
        (dict(clip_ratio=float("nan")), "clip_ratio"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DiagonalGaussian([torch.zeros(3, requires_grad=True)], **(dict(data_size=10) | kwargs))


def test_nan_gradient_raises_and_changes_nothing():
    params = [torch.randn(4, 3, requires_grad=True), torch.randn(5, requires_grad=True)]
    sampler = DiagonalGaussian(params, data_size=50, seed=0)
    noisy_quadratic_run(params, sampler, 4, seed=1)
    params[0].grad = torch.full((4, 3), float("inf"))
    params[1].grad = torch.ones(5)
    before_state = copy.deepcopy(sampler.state_dict())
    before_params = [p.detach().clone() for p in params]
    with pytest.raises(ValueError, match=r"parameter 0 \(shape \(4, 3\)\).*12 NaN/Inf.*[Ll]ower the learning rate"):
        sampler.step()
    assert_same(sampler.state_dict(), before_state)
    for p, q in zip(params, before_params):
        assert torch.equal(p.detach(), q)


def test_warmup_draws_no_noise_then_ramps_linearly():
    a, mu = diagonal_target(30, seed=5)
    trajectories = {}
    for mode in ("sample", "mean"):
        theta = torch.zeros(30, dtype=F64, requires_grad=True)
        sampler = DiagonalGaussian([theta], data_size=5, mode=mode, warmup_steps=3, seed=0)
        trajectory = []
        for _ in range(4):
            theta.grad = a * (theta.detach() - mu)
            sampler.step()
            trajectory.append(theta.detach().clone())
        trajectories[mode] = trajectory
    assert all(torch.equal(x, y) for x, y in zip(trajectories["sample"][:3], trajectories["mean"][:3]))
    assert not torch.equal(trajectories["sample"][3], trajectories["mean"][3])

    # the ramp: with ∇U = 0 and D = h_max the moves are pure noise, scaled by 1/3, 2/3, 1
    moves = {}
    for warmup, ramp in ((0, 0), (1, 3)):
        theta = torch.zeros(40, dtype=F64, requires_grad=True)
        sampler = DiagonalGaussian([theta], data_size=2, weight_decay=0.0, warmup_steps=warmup, ramp_steps=ramp, seed=3)
        steps = []
        for _ in range(5):
            before = theta.detach().clone()
            theta.grad = torch.zeros(40, dtype=F64)
            sampler.step()
            steps.append(theta.detach() - before)
        moves[(warmup, ramp)] = steps
    full, ramped = moves[(0, 0)], moves[(1, 3)]
    assert torch.equal(ramped[0], torch.zeros(40, dtype=F64))
    for k, scale in enumerate([1 / 3, 2 / 3, 1.0, 1.0]):
        assert torch.allclose(ramped[k + 1], scale * full[k], rtol=1e-12, atol=0)
    assert torch.allclose(full[0].square().mean(), torch.tensor(0.1 / 2, dtype=F64), rtol=0.5)  # (T/N) h_max


def test_clip_std_and_clip_ratio_bounds():
    theta = torch.zeros(3000, dtype=F64, requires_grad=True)
    sampler = DiagonalGaussian([theta], data_size=4, weight_decay=0.0, clip_std=2.0, seed=0)
    theta.grad = torch.zeros(3000, dtype=F64)
    sampler.step()
    bound = 2.0 * math.sqrt(0.1 / 4)  # k sqrt(T/N · D), D = h_max before any pair
    assert theta.detach().abs().max() <= bound * (1 + 1e-12)
    assert (theta.detach().abs() > bound * (1 - 1e-12)).sum() > 50  # ~4.6% of N(0,1) lies beyond 2

    a, mu = diagonal_target(30, seed=6)
    params = [torch.zeros(30, dtype=F64, requires_grad=True), torch.zeros(30, dtype=F64, requires_grad=True)]
    warm = DiagonalGaussian(params, data_size=1, seed=0)
    noisy_quadratic_run(params, warm, 4, seed=2)
    state, start = warm.state_dict(), [p.detach().clone() for p in params]
    ends = {}
    for mode in ("sample", "mean"):
        copies = [p.clone().requires_grad_() for p in start]
        sampler = DiagonalGaussian(copies, data_size=1, mode=mode, clip_ratio=1e-3)
        sampler.load_state_dict(state)
        for c, p in zip(copies, start):
            c.grad = a * (p - mu)
        sampler.step()
        ends[mode] = torch.cat([c.detach() for c in copies])
    noise = ends["sample"] - ends["mean"]
    mean_step = ends["mean"] - torch.cat(start)
    assert torch.isclose(noise.norm(), 1e-3 * mean_step.norm(), rtol=1e-9)  # the global cap is active


@pytest.mark.parametrize("diag", ["secant", "lbfgs"])
def test_state_dict_round_trip_is_bit_exact(diag):
    g = torch.Generator().manual_seed(8)
    start = [torch.randn(7, 3, generator=g), torch.randn(5, generator=g)]
    kwargs = dict(data_size=30, diag=diag, history_size=3, seed=4, warmup_steps=1, ramp_steps=2, clip_std=2.5)

    straight = [p.clone().requires_grad_() for p in start]
    uninterrupted = DiagonalGaussian(straight, **kwargs)
    noisy_quadratic_run(straight, uninterrupted, 6, seed=1)
    noisy_quadratic_run(straight, uninterrupted, 5, seed=2)

    first = [p.clone().requires_grad_() for p in start]
    sampler = DiagonalGaussian(first, **kwargs)
    noisy_quadratic_run(first, sampler, 6, seed=1)
    buffer = io.BytesIO()
    torch.save(sampler.state_dict(), buffer)
    buffer.seek(0)
    resumed_params = [p.detach().clone().requires_grad_() for p in first]
    resumed = DiagonalGaussian(resumed_params, **(kwargs | dict(seed=123)))
    resumed.load_state_dict(torch.load(buffer, weights_only=False))
    noisy_quadratic_run(resumed_params, resumed, 5, seed=2)

    for p, q in zip(straight, resumed_params):
        assert torch.equal(p.detach(), q.detach())
    assert_same(uninterrupted.state_dict()["state"], resumed.state_dict()["state"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda():
    a, mu = diagonal_target(20, seed=7)
    ends = {}
    for device in ("cpu", "cuda"):
        theta = torch.zeros(20, dtype=F64, device=device, requires_grad=True)
        sampler = DiagonalGaussian([theta], data_size=4, weight_decay=0.0, mode="mean", diag="lbfgs")
        for _ in range(10):
            theta.grad = a.to(device) * (theta.detach() - mu.to(device))
            sampler.step()
        ends[device] = theta.detach().cpu()
    assert torch.allclose(ends["cpu"], ends["cuda"], rtol=1e-9, atol=1e-12)

    params = [torch.zeros(8, 4, device="cuda", requires_grad=True), torch.zeros(3, device="cuda", requires_grad=True)]
    sampler = DiagonalGaussian(params, data_size=100, seed=0, clip_std=3.0, clip_ratio=10.0)
    noisy_quadratic_run(params, sampler, 5, seed=4)
    assert all(t.device.type == "cuda" for t in sampler.state[params[0]].values() if torch.is_tensor(t))
    assert all(torch.isfinite(p).all() for p in params)
    copies = [p.detach().clone().requires_grad_() for p in params]
    resumed = DiagonalGaussian(copies, data_size=100, seed=1, clip_std=3.0, clip_ratio=10.0)
    resumed.load_state_dict(sampler.state_dict())
    noisy_quadratic_run(params, sampler, 3, seed=5)
    noisy_quadratic_run(copies, resumed, 3, seed=5)
    assert all(torch.equal(p, c) for p, c in zip(params, copies))


def test_the_earlier_name_is_an_alias_for_one_version():
    """DiagLBFGSGaussian (issue 21: the default diagonal is a secant fit, not L-BFGS's) is the same class;
    its state dict names no class, so a checkpoint saved under the old name loads into the new one."""
    from gibbsnas_lite.samplers import DiagLBFGSGaussian

    assert DiagLBFGSGaussian is DiagonalGaussian
    theta = torch.randn(4, requires_grad=True)
    old = DiagLBFGSGaussian([theta], data_size=10, seed=0)
    for _ in range(3):
        theta.grad = 2 * theta.detach()
        old.step()
    state = old.state_dict()
    assert "DiagLBFGS" not in repr(state)
    new = DiagonalGaussian([theta], data_size=10, seed=0)
    new.load_state_dict(state)
    assert torch.equal(new.state_dict()["state"][0]["s_history"], state["state"][0]["s_history"])
