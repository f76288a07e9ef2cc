"""Write notebooks/01_gibbs_sampling_quadratic.ipynb and notebooks/02_laplace_bfgs_covariance.ipynb.

The committed .ipynb files are the source of truth; this script is how they were
generated (run it from the repository root, then commit the notebooks without outputs):

    .venv/bin/python scripts/make_notebooks_01_02.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent


def md(text: str):
    return new_markdown_cell(text.strip("\n"))


def code(text: str, tags: list[str] | None = None):
    cell = new_code_cell(text.strip("\n"))
    if tags:
        cell.metadata["tags"] = tags
    return cell


def params():
    return code('profile = "cpu"  # "smoke" (seconds, CI) | "cpu" (minutes, Binder) | "full"\nseed = 0', tags=["parameters"])


def notebook(cells, prefix: str) -> nbformat.NotebookNode:
    for i, cell in enumerate(cells):
        cell.id = f"{prefix}-{i:02d}"  # stable ids: regenerating gives no diff
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


# ============================================================================ 01

NB01 = [
    md(r"""
# 01 · Gibbs sampling on quadratic posteriors

GibbsNAS (Xue et al., AAAI 2021) searches an architecture by **Gibbs sampling** from the
joint posterior over the network weights $\omega$ and the architecture importance $\alpha$
(Algorithm 1): draw $\omega$ given $\alpha$, then $\alpha$ given $\omega$, and repeat. This
notebook builds that idea up on posteriors whose answer is known exactly: Gaussians.

What you will see:

1. **Conditionals of a 2-D Gaussian** — a slice through the joint density is again a Gaussian,
   with a closed-form mean and variance.
2. **The exact Gibbs sampler** — its staircase path, and its samples reproducing the covariance
   $\Sigma$.
3. **Mixing vs correlation** — the more correlated the two coordinates, the slower Gibbs mixes:
   the effective sample size per sweep is $(1-\rho^2)/(1+\rho^2)$, which goes to 0 as $\rho \to 1$.
4. **Algorithm 1 on a 2-D toy** $(\omega, \alpha)$ — exact conditionals vs the GibbsNAS way, where
   each conditional is replaced by a quasi-Newton Gaussian (`DiagLBFGSGaussian` for $\omega$,
   `BFGSGaussian` for $\alpha$); why the samplers' curvature pairs must be *conditional*; and what
   the learning rate $\eta$ does to the stationary distribution.

Every figure is interactive (plotly). Sizes depend on `profile`: `smoke` runs in seconds,
`cpu` in about a minute.
"""),
    params(),
    code(r"""
import json
import time

import numpy as np
import torch

from gibbsnas_lite import toys as T
from gibbsnas_lite.plots import posterior as P

torch.set_num_threads(1)  # the matrices here are 2×2: extra threads only add overhead
t_start = time.perf_counter()

SIZES = {
    # gibbs: sweeps of the first chain; ess (× ess_chains): sweeps per ρ in `rhos`; chain: Algorithm-1 sweeps;
    # chain_ess: Algorithm-1 sweeps per ρ in `chain_rhos`; naive: sweeps with the samplers' own pairs; lr_sweeps: per η
    "smoke": dict(gibbs=2_000, ess=1_500, ess_chains=2, rhos=[0.0, 0.5, 0.9, 0.99], chain=200, chain_ess=200, chain_rhos=[0.9], naive=100, lr_sweeps=150),
    "cpu": dict(gibbs=20_000, ess=6_000, ess_chains=8, rhos=[0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99], chain=2_000, chain_ess=1_500, chain_rhos=[0.5, 0.8, 0.95], naive=300, lr_sweeps=1_500),
    "full": dict(gibbs=200_000, ess=100_000, ess_chains=8, rhos=[0.0, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995], chain=20_000, chain_ess=20_000, chain_rhos=[0.3, 0.6, 0.8, 0.9, 0.95, 0.98], naive=500, lr_sweeps=20_000),
}
S = SIZES[profile]
BURN = 100  # sweeps dropped from the start of each chain (it starts 3 std away from the mean)
print(profile, S)
"""),
    md(r"""
## 1. A Gaussian posterior and its conditionals

Around a point $\theta_0$ the paper expands the log joint to second order (Eq. 6), which makes
the conditional posterior of each block Gaussian (Eqs. 9 and 13):

$$
p(\theta \mid \mathcal D) \propto \exp\Big\{\mathbf b^\top(\theta-\theta_0) - \tfrac12(\theta-\theta_0)^\top \mathbf A\,(\theta-\theta_0)\Big\},
\qquad \mathbf A = \nabla^2\mathcal L + \sigma^{-2}\mathbf I \quad (\text{Eqs. 8, 12}).
$$

That is $\mathcal N(\mu, \Sigma)$ with precision $\mathbf A = \Sigma^{-1}$ and mean
$\mu = \theta_0 + \mathbf A^{-1}\mathbf b$. So let us start from a Gaussian
$p(\theta) \propto \exp(-E(\theta))$ with potential $E(\theta) = \tfrac12(\theta-\mu)^\top \mathbf A(\theta-\mu)$.

Split $\theta$ into a block $b$ and the rest $r$. The conditional of the block is Gaussian again:

$$
\theta_b \mid \theta_r \;\sim\; \mathcal N\!\Big(\mu_b - \mathbf A_{bb}^{-1}\mathbf A_{br}(\theta_r-\mu_r),\;\; \mathbf A_{bb}^{-1}\Big).
$$

In 2-D with standard deviations $\sigma_1, \sigma_2$ and correlation $\rho$:
$\theta_1 \mid \theta_2 \sim \mathcal N\big(\mu_1 + \rho\tfrac{\sigma_1}{\sigma_2}(\theta_2-\mu_2),\; \sigma_1^2(1-\rho^2)\big)$.
The conditional variance $\sigma_1^2(1-\rho^2)$ is much smaller than the marginal $\sigma_1^2$ when
$|\rho|$ is close to 1. The figure checks the formula against a brute-force slice of the joint density.
"""),
    code(r"""
target = T.bivariate_gaussian(rho=0.9, sigmas=(1.0, 2.0), mean=(1.0, -1.0))
given = 2.0
cond = target.conditional(0, [0.0, given])  # θ₁ | θ₂ = 2 (the θ₁ entry is ignored)
print(f"θ₁ | θ₂={given}:  mean {cond.mean.item():.4f}  var {cond.cov.item():.4f}   (marginal var of θ₁: {target.cov[0, 0].item():.1f})")
P.conditional_figure(target, given=given, title="A conditional is a slice of the joint").show()
"""),
    md(r"""
## 2. The exact Gibbs sampler

Gibbs sampling replaces one block at a time by a draw from its conditional — the paper's
Eqs. 10 and 14 with exact conditionals:

$$
\theta_1^{(t+1)} \sim p\big(\theta_1 \mid \theta_2^{(t)}\big), \qquad
\theta_2^{(t+1)} \sim p\big(\theta_2 \mid \theta_1^{(t+1)}\big).
$$

Each update leaves $p$ invariant, so the chain converges to $p$ from any start. It moves only
parallel to the axes: a *staircase*. We start 3 standard deviations away from the mean to see the
burn-in.
"""),
    code(r"""
gibbs = T.exact_gibbs(target, S["gibbs"], seed=seed, record_path=True)
P.gibbs_path_figure(gibbs.path, target, samples=gibbs.samples[BURN:], max_steps=40,
                    title=f"Exact Gibbs, ρ = 0.9: the first 40 updates and {S['gibbs']} sweeps").show()
"""),
    md(r"""
Do the samples have the right distribution? Compare the sample mean and covariance with $\mu$
and $\Sigma$; the $k\sigma$ ellipses $\{x : (x-\mu)^\top\Sigma^{-1}(x-\mu) = k^2\}$ of the two should
coincide (for $k = 1, 2$ they hold 39 % and 86 % of the mass).
"""),
    code(r"""
m_gibbs, c_gibbs = T.sample_mean_cov(gibbs.samples[BURN:])
err_gibbs = T.relative_error(c_gibbs, target.cov)
print("sample mean", m_gibbs.round(3), " true", target.mean.numpy())
print("sample cov\n", c_gibbs.round(3), "\ntrue cov\n", target.cov.numpy())
print(f"relative error ‖Ĉ − Σ‖/‖Σ‖ = {err_gibbs:.3f}")
P.ellipses_figure({"target Σ": target, "Gibbs sample covariance": (m_gibbs, c_gibbs)},
                  samples=gibbs.samples[BURN:], title="Exact Gibbs reproduces Σ").show()
"""),
    md(r"""
## 3. Mixing vs correlation

Consecutive Gibbs samples are correlated. For the bivariate Gaussian the chain of $\theta_1$
(one value per sweep) is an AR(1) process: substituting the $\theta_2$ update into the $\theta_1$
update gives

$$
\theta_1^{(t+1)} - \mu_1 = \rho^2\,\big(\theta_1^{(t)} - \mu_1\big) + \varepsilon_t ,
$$

so its autocorrelation at lag $k$ is $\rho^{2k}$, its integrated autocorrelation time is
$\tau = 1 + 2\sum_{k\ge1}\rho^{2k} = \frac{1+\rho^2}{1-\rho^2}$, and $n$ sweeps are worth
$\mathrm{ESS} = n/\tau$ independent draws. At $\rho = 0.99$ that is one independent draw every
~100 sweeps. First, two trace plots and their autocorrelations:
"""),
    code(r"""
n_trace = min(S["gibbs"], 5_000)
low = T.exact_gibbs(T.bivariate_gaussian(0.5), n_trace, init=[0.0, 0.0], seed=seed)
high = T.exact_gibbs(T.bivariate_gaussian(0.99), n_trace, init=[0.0, 0.0], seed=seed)
n_show = min(2_000, n_trace)
P.trace_figure({"ρ = 0.5": low.samples[:n_show, 0], "ρ = 0.99": high.samples[:n_show, 0]},
               title="θ₁ per sweep: the ρ = 0.99 chain crawls", xlabel="sweep", ylabel="θ₁").show()
lags = np.arange(61)
P.autocorrelation_figure(
    {"ρ = 0.5": T.autocorrelation(low.samples[:, 0], 60), "ρ = 0.99": T.autocorrelation(high.samples[:, 0], 60)},
    reference={"ρ^{2k}, ρ = 0.5": 0.25 ** lags, "ρ^{2k}, ρ = 0.99": 0.9801 ** lags},
    title="Autocorrelation of the θ₁ chain vs the AR(1) prediction ρ^{2k}",
).show()
"""),
    md(r"""
Now the effective sample size per sweep, measured with Geyer's initial-monotone-sequence estimator
(`T.effective_sample_size`), across correlations, against the theory $(1-\rho^2)/(1+\rho^2)$:
"""),
    code(r"""
ess = T.gibbs_ess_vs_rho(S["rhos"], S["ess"], n_chains=S["ess_chains"], seed=seed)
for r, e, th, l1 in zip(ess["rho"], ess["ess_fraction"], ess["theory_ess_fraction"], ess["lag1"]):
    print(f"ρ = {r:5.3f}   ESS/n measured {e:6.4f}   theory {th:6.4f}   lag-1 autocorr {l1:6.4f} (ρ² = {r * r:6.4f})")
P.ess_figure(ess["rho"], {"exact Gibbs (measured)": ess["ess_fraction"]}, reference=ess["theory_ess_fraction"],
             title="Gibbs mixes slower as the correlation grows").show()
"""),
    md(r"""
## 4. Algorithm 1 on a 2-D toy: $(\omega, \alpha)$

The paper's priors on $\omega$ and $\alpha$ are independent (Eq. 3), but their posterior is not:
once the data are observed, $\omega$ and $\alpha$ are not d-separated. Our toy is a joint Gaussian over one
weight $\omega$ and one importance $\alpha$ with correlation $\rho$
(`T.two_block_gaussian`, $\Sigma = \begin{pmatrix}1 & \rho\\ \rho & 1\end{pmatrix}$). Algorithm 1 alternates

$$
\omega_t \sim p(\omega \mid \mathcal D, \alpha_t) \;\;(\text{step 4, Eq. 10}), \qquad
\alpha_{t+1} \sim p(\alpha \mid \mathcal D, \omega_t) \;\;(\text{step 5, Eq. 14}).
$$

**Exact** Gibbs uses the closed-form conditionals. **GibbsNAS** cannot compute them for a network,
so it replaces each by the quasi-Newton Gaussian of Eqs. 15-16,

$$
\omega_t \sim \mathcal N\big(\omega_{t-1} - \eta\,\tilde{\mathbf A}_\omega^{-1}\nabla_\omega U,\; \tfrac{T}{N}\tilde{\mathbf A}_\omega^{-1}\big),\qquad
\alpha_{t+1} \sim \mathcal N\big(\alpha_t - \eta\,\tilde{\mathbf A}_\alpha^{-1}\nabla_\alpha U,\; \tfrac{T}{N}\tilde{\mathbf A}_\alpha^{-1}\big),
$$

with $\tilde{\mathbf A}_\omega^{-1}$ a diagonal estimated from L-BFGS curvature pairs (`DiagLBFGSGaussian`) and
$\tilde{\mathbf A}_\alpha^{-1}$ a dense BFGS estimate (`BFGSGaussian`). (As printed, Eqs. 15-16 subtract
$\tilde{\mathbf A}^{-1}\mathbf b$ with $\mathbf b = -\nabla U$ from Eqs. 7 and 11, which is an uphill step; the samplers
take the downhill Newton step the text means.) Here the samplers run with $T/N = 1$ and no weight decay, so they target
$\exp(-E)$ itself.

On a Gaussian, with $\eta = 1$ and the exact $\tilde{\mathbf A}_b = \mathbf A_{bb}$, the mean
$\theta_b - \mathbf A_{bb}^{-1}\nabla_b E$ **is** the conditional mean and $\mathbf A_{bb}^{-1}$ **is** the
conditional covariance: GibbsNAS is then exact Gibbs, and the only approximation left is the
quasi-Newton estimate of $\tilde{\mathbf A}^{-1}$. Let us check, at $\rho = 0.9$:
"""),
    code(r"""
joint = T.two_block_gaussian(rho=0.9)
exact_chain = T.gibbsnas_chain(joint, S["chain"], method="exact", seed=seed)
qn_chain = T.gibbsnas_chain(joint, S["chain"], method="gibbsnas", pairs="conditional", lr=1.0, seed=seed,
                            record_inverse_hessian=True)
_, c_exact = T.sample_mean_cov(exact_chain.samples[BURN:])
_, c_qn = T.sample_mean_cov(qn_chain.samples[BURN:])
err_exact, err_qn = T.relative_error(c_exact, joint.cov), T.relative_error(c_qn, joint.cov)
print(f"exact Gibbs:           relative covariance error {err_exact:.3f}")
print(f"GibbsNAS (quasi-Newton): relative covariance error {err_qn:.3f}")
print(f"final H_ω = {qn_chain.omega_inverse_hessians[-1].item():.4f}, H_α = {qn_chain.alpha_inverse_hessians[-1].item():.4f}"
      f"   (exact conditional variance 1 − ρ² = {1 - 0.9 ** 2:.4f})")
P.ellipses_figure(
    {"target Σ": joint, "exact Gibbs": (np.zeros(2), c_exact), "GibbsNAS, quasi-Newton conditionals": (np.zeros(2), c_qn)},
    samples={"exact Gibbs": exact_chain.samples[BURN:], "GibbsNAS": qn_chain.samples[BURN:]},
    labels=("ω", "α"), title="Algorithm 1 on a joint Gaussian, ρ = 0.9",
).show()
"""),
    md(r"""
### Where the quasi-Newton estimate comes from — and a trap

Both samplers learn $\tilde{\mathbf A}^{-1}$ from curvature pairs $s = \theta_t - \theta_{t-1}$,
$y = \nabla U(\theta_t) - \nabla U(\theta_{t-1})$, which satisfy the secant equation
$y = \mathbf A s$ on a quadratic. In Algorithm 1, though, the *other* block moved between two
updates of a block, so the pair the sampler sees is

$$
y_\alpha = \mathbf A_{\alpha\alpha}\, s_\alpha + \mathbf A_{\alpha\omega}\,\Delta\omega ,
$$

contaminated by the cross-curvature. The run above used `pairs="conditional"`: each sampler's
`step(closure)` evaluates the block's gradient before *and after* its own move, with the other block
held fixed (one extra gradient per block and sweep — the samplers' "same-batch" pairs, as in
oBFGS/oLBFGS), so $y = \mathbf A_{bb}\, s$ exactly. With `pairs="sampler"` the loop only sets `.grad`
and calls `step()`, as a search loop without a closure would, and $H_\alpha$ measures the wrong thing.
The figure shows the relative error of
$H_{\alpha,t}$ against the true conditional variance $1-\rho^2$, sweep by sweep:
"""),
    code(r"""
naive_chain = T.gibbsnas_chain(joint, S["naive"], method="gibbsnas", pairs="sampler", lr=1.0, seed=seed,
                               record_inverse_hessian=True)
cond_var = torch.tensor([[1 - 0.9 ** 2]], dtype=torch.float64)
err_naive_h = T.inverse_hessian_error(naive_chain.alpha_inverse_hessians, cond_var)
err_cond_h = T.inverse_hessian_error(qn_chain.alpha_inverse_hessians[: S["naive"]], cond_var)
print("sampler pairs:", "diverged at sweep %d" % naive_chain.diverged_at if naive_chain.diverged_at else "did not diverge",
      f"| median |H_α − (1−ρ²)|/(1−ρ²) = {np.median(err_naive_h):.2f}")
print(f"conditional pairs: median relative error of H_α = {np.median(err_cond_h):.2e}")
P.convergence_figure({"H_α from the sampler's own pairs": err_naive_h + 1e-16, "H_α from conditional pairs": err_cond_h + 1e-16},
                     ylabel="|H_α,t − (1−ρ²)| / (1−ρ²)", title="Curvature pairs across the alternation mislead BFGS").show()
"""),
    md(r"""
### Mixing of Algorithm 1

Block Gibbs over $(\omega, \alpha)$ has the same AR(1) structure as in section 3: the $\omega$ chain has
coefficient $\rho^2$. Strong coupling between weights and architecture therefore slows the exact sampler
down, and GibbsNAS (with conditional pairs and $\eta = 1$) inherits exactly the same mixing:
"""),
    code(r"""
chain_ess = T.chain_ess_vs_rho(S["chain_rhos"], S["chain_ess"], methods=("exact", "gibbsnas"), pairs="conditional", seed=seed)
for i, r in enumerate(chain_ess["rho"]):
    print(f"ρ = {r:4.2f}   ESS/n exact {chain_ess['exact'][i]:.3f}   GibbsNAS {chain_ess['gibbsnas'][i]:.3f}   theory {chain_ess['theory'][i]:.3f}")
P.ess_figure(chain_ess["rho"], {"exact block Gibbs": chain_ess["exact"], "GibbsNAS (quasi-Newton)": chain_ess["gibbsnas"]},
             reference=chain_ess["theory"], title="Algorithm 1: ESS of the ω chain vs ω–α correlation").show()
"""),
    md(r"""
### The learning rate $\eta$

The paper uses $\eta = 0.1$ for both blocks. With $\eta < 1$ the mean of Eq. 15/16 is a *damped* Newton
step, and the draw is no longer the conditional: for one block with the exact Hessian,
$\theta' - \mu = (1-\eta)(\theta-\mu) + \mathbf A^{-1/2} z$, whose stationary covariance is

$$
\frac{\Sigma}{1-(1-\eta)^2} = \frac{\Sigma}{\eta(2-\eta)} \qquad (5.3\times\ \text{too wide at}\ \eta = 0.1,\ T = 1).
$$

For the two-block sweep the stationary covariance solves a Lyapunov equation
(`T.gibbsnas_stationary_cov`). Measured vs predicted:
"""),
    code(r"""
lr_runs = {}
for eta in (1.0, 0.5, 0.3):
    run = T.gibbsnas_chain(joint, S["lr_sweeps"], method="gibbsnas", pairs="conditional", lr=eta, seed=seed)
    _, c_eta = T.sample_mean_cov(run.samples[BURN:])
    pred = T.gibbsnas_stationary_cov(joint, [[0], [1]], lr=eta)
    lr_runs[eta] = (c_eta, pred)
    print(f"η = {eta:3.1f}: measured var(ω) {c_eta[0, 0]:.3f}  predicted {pred[0, 0].item():.3f}   "
          f"(single-block factor 1/(η(2−η)) = {T.stationary_inflation(eta):.3f})")
P.ellipses_figure(
    {"target Σ": joint, **{f"η = {eta:g} (measured)": (np.zeros(2), c) for eta, (c, _) in lr_runs.items()}},
    labels=("ω", "α"), ks=(1.0,), title="η < 1 widens the stationary distribution",
).show()
"""),
    md(r"""
## Summary picture

Exact Gibbs and the GibbsNAS quasi-Newton alternation (conditional curvature pairs, $\eta = 1$) sample
the same joint posterior; both mix as $(1-\rho^2)/(1+\rho^2)$. Below: the target's ellipses and the
first 30 sweeps of each chain on the $(\omega, \alpha)$ plane.
"""),
    code(r"""
P.ellipses_figure({"target Σ": joint}, paths={"exact Gibbs: first 30 sweeps": exact_chain.samples, "GibbsNAS: first 30 sweeps": qn_chain.samples},
                  max_path=30, labels=("ω", "α"), title="Algorithm 1: exact vs quasi-Newton conditionals").show()
"""),
    md(r"""
## Headline numbers

Recorded for the batch runner (`gibbsnas-lite notebooks run`): covariance errors of the exact and the
quasi-Newton chains, the ESS per sweep at the largest $\rho$ (measured vs theory), and what happened with
the samplers' own curvature pairs.
"""),
    code(r"""
from gibbsnas_lite.notebooks import record

i_hi = int(np.argmax(ess["rho"]))
headline = {
    "profile": profile,
    "gibbs_cov_rel_error": round(float(err_gibbs), 4),
    "ess_per_sweep_rho": float(ess["rho"][i_hi]),
    "ess_per_sweep_measured": round(float(ess["ess_fraction"][i_hi]), 4),
    "ess_per_sweep_theory": round(float(ess["theory_ess_fraction"][i_hi]), 4),
    "alg1_exact_cov_rel_error": round(float(err_exact), 4),
    "alg1_gibbsnas_cov_rel_error": round(float(err_qn), 4),
    "alg1_sampler_pairs_diverged_at": naive_chain.diverged_at,
    "alg1_sampler_pairs_median_H_alpha_rel_error": round(float(np.median(err_naive_h)), 3),
    "seconds": round(time.perf_counter() - t_start, 1),
}
record(**headline)
print(json.dumps(headline, indent=1))
"""),
]


# ============================================================================ 02

NB02 = [
    md(r"""
# 02 · Laplace and BFGS covariance

GibbsNAS draws each block from a Gaussian whose covariance is an *inverse Hessian*
(Eqs. 15-16). Where does that Gaussian come from, and how good is a BFGS estimate of it?

What you will see:

1. **The Laplace approximation** — a Gaussian at the mode with the inverse Hessian as covariance:
   exact for a Gaussian, approximate for Bayesian logistic regression.
2. **BFGS learning the covariance** — the `BFGSGaussian` sampler's inverse-Hessian estimate $H_t$
   converging to $\mathbf A^{-1}$ (an animated ellipse, and $\|H_t - \mathbf A^{-1}\|/\|\mathbf A^{-1}\|$ over steps),
   in sample mode and in mean mode.
3. **The positive-definite policy** — what happens to BFGS when curvature pairs have $s^\top y \le 0$
   (noisy gradients): skip, Powell damping, or nothing.
4. **Sample vs mean mode** — a cloud vs a point (the paper's Table 2 ablation).
5. **The diagonal sampler** (`DiagLBFGSGaussian`, Eq. 15) on a diagonal and on a correlated Gaussian:
   what a diagonal approximation misses.
6. **Non-Gaussian posteriors** — logistic regression and a banana: Laplace vs the sampler vs the truth.
"""),
    params(),
    code(r"""
import json
import time

import numpy as np
import torch

from gibbsnas_lite import toys as T
from gibbsnas_lite.plots import posterior as P
from gibbsnas_lite.samplers import BFGSGaussian, DiagLBFGSGaussian

torch.set_num_threads(1)  # 2×2 and 10×10 matrices: extra threads only add overhead
t_start = time.perf_counter()

SIZES = {
    # steps: BFGS sampler steps (2-D); steps_10d: on the 10-D target; mean_steps: mean-mode runs; pairs: noisy pairs fed to
    # the policies; noisy_steps: sampler steps with gradient noise; diag_steps / nonlin_steps: sections 5 / 6; grid: quadrature
    "smoke": dict(steps=200, steps_10d=100, mean_steps=40, pairs=150, noisy_steps=200, diag_steps=300, nonlin_steps=300, grid=100),
    "cpu": dict(steps=1_500, steps_10d=400, mean_steps=60, pairs=400, noisy_steps=1_500, diag_steps=2_000, nonlin_steps=2_500, grid=250),
    "full": dict(steps=30_000, steps_10d=3_000, mean_steps=60, pairs=2_000, noisy_steps=30_000, diag_steps=50_000, nonlin_steps=50_000, grid=600),
}
S = SIZES[profile]
BURN = 100
print(profile, S)
"""),
    md(r"""
## 1. The Laplace approximation

Expand the negative log posterior $E(\theta)$ to second order around its mode $\theta^*$, where
$\nabla E(\theta^*) = 0$ (Eq. 6 with $\mathbf b = 0$):

$$
E(\theta) \approx E(\theta^*) + \tfrac12(\theta-\theta^*)^\top \mathbf A\,(\theta-\theta^*),\qquad
\mathbf A = \nabla^2 E(\theta^*) \quad(\text{Eq. 8}),
$$

so $p(\theta) \approx \mathcal N(\theta^*, \mathbf A^{-1})$ — the same Gaussian as Eq. 9, built at the mode
(MacKay 1992, the paper's Eq. 18). `T.laplace_approximation` finds $\theta^*$ by Newton's method and
$\mathbf A$ by autograd. For a Gaussian it is exact:
"""),
    code(r"""
target = T.bivariate_gaussian(rho=0.9, sigmas=(1.0, 0.5), mean=(1.0, -1.0))
la_gauss = T.laplace_approximation(target, torch.zeros(2))
laplace_gauss_err = max(float((la_gauss.mean - target.mean).abs().max()), float((la_gauss.cov - target.cov).abs().max()))
print(f"Laplace of a Gaussian: Newton iterations {la_gauss.info['n_iter']}, max error in mean and cov {laplace_gauss_err:.1e}")
P.ellipses_figure({"target Σ": target, "Laplace": la_gauss}, title="Laplace of a Gaussian is the Gaussian (the ellipses coincide)").show()
"""),
    md(r"""
Bayesian logistic regression is the simplest non-Gaussian posterior of the paper's kind: a
cross-entropy likelihood and a Gaussian prior. With $N$ examples, labels $y_i \in \{-1, +1\}$ and prior
variance $\sigma^2$,

$$
E(w) = \sum_{i=1}^N \log\big(1 + e^{-y_i x_i^\top w}\big) + \frac{\|w\|^2}{2\sigma^2}
= N\Big(\mathcal L_{\text{mean}}(w) + \frac{\lambda}{2}\|w\|^2\Big),\quad \lambda = \frac{1}{\sigma^2 N},
$$

exactly the paper's split into a mean cross-entropy and a weight decay (Eq. 7). With two weights we can
compute the true posterior mean and covariance by quadrature on a grid and compare:
"""),
    code(r"""
logreg = T.LogisticRegressionPosterior(n=30, dim=2, seed=seed)
la_lr = T.laplace_approximation(logreg, torch.zeros(2))
xlim, ylim = T.box_around(la_lr, k=6.0)
truth_lr = T.grid_moments(logreg, xlim, ylim, n=S["grid"])
laplace_lr_mean_err = float((la_lr.mean - truth_lr.mean).norm() / truth_lr.mean.norm())
laplace_lr_cov_err = T.relative_error(la_lr.cov, truth_lr.cov)
print(f"N = {logreg.data_size}, weight decay λ = {logreg.weight_decay:.4f}; ‖∇E‖ at the mode = {la_lr.info['grad_norm']:.1e}")
print("Laplace mean", la_lr.mean.numpy().round(3), " true posterior mean", truth_lr.mean.numpy().round(3))
print(f"relative error: mean {laplace_lr_mean_err:.3f}, covariance {laplace_lr_cov_err:.3f}")
P.ellipses_figure({"true posterior (moments)": truth_lr, "Laplace": la_lr},
                  background=P.density_contour_trace(logreg.potential, xlim, ylim),
                  labels=("w₁", "w₂"), title="Logistic regression: the Laplace Gaussian sits at the mode, not the mean").show()
"""),
    md(r"""
## 2. BFGS learns the covariance

GibbsNAS never computes $\mathbf A$: it estimates $\mathbf H \approx \mathbf A^{-1}$ by BFGS from curvature
pairs $s_t = \theta_t - \theta_{t-1}$, $y_t = \nabla U(\theta_t) - \nabla U(\theta_{t-1})$ (Nocedal & Wright Eq. 6.17):

$$
\mathbf H_{t+1} = (\mathbf I - \rho_t s_t y_t^\top)\,\mathbf H_t\,(\mathbf I - \rho_t y_t s_t^\top) + \rho_t s_t s_t^\top,\qquad \rho_t = \frac{1}{s_t^\top y_t}.
$$

On a quadratic $y_t = \mathbf A s_t$ exactly, so every pair is exact information about $\mathbf A^{-1}$. The sampler
(`BFGSGaussian`, Eq. 16) draws $\theta_{t+1} \sim \mathcal N(\theta_t - \eta \mathbf H_t \nabla U,\ \tfrac{T}{N}\mathbf H_t)$;
here $T/N = 1$ and $\eta = 1$. Its covariance estimate $\tfrac{T}{N}\mathbf H_t$ (dashed) against the target
(solid), step by step — press play or drag the slider:
"""),
    code(r"""
run2 = T.run_sampler(BFGSGaussian, target, [3.0, 2.0], S["steps"], lr=1.0, seed=seed, record_inverse_hessian=True)
frames = [t for t in (0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50, 100, 200, 500, 1000) if t < S["steps"]]
P.ellipse_evolution_figure(target, target.mean, run2.covariances[frames], steps=[f + 1 for f in frames],
                           points=run2.theta[[f + 1 for f in frames]], name="BFGS (T/N)·H_t",
                           title="The BFGS covariance estimate converging to Σ (2σ ellipses)", k=2.0).show()
"""),
    md(r"""
In **sample** mode the noise keeps the steps $s_t$ pointing in all directions, so the pairs keep teaching
$\mathbf H$ about every direction. In **mean** mode (no noise: a quasi-Newton optimizer) the steps shrink
as the iterate reaches the mode, and the estimate stops improving once the pairs are at round-off level
(we stop the mean-mode runs after a few dozen steps for that reason). Relative error
$\|\mathbf H_t - \mathbf A^{-1}\|_F / \|\mathbf A^{-1}\|_F$ on the 2-D target and on a 10-D Gaussian with
condition number 100:
"""),
    code(r"""
target10 = T.random_gaussian(10, condition_number=100.0, seed=seed)
errors = {}
for name, tgt, init, n in (("2-D", target, [3.0, 2.0], S["steps"]), ("10-D", target10, torch.full((10,), 2.0), S["steps_10d"])):
    for mode in ("sample", "mean"):
        steps = n if mode == "sample" else S["mean_steps"]
        r = T.run_sampler(BFGSGaussian, tgt, init, steps, lr=1.0, mode=mode, seed=seed, record_inverse_hessian=True)
        errors[f"{name}, {mode} mode"] = T.inverse_hessian_error(r.inverse_hessians, tgt.cov)
for k, v in errors.items():
    print(f"{k:18s} error after {len(v):5d} steps: {v[-1]:.2e}")
bfgs_err_2d, bfgs_err_10d = errors["2-D, sample mode"][-1], errors["10-D, sample mode"][-1]
P.convergence_figure(errors, title="BFGS inverse Hessian vs the true covariance").show()
"""),
    md(r"""
## 3. The positive-definite policy

$\mathbf H_{t+1}$ stays positive definite only if $s_t^\top y_t > 0$ (the curvature condition). On a convex
quadratic with exact gradients it always holds; with **minibatch gradients** (or a non-convex loss) it does
not. The samplers then either **skip** the pair, or **damp** it (Powell: replace $s$ by
$\theta s + (1-\theta)\mathbf H y$ so that $s^\top y = 0.2\, y^\top \mathbf H y$). Doing **nothing** makes
$\mathbf H$ indefinite — no longer a covariance, nothing can be sampled from it.

We feed the same noisy pairs $y = \mathbf A s + \varepsilon$ to the three policies
(`T.compare_pd_policies`; "none" is the textbook formula, for teaching only) and track the smallest eigenvalue
of $\mathbf H$ and its error:
"""),
    code(r"""
s_pairs, y_pairs = T.noisy_secant_pairs(target, S["pairs"], step_std=0.3, grad_noise=1.0, seed=seed)
pd = T.compare_pd_policies(target, s_pairs, y_pairs)
frac_neg = float((pd["skip"]["sy"] <= 0).mean())
n_indef = int((pd["none"]["min_eig"] <= 0).sum())
print(f"{frac_neg:.0%} of the pairs have sᵀy ≤ 0")
for pol, res in pd.items():
    counts = {str(o): int((res["outcome"] == o).sum()) for o in np.unique(res["outcome"])}
    print(f"{pol:5s}: smallest eigenvalue ever {res['min_eig'].min():+.3f}, pairs {counts}, final error {res['error'][-1]:.2f}")
print(f"without a policy H was indefinite after {n_indef} of {len(s_pairs)} pairs")
P.pd_policy_figure(pd, title="Smallest eigenvalue of H per pair (below 0: not a covariance)").show()
P.convergence_figure({pol: r["error"] for pol, r in pd.items() if pol != "none"}, steps=np.arange(1, len(s_pairs) + 1),
                     title="Error of H under noisy pairs (skip vs damp)").show()
"""),
    md(r"""
Both policies keep $\mathbf H$ a covariance, but neither makes noisy pairs *informative*: a pair with a
tiny positive $s^\top y$ inflates $\mathbf H$ along $s$ by $\|s\|^2/s^\top y$. Inside the sampler, with a little
gradient noise and pairs formed from consecutive steps (two different "minibatches"), this shows up as rare
spikes of the largest eigenvalue of $\mathbf H_t$ — and, since the draw's covariance is $\mathbf H_t$, as rare long
jumps. The cure is not a policy but better pairs: with `step(closure)` the sampler evaluates the *same* batch
before and after its move, the noise cancels in $y$, and $y = \mathbf A s$ again (`pairs="same_batch"`):
"""),
    code(r"""
noisy = {}
for label, kw in (("consecutive pairs, skip", dict(pd_policy="skip")), ("consecutive pairs, damp", dict(pd_policy="damp")),
                  ("same-batch pairs, damp", dict(pd_policy="damp", pairs="same_batch"))):
    r = T.run_sampler(BFGSGaussian, target, [3.0, 2.0], S["noisy_steps"], lr=1.0, grad_noise=0.1, seed=seed,
                      record_inverse_hessian=True, **kw)
    noisy[label] = r
    lam_max = T.spectrum(r.inverse_hessians)[:, -1]
    _, c_noisy = T.sample_mean_cov(r.theta[BURN:])
    print(f"{label:24s}: pairs {r.pair_counts()}, λ_max(H) median {np.median(lam_max):.2f} / max {lam_max.max():.1f} "
          f"(true {torch.linalg.eigvalsh(target.cov)[-1].item():.2f}); largest |θ| after burn-in {r.theta[BURN:].norm(dim=1).max().item():.1f}; "
          f"cloud covariance error {T.relative_error(c_noisy, target.cov):.2f}")
same_batch_cov_err = T.relative_error(T.sample_mean_cov(noisy["same-batch pairs, damp"].theta[BURN:])[1], target.cov)
consecutive_cov_err = T.relative_error(T.sample_mean_cov(noisy["consecutive pairs, damp"].theta[BURN:])[1], target.cov)
P.convergence_figure({label: T.spectrum(r.inverse_hessians)[:, -1] for label, r in noisy.items()},
                     ylabel="largest eigenvalue of H_t", title="Noisy gradients: spikes in the BFGS estimate, and the same-batch cure").show()
"""),
    md(r"""
## 4. Sample mode vs mean mode

The paper's ablation (Table 2) compares drawing from Eqs. 15-16 ("sample") with taking their mean
("mean"). In mean mode the sampler is a quasi-Newton optimizer and goes to the mode — a point. In sample
mode it produces a cloud; at $\eta = 1$ on a Gaussian its covariance is $\Sigma$, at $\eta < 1$ it is
$\Sigma/(\eta(2-\eta))$:
"""),
    code(r"""
sample_run = T.run_sampler(BFGSGaussian, target, [3.0, 2.0], S["steps"], lr=1.0, mode="sample", seed=seed)
mean_run = T.run_sampler(BFGSGaussian, target, [3.0, 2.0], S["mean_steps"], lr=1.0, mode="mean", seed=seed)
half_run = T.run_sampler(BFGSGaussian, target, [3.0, 2.0], S["steps"], lr=0.5, mode="sample", seed=seed)
m_s, c_s = T.sample_mean_cov(sample_run.theta[BURN:])
_, c_half = T.sample_mean_cov(half_run.theta[BURN:])
sample_cov_err = T.relative_error(c_s, target.cov)
inflation_half = float(np.trace(c_half) / torch.trace(target.cov))
print(f"sample mode, η = 1:   covariance error {sample_cov_err:.3f}")
print(f"sample mode, η = 0.5: trace ratio to Σ {inflation_half:.3f} (theory 1/(η(2−η)) = {T.stationary_inflation(0.5):.3f})")
print(f"mean mode: final point {mean_run.theta[-1].numpy().round(6)}  (mode {target.mean.numpy()})")
P.ellipses_figure({"target Σ": target, "sample mode, η = 1": (m_s, c_s)}, samples={"sample mode (cloud)": sample_run.theta[BURN:]},
                  paths={"mean mode (path to the mode)": mean_run.theta}, max_path=S["mean_steps"],
                  title="Sample mode: a cloud. Mean mode: a point").show()
"""),
    md(r"""
## 5. The diagonal sampler: what a diagonal misses

For the network weights $\omega$ (millions of numbers) a dense $\mathbf H$ is impossible; the paper uses a
diagonal approximation of $\mathbf A_\omega$ (Becker & LeCun 1988) estimated from L-BFGS curvature pairs
(Eq. 15). `DiagLBFGSGaussian` draws $\theta_{t+1} \sim \mathcal N(\theta_t - \eta\,D \odot \nabla U,\ \tfrac{T}{N}\mathrm{diag}(D))$,
with $D_i = \sum_k s_{ki}^2 / \sum_k s_{ki} y_{ki}$ over the last $m$ pairs (its default "secant" diagonal).

On a **diagonal** Gaussian this is exact. On a **correlated** one, the best a diagonal can do is the
*conditional* variances $D_i = 1/A_{ii}$, and even then the step moves every coordinate at once given the
others' old values (a Jacobi sweep, not a Gibbs sweep): the stationary covariance
(`T.gibbsnas_stationary_cov` with that $D$) loses the correlation.
"""),
    code(r"""
diag_target = T.bivariate_gaussian(0.0, sigmas=(1.0, 0.5))
corr_target = T.bivariate_gaussian(0.9, sigmas=(1.0, 0.5))
diag_kw = dict(lr=1.0, diag="secant", h_min=1e-4, h_max=1.0, seed=seed, record_inverse_hessian=True)
d_run = T.run_sampler(DiagLBFGSGaussian, diag_target, [2.0, 1.0], S["diag_steps"], **diag_kw)
c_run = T.run_sampler(DiagLBFGSGaussian, corr_target, [2.0, 1.0], S["diag_steps"], **diag_kw)
b_run = T.run_sampler(BFGSGaussian, corr_target, [2.0, 1.0], S["diag_steps"], lr=1.0, seed=seed)
_, c_diag_on_diag = T.sample_mean_cov(d_run.theta[BURN:])
_, c_diag_on_corr = T.sample_mean_cov(c_run.theta[BURN:])
_, c_bfgs_on_corr = T.sample_mean_cov(b_run.theta[BURN:])
best_diag = 1.0 / torch.diagonal(corr_target.precision)
pred_best = T.gibbsnas_stationary_cov(corr_target, [[0, 1]], lr=1.0, inverse_hessians=[best_diag])
diag_err_diag = T.relative_error(c_diag_on_diag, diag_target.cov)
diag_err_corr = T.relative_error(c_diag_on_corr, corr_target.cov)
bfgs_err_corr = T.relative_error(c_bfgs_on_corr, corr_target.cov)
print(f"diagonal target:   D = {d_run.inverse_hessians[-1].numpy().round(3)} (true variances {torch.diagonal(diag_target.cov).numpy()}), cov error {diag_err_diag:.3f}")
print(f"correlated target: D (median over steps) = {np.median(c_run.inverse_hessians.numpy(), axis=0).round(3)}, "
      f"conditional variances {best_diag.numpy().round(3)}")
print(f"  correlation of the cloud: diagonal sampler {T.correlation_of(c_diag_on_corr):.2f}, BFGS {T.correlation_of(c_bfgs_on_corr):.2f}, target 0.90, "
      f"best diagonal (predicted) {T.correlation_of(pred_best.numpy()):.2f}")
print(f"  covariance error: diagonal sampler {diag_err_corr:.2f}, BFGS sampler {bfgs_err_corr:.3f}")
P.ellipses_figure({"target Σ": corr_target, "DiagLBFGSGaussian (measured)": (np.zeros(2), c_diag_on_corr),
                   "best diagonal D = 1/diag(A) (predicted)": (np.zeros(2), pred_best), "BFGSGaussian (measured)": (np.zeros(2), c_bfgs_on_corr)},
                  samples={"DiagLBFGSGaussian": c_run.theta[BURN:]}, ks=(1.0,),
                  title="A diagonal inverse Hessian cannot represent the correlation").show()
"""),
    md(r"""
## 6. Non-Gaussian posteriors

**Logistic regression.** `BFGSGaussian` is run exactly as in a search: `.grad` holds $\nabla\mathcal L_{\text{mean}}$,
and the sampler gets $N$ (`data_size`) and $\lambda$ (`weight_decay`), so its target is
$\exp(-N U / T)$ with $T = 1$ — the Bayesian posterior. Its cloud against the Laplace Gaussian and the true moments:
"""),
    code(r"""
lr_run = T.run_sampler(BFGSGaussian, logreg, la_lr.mean, S["nonlin_steps"], loss=logreg.loss_mean,
                       data_size=logreg.data_size, weight_decay=logreg.weight_decay, lr=1.0, seed=seed)
m_lr, c_lr = T.sample_mean_cov(lr_run.theta[BURN:])
bfgs_lr_mean_err = float(np.linalg.norm(m_lr - truth_lr.mean.numpy()) / truth_lr.mean.norm())
bfgs_lr_cov_err = T.relative_error(c_lr, truth_lr.cov)
print(f"relative error vs the true moments — Laplace: mean {laplace_lr_mean_err:.3f}, cov {laplace_lr_cov_err:.3f};"
      f"  BFGSGaussian: mean {bfgs_lr_mean_err:.3f}, cov {bfgs_lr_cov_err:.3f}")
P.ellipses_figure({"true posterior (moments)": truth_lr, "Laplace": la_lr, "BFGSGaussian cloud": (m_lr, c_lr)},
                  samples={"BFGSGaussian": lr_run.theta[BURN:]}, background=P.density_contour_trace(logreg.potential, xlim, ylim),
                  labels=("w₁", "w₂"), title="Logistic regression: Laplace vs the BFGS sampler vs the truth").show()
"""),
    md(r"""
**A banana.** $\theta_1 \sim \mathcal N(0, 1)$, $\theta_2 \mid \theta_1 \sim \mathcal N(\theta_1^2 - 1, 1)$: exact samples are
cheap, $\mathrm{Var}\,\theta_2 = 3$, and the Laplace approximation at the mode $(0, -1)$ is $\mathcal N\big((0,-1), \mathbf I\big)$ —
blind to the curvature of the banana. A quasi-Newton Gaussian step is *not* an exact MCMC move (there is no
accept/reject): with pairs taken across regions of very different curvature, $\mathbf H_t$ stops meaning
anything, and the chain can be thrown far into the tails. We run the sampler with a divergence guard and
show what it does:
"""),
    code(r"""
banana = T.BananaPosterior(s=1.0, b=1.0)
exact_banana = banana.sample(5_000, seed=seed)
la_banana = T.laplace_approximation(banana, torch.tensor([1.0, 1.0]))
banana_runs = {pol: T.run_sampler(BFGSGaussian, banana, banana.mode(), S["nonlin_steps"], lr=1.0, pd_policy=pol, seed=seed)
               for pol in ("damp", "skip")}
for pol, r in banana_runs.items():
    if r.diverged_at is not None:
        print(f"BFGSGaussian ({pol}): stopped at step {r.diverged_at}: {r.error}")
    else:
        _, c_b = T.sample_mean_cov(r.theta[BURN:])
        print(f"BFGSGaussian ({pol}): variances {np.diag(c_b).round(1)} vs exact {torch.diagonal(banana.exact_cov()).numpy()}, "
              f"largest |θ| {r.theta.norm(dim=1).max().item():.0f}")
print(f"Laplace covariance {la_banana.cov.numpy().round(3).tolist()}  vs exact {banana.exact_cov().numpy().tolist()}")
fig = P.ellipses_figure({"exact moments": (banana.exact_mean(), banana.exact_cov()), "Laplace": la_banana},
                        samples={"exact samples": exact_banana}, background=P.density_contour_trace(banana.potential, (-4, 4), (-3, 10)),
                        paths={f"BFGSGaussian ({pol}), first 40 steps": r.theta for pol, r in banana_runs.items()}, max_path=40,
                        title="Banana: Laplace is blind to the curvature; the BFGS sampler's first steps")
fig.update_xaxes(range=[-4, 4]).update_yaxes(range=[-3, 10])
fig.show()
"""),
    md(r"""
## Headline numbers
"""),
    code(r"""
from gibbsnas_lite.notebooks import record

headline = {
    "profile": profile,
    "laplace_gaussian_max_error": float(f"{laplace_gauss_err:.2e}"),
    "laplace_logreg_cov_rel_error": round(laplace_lr_cov_err, 4),
    "bfgs_sampler_logreg_cov_rel_error": round(bfgs_lr_cov_err, 4),
    "bfgs_H_rel_error_2d": float(f"{bfgs_err_2d:.2e}"),
    "bfgs_H_rel_error_10d": float(f"{bfgs_err_10d:.2e}"),
    "pd_fraction_sy_nonpositive": round(frac_neg, 3),
    "pd_none_indefinite_pairs": n_indef,
    "noisy_grad_cov_rel_error_consecutive_pairs": round(consecutive_cov_err, 3),
    "noisy_grad_cov_rel_error_same_batch_pairs": round(same_batch_cov_err, 3),
    "sample_mode_cov_rel_error": round(sample_cov_err, 4),
    "lr_half_trace_inflation": round(inflation_half, 3),
    "diag_sampler_cov_rel_error_diagonal_target": round(diag_err_diag, 4),
    "diag_sampler_cov_rel_error_correlated_target": round(diag_err_corr, 3),
    "banana_bfgs_damp_diverged_at": banana_runs["damp"].diverged_at,
    "seconds": round(time.perf_counter() - t_start, 1),
}
record(**headline)
print(json.dumps(headline, indent=1))
"""),
]


def write_notebook(cells: list, name: str, prefix: str) -> None:
    """Validate and write notebooks/<name> (no outputs; cell ids from ``prefix``): every generator's last step."""
    out = ROOT / "notebooks"
    out.mkdir(exist_ok=True)
    nb = notebook(cells, prefix=prefix)
    nbformat.validate(nb)
    nbformat.write(nb, str(out / name))
    print("wrote", out / name)


def main(argv: list[str]) -> int:
    for name, cells in (("01_gibbs_sampling_quadratic.ipynb", NB01), ("02_laplace_bfgs_covariance.ipynb", NB02)):
        write_notebook(cells, name, prefix=name[:2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
