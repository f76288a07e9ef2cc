"""Write notebooks/03_bilevel_toy_darts_vs_gibbs.ipynb.

The committed .ipynb is the source of truth; this script is how it was generated (run it from the
repository root, then commit the notebook without outputs):

    .venv/bin/python scripts/make_notebook_03.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebooks_01_02 import code, md, params, write_notebook  # noqa: E402  (the shared cell helpers)

NB03 = [
    md(r"""
# 03 · The bi-level problem on a toy: DARTS vs GibbsNAS

DARTS relaxes the choice of an operation into softmax weights $\alpha$ and poses a **bi-level
problem**; it then solves it with a one-step approximation that is known to drift toward
parameter-free operations ("skip" everywhere, the DARTS collapse). GibbsNAS (Xue et al., AAAI 2021)
replaces the bi-level problem by Gibbs sampling of $\omega \mid \alpha$ and $\alpha \mid \omega$.
This notebook puts both on one edge of a supernet whose right answer is known by construction.

What you will see:

1. **The bi-level problem** (paper Eqs. 1-2), its exact gradient, and DARTS's approximation of it —
   and why that approximation favours operations without weights.
2. **A toy with a known answer** — one edge, three ops (none, skip, linear), a target that only the
   linear op can represent, and the *exact* bi-level objective $F(\alpha)$ drawn as a landscape.
3. **DARTS (first and second order)** on it: the supernet fits, yet $\alpha$ ranks "skip" first.
4. **GibbsNAS** (Algorithm 1 with the package's samplers): the $\alpha$ trajectories with the
   sampler's own uncertainty, a $\pm$std band from the BFGS covariance $(T/N)\,\mathbf H$.
5. **Many seeds**: which op each method derives, with the mean-only twins (Table 2's ablation)
   and the exact hypergradient as references.

Sizes depend on `profile`: `smoke` runs in seconds, `cpu` in about a minute, `full` adds the
temperature and prior sweeps and longer budgets.
"""),
    params(),
    code(r"""
import json
import time

import numpy as np
import torch

from gibbsnas_lite import bilevel_toy as B
from gibbsnas_lite.plots import bilevel as PB

torch.set_num_threads(1)  # 4×4 matrices: extra threads only add overhead
t_start = time.perf_counter()

SIZES = {
    # seeds: toy instances in the comparison; steps: search steps per run; grid: landscape resolution;
    # temps / decays: the GibbsNAS sweeps (seeds_sweep seeds each); budgets: longer runs of DARTS-V1 and GibbsNAS
    "smoke": dict(seeds=2, steps=100, grid=41, temps=[], decays=[], seeds_sweep=0, budgets=[]),
    "cpu": dict(seeds=10, steps=300, grid=121, temps=[], decays=[], seeds_sweep=0, budgets=[]),
    "full": dict(seeds=40, steps=300, grid=161, temps=[0.1, 0.3, 1.0, 3.0, 10.0], decays=[1e-4, 1e-3, 1e-2, 1e-1],
                 seeds_sweep=40, budgets=[1000, 3000]),
}
S = SIZES[profile]
print(profile, S)
print("settings:", B.DEFAULTS)
"""),
    md(r"""
## 1. The bi-level problem and DARTS's approximation

DARTS mixes the candidate operations of an edge, $\bar o(x) = \sum_k \mathrm{softmax}(\alpha)_k\, o_k(x)$,
and asks for the architecture whose *trained* weights do best on held-out data (paper Eqs. 1-2):

$$
\min_\alpha\; F(\alpha) = \mathcal L_{val}\big(\omega^*(\alpha), \alpha\big)
\qquad\text{s.t.}\qquad \omega^*(\alpha) = \arg\min_\omega \mathcal L_{train}(\omega, \alpha).
$$

By the implicit function theorem its gradient (the *hypergradient*) is

$$
\nabla F(\alpha) = \nabla_\alpha \mathcal L_{val}(\omega^*, \alpha)
\;-\; \nabla^2_{\alpha\omega}\mathcal L_{train}\,\big(\nabla^2_{\omega}\mathcal L_{train}\big)^{-1}\,\nabla_\omega \mathcal L_{val}(\omega^*, \alpha).
$$

Computing $\omega^*(\alpha)$ means training the network to convergence for every $\alpha$. DARTS instead
alternates one step on each and replaces $\omega^*(\alpha)$ by a single gradient step from the *current*
weights (Liu et al. 2019, Eq. 6):

$$
\nabla F(\alpha) \approx \nabla_\alpha \mathcal L_{val}\big(\omega - \xi \nabla_\omega \mathcal L_{train}(\omega, \alpha),\, \alpha\big)
\qquad (\xi = 0:\ \text{first order, DARTS-V1};\ \ \xi = \text{the } \omega \text{ learning rate: DARTS-V2}).
$$

**Why this favours parameter-free operations.** For the mixed edge,
$\partial \mathcal L / \partial \alpha_k = p_k \langle g,\, o_k(x) - \bar o(x)\rangle$ with $g = \partial \mathcal L/\partial \bar o$:
each op is judged by what it outputs *now*. Early in training a parametric op has near-random weights,
while "skip" is already as good as it will ever be, so $\alpha$ moves weight to "skip". That move is
self-reinforcing: the gradient that trains the parametric op's weights is multiplied by its own
$p_k$, so the less weight it has, the slower it learns, and the longer it looks bad. The missing second
term of $\nabla F$ — how the op would do *after* training — is exactly what the approximation drops.

**GibbsNAS** does not solve the bi-level problem: Algorithm 1 draws $\omega_t \sim p(\omega \mid \mathcal D, \alpha_t)$
(Eq. 15, on the training split) and $\alpha_{t+1} \sim p(\alpha \mid \mathcal D, \omega_t)$ (Eq. 16, on the
validation split), each from a quasi-Newton Gaussian

$$
\alpha_{t+1} \sim \mathcal N\big(\alpha_t - \eta\, \mathbf H\, \nabla_\alpha U(\omega_t, \alpha_t),\; \tfrac{T}{N}\mathbf H\big),
\qquad U = \mathcal L_{val} + \tfrac{\lambda}{2}\|\alpha\|^2,\quad \mathbf H \approx (\nabla^2_\alpha U)^{-1} \text{ by BFGS}.
$$

Note what is the same: the mean of the draw uses $\nabla_\alpha \mathcal L_{val}$ at the *current* $\omega$ —
DARTS-V1's gradient, preconditioned by $\mathbf H$ (the paper's "GibbsNAS degrades to first-order DARTS").
Whatever GibbsNAS does differently on this toy must come from the noise, i.e. from the uncertainty
$(T/N)\,\mathbf H$; the mean-only twins (`gibbs1-mean`, `gibbs2-mean`) test exactly that.
"""),
    md(r"""
## 2. A toy with a known answer

One edge with three ops on inputs $x \in \mathbb R^4$:

$$
\bar o(x) = p_{none}\cdot 0 + p_{skip}\, x + p_{linear}\, \hat W x, \qquad p = \mathrm{softmax}(\alpha),
$$

where $\hat W$ is $W$ with unit rows — on whitened inputs that is what `BatchNorm(affine=False)` after a
linear map does (DARTS's search ops end in one), and it stops $W$ from simply growing to cancel a small
$p_{linear}$. The data come from a rotation $R$ close to the identity, $y = Rx + 0.3\,\varepsilon$:

* the linear op can represent $R$ exactly, "skip" only roughly: **the right op is "linear"** — each
  discrete architecture, trained alone, is scored on the validation split below;
* before $W$ has learned anything, "skip" already explains most of $y$: the setting in which DARTS is
  said to collapse.

The loss is a quadratic in the edge's matrix $M = p_{skip} I + p_{linear}\hat W$, and with whitened
training inputs the inner problem has a closed form, $\hat w_i^*(\alpha) \propto (S_{xy}^\top - p_{skip} I)_i$
(`problem.inner_optimum`): we can evaluate the *exact* bi-level objective $F(\alpha)$.
"""),
    code(r"""
problem = B.make_problem(seed)
print(f"seed {seed}: target rotation angle ≤ {problem.angle} rad, noise floor d·σ² = {problem.noise_floor():.3f}")
print("validation loss of each discrete architecture (its op alone, weights trained):")
for op, loss in problem.op_losses().items():
    print(f"  {op:7s} {loss:.3f}")
table = np.array([[B.make_problem(s).op_losses()[op] for op in B.OPS] for s in range(20)])
print(f"over 20 instances: best op = linear on {int((table.argmin(1) == 2).sum())}/20; "
      f"skip − linear = {np.mean(table[:, 1] - table[:, 2]):.3f} ± {np.std(table[:, 1] - table[:, 2]):.3f}")
assert problem.best_op() == B.RIGHT_OP
"""),
    md(r"""
### The exact bi-level landscape

The softmax ignores a common shift of $\alpha$, so $F$ lives on the plane
$u = \alpha_{skip} - \alpha_{none}$, $v = \alpha_{linear} - \alpha_{none}$. Above the dotted diagonal the
linear op ranks first. The low region is a long **valley**: for many mixes of skip and linear,
$\hat W^*(\alpha)$ rotates so that $M \approx R$ and the supernet fits almost equally well. Along it $F$
changes by a few thousandths — the relaxed problem barely prefers one end, and the star (the grid
minimum of $F$) can even sit on the skip side of the diagonal on some instances. The *discrete*
answer, by contrast, is clear: keeping only "skip" costs ~0.17 more than keeping only "linear".
"""),
    code(r"""
land = B.landscape(problem, span=8.0, n=S["grid"])
f_vertex = float(problem.bilevel_objective(torch.tensor([0.0, 0.0, 8.0], dtype=torch.float64)))
print(f"grid minimum of F: {land['F_min']:.4f} at (u, v) = {land['argmin']} → ranks {land['argmin_op']} first;"
      f" F near the linear vertex: {f_vertex:.4f}")
PB.landscape_figure(land, title=f"Exact bi-level objective F(α), seed {seed}").show()
"""),
    md(r"""
## 3. DARTS on the toy

DARTS-V1 and V2 as in the reference code, on full-batch gradients: $\alpha$ by Adam
(betas 0.5/0.999, weight decay 1e-3) on the validation split, then $\omega$ by SGD (momentum 0.9, weight
decay 5e-4) on the training split. Learning rates are scaled to the toy's 300-step budget
(`B.DEFAULTS`, evidence in `docs/notebooks/03_bilevel_toy.md`). DARTS-V2 differentiates through the
virtual step exactly (autograd) instead of the finite difference of DARTS's Eq. 8. As a reference,
`exact` runs the same Adam on the exact hypergradient $\nabla F(\alpha)$ through the closed-form $\omega^*(\alpha)$.
"""),
    code(r"""
runs = {m: B.run(problem, m, seed, steps=S["steps"]) for m in ("darts-v1", "darts-v2", "exact", "gibbs2", "gibbs1", "gibbs2-mean")}
skip_loss = problem.op_losses()["skip"]
for m in ("darts-v1", "darts-v2", "exact"):
    r = runs[m]
    print(f"{m:9s} final softmax(α) {np.round(r.probs[-1], 3)} → derives {r.picked:6s}"
          f" | supernet valid loss {r.valid_loss[-1]:.3f}, derived op's {problem.op_losses()[r.picked]:.3f}")
PB.trajectory_figure(runs["darts-v1"], title=f"DARTS-V1, seed {seed}: derives '{runs['darts-v1'].picked}'").show()
"""),
    md(r"""
Read the two numbers on each line. The DARTS supernet fits the data (its validation loss is close to the
noise floor), so nothing looks wrong during the search — but it fits with "skip" carrying most of the
weight and $\hat W$ fitting the remainder, and once it fits the $\alpha$ gradient is nearly zero: the
early ranking is frozen in. Discretizing keeps "skip" alone and loses the linear part: that is the
*discretization gap*. The exact hypergradient, from the same start, ranks "linear" first: the failure is
the one-step approximation, not the relaxation.

## 4. GibbsNAS on the toy

Algorithm 1 with the package's samplers, same splits, same start:

* `gibbs2`: $\omega \sim$ `DiagLBFGSGaussian` (Eq. 15; $\eta = 1$, diagonal in $[10^{-4}, 0.1]$,
  $T_\omega = 0.1$: this toy's own settings, with which its study in `docs/notebooks/03_bilevel_toy.md` was measured; the NAS-Bench-201 searches use the defaults of `docs/search.md`), then $\alpha \sim$ `BFGSGaussian` (Eq. 16; $\eta = 0.1$,
  importance decay $10^{-4}$, the paper's), both with same-batch (closure) curvature pairs;
* `gibbs1`: $\alpha$ the same, $\omega$ by DARTS's SGD (Table 2's "ω 1st order");
* $T = 1$ and $N = 64$ (the validation split): the Bayesian posterior of this toy, not a tuned value.

The band around each $\alpha$ is $\pm 1$ std of $\alpha_k - \bar\alpha$ under $(T/N)\,\mathbf H$, the covariance
the sampler's next draw uses (`BFGSGaussian.covariance()`, centred because the softmax cannot see a common
shift).
"""),
    code(r"""
g2 = runs["gibbs2"]
print(f"gibbs2: derives {g2.picked} | over the last quarter, P(op ranks first) = "
      + ", ".join(f"{op} {f:.2f}" for op, f in zip(B.OPS, g2.argmax_frequency)))
p_gauss = B.argmax_probabilities(g2.alpha[-1], g2.covariance, seed=seed)
print("final Gaussian N(α, (T/N)H): P(op ranks first) = " + ", ".join(f"{op} {p:.2f}" for op, p in zip(B.OPS, p_gauss)))
print(f"centred α std at steps 0 / 10 / last: {g2.alpha_std[0].round(2)} / {g2.alpha_std[min(10, len(g2.alpha_std) - 1)].round(2)} / {g2.alpha_std[-1].round(2)}")
PB.trajectory_figure(g2, last_step=min(60, S["steps"]), title=f"GibbsNAS-2nd, seed {seed}: the first 60 steps").show()
PB.trajectory_figure(g2, title=f"GibbsNAS-2nd, seed {seed}: the whole run, derives '{g2.picked}'").show()
"""),
    md(r"""
In the first steps the band is narrow ($\approx 0.1$-$0.3$: the data still pin $\alpha$ down) and the chain
climbs "skip" much as DARTS does — the mean of each draw *is* a (preconditioned) DARTS-V1 step; the noise
only jitters it. Later the picture changes, and it is worth reading honestly: once one op dominates, the softmax saturates, the validation loss stops depending on
$\alpha$, the BFGS estimate of $(\nabla^2_\alpha U)^{-1}$ grows toward the prior's $1/\lambda = 10^4$ along those
directions and the band widens — the sampler *knows* the data no longer pin $\alpha$ down. Its draws then
carry $\alpha$ from one op's plateau to another's (the lower panel switches between one-hot mixes), and when
the chain lands where the gradient is not flat, a Newton step $\eta \mathbf H g$ with that large $\mathbf H$ can
move $\alpha$ by hundreds. Where the linear op holds the weight for a while, $\hat W$ trains, the fit becomes
good and the chain tends to stay: that is the whole mechanism by which it finds "linear" more often.

So read its answer as a distribution, not a point. The derived op is the one ranked first most often over
the last quarter of the chain (a Monte Carlo estimate of $P(\text{op ranks first} \mid \mathcal D)$). The
Gaussian of the last step alone can disagree with it: it is the *local* posterior around the last draw
(where the next draw lands), not a summary of the chain. The mean-only twin (no draws) follows DARTS:
"""),
    code(r"""
paths = [runs[m] for m in ("darts-v1", "darts-v2", "exact", "gibbs2-mean", "gibbs2")]
PB.landscape_figure(land, paths, title=f"α paths on the exact landscape F(α), seed {seed} (lines: deterministic runs, dots: GibbsNAS draws, × = the last step)").show()
"""),
    md(r"""
## 5. Many seeds

Each seed is a new instance (a new rotation, new data) and a new start. The derived op of every method
on every seed, with the three ways of reading a run (most frequent first-ranked op over the last quarter,
the argmax of the averaged $\alpha$, the argmax of the last $\alpha$ — the paper's rule):
"""),
    code(r"""
methods = ("darts-v1", "darts-v2", "gibbs2-mean", "gibbs1-mean", "gibbs2", "gibbs1", "exact")
results = B.compare(methods, seeds=range(S["seeds"]), steps=S["steps"], progress=True)
summaries = {rule: B.summarize(results, rule) for rule in ("picked", "picked_mean", "picked_final")}
summary = summaries["picked"]
print(f"{'method':12s} {'right (most frequent)':>22s} {'(averaged α)':>13s} {'(last α)':>9s}   picks none/skip/linear   mean P(linear first)")
for m in methods:
    s = summary[m]
    print(f"{m:12s} {s['right']:>12d}/{s['n']:<9d} {summaries['picked_mean'][m]['right']:>9d}/{s['n']:<3d} "
          f"{summaries['picked_final'][m]['right']:>5d}/{s['n']:<3d}   {s['picks']['none']:>3d} {s['picks']['skip']:>4d} {s['picks']['linear']:>4d}"
          f"   {s['mean_p_right_first']:.2f}")
PB.outcome_figure(summary, title=f"Derived op over {S['seeds']} seeds, {S['steps']} steps").show()
"""),
    md(r"""
### Sweeps (`full` profile)

How the GibbsNAS outcome depends on its temperature $T$ and on the importance decay $\lambda$ (the prior
precision of $\alpha$), and what a longer budget does to DARTS-V1 and to GibbsNAS. Skipped in the `smoke`
and `cpu` profiles; the measured numbers are in `docs/notebooks/03_bilevel_toy.md`.
"""),
    code(r"""
sweeps = {}
if S["temps"]:
    seeds_sweep = range(S["seeds_sweep"])
    base = {m: summary[m]["fraction_right"] for m in ("darts-v1", "gibbs2-mean")}
    sweeps["temperature"] = {m: [B.summarize(B.compare([m], seeds_sweep, steps=S["steps"], temperature=t))[m]["fraction_right"]
                                 for t in S["temps"]] for m in ("gibbs2", "gibbs1")}
    PB.sweep_figure(S["temps"], sweeps["temperature"], references=base, title="GibbsNAS vs its temperature T (N = 64)").show()
    sweeps["decay"] = {m: [B.summarize(B.compare([m], seeds_sweep, steps=S["steps"], gibbs_a_weight_decay=d))[m]["fraction_right"]
                           for d in S["decays"]] for m in ("gibbs2", "gibbs1")}
    PB.sweep_figure(S["decays"], sweeps["decay"], references=base, xlabel="importance decay λ (α's prior precision)",
                    title="GibbsNAS vs the α prior").show()
    budgets = [S["steps"], *S["budgets"]]
    sweeps["budget"] = {m: [B.summarize(B.compare([m], seeds_sweep, steps=n))[m]["fraction_right"] for n in budgets]
                        for m in ("darts-v1", "gibbs2", "gibbs1")}
    PB.sweep_figure(budgets, sweeps["budget"], xlabel="search steps", title="A longer search").show()
    print(json.dumps(sweeps, indent=1))
else:
    print(f"profile {profile!r}: sweeps skipped (run with profile='full')")
"""),
    md(r"""
## What this toy shows, and what it does not

Measured on 20 + 20 seeds (`scripts/bilevel_toy_study.py`, numbers in `docs/notebooks/03_bilevel_toy.md`):

* **DARTS's approximation fails here the way it is said to fail.** The supernet fits, "skip" carries the
  weight, and the derived architecture is the worse one: DARTS-V1 derives "skip" on 19 and 18 of 20 seeds at
  300 steps. The one-step unrolling of DARTS-V2 does not change that (18 and 17); the exact hypergradient
  does (20 and 20 right): the failure is the approximation, not the relaxation. With 3-10× the budget
  DARTS-V1 recovers on about half the seeds (9/20 at 1,000 steps, 10/20 at 3,000) and no further.
* **GibbsNAS derives the right op more often, and because it samples.** Its mean-only twins, whose step
  is a Newton-preconditioned DARTS-V1 step, collapse like DARTS (0-6 of 20 right); the draws are what move
  $\alpha$ off the "skip" plateau: `gibbs2` right on 15 and 13 of 20 seeds, `gibbs1` on 14 and 13, at the
  paper's $T = 1$, $\lambda = 10^{-4}$ and nothing tuned.
* **It is not a confident recovery, and the sampler says so.** Averaged over seeds, "linear" ranks first
  in only 52-59 % of the last quarter's draws (DARTS: 6-13 %); the "most frequent" rule turns that into a
  majority of right answers, but the paper's rule — the last sample — is right on only 7-13 of 20 seeds.
  With the weak prior the softmax is saturated most of the time and the chain jumps between plateaus; the
  data decide between "skip" and "linear" only through the slow training of $\hat W$, and along the valley
  of $F$ the blocks $\omega$ and $\alpha$ are so strongly coupled that Gibbs mixes slowly (notebook 01).
  The wide bands are that uncertainty, reported honestly.
* **Limits of the toy**: one edge, full-batch gradients, a linear op, $N = 64$. The failure needs a target
  close to the identity (so that "skip" looks good early); with a larger rotation DARTS gets it right too.
  GibbsNAS's advantage needs large noise: at $T = 0.1$ ($T/N \approx 1.6\cdot 10^{-3}$) it is much smaller
  (the `full` profile's sweep).
"""),
    md(r"""
## Headline numbers

Recorded for the batch runner (`gibbsnas-lite notebooks run`): the fraction of seeds on which each
method derives the right op, for this profile's seeds and budget.
"""),
    code(r"""
from gibbsnas_lite.notebooks import record

headline = {
    "profile": profile,
    "seeds": S["seeds"],
    "steps": S["steps"],
    **{f"right_{m.replace('-', '_')}": round(summary[m]["fraction_right"], 3) for m in methods},
    "gibbs2_avg_p_linear_first": round(summary["gibbs2"]["mean_p_right_first"], 3),
    "darts_v1_picks_skip": summary["darts-v1"]["picks"]["skip"],
    "seconds": round(time.perf_counter() - t_start, 1),
}
if sweeps:
    headline["sweeps"] = sweeps
record(**headline)
print(json.dumps(headline, indent=1))
"""),
]


def main(argv: list[str]) -> int:
    write_notebook(NB03, "03_bilevel_toy_darts_vs_gibbs.ipynb", prefix="03")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
