"""Reference solutions of the notebooks' exercises, kept out of the notebooks.

tests/test_exercises.py feeds each one to its check in gibbsnas_lite.course.exercises (it must be
called right) and a wrong answer (it must be called wrong). A learner who wants to compare
can read this file after trying.
"""

from __future__ import annotations

import numpy as np
import torch

from gibbsnas_lite.course import bilevel_toy as B

# 01 · Gibbs sampling
ess_per_sweep_095 = (1 - 0.95**2) / (1 + 0.95**2)


def conditional_2d(mu, sigma, rho, given):
    mean = mu[0] + rho * sigma[0] / sigma[1] * (given - mu[1])
    return mean, sigma[0] ** 2 * (1 - rho**2)


def stationary_inflation(eta):
    return 1.0 / (eta * (2.0 - eta))


# 02 · Laplace and BFGS
def bfgs_update(h, s, y):
    rho = 1.0 / float(s @ y)
    eye = torch.eye(len(s), dtype=h.dtype)
    left = eye - rho * torch.outer(s, y)
    return left @ h @ left.T + rho * torch.outer(s, s)


noisy_pair_keeps_pd = "no"


# 03 · the bi-level toy
def edge_matrix(alpha, weight):
    p = torch.softmax(alpha, -1)
    w_hat = weight / weight.norm(dim=-1, keepdim=True)
    return p[1] * torch.eye(weight.shape[0], dtype=weight.dtype) + p[2] * w_hat


def discretization_gap(problem, run):
    return problem.op_losses()[run.picked] - float(run.valid_loss[-1])


# 04 · NAS-Bench-201
none_edge_probability = 1 - (4 / 5) ** 6


def derive_arch(alpha):
    ops = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    best = [ops[int(i)] for i in torch.as_tensor(alpha).argmax(dim=1)]
    return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*best)


# 05 · ablation
alpha_noise_std = (10.0 / 4096.0) ** 0.5
mean_mode_step = "newton"


# 06 · DARTS space
def skips_after_bias(alpha_normal, alpha_reduce, bias=3.0):
    from gibbsnas_lite.spaces.darts.genotypes import PRIMITIVES, derive_genotype

    a = np.array(alpha_normal, dtype=float)
    a[:, PRIMITIVES.index("skip_connect")] += bias
    return count_skips(derive_genotype(a, alpha_reduce))


def count_skips(genotype):
    return sum(1 for op, _ in genotype.normal if op == "skip_connect")


# 07 · the architecture posterior
def skip_win_probability(margin=0.5, num_samples=400_000, seed=0):
    from gibbsnas_lite.course import arch_posterior as P

    mean, cov = P.disagreement_example(margin=margin)
    edge0 = P.sample_alphas(mean, cov, num_samples, seed=seed)[:, 0]
    return float((edge0.argmax(dim=-1) == 1).double().mean())


error_bar_scaling = 2**0.5

# 08 · sweeps
trial_count = 3 * 2 * 5
rerun_after_kill = "unfinished"


def a_darts_v1_run():
    """A cheap DARTS-V1 run on the toy (what notebook 03's exercise 2 is asked about)."""
    problem = B.make_problem(0)
    return problem, B.run(problem, "darts-v1", 0, steps=30)


# The answers as the notebooks' exercise cells name them: tests/test_notebooks.py fills each
# `name = None` line with the expression here (``_S`` is this module, imported in the kernel) and each
# `return None  # your code` with a call of the function of the same name above, runs the notebook
# and expects every check in it to say "right".
my_derive = derive_arch

NOTEBOOK_ANSWERS = {
    "01": {"prediction_ess": "_S.ess_per_sweep_095", "prediction_inflation": "_S.stationary_inflation(0.1)"},
    "02": {"prediction_trace_ratio": "_S.stationary_inflation(0.25)", "answer_pd": "_S.noisy_pair_keeps_pd"},
    "03": {"gap": "_S.discretization_gap(problem, runs['darts-v1'])"},
    "04": {"prediction_none": "_S.none_edge_probability"},
    "05": {"alpha_std": "_S.alpha_noise_std", "answer_mean_mode": "_S.mean_mode_step"},
    "06": {"prediction_skips": "_S.skips_after_bias(alpha_normal, alpha_reduce)"},
    "07": {"p_skip": "_S.skip_win_probability(1.0, num_samples=100_000)", "prediction_factor": "_S.error_bar_scaling"},
    "08": {"prediction_trials": "_S.trial_count", "answer_rerun": "_S.rerun_after_kill"},
}
