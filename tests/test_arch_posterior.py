"""The architecture posterior (gibbsnas_lite.course.arch_posterior): draws, derived cells, win probabilities,
choices."""

import math

import numpy as np
import pytest
import torch

from gibbsnas_lite.course import arch_posterior as P
from gibbsnas_lite.course.plots import arch_posterior as PP
from gibbsnas_lite.nasbench import NB201Table
from gibbsnas_lite.spaces.nb201 import OPS, derive_arch, format_arch


def _phi(x):
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _random_spd(n, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, n, generator=g, dtype=torch.float64)
    return a @ a.T / n + 0.05 * torch.eye(n, dtype=torch.float64)


@pytest.fixture(scope="module")
def table():
    return NB201Table.load()


# ----------------------------------------------------------------------------- sampling
def test_empirical_covariance_matches_T_over_N_H():
    h = _random_spd(30, 1)
    mean = torch.randn(6, 5, generator=torch.Generator().manual_seed(2))
    g = P.alpha_gaussian(mean, h, temperature=2.0, data_size=8.0)
    assert torch.allclose(g.cov, 0.25 * h)
    draws = g.sample(200_000, seed=3).reshape(-1, 30).double()
    assert draws.shape == (200_000, 30) and draws.dtype == torch.float64
    emp_mean = draws.mean(0)
    emp_cov = torch.cov(draws.T)
    # standard error of the mean is ~sqrt(diag/K) ~ 1e-3; of the covariance ~ |cov| sqrt(2/K) ~ 0.3%
    assert float((emp_mean - mean.reshape(-1).double()).abs().max()) < 6e-3
    rel = float(torch.linalg.norm(emp_cov - g.cov) / torch.linalg.norm(g.cov))
    assert rel < 0.02, rel
    assert torch.allclose(g.std.reshape(-1) ** 2, g.cov.diagonal())


def test_singular_psd_covariance_is_sampled_and_zero_variance_is_exact():
    mean, cov = P.disagreement_example()
    assert int(torch.linalg.cholesky_ex(cov)[1]) != 0  # not positive definite: the eigen fallback
    draws = P.sample_alphas(mean, cov, 5000, seed=0)
    assert torch.all(draws[:, 0, 0] == 1.0)  # zero variance: exactly the mean
    assert abs(float(draws[:, 0, 1].std()) - 3.0) < 0.15


def test_same_seed_same_draws_other_seed_other_draws():
    mean, cov = torch.zeros(6, 5), _random_spd(30, 4).float()
    a = P.sample_alphas(mean, cov, 100, seed=7)
    b = P.sample_alphas(mean, cov, 100, seed=7)
    c = P.sample_alphas(mean, cov, 100, seed=8)
    assert a.dtype == torch.float32 and a.shape == (100, 6, 5)
    assert torch.equal(a, b) and not torch.equal(a, c)
    gen = torch.Generator().manual_seed(7)
    assert torch.equal(P.sample_alphas(mean, cov, 100, generator=gen), a)
    h = _random_spd(30, 5)
    g = P.alpha_gaussian(torch.randn(6, 5), h, 1.0, 100.0)
    assert torch.equal(g.sample(50, seed=1), g.sample(50, seed=1))


def test_shape_device_and_value_errors_are_clear():
    mean, cov = torch.zeros(6, 5), torch.eye(30)
    with pytest.raises(ValueError, match=r"cov must be \(30, 30\).*got \(29, 29\)"):
        P.sample_alphas(mean, torch.eye(29), 10)
    with pytest.raises(ValueError, match="mean is on cpu but cov is on meta"):
        P.sample_alphas(mean, torch.eye(30, device="meta"), 10)
    with pytest.raises(ValueError, match="num_samples"):
        P.sample_alphas(mean, cov, 0)
    with pytest.raises(ValueError, match="not symmetric"):
        P.sample_alphas(mean, cov + torch.triu(torch.ones(30, 30), 1), 10)
    with pytest.raises(ValueError, match="not positive semi-definite"):
        P.sample_alphas(mean, -cov, 10)
    with pytest.raises(ValueError, match="NaN or inf"):
        P.sample_alphas(mean.clone().fill_(float("nan")), cov, 10)
    with pytest.raises(ValueError, match=r"NB201 alpha must be a \(6, 5\) tensor"):
        P.alpha_gaussian(torch.zeros(5, 6), cov)
    with pytest.raises(ValueError, match="temperature must be"):
        P.alpha_gaussian(mean, cov, temperature=0.0)
    with pytest.raises(ValueError, match=r"samples must have shape \(K, 6, 5\)"):
        P.architecture_posterior(torch.zeros(10, 5, 6))
    with pytest.raises(ValueError, match="unknown rule"):
        P.choose_architecture(P.architecture_posterior(torch.zeros(3, 6, 5)), "test")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_draws_stay_on_the_device():
    g = P.alpha_gaussian(torch.zeros(6, 5, device="cuda"), _random_spd(30, 6).cuda(), 1.0, 10.0)
    draws = g.sample(1000, seed=0)
    assert draws.device.type == "cuda"
    assert torch.equal(draws, g.sample(1000, seed=0))
    post = P.architecture_posterior(draws, mean=g.mean)
    assert post.counts.sum() == 1000


# ----------------------------------------------------------------------------- cells
def test_huge_margin_gives_one_cell_with_win_probability_one(table):
    ops = [3, 1, 2, 0, 4, 3]
    mean = torch.zeros(6, 5)
    for e, k in enumerate(ops):
        mean[e, k] = 50.0
    g = P.alpha_gaussian(mean, _random_spd(30, 7), temperature=1.0, data_size=1.0)  # std ~ 1 << 50
    post = P.architecture_posterior(g.sample(4000, seed=0), table=table, mean=g.mean)
    arch = format_arch(OPS[k] for k in ops)
    assert post.num_distinct == 1 and post.archs == (arch,) and post.counts.tolist() == [4000]
    assert post.mean_arch == post.modal_arch == post.marginal_arch == arch
    expected = np.zeros((6, 5))
    expected[np.arange(6), ops] = 1.0
    assert np.array_equal(post.win_probs, expected)
    assert post.prob(arch) == 1.0
    assert post.accuracy(arch) == table.accuracy(arch, "cifar10", "test")
    assert post.expected("cifar10_valid") == pytest.approx(table.accuracy(arch, "cifar10-valid", "valid"))
    for rule in ("argmax", "modal", "marginal", "valid"):
        assert P.choose_architecture(post, rule).arch == arch


def test_each_draw_gets_the_space_derivation_and_counts_add_up(table):
    g = P.alpha_gaussian(
        torch.randn(6, 5, generator=torch.Generator().manual_seed(0)),
        _random_spd(30, 8),
        temperature=1.0,
        data_size=2.0,
    )
    draws = g.sample(500, seed=2)
    post = P.architecture_posterior(draws, table=table, mean=g.mean)
    assert post.counts.sum() == 500 and post.num_distinct > 5
    assert np.all(np.diff(post.counts) <= 0)  # most frequent first
    for k in range(500):
        assert post.archs[post.sample_arch[k]] == derive_arch(draws[k])
    assert np.allclose(post.win_probs.sum(axis=1), 1.0)
    assert np.array_equal(post.win_indicators().mean(axis=0), post.win_probs)
    assert post.win_indicators().shape == (500, 6, 5)
    acc = post.sample_accuracies("cifar100_test")
    assert acc[17] == table.accuracy(derive_arch(draws[17]), "cifar100", "test")
    assert math.isclose(post.expected("cifar100_test"), float(acc.mean()))
    assert sum(r["prob"] for r in post.top(1000)) == pytest.approx(1.0)
    # (K, 30) draws give the same posterior
    flat = P.architecture_posterior(draws.reshape(500, 30))
    assert flat.archs == post.archs and flat.accuracies == {}


def test_known_case_modal_differs_from_argmax_of_the_mean():
    mean, cov = P.disagreement_example(margin=0.5, spread=3.0)
    post = P.architecture_posterior(P.sample_alphas(mean, cov, 40_000, seed=0), mean=mean)
    # exact: none (mean 1, no variance) wins iff all four others fall below 1
    p_none = _phi(0.5 / 3.0) * _phi(1.0 / 3.0) ** 3
    # skip_connect (mean 0.5) wins: E_b[1{b > 1} Phi(b/3)^3], b ~ N(0.5, 3^2), by quadrature
    b = np.linspace(1.0, 0.5 + 12 * 3.0, 200_001)
    dens = np.exp(-0.5 * ((b - 0.5) / 3.0) ** 2) / (3.0 * math.sqrt(2 * math.pi))
    cdf = 0.5 * (1 + np.vectorize(math.erf)(b / (3.0 * math.sqrt(2))))
    trapezoid = getattr(np, "trapezoid", None) or np.trapz  # numpy < 2 has only trapz
    p_skip = float(trapezoid(dens * cdf**3, b))
    assert abs(post.win_probs[0, 0] - p_none) < 0.01, (post.win_probs[0], p_none)
    assert abs(post.win_probs[0, 1] - p_skip) < 0.01, (post.win_probs[0], p_skip)
    assert p_skip > 0.25 > 0.15 > p_none
    assert post.mean_arch.startswith("|none~0|")
    assert post.modal_arch.startswith("|skip_connect~0|")
    assert post.modal_arch[len("|skip_connect~0|") :] == post.mean_arch[len("|none~0|") :]
    assert P.choose_architecture(post, "modal").arch != P.choose_architecture(post, "argmax").arch
    assert P.choose_architecture(post, "marginal").arch == post.modal_arch
    assert P.choose_architecture(post, "argmax").prob == pytest.approx(p_none, abs=0.01)


def test_valid_rule_reads_only_the_valid_column_of_the_top_cells(table):
    mean, cov = P.disagreement_example()
    post = P.architecture_posterior(P.sample_alphas(mean, cov, 4000, seed=1), table=table, mean=mean)
    top = 3
    valid = [table.accuracy(a, "cifar10-valid", "valid") for a in post.archs[:top]]
    choice = P.choose_architecture(post, "valid", top=top)
    assert choice.arch == post.archs[int(np.argmax(valid))] and choice.table_queries == top
    # scrambling every test column changes nothing: the rule never reads a test accuracy
    scrambled = dict(post.accuracies)
    for key in scrambled:
        if key.endswith("_test"):
            scrambled[key] = -scrambled[key]
    post2 = P.ArchPosterior(
        post.codes, post.archs, post.counts, post.sample_arch, post.win_probs, scrambled, post.mean_arch
    )
    assert P.choose_architecture(post2, "valid", top=top) == choice
    # without accuracies it asks for the table, and then agrees
    bare = P.architecture_posterior(P.sample_alphas(mean, cov, 4000, seed=1), mean=mean)
    with pytest.raises(ValueError, match="pass table="):
        P.choose_architecture(bare, "valid", top=top)
    assert P.choose_architecture(bare, "valid", top=top, table=table) == choice


def test_temperature_sweep_concentrates_when_cold(table):
    g = P.alpha_gaussian(
        torch.randn(6, 5, generator=torch.Generator().manual_seed(3)),
        _random_spd(30, 9),
        temperature=1.0,
        data_size=1.0,
    )
    rows = P.temperature_sweep(g, [1e-6, 1.0, 100.0], 2000, seed=0, table=table)
    assert rows[0]["distinct"] == 1 and rows[0]["p_argmax"] == 1.0 and rows[0]["modal_is_argmax"]
    assert rows[0]["expected_cifar10_test"] == pytest.approx(table.accuracy(g.argmax_arch, "cifar10", "test"))
    assert rows[0]["distinct"] < rows[1]["distinct"] < rows[2]["distinct"]
    assert rows[2]["p_argmax"] < rows[0]["p_argmax"]


def test_figures_build_headless(table):
    mean, cov = P.disagreement_example()
    post = P.architecture_posterior(P.sample_alphas(mean, cov, 2000, seed=0), table=table, mean=mean)
    fig = PP.accuracy_histogram_figure(post, marks={"argmax": post.mean_arch, "modal": post.modal_arch}, optimum=94.37)
    hist = fig.data[0]
    assert hist.type == "histogram" and hist.histfunc == "sum" and len(hist.x) == post.num_distinct
    assert sum(hist.y) == 2000 and np.array_equal(hist.x, post.accuracies["cifar10_test"])
    assert len(fig.layout.shapes) == 4  # argmax, modal, optimum, posterior mean
    heat = PP.win_probability_figure(post)
    assert np.allclose(np.asarray(heat.data[0].z), post.win_probs)
    assert [t.name for t in heat.data[1:]] == ["argmax of mean", "modal cell"]


# ----------------------------------------------------------------------------- from a search
@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    from gibbsnas_lite.search import make_config, run_search

    out = tmp_path_factory.mktemp("gibbs2-smoke")
    result = run_search(make_config("gibbs2", "smoke", seed=0, train_limit=64, epochs=2), out_dir=out)
    return result, out


def test_gaussian_from_search_and_from_run_folder_agree(smoke_run):
    result, out = smoke_run
    sampler = result.strategy.a_optimizer
    a = P.gaussian_from_search(result)
    b = P.gaussian_from_run(out)
    assert a.argmax_arch == b.argmax_arch == result.arch
    assert torch.equal(a.mean, result.model.alpha.detach()) and torch.equal(a.mean, b.mean)
    assert torch.equal(a.inverse_hessian, sampler.inverse_hessian())
    assert torch.allclose(a.inverse_hessian, b.inverse_hessian)
    # N read back from the recorded std equals the sampler's data size
    assert a.data_size == b.data_size == sampler.data_size
    assert a.temperature == b.temperature == result.config.temperature
    # the sampler's own (schedule-decayed) covariance is the final temperature's
    assert a.final_temperature == b.final_temperature < a.temperature
    assert torch.allclose(a.with_temperature(a.final_temperature).cov, sampler.covariance())
    assert P.load_alpha_gaussian(str(out)).data_size == a.data_size
    assert P.gaussian_from_run(out, temperature=3.0).temperature == 3.0


def test_non_gibbs_runs_are_refused():
    from gibbsnas_lite.search import make_config

    class Fake:
        config = make_config("darts-v1", "smoke")
        strategy = model = object()

    with pytest.raises(ValueError, match="darts-v1 search.*GibbsNAS"):
        P.gaussian_from_search(Fake())
