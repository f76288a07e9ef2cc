"""Reference solutions of the notebooks' exercises, and model answers to their open questions.

Try first: a notebook shows one of these only when you open its collapsed "show a solution"
(:func:`gibbsnas_lite.course.exercises.show_solution`). ``tests/test_exercises.py`` runs every
solution here through its check (it must be called right), and ``tests/test_notebooks.py`` runs
each notebook with its exercises answered by them, so what a notebook shows is tested code.

:data:`SOLUTIONS` maps an exercise (``"01-2"``: notebook 01, exercise 2) to the names defined
here that answer it and a note; an open question has no code, only its model answer.
"""

from __future__ import annotations

import math

import numpy as np
import torch


# 01 · Gibbs sampling
def ess_per_sweep(rho):
    tau = (1 + rho**2) / (1 - rho**2)  # integrated autocorrelation time of the AR(1) chain, coefficient ρ²
    return 1 / tau


def gibbs_sweep(theta, mu, sigma, rho, z):
    # θ₁ | θ₂, then θ₂ | the new θ₁: mean μᵢ + ρ σᵢ/σⱼ (θⱼ − μⱼ), std σᵢ √(1 − ρ²)
    t1 = mu[0] + rho * sigma[0] / sigma[1] * (theta[1] - mu[1]) + sigma[0] * math.sqrt(1 - rho**2) * z[0]
    t2 = mu[1] + rho * sigma[1] / sigma[0] * (t1 - mu[0]) + sigma[1] * math.sqrt(1 - rho**2) * z[1]
    return t1, t2


def calibrated_temperature(eta):
    # Var = (1 − η)² Var + T Σ  =>  Var = T Σ / (η(2 − η));  Var = Σ  =>  T = η(2 − η)
    return eta * (2 - eta)


# 02 · Laplace and BFGS
def bfgs_update(H, s, y):
    rho = 1.0 / float(s @ y)
    eye = torch.eye(len(s), dtype=H.dtype)
    left = eye - rho * torch.outer(s, y)
    return left @ H @ left.T + rho * torch.outer(s, s)


def damped_chain_tau(eta):
    phi = 1 - eta  # θ' − μ = (1 − η)(θ − μ) + noise: AR(1) with coefficient φ
    return (1 + phi) / (1 - phi)


def indefinite_update_eigenvalue():
    f = torch.float64  # the pair of indefinite_update_example(): H = I, s = (1, 0), y = (−1, 1), so sᵀy = −1
    H, s, y = torch.eye(2, dtype=f), torch.tensor([1.0, 0.0], dtype=f), torch.tensor([-1.0, 1.0], dtype=f)
    return float(torch.linalg.eigvalsh(bfgs_update(H, s, y))[0])


# 03 · the bi-level toy
def edge_matrix(alpha, W):
    p = torch.softmax(alpha, -1)  # (none, skip, linear)
    W_hat = W / W.norm(dim=-1, keepdim=True)  # unit rows
    return p[1] * torch.eye(W.shape[0], dtype=W.dtype) + p[2] * W_hat


def discretization_gap(problem, run):
    return problem.op_losses()[run.picked] - float(run.valid_loss[-1])


# 04 · NAS-Bench-201
none_edge_probability = 1 - (4 / 5) ** 6


def derive_arch(alpha):
    ops = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
    best = [ops[int(i)] for i in torch.as_tensor(alpha).argmax(dim=1)]
    return "|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(*best)


# 06 · DARTS space
def skips_after_bias(alpha_normal, alpha_reduce, bias=3.0):
    from gibbsnas_lite.spaces.darts.genotypes import PRIMITIVES, derive_genotype

    a = np.array(alpha_normal, dtype=float)
    a[:, PRIMITIVES.index("skip_connect")] += bias
    return count_skips(derive_genotype(a, alpha_reduce))


def count_skips(genotype):
    return sum(1 for op, _ in genotype.normal if op == "skip_connect")


# 07 · the architecture posterior
def skip_win_probability(margin=1.0, num_samples=400_000, seed=0):
    from gibbsnas_lite.course import arch_posterior as P

    mean, cov = P.disagreement_example(margin=margin)
    edge0 = P.sample_alphas(mean, cov, num_samples, seed=seed)[:, 0]
    return float((edge0.argmax(dim=-1) == 1).double().mean())  # op 1 is skip_connect


def none_win_probability(scale=4.0):
    def Phi(x):
        return 0.5 * (1 + math.erf(x / math.sqrt(2)))

    std = 3.0 * math.sqrt(scale)  # covariance × scale: each std × √scale
    return Phi((1 - 0.5) / std) * Phi(1 / std) ** 3  # every rival below none's 1


# 05 · ablation
def calibrated_alpha_std(eta=0.1, temperature=1.0, data_size=4096.0, inverse_hessian=100.0):
    return math.sqrt(eta * (2 - eta) * temperature / data_size * inverse_hessian)  # draw: η(2−η)(T/N)H


def chance_gate_failure(edges=6, ops=5, at_least=3):
    p = 1 / ops  # two independent cells with uniform ops agree on an edge with probability 1/ops
    return sum(math.comb(edges, k) * p**k * (1 - p) ** (edges - k) for k in range(at_least, edges + 1))


# 08 · sweeps
trial_count = 3 * 2 * 5  # strategies × datasets × seeds
epochs_after_kill = 17 * 10 + 8  # 30 − 12 finished − 1 killed never started; the killed one resumes after epoch 2


SOLUTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "01-1": (("ess_per_sweep",), "`ess_per_sweep(0.97)` ≈ 0.0305: about 33 sweeps per independent draw."),
    "01-2": (("gibbs_sweep",), "The second draw conditions on the θ₁ just drawn: that is what makes it Gibbs."),
    "01-3": (("calibrated_temperature",), "`calibrated_temperature(0.1)` = 0.19: the kit's `noise='calibrated'`."),
    "01-4": (
        (),
        "The spread of the α samples is the posterior's only if (1) the noise is calibrated to the step: at η = 0.1 "
        "the chain is 1/(η(2 − η)) ≈ 5× too wide unless T is lowered to η(2 − η) (exercise 3); (2) the chain mixes "
        "over the run: with ω and α strongly coupled, ESS per sweep is (1 − ρ²)/(1 + ρ²), so one sweep per "
        "minibatch may give few independent draws; (3) the curvature pairs are conditional (same-batch), or H "
        "measures the wrong thing; and (4) the minibatch noise in the gradients is small next to the injected "
        "noise (T/N)H, which no term of Eq. 16 accounts for. In a real supernet you can measure (1) and (3) "
        "directly (η, T, the pairs are settings), (2) from the autocorrelation of the recorded α or of the "
        "loss, and (4) by comparing the gradient's minibatch variance with (T/N)H along a few directions.",
    ),
    "02-1": (("bfgs_update",), "Then `bfgs_update(H, s, y) @ y` equals `s` (the secant equation)."),
    "02-2": (("damped_chain_tau",), "`damped_chain_tau(0.25)` = 7 steps per independent draw."),
    "02-3": (
        ("bfgs_update", "indefinite_update_eigenvalue"),
        "H₊ = [[0, 1], [1, 1]], eigenvalues (1 ± √5)/2 ≈ −0.618 and 1.618.",
    ),
    "02-4": (
        (),
        "A diagonal misses every correlation between weights: within a convolution's kernel, between a layer's "
        "weights and the BatchNorm or weights after it (rescaling symmetries), and between the same op's weights "
        "on different edges. The α draws are conditional on ω, so a wrong ω covariance changes them only through "
        "the ω that the chain visits: a diagonal that is too wide along correlated directions moves ω where the "
        "loss is flat, and the α gradients follow. Test: on a small network (a few hundred weights) compute the "
        "exact Hessian of the loss, run the dense BFGS sampler and the diagonal one from the same start, and "
        "compare the spread of the α gradients (or of α after a few steps) between the two chains.",
    ),
    "03-1": (("edge_matrix",), "A common shift of α leaves softmax(α), and so M, unchanged."),
    "03-2": (
        ("discretization_gap",),
        "Called with `runs['gibbs2']`: compare its sign and size with DARTS-V1's gap, from the two numbers of "
        "section 3.",
    ),
    "03-3": (
        (),
        "No. When (T/N)H is large next to the gaps between the ops' α, each draw picks an op almost at random: "
        "the chain stops following the data, and the most frequent op tends to 1/3 for every op. Too small, and "
        "the draws are the mean step, which collapses like DARTS. A measurement that does not look at the right "
        "op: for T on a log grid (0.1-100) and 20 seeds per T, record the validation loss of the supernet over "
        "the last quarter and the agreement between the op picked by two halves of the chain (or by two chains "
        "from different starts); pick the T where the chain's answer is reproducible and its loss is lowest, then "
        "check on held-out instances how often that T derives 'linear'.",
    ),
    "04-1": (("none_edge_probability",), "1 − (4/5)⁶ ≈ 0.738."),
    "04-2": (("derive_arch",), "Argmax over all five ops, `none` included, edge by edge."),
    "04-3": (
        (),
        "Separate the two factors: run DARTS-V1 at N = 5 with 10 epochs (`make_config('darts-v1', 'cpu-deep', "
        "epochs=10)`) and at N = 1 with 20 epochs (`make_config('darts-v1', 'cpu', epochs=20)`), first on the tuning "
        "seeds 0-2, then on seeds not used before, and read the derived cell's `skip_connect` edges after each epoch "
        "(the middle panel of section 8's epoch-by-seed figure, or each epoch record's `arch` in `history.jsonl`). "
        "Section 8's lines already hint at the answer: most DARTS-V1 seeds reach their skip edges within the first "
        "few epochs, long before epoch 10, which points at depth rather than length. A convincing result is a "
        "difference in skip edges larger than the spread over seeds of either setting. For GibbsNAS the number is "
        "the agreement of each cell with its noise-only control: a sampler whose cell is its noise's avoids collapse "
        "the way a random cell does, which says nothing about using uncertainty well. Only a cell that differs from "
        "its control (agreement near the 0.2 of two random cells) was chosen by the data; then the comparison with "
        "DARTS-V1 and with the random-cell box is about the method.",
    ),
    "05-1": (("calibrated_alpha_std",), "sqrt(η(2−η) · T/N · H) = sqrt(0.19 × 1/4,096 × 100) ≈ 0.068."),
    "05-2": (
        ("chance_gate_failure",),
        "A binomial tail: 6 edges, agreement 1/5 per edge, P(≥ 3 agree) ≈ 0.099. About one seed in ten fails the gate "
        "by chance alone, which is why the gate is pooled over seeds.",
    ),
    "05-3": (
        (),
        "Two standard errors of a difference of means with n seeds per variant is 2·s·sqrt(2/n); for it to be below "
        "0.27 points, n ≥ 8·(s/0.27)². With a spread of s = 1 point that is about 110 seeds per variant, and with the "
        "several points between seeds that section 4b shows for this stage, thousands. Three runs per variant can "
        "carry a Table 2 difference of a few tenths only if the retrained accuracies' spread is itself a few "
        "hundredths of a point, which the paper does not report. A `full`-profile ablation that could resolve such "
        "differences would need on the order of 100 searches of about 47 GPU-minutes each (docs/bench_search.md) per "
        "variant, plus the retraining: the honest reading of Table 2 is a direction, not a ranking.",
    ),
    "06-1": (("skips_after_bias",), "Add the bias to skip's column, derive again, count the skips of the normal cell."),
    "06-2": (("count_skips",), "Only `genotype.normal`; `genotype.reduce` is the reduction cell."),
    "06-3": (
        (),
        "It could make both smaller, but only if the posterior is wide where the data are: a skip-heavy α early "
        "in the search would come with wide error bars on the convolutions' α, so the draws keep them alive "
        "until they train; and a flat softmax(α) would show as an uncertain derivation instead of a confident "
        "one. To check: log, per epoch, the number of skips in the derived normal cell, the entropy of "
        "softmax(α) per edge and the posterior's win probability of each kept op; run GibbsNAS and its mean "
        "twin (`gibbs2-mean`) on several seeds; retrain the derived cells (and the modal cell of the final "
        "Gaussian) and compare the retrained accuracy with the supernet's: the gap between them is the "
        "discretization gap, and its difference between the two strategies is the effect of the draws.",
    ),
    "07-1": (("skip_win_probability",), "From draws; the exact integral gives the same within Monte Carlo error."),
    "07-2": (("none_win_probability",), "Four times the covariance doubles every std; `none` wins less often."),
    "07-3": (
        (),
        "A draw from the marginal p(α | D) averages over ω and over every region of α the data allow: it needs a "
        "chain that mixes across the plateaus of notebook 03 (many independent draws over the search, notebook "
        "01's ESS), not one Gaussian around where the chain ended, given one ω. Cheap experiment: run the same "
        "search from several seeds (or take the α recorded over the last epochs of one run), derive each α, and "
        "compare that distribution over cells (its distinct cells, the win probabilities per edge) with the final "
        "Gaussian's; if the seeds end on cells the Gaussian gives almost no probability, the local Gaussian "
        "understates the uncertainty.",
    ),
    "08-1": (("trial_count",), "3 strategies × 2 datasets × 5 seeds."),
    "08-2": (("epochs_after_kill",), "17 trials × 10 epochs from scratch, and 8 epochs for the interrupted one."),
    "08-3": (
        (),
        "With a spread of s points between seeds (the strip plot and the study: a few points, more with a collapsed "
        "seed), the standard error of a difference of two means over n seeds each is s·√(2/n); for one point to be "
        "two standard errors, n ≈ 8 s², i.e. about 30 seeds per strategy at s = 2 and far more with outliers. On "
        "the cluster of section 5 that is 60 `full` searches per dataset, each about 47 GPU-minutes by the "
        "extrapolation of docs/bench_search.md (never run on real data): about 47 GPU-hours per dataset. The "
        "paper's three seeds cannot separate one point.",
    ),
}
