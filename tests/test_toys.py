"""Toy posteriors: exact Gibbs, closed-form conditionals, Laplace, mixing diagnostics, Algorithm 1 toy."""

import numpy as np
import pytest
import torch

from gibbsnas_lite.course import toys as T

# ----------------------------------------------------------------------------- Gaussian


def _random_gaussian(d=4, seed=3):
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(d, d, generator=g, dtype=torch.float64)
    cov = m @ m.T + 0.5 * torch.eye(d, dtype=torch.float64)
    mean = torch.randn(d, generator=g, dtype=torch.float64)
    return T.GaussianPosterior(mean, cov)


def test_gaussian_cov_and_precision_agree():
    g = _random_gaussian()
    h = T.GaussianPosterior(g.mean, precision=g.precision)
    torch.testing.assert_close(h.cov, g.cov, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g.cov @ g.precision, torch.eye(4, dtype=torch.float64), rtol=0, atol=1e-10)
    with pytest.raises(ValueError):
        T.GaussianPosterior(g.mean)
    with pytest.raises(ValueError):
        T.GaussianPosterior([0.0, 0.0], [[1.0, 2.0], [2.0, 1.0]])  # not positive definite


def test_gaussian_potential_grad_log_prob():
    g = _random_gaussian()
    x = torch.randn(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    # grad matches autograd, batched potential matches the loop
    for xi in x:
        torch.testing.assert_close(g.grad(xi), T.potential_grad(g, xi), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g.potential(x), torch.stack([g.potential(xi) for xi in x]))
    # log_prob equals torch's MultivariateNormal
    ref = torch.distributions.MultivariateNormal(g.mean, covariance_matrix=g.cov).log_prob(x)
    torch.testing.assert_close(g.log_prob(x), ref, rtol=1e-10, atol=1e-10)


def test_exact_samples_match_moments():
    g = _random_gaussian()
    s = g.sample(40_000, seed=0)
    m, c = T.sample_mean_cov(s)
    assert np.abs(m - g.mean.numpy()).max() < 0.05 * np.sqrt(np.diag(g.cov.numpy())).max()
    assert T.relative_error(c, g.cov) < 0.03
    torch.testing.assert_close(g.sample(10, seed=5), g.sample(10, seed=5))  # seeded


def test_conditional_formulas_against_schur_complement():
    g = _random_gaussian(d=5)
    b, r = [1, 3], [0, 2, 4]
    theta = torch.arange(5, dtype=torch.float64)
    cond = g.conditional(b, theta)
    s = g.cov
    s_bb, s_br, s_rr = s[b][:, b], s[b][:, r], s[r][:, r]
    k = s_br @ torch.linalg.inv(s_rr)
    torch.testing.assert_close(cond.cov, s_bb - k @ s_br.T, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(cond.mean, g.mean[b] + k @ (theta[r] - g.mean[r]), rtol=1e-9, atol=1e-10)


def test_conditional_against_brute_force_grid():
    """1-D conditional density from the joint on a fine grid: mean and variance by quadrature."""
    g = _random_gaussian(d=3, seed=7)
    theta = torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
    cond = g.conditional(1, theta)
    sd = float(cond.cov.sqrt())
    grid = torch.linspace(float(cond.mean) - 10 * sd, float(cond.mean) + 10 * sd, 20001, dtype=torch.float64)
    pts = theta.repeat(len(grid), 1)
    pts[:, 1] = grid
    w = torch.exp(g.log_prob(pts) - g.log_prob(pts).max())
    w = w / w.sum()
    mean = (w * grid).sum()
    var = (w * (grid - mean) ** 2).sum()
    assert abs(float(mean - cond.mean)) < 1e-6
    assert abs(float(var - cond.cov)) / float(cond.cov) < 1e-6


def test_marginal_and_bad_block():
    g = _random_gaussian()
    mg = g.marginal([0, 2])
    torch.testing.assert_close(mg.cov, g.cov[[0, 2]][:, [0, 2]])
    with pytest.raises(ValueError):
        g.conditional([0, 0], torch.zeros(4))
    with pytest.raises(ValueError):
        g.marginal([9])


def test_two_block_gaussian_structure():
    g = T.two_block_gaussian(0.8, 2, 2, within=0.5)
    k, c = g.conditional_params([2, 3])  # alpha | omega
    torch.testing.assert_close(k, 0.8 * torch.eye(2, dtype=torch.float64), rtol=0, atol=1e-12)
    torch.testing.assert_close(c, (1 - 0.64) * T.equicorrelation(2, 0.5), rtol=0, atol=1e-12)
    assert g.info["omega"] == [0, 1] and g.info["alpha"] == [2, 3]


# ----------------------------------------------------------------------------- exact Gibbs


def test_exact_gibbs_covariance_matches_sigma():
    g = T.bivariate_gaussian(0.8, sigmas=(1.0, 2.0), mean=(1.0, -1.0))
    tr = T.exact_gibbs(g, 2500, n_chains=16, seed=0)
    s = tr.samples[50:].reshape(-1, 2)  # drop burn-in, pool chains
    m, c = T.sample_mean_cov(s)
    assert T.relative_error(c, g.cov) < 0.05
    assert np.abs(m - g.mean.numpy()).max() < 0.1
    assert tr.samples.shape == (2501, 16, 2)


def test_exact_gibbs_blockwise_and_path():
    g = T.two_block_gaussian(0.7, 2, 2, within=0.5)
    tr = T.exact_gibbs(g, 3000, blocks=[[0, 1], [2, 3]], n_chains=8, seed=1)
    _, c = T.sample_mean_cov(tr.samples[20:].reshape(-1, 4))
    assert T.relative_error(c, g.cov) < 0.05
    tr2 = T.exact_gibbs(g, 5, blocks=[[0, 1], [2, 3]], record_path=True, seed=1)
    assert tr2.path.shape == (11, 4)
    # each path step changes exactly one block
    diff = tr2.path[1:] != tr2.path[:-1]
    assert torch.all(diff[0::2, :2]) and not torch.any(diff[0::2, 2:])
    assert torch.all(diff[1::2, 2:]) and not torch.any(diff[1::2, :2])
    with pytest.raises(ValueError):
        T.exact_gibbs(g, 1, blocks=[[0, 1], [2]])


def test_exact_gibbs_is_seeded():
    g = T.bivariate_gaussian(0.5)
    a = T.exact_gibbs(g, 50, seed=3).samples
    b = T.exact_gibbs(g, 50, seed=3).samples
    c = T.exact_gibbs(g, 50, seed=4).samples
    assert torch.equal(a, b) and not torch.equal(a, c)


# ----------------------------------------------------------------------------- mixing


def test_autocorrelation_and_ess_of_ar1():
    phi, n = 0.6, 40_000
    rng = np.random.default_rng(0)
    x = np.zeros(n)
    e = rng.standard_normal(n)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    r = T.autocorrelation(x, 5)
    assert r[0] == pytest.approx(1.0)
    np.testing.assert_allclose(r[1:4], phi ** np.arange(1, 4), atol=0.03)
    tau = T.integrated_autocorrelation_time(x)
    assert tau == pytest.approx((1 + phi) / (1 - phi), rel=0.1)
    assert T.effective_sample_size(rng.standard_normal(5000)) == pytest.approx(5000, rel=0.1)


def test_gibbs_chain_is_ar1_with_rho_squared():
    """The x-chain of 2-coordinate Gibbs on a bivariate Gaussian is AR(1) with coefficient ρ²."""
    rho = 0.8
    g = T.bivariate_gaussian(rho)
    x = T.exact_gibbs(g, 4000, n_chains=8, init=[0.0, 0.0], seed=2).samples[:, :, 0].numpy()
    lag1 = np.mean([T.autocorrelation(x[:, c], 2)[1] for c in range(8)])
    assert lag1 == pytest.approx(rho**2, abs=0.03)
    ess_frac = np.mean([T.effective_sample_size(x[:, c]) for c in range(8)]) / x.shape[0]
    assert ess_frac == pytest.approx(T.ar1_gibbs_ess_fraction(rho), rel=0.15)


def test_ess_decreases_as_rho_grows():
    ess = []
    for rho in (0.0, 0.5, 0.9, 0.99):
        x = T.exact_gibbs(T.bivariate_gaussian(rho), 3000, n_chains=4, init=[0.0, 0.0], seed=0).samples[:, :, 0]
        ess.append(np.mean([T.effective_sample_size(x[:, c]) for c in range(4)]))
    assert all(a > b for a, b in zip(ess, ess[1:])), ess
    assert ess[-1] < 0.05 * ess[0]


# ----------------------------------------------------------------------------- Laplace


def test_laplace_of_gaussian_is_exact():
    g = _random_gaussian()
    la = T.laplace_approximation(g, torch.zeros(4))
    torch.testing.assert_close(la.mean, g.mean, rtol=0, atol=1e-6)
    torch.testing.assert_close(la.cov, g.cov, rtol=0, atol=1e-6)
    assert la.info["converged"] and la.info["n_iter"] <= 2


def _finite_difference_hessian(f, x, h=1e-5):
    d = x.numel()
    out = torch.zeros(d, d, dtype=torch.float64)
    for i in range(d):
        e = torch.zeros(d, dtype=torch.float64)
        e[i] = h
        out[:, i] = (T.potential_grad(f, x + e) - T.potential_grad(f, x - e)) / (2 * h)
    return 0.5 * (out + out.T)


def test_laplace_of_logistic_regression():
    post = T.LogisticRegressionPosterior(n=40, dim=3, seed=1)
    la = T.laplace_approximation(post, torch.zeros(3))
    assert la.info["converged"]
    mode = la.mean
    assert float(post.grad(mode).abs().max()) < 1e-8  # gradient zero at the mode (closed form)
    fd = _finite_difference_hessian(post, mode)
    torch.testing.assert_close(la.precision, fd, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(la.precision, post.hessian(mode), rtol=1e-9, atol=1e-9)
    # the paper's split: E = N (L_mean + λ/2 ‖w‖²) with λ = 1/(prior_var N)
    w = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)
    n, lam = post.data_size, post.weight_decay
    assert float(post.potential(w)) == pytest.approx(float(n * (post.loss_mean(w) + 0.5 * lam * w @ w)), rel=1e-12)


def test_banana_laplace_misses_the_banana():
    b = T.BananaPosterior(s=1.0, b=1.0)
    la = T.laplace_approximation(b, torch.tensor([1.0, 1.0]))
    torch.testing.assert_close(la.mean, b.mode(), rtol=0, atol=1e-8)
    torch.testing.assert_close(la.cov, torch.eye(2, dtype=torch.float64), rtol=0, atol=1e-8)
    _, c = T.sample_mean_cov(b.sample(50_000, seed=0))
    assert T.relative_error(c, b.exact_cov()) < 0.05
    assert float(b.exact_cov()[1, 1]) == pytest.approx(3.0)


# ----------------------------------------------------------------------------- helpers with exact answers


def test_grid_moments_of_a_gaussian():
    g = T.bivariate_gaussian(0.6, sigmas=(1.0, 0.5), mean=(0.5, -0.2))
    xlim, ylim = T.box_around(g, k=8.0)
    gm = T.grid_moments(g, xlim, ylim, n=300)
    torch.testing.assert_close(gm.mean, g.mean, rtol=0, atol=1e-6)
    torch.testing.assert_close(gm.cov, g.cov, rtol=0, atol=1e-4)


def test_stationary_covariances():
    g = T.two_block_gaussian(0.8)
    # exact block conditionals at η = 1 are block Gibbs: stationary Σ
    torch.testing.assert_close(T.gibbsnas_stationary_cov(g, [[0], [1]], lr=1.0), g.cov, rtol=0, atol=1e-10)
    # one block with the exact Hessian: Σ / (η(2−η))
    for eta in (0.1, 0.5):
        torch.testing.assert_close(
            T.gibbsnas_stationary_cov(g, [[0, 1]], lr=eta), g.cov * T.stationary_inflation(eta), rtol=1e-10, atol=1e-10
        )
    assert T.stationary_inflation(0.1) == pytest.approx(1 / 0.19)
    # scalar AR(1): S = φ² S + q
    s = T.linear_chain_stationary_cov(
        torch.tensor([[0.5]], dtype=torch.float64), torch.tensor([[1.0]], dtype=torch.float64)
    )
    assert float(s) == pytest.approx(1 / 0.75)
    # best diagonal (conditional variances) on a correlated 2-D Gaussian keeps the marginals, loses the correlation
    c = T.bivariate_gaussian(0.9, sigmas=(1.0, 0.5))
    pred = T.gibbsnas_stationary_cov(c, [[0, 1]], 1.0, [1.0 / torch.diagonal(c.precision)])
    torch.testing.assert_close(pred, torch.diag(torch.diagonal(c.cov)), rtol=0, atol=1e-10)


def test_random_gaussian_and_correlation_of():
    g = T.random_gaussian(6, condition_number=100.0, seed=1)
    ev = torch.linalg.eigvalsh(g.cov)
    assert float(ev[-1] / ev[0]) == pytest.approx(100.0, rel=1e-8)
    assert T.correlation_of(T.bivariate_gaussian(-0.3).cov) == pytest.approx(-0.3)


# ----------------------------------------------------------------------------- with the samplers


def test_run_sampler_bfgs_learns_the_covariance(one_thread):
    from gibbsnas_lite.samplers import BFGSGaussian

    g = T.bivariate_gaussian(0.9, sigmas=(1.0, 0.5), mean=(1.0, -1.0))
    tr = T.run_sampler(BFGSGaussian, g, [3.0, 2.0], 150, lr=1.0, seed=0, record_inverse_hessian=True)
    assert tr.theta.shape == (151, 2) and tr.inverse_hessians.shape == (150, 2, 2) and tr.diverged_at is None
    err = T.inverse_hessian_error(tr.inverse_hessians, g.cov)
    assert err[-1] < 1e-8 and err[0] > 0.1
    torch.testing.assert_close(tr.covariances[-1], tr.inverse_hessians[-1])  # T/N = 1
    assert tr.pair_counts()["updated"] == 149
    # mean mode goes to the mode
    m = T.run_sampler(BFGSGaussian, g, [3.0, 2.0], 30, lr=1.0, mode="mean", seed=0)
    torch.testing.assert_close(m.theta[-1], g.mean, rtol=0, atol=1e-8)


def test_run_sampler_paper_split_equals_potential(one_thread):
    """N·(L_mean + λ/2‖w‖²) with data_size=N, weight_decay=λ gives the same chain as E with N=1, λ=0."""
    from gibbsnas_lite.samplers import BFGSGaussian

    post = T.LogisticRegressionPosterior(n=30, dim=2, seed=0)
    n = post.data_size
    # H₀ must carry the same scale: H for U = E/N is N times H for E
    a = T.run_sampler(BFGSGaussian, post, torch.zeros(2), 60, lr=1.0, seed=3, init_scale=0.1)
    b = T.run_sampler(
        BFGSGaussian,
        post,
        torch.zeros(2),
        60,
        lr=1.0,
        seed=3,
        init_scale=0.1 * n,
        loss=post.loss_mean,
        data_size=n,
        weight_decay=post.weight_decay,
    )
    torch.testing.assert_close(a.theta, b.theta, rtol=1e-7, atol=1e-9)


def test_run_sampler_diagonal_on_diagonal_gaussian(one_thread):
    from gibbsnas_lite.samplers import DiagonalGaussian

    g = T.bivariate_gaussian(0.0, sigmas=(1.0, 0.5))
    tr = T.run_sampler(
        DiagonalGaussian, g, [2.0, 1.0], 100, lr=1.0, h_min=1e-4, h_max=1.0, seed=0, record_inverse_hessian=True
    )
    torch.testing.assert_close(
        tr.inverse_hessians[-1], torch.tensor([1.0, 0.25], dtype=torch.float64), rtol=1e-10, atol=0
    )


def test_run_sampler_same_batch_pairs_cancel_gradient_noise(one_thread):
    from gibbsnas_lite.samplers import BFGSGaussian

    g = T.bivariate_gaussian(0.9, sigmas=(1.0, 0.5))
    kw = dict(lr=1.0, grad_noise=0.3, seed=0, record_inverse_hessian=True)
    same = T.run_sampler(BFGSGaussian, g, [2.0, 1.0], 100, pairs="same_batch", **kw)
    cons = T.run_sampler(BFGSGaussian, g, [2.0, 1.0], 100, pairs="consecutive", **kw)
    assert T.inverse_hessian_error(same.inverse_hessians[-1:], g.cov)[0] < 1e-8
    assert T.inverse_hessian_error(cons.inverse_hessians[-1:], g.cov)[0] > 1e-3
    with pytest.raises(ValueError):
        T.run_sampler(BFGSGaussian, g, [2.0, 1.0], 1, pairs="other")


def test_run_sampler_stops_on_divergence(one_thread):
    from gibbsnas_lite.samplers import BFGSGaussian

    b = T.BananaPosterior()
    tr = T.run_sampler(BFGSGaussian, b, b.mode(), 300, lr=1.0, pd_policy="damp", seed=0, divergence_bound=1e4)
    assert tr.diverged_at is not None and tr.error
    assert len(tr.theta) <= tr.diverged_at + 1


def test_algorithm1_both_chains_match_the_joint(one_thread):
    joint = T.two_block_gaussian(0.8)
    exact = T.gibbsnas_chain(joint, 2000, method="exact", seed=0)
    qn = T.gibbsnas_chain(
        joint, 600, method="gibbsnas", pairs="conditional", lr=1.0, seed=0, record_inverse_hessian=True
    )
    assert qn.diverged_at is None and qn.samples.shape == (601, 2)
    _, c_exact = T.sample_mean_cov(exact.samples[50:])
    _, c_qn = T.sample_mean_cov(qn.samples[50:])
    assert T.relative_error(c_exact, joint.cov) < 0.1
    assert T.relative_error(c_qn, joint.cov) < 0.15
    # with conditional pairs both quasi-Newton estimates are the exact conditional variance 1 − ρ²
    assert float(qn.alpha_inverse_hessians[-1]) == pytest.approx(0.36, rel=1e-9)
    assert float(qn.omega_inverse_hessians[-1]) == pytest.approx(0.36, rel=1e-9)


def test_algorithm1_blocks_of_two(one_thread):
    joint = T.two_block_gaussian(0.6, 2, 2, within=0.5)
    qn = T.gibbsnas_chain(joint, 200, method="gibbsnas", pairs="conditional", seed=1, record_inverse_hessian=True)
    k, c_alpha = joint.conditional_params([2, 3])
    # dense BFGS recovers the α conditional covariance; the ω diagonal cannot hold its off-diagonal
    torch.testing.assert_close(qn.alpha_inverse_hessians[-1], c_alpha, rtol=1e-6, atol=1e-8)
    assert qn.omega_inverse_hessians.shape == (200, 2)


def test_algorithm1_sampler_pairs_are_contaminated(one_thread):
    """The samplers' own pairs straddle the other block's move: y_α = A_αα s + A_αω Δω, so H_α is wrong."""
    joint = T.two_block_gaussian(0.9)
    naive = T.gibbsnas_chain(joint, 60, method="gibbsnas", pairs="sampler", seed=0, record_inverse_hessian=True)
    err = T.inverse_hessian_error(naive.alpha_inverse_hessians, torch.tensor([[0.19]], dtype=torch.float64))
    assert np.median(err) > 0.3
    with pytest.raises(ValueError):
        T.gibbsnas_chain(joint, 1, pairs="other")
    with pytest.raises(TypeError):
        T.gibbsnas_chain(T.BananaPosterior(), 1, method="exact")


def test_chain_ess_vs_rho_shape(one_thread):
    out = T.chain_ess_vs_rho([0.5], 200, methods=("exact",), seed=0)
    assert set(out) == {"rho", "exact", "theory"} and out["exact"].shape == (1,)
    assert 0.2 < out["exact"][0] < 1.2


def test_pd_policies():
    from gibbsnas_lite.samplers import bfgs_inverse_update

    g = T.bivariate_gaussian(0.9, sigmas=(1.0, 0.5))
    s, y = T.noisy_secant_pairs(g, 150, step_std=0.3, grad_noise=1.0, seed=0)
    assert ((s * y).sum(1) <= 0).any()
    res = T.compare_pd_policies(g, s, y)
    assert (res["skip"]["min_eig"] > 0).all() and (res["damp"]["min_eig"] > 0).all()
    assert (res["none"]["min_eig"] < 0).any()
    assert "skipped" in res["skip"]["outcome"] and "damped" in res["damp"]["outcome"]
    # on a good pair the textbook update is the library's
    h = torch.eye(2, dtype=torch.float64)
    s1, y1 = torch.tensor([1.0, 0.2], dtype=torch.float64), torch.tensor([2.0, 0.5], dtype=torch.float64)
    ref, outcome = bfgs_inverse_update(h, s1, y1, pd_policy="damp")
    assert outcome == "updated"
    torch.testing.assert_close(T.bfgs_inverse_update_unprotected(h, s1, y1), ref, rtol=1e-12, atol=1e-12)
    # secant equation H+ y = s
    torch.testing.assert_close(ref @ y1, s1, rtol=1e-12, atol=1e-12)
