"""BFGSGaussian (paper Eq. 16): checked against known truths (Gaussian targets, scipy's BFGS, SGD)."""

import copy
import io
import math

import numpy as np
import pytest
import torch
from scipy.optimize import BFGS, minimize, rosen, rosen_der

from gibbsnas_lite.samplers import BFGSGaussian, bfgs_inverse_update
from helpers import assert_same, noisy_quadratic_run

F64 = torch.float64


def spd_matrix(n, seed, low=1.0, high=10.0):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=F64))
    return q @ torch.diag(torch.logspace(math.log10(low), math.log10(high), n, dtype=F64)) @ q.T


def gaussian_target(n=10, seed=0):
    """U(θ) = ½ (θ-μ)ᵀ A (θ-μ): a non-diagonal Gaussian with covariance (T/N) A⁻¹."""
    mu = torch.randn(n, generator=torch.Generator().manual_seed(seed + 1), dtype=F64)
    return spd_matrix(n, seed), mu


@pytest.fixture(scope="module")
def gaussian_chain():
    """20,000 draws: 10 independent copies of the 10-D target in one sampler (H is 100x100), 2,000 steps each.

    One sampler over the stacked copies is the same chain as ten samplers, ten times cheaper in
    Python overhead; BFGS must learn the block-diagonal inverse Hessian on its own.
    """
    a, mu = gaussian_target()
    chains, data_size, burn_in, steps = 10, 4.0, 300, 2000
    theta = torch.zeros(chains, 10, dtype=F64, requires_grad=True)
    sampler = BFGSGaussian([theta], lr=1.0, data_size=data_size, weight_decay=0.0, seed=0)
    samples = torch.empty(steps, chains, 10, dtype=F64)
    for t in range(burn_in + steps):
        theta.grad = (theta.detach() - mu) @ a
        sampler.step()
        if t >= burn_in:
            samples[t - burn_in] = theta.detach()
    return dict(
        a=a, mu=mu, data_size=data_size, samples=samples.reshape(-1, 10), sampler=sampler, theta=theta, chains=chains
    )


def test_sample_mode_draws_the_gaussian(gaussian_chain):
    a, mu, samples = gaussian_chain["a"], gaussian_chain["mu"], gaussian_chain["samples"]
    target = torch.linalg.inv(a) / gaussian_chain["data_size"]  # (T/N) A⁻¹, T = 1
    mean_error = (samples.mean(0) - mu) / target.diagonal().sqrt()
    assert mean_error.abs().max() < 0.05  # in posterior standard deviations (measured 0.014)
    covariance_error = torch.linalg.norm(torch.cov(samples.T) - target) / torch.linalg.norm(target)
    assert covariance_error < 0.10  # measured 0.027
    block_diagonal = torch.block_diag(*[target] * gaussian_chain["chains"])
    reported = gaussian_chain["sampler"].covariance()  # what the dashboard shows
    assert torch.linalg.norm(reported - block_diagonal) / torch.linalg.norm(block_diagonal) < 1e-4


def test_inverse_hessian_converges_to_the_true_one(gaussian_chain):
    a_inverse = torch.block_diag(*[torch.linalg.inv(gaussian_chain["a"])] * gaussian_chain["chains"])
    estimate = gaussian_chain["sampler"].inverse_hessian()
    assert torch.linalg.norm(estimate - a_inverse) / torch.linalg.norm(a_inverse) < 1e-4  # measured 1.5e-6
    state = gaussian_chain["sampler"].state[gaussian_chain["theta"]]
    assert state["pairs_updated"] == 2299 and state["pairs_damped"] == state["pairs_skipped"] == 0


@pytest.mark.parametrize("pd_policy", ["damp", "skip"])
def test_mean_mode_converges_to_the_mode(pd_policy):
    a, mu = gaussian_target()
    theta = torch.zeros(10, dtype=F64, requires_grad=True)
    sampler = BFGSGaussian([theta], lr=1.0, data_size=1, weight_decay=0.0, mode="mean", pd_policy=pd_policy)
    for _ in range(40):
        theta.grad = a @ (theta.detach() - mu)
        sampler.step()
    assert torch.linalg.norm(theta.detach() - mu) < 1e-9 * torch.linalg.norm(mu)


def feed_points(sampler, theta, points, gradients):
    """Put θ = x_k and grad = g_k before each step(), so the sampler sees the pairs (x_k - x_{k-1}, g_k - g_{k-1})."""
    for x, g in zip(points, gradients):
        with torch.no_grad():
            theta.copy_(torch.as_tensor(x))
        theta.grad = torch.as_tensor(g).clone()
        sampler.step()


def textbook_bfgs(h, s, y):
    """Nocedal & Wright Eq. 6.17, literally."""
    rho = 1.0 / (y @ s)
    eye = np.eye(len(s))
    return (eye - rho * np.outer(s, y)) @ h @ (eye - rho * np.outer(y, s)) + rho * np.outer(s, s)


@pytest.mark.parametrize("init_scale", ["auto", 0.5])
def test_rosenbrock_pairs_match_scipy_and_the_textbook(init_scale):
    path = [np.array([-1.2, 1.0, -0.5, 0.8, 1.1, -0.3])]
    minimize(rosen, path[0], jac=rosen_der, method="BFGS", callback=lambda xk: path.append(xk.copy()))
    gradients = [rosen_der(x) for x in path]
    pairs = [(b - a, gb - ga) for a, b, ga, gb in zip(path, path[1:], gradients, gradients[1:])]
    assert len(pairs) > 20 and all(s @ y > 0 for s, y in pairs)  # Wolfe steps: every pair is used

    reference = BFGS(exception_strategy="skip_update", min_curvature=0.0, init_scale=init_scale)
    reference.initialize(6, "inv_hess")
    s0, y0 = pairs[0]
    textbook = np.eye(6) * ((s0 @ y0) / (y0 @ y0) if init_scale == "auto" else init_scale)
    for s, y in pairs:
        reference.update(s, y)
        textbook = textbook_bfgs(textbook, s, y)

    theta = torch.zeros(6, dtype=F64, requires_grad=True)
    sampler = BFGSGaussian([theta], data_size=1, weight_decay=0.0, mode="mean", pd_policy="skip", init_scale=init_scale)
    feed_points(sampler, theta, path, gradients)
    ours = sampler.inverse_hessian().numpy()
    scale = np.abs(textbook).max()
    np.testing.assert_allclose(ours, reference.get_matrix(), rtol=1e-8, atol=1e-10 * scale)
    np.testing.assert_allclose(ours, textbook, rtol=1e-8, atol=1e-10 * scale)
    assert sampler.state[theta]["pairs_updated"] == len(pairs)


def test_powell_damping_matches_scipy_damp_update():
    g = torch.Generator().manual_seed(3)
    points = torch.randn(40, 6, generator=g, dtype=F64)
    gradients = torch.randn(40, 6, generator=g, dtype=F64)  # unrelated to the points: many pairs with sᵀy <= 0
    theta = torch.zeros(6, dtype=F64, requires_grad=True)
    sampler = BFGSGaussian([theta], data_size=1, weight_decay=0.0, mode="mean", init_scale=1.0, pd_policy="damp")
    feed_points(sampler, theta, points, gradients)
    reference = BFGS(exception_strategy="damp_update", min_curvature=0.2, init_scale=1.0)
    reference.initialize(6, "inv_hess")
    for k in range(1, 40):
        reference.update((points[k] - points[k - 1]).numpy(), (gradients[k] - gradients[k - 1]).numpy())
    state = sampler.state[theta]
    assert state["pairs_damped"] > 10 and state["pairs_skipped"] == 0
    np.testing.assert_allclose(sampler.inverse_hessian().numpy(), reference.get_matrix(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("pd_policy", ["damp", "skip"])
def test_pairs_without_positive_curvature_keep_h_positive_definite(pd_policy):
    g = torch.Generator().manual_seed(4)
    h = spd_matrix(8, 5)
    for _ in range(300):
        s = torch.randn(8, generator=g, dtype=F64)
        y = -torch.rand((), generator=g, dtype=F64) * s + 0.1 * torch.randn(8, generator=g, dtype=F64)
        if s @ y > 0:
            y = -y
        before = h
        h, outcome = bfgs_inverse_update(h, s, y, pd_policy)
        assert outcome == ("damped" if pd_policy == "damp" else "skipped")
        if pd_policy == "skip":
            assert h is before
        else:  # the damped secant: H+ y = θ s + (1-θ) H y with (H+ y)ᵀ y = 0.2 yᵀ H y
            assert torch.allclose((h @ y) @ y, 0.2 * (y @ before @ y), rtol=1e-9)
        assert torch.linalg.eigvalsh(h).min() > 0
        torch.linalg.cholesky(h)
    assert torch.linalg.cond(h) < 1e12

    # and through the sampler, on a concave potential (every pair has sᵀy < 0), in sample mode
    theta = torch.ones(8, dtype=F64, requires_grad=True)
    sampler = BFGSGaussian([theta], data_size=10, weight_decay=0.0, pd_policy=pd_policy, seed=1)
    for _ in range(50):
        theta.grad = -0.5 * theta.detach()
        sampler.step()
        assert torch.linalg.eigvalsh(sampler.inverse_hessian()).min() > 0
    assert sampler.state[theta][f"pairs_{'damped' if pd_policy == 'damp' else 'skipped'}"] == 49


def test_identity_mean_mode_is_sgd_exactly():
    g = torch.Generator().manual_seed(6)
    start = [torch.randn(14, 8, generator=g), torch.randn(14, 8, generator=g)]  # DARTS' two α tensors, float32
    ours = [p.clone().requires_grad_() for p in start]
    sgd = [p.clone().requires_grad_() for p in start]
    manual = [p.clone() for p in start]
    lr, wd = 0.1, 1e-4
    sampler = BFGSGaussian(ours, lr=lr, data_size=1, weight_decay=wd, mode="mean", hessian="identity")
    reference = torch.optim.SGD(sgd, lr=lr, weight_decay=wd)
    schedulers = [torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5) for o in (sampler, reference)]
    for step in range(5):
        grads = [torch.randn(14, 8, generator=g) for _ in start]
        step_lr = lr * 0.5 ** (step // 2)
        for o, s, q, grad in zip(ours, sgd, manual, grads):
            o.grad, s.grad = grad.clone(), grad.clone()
            q.add_(grad.add(q, alpha=wd), alpha=-step_lr)  # θ - η (∇L + λθ)
        sampler.step()
        reference.step()
        for scheduler in schedulers:
            scheduler.step()
        for o, s, q in zip(ours, sgd, manual):
            assert torch.equal(o.detach(), s.detach()) and torch.equal(o.detach(), q)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(lr=-0.1), "lr"),
        (dict(temperature=-1.0), "temperature"),
        (dict(data_size=0), "data_size"),
        (dict(data_size=-5), "data_size"),
        (dict(weight_decay=-1e-4), "weight_decay"),
        (dict(lr=float("nan")), "lr"),
        (dict(mode="posterior"), "mode must be one of 'sample', 'mean'"),
        (dict(hessian="lbfgs"), "hessian must be one of 'bfgs', 'identity'"),
        (dict(pd_policy="clip"), "pd_policy must be one of 'damp', 'skip'"),
        (dict(init_scale=0.0), "init_scale"),
        (dict(init_scale="scipy"), "init_scale"),
        (dict(warmup_steps=-1), "warmup_steps"),
        (dict(ramp_steps=1.5), "ramp_steps"),
        (dict(clip_std=0.0), "clip_std"),
        (dict(clip_ratio=-1.0), "clip_ratio"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = dict(data_size=100) | kwargs
    with pytest.raises(ValueError, match=message):
        BFGSGaussian([torch.zeros(3, requires_grad=True)], **arguments)


def test_a_negative_lr_from_a_scheduler_is_caught_at_step():
    theta = torch.zeros(3, requires_grad=True)
    sampler = BFGSGaussian([theta], data_size=1)
    sampler.param_groups[0]["lr"] = -1.0
    theta.grad = torch.ones(3)
    with pytest.raises(ValueError, match="lr"):
        sampler.step()


def test_nan_gradient_raises_and_changes_nothing():
    params = [torch.randn(6, 5, requires_grad=True), torch.randn(3, requires_grad=True)]
    sampler = BFGSGaussian(params, data_size=50, seed=0)
    noisy_quadratic_run(params, sampler, 4, seed=1)
    params[0].grad = torch.ones(6, 5)
    params[1].grad = torch.tensor([1.0, float("nan"), float("inf")])
    before_state = copy.deepcopy(sampler.state_dict())
    before_params = [p.detach().clone() for p in params]
    with pytest.raises(ValueError, match=r"parameter 1 \(shape \(3,\)\).*2 NaN/Inf.*[Ll]ower the learning rate"):
        sampler.step()
    assert_same(sampler.state_dict(), before_state)
    for p, q in zip(params, before_params):
        assert torch.equal(p.detach(), q)


def test_warmup_draws_no_noise_then_ramps_linearly():
    # (a) during warm-up a sample-mode run is the mean-mode run, bit for bit
    a, mu = gaussian_target(6, seed=2)
    runs = []
    for mode in ("sample", "mean"):
        theta = torch.zeros(6, dtype=F64, requires_grad=True)
        sampler = BFGSGaussian([theta], data_size=5, mode=mode, warmup_steps=4, seed=0)
        trajectory = []
        for _ in range(5):
            theta.grad = a @ (theta.detach() - mu)
            sampler.step()
            trajectory.append(theta.detach().clone())
        runs.append(trajectory)
    assert all(torch.equal(x, y) for x, y in zip(runs[0][:4], runs[1][:4]))
    assert not torch.equal(runs[0][4], runs[1][4])

    # (b) the ramp: with ∇U = 0 the moves are pure noise, scaled by 1/4, 2/4, 3/4, 1, 1
    moves = {}
    for warmup, ramp in ((0, 0), (2, 4)):
        theta = torch.zeros(50, dtype=F64, requires_grad=True)
        sampler = BFGSGaussian(
            [theta], data_size=3, weight_decay=0.0, hessian="identity", warmup_steps=warmup, ramp_steps=ramp, seed=7
        )
        scales, steps = [], []
        for _ in range(7):
            scales.append(sampler.noise_scale())
            before = theta.detach().clone()
            theta.grad = torch.zeros(50, dtype=F64)
            sampler.step()
            steps.append(theta.detach() - before)
        moves[(warmup, ramp)] = (scales, steps)
    scales, ramped = moves[(2, 4)]
    assert scales == [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    full = moves[(0, 0)][1]
    assert torch.equal(ramped[0], torch.zeros(50, dtype=F64)) and torch.equal(ramped[1], torch.zeros(50, dtype=F64))
    for k, scale in enumerate(scales[2:]):
        assert torch.allclose(ramped[k + 2], scale * full[k], rtol=1e-12, atol=0)


def test_clip_std_bounds_each_standardized_coordinate():
    theta = torch.zeros(2000, dtype=F64, requires_grad=True)
    sampler = BFGSGaussian([theta], data_size=4, weight_decay=0.0, hessian="identity", clip_std=1.5, seed=0)
    theta.grad = torch.zeros(2000, dtype=F64)
    sampler.step()
    bound = 1.5 * math.sqrt(1 / 4)
    assert theta.detach().abs().max() <= bound * (1 + 1e-12)
    assert (theta.detach().abs() > bound * (1 - 1e-12)).sum() > 100  # ~13% of N(0,1) lies beyond 1.5

    # with a BFGS H the bound holds for L⁻¹ (θ_{t+1} - mean)
    a, mu = gaussian_target(6, seed=3)
    theta = torch.zeros(6, dtype=F64, requires_grad=True)
    sampler = BFGSGaussian([theta], lr=1.0, data_size=4, weight_decay=0.0, clip_std=0.5, seed=1)
    for _ in range(60):
        theta.grad = a @ (theta.detach() - mu)
        before = theta.detach().clone()
        sampler.step()
        h = sampler.inverse_hessian()
        mean = before - h @ (a @ (before - mu))
        standardized = torch.linalg.solve_triangular(
            torch.linalg.cholesky(h), (theta.detach() - mean)[:, None], upper=False
        )
        assert standardized.abs().max() <= 0.5 * math.sqrt(1 / 4) * (1 + 1e-9)


def test_clip_ratio_caps_the_noise_norm():
    a, mu = gaussian_target(6, seed=4)
    theta = torch.zeros(6, dtype=F64, requires_grad=True)
    warm = BFGSGaussian([theta], data_size=1, seed=0)
    noisy_quadratic_run([theta], warm, 5, seed=2)
    state = warm.state_dict()
    start = theta.detach().clone()
    ends = {}
    for mode in ("sample", "mean"):
        copy_ = start.clone().requires_grad_()
        sampler = BFGSGaussian([copy_], data_size=1, mode=mode, clip_ratio=0.3)
        sampler.load_state_dict(state)
        copy_.grad = a @ (start - mu)
        sampler.step()
        ends[mode] = copy_.detach()
    noise = ends["sample"] - ends["mean"]
    mean_step = ends["mean"] - start
    assert torch.isclose(noise.norm(), 0.3 * mean_step.norm(), rtol=1e-9)  # T/N = 1: the cap is active


def test_state_dict_round_trip_is_bit_exact():
    g = torch.Generator().manual_seed(8)
    start = [torch.randn(6, 5, generator=g), torch.randn(4, generator=g)]  # float32: H stays float64
    kwargs = dict(lr=0.3, data_size=20, seed=3, warmup_steps=2, ramp_steps=3, clip_std=3.0)

    straight = [p.clone().requires_grad_() for p in start]
    uninterrupted = BFGSGaussian(straight, **kwargs)
    noisy_quadratic_run(straight, uninterrupted, 7, seed=1)
    noisy_quadratic_run(straight, uninterrupted, 6, seed=2)

    first = [p.clone().requires_grad_() for p in start]
    sampler = BFGSGaussian(first, **kwargs)
    noisy_quadratic_run(first, sampler, 7, seed=1)
    buffer = io.BytesIO()
    torch.save(sampler.state_dict(), buffer)
    buffer.seek(0)
    resumed_params = [p.detach().clone().requires_grad_() for p in first]
    resumed = BFGSGaussian(resumed_params, **(kwargs | dict(seed=99)))  # the saved generator state wins
    resumed.load_state_dict(torch.load(buffer, weights_only=False))
    assert resumed.state[resumed_params[0]]["inverse_hessian"].dtype == F64
    noisy_quadratic_run(resumed_params, resumed, 6, seed=2)

    for p, q in zip(straight, resumed_params):
        assert torch.equal(p.detach(), q.detach())
    assert torch.equal(uninterrupted.inverse_hessian(), resumed.inverse_hessian())
    assert_same(uninterrupted.state_dict()["state"], resumed.state_dict()["state"])


def test_closure_measures_pairs_on_one_batch():
    """Gradient noise n_t: next-step pairs see it twice and H collapses; closure pairs are exact (y = A s)."""
    a, mu = gaussian_target(8, seed=5)
    results = {}
    for use_closure in (False, True):
        theta = torch.zeros(8, dtype=F64, requires_grad=True)
        sampler = BFGSGaussian([theta], lr=0.1, data_size=100, weight_decay=0.0, mode="mean", seed=0)
        g = torch.Generator().manual_seed(9)
        calls = 0
        for _ in range(300):
            batch_noise = 0.5 * torch.randn(8, generator=g, dtype=F64)

            def closure():
                nonlocal calls
                calls += 1
                theta.grad = a @ (theta.detach() - mu) + batch_noise
                return 0.0

            if use_closure:
                sampler.step(closure)
            else:
                closure()
                sampler.step()
        results[use_closure] = (sampler.inverse_hessian(), calls)
    a_inverse = torch.linalg.inv(a)
    closure_h, closure_calls = results[True]
    assert closure_calls == 600
    assert torch.linalg.norm(closure_h - a_inverse) / torch.linalg.norm(a_inverse) < 1e-3
    next_step_h, _ = results[False]
    assert torch.linalg.eigvalsh(next_step_h).max() < 0.01 * torch.linalg.eigvalsh(a_inverse).min()


def test_covariance_spans_all_parameters():
    alphas = [torch.zeros(14, 8, requires_grad=True), torch.zeros(14, 8, requires_grad=True)]
    sampler = BFGSGaussian(alphas, data_size=25000, temperature=2.0, seed=0)
    noisy_quadratic_run(alphas, sampler, 5, seed=3)
    covariance = sampler.covariance()
    assert covariance.shape == (224, 224) and covariance.dtype == F64
    assert torch.equal(covariance, covariance.T)
    assert torch.allclose(covariance, sampler.inverse_hessian() * (2.0 / 25000), rtol=1e-12)
    assert torch.linalg.eigvalsh(covariance).min() > 0
    with pytest.raises(ValueError, match="construction"):
        sampler.add_param_group({"params": [torch.zeros(2, requires_grad=True)]})


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda():
    a, mu = gaussian_target(6, seed=6)
    ends = {}
    for device in ("cpu", "cuda"):
        theta = torch.zeros(6, dtype=F64, device=device, requires_grad=True)
        sampler = BFGSGaussian([theta], lr=1.0, data_size=4, weight_decay=0.0, mode="mean")
        for _ in range(10):
            theta.grad = a.to(device) @ (theta.detach() - mu.to(device))
            sampler.step()
        ends[device] = theta.detach().cpu()
    assert torch.allclose(ends["cpu"], ends["cuda"], rtol=1e-9, atol=1e-12)

    alpha = torch.zeros(6, 5, device="cuda", requires_grad=True)
    sampler = BFGSGaussian([alpha], data_size=100, seed=0, clip_std=3.0, clip_ratio=10.0)
    noisy_quadratic_run([alpha], sampler, 5, seed=4)
    state = sampler.state[alpha]
    assert state["inverse_hessian"].device.type == "cuda" and state["prev_params"].dtype == torch.float32
    assert sampler.covariance().device.type == "cuda" and torch.isfinite(alpha).all()
    copy_ = alpha.detach().clone().requires_grad_()
    resumed = BFGSGaussian([copy_], data_size=100, seed=1, clip_std=3.0, clip_ratio=10.0)
    resumed.load_state_dict(sampler.state_dict())
    noisy_quadratic_run([alpha], sampler, 3, seed=5)
    noisy_quadratic_run([copy_], resumed, 3, seed=5)
    assert torch.equal(alpha, copy_)
