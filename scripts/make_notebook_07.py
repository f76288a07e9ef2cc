"""Write notebooks/07_architecture_posterior.ipynb.

The committed .ipynb is the source of truth; this script is how it was generated (run it from
the repository root, then commit the notebook without outputs):

    .venv/bin/python scripts/make_notebook_07.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebooks_01_02 import code, md, write_notebook  # noqa: E402  (the shared cell helpers)

NAME = "07_architecture_posterior.ipynb"


CELLS = [
    md(r"""
# 07 · The architecture posterior

A DARTS-style search ends with one vector $\alpha$ and one cell: the argmax of $\alpha$ on every
edge. GibbsNAS (Xue et al., AAAI 2021) ends with more: its $\alpha$ sampler (Eq. 16) carries a
Gaussian over $\alpha$, its *uncertainty*. This notebook asks what that uncertainty says about the
architecture, which no point-estimate method can show:

1. **A GibbsNAS search** on NAS-Bench-201 (or a run folder you already have).
2. **The final Gaussian** $\mathcal N\big(\alpha,\ \tfrac{T}{N}\,H\big)$, with $H$ the BFGS inverse Hessian
   of the $\alpha$ sampler.
3. **Many $\alpha$ draws → many cells**: how many distinct cells the posterior holds, and the
   distribution of their NAS-Bench-201 accuracies (the table gives every cell's accuracy).
4. **Which op wins each edge**, with what probability: a heat map.
5. **An uncertainty-aware choice** of the final cell (the posterior's most probable cell) next to
   the plain argmax, and a case where they differ.
6. **The table-only baselines** of the paper's Table 3 (second block): random search, REA,
   REINFORCE and a BOHB-style multi-fidelity search, run on the benchmark tables, with their
   anytime curves, beside the paper's numbers.

`profile` sets the sizes: `smoke` runs in seconds (CI); `cpu` (default, a few minutes) searches
Fashion-MNIST with a reduced budget; `full` is the paper's protocol on a GPU (CIFAR-10, 50 epochs).
Set `run_dir` to a GibbsNAS run folder (`gibbsnas-lite search --strategy gibbs2 --out DIR`) to
skip the search and study that run's posterior.
"""),
    code(r'''
profile = "cpu"  # "smoke" (seconds, CI) | "cpu" (minutes, Binder) | "full" (GPU, the paper's protocol)
seed = 0
run_dir = None  # a GibbsNAS run folder to load instead of searching (e.g. "../runs/gibbs2-nb201-cifar10-s0")
num_samples = None  # alpha draws (None: the profile's)
temperature = None  # T of the posterior (None: the search's own temperature)
table_runs = None  # runs per table-search algorithm and dataset (None: the profile's; NB201 used 500)
table_budget = 100  # full 200-epoch evaluations per table search
''', tags=["parameters"]),
    code(r"""
import json
import time

import numpy as np
import plotly.graph_objects as go
import torch
from tqdm.auto import tqdm

from gibbsnas_lite import posterior as P
from gibbsnas_lite.nasbench import NB201Table, TABLE3_COLUMNS
from gibbsnas_lite.plots.cells import alpha_heatmap, nb201_cell_figure
from gibbsnas_lite.search import make_config, run_search
from gibbsnas_lite.table_search import (ALGORITHMS, PAPER_TABLE3, TABLE3_DATASETS, anytime_figure,
                                        format_table3, run_many, summarize)

torch.set_num_threads(1)  # small supernets: extra threads only add overhead on a shared CPU
t_start = time.perf_counter()

SIZES = {
    # search: overrides of make_config("gibbs2", profile); samples: alpha draws; runs: table searches per
    # algorithm and dataset (seeds 0..runs-1)
    "smoke": dict(search=dict(train_limit=64, epochs=2), samples=2_000, runs=3),
    # cpu: Fashion-MNIST 16x16, the cpu supernet (C=8, N=1), 4 epochs x 32 steps (the profile has 10 x 64)
    "cpu": dict(search=dict(epochs=4, max_steps_per_epoch=32), samples=20_000, runs=50),
    # full: the paper's protocol (CIFAR-10, C=16, N=5, 50 epochs); NAS-Bench-201's 500 runs per method
    "full": dict(search=dict(download=True), samples=100_000, runs=500),
}
S = dict(SIZES[profile])
S["samples"] = num_samples or S["samples"]
S["runs"] = table_runs or S["runs"]
table = NB201Table.load()
print(profile, S)
"""),
    md(r"""
## 1. A GibbsNAS search

`make_config("gibbs2", profile)` is GibbsNAS 2nd order (Algorithm 1): $\omega$ drawn from the diagonal
L-BFGS Gaussian (Eq. 15), $\alpha$ from the BFGS Gaussian (Eq. 16), both at the temperatures chosen in
`docs/search.md` ($T = 10$ for $\alpha$, $H$'s eigenvalues capped at 1, at $N = 4{,}096$ in `cpu`). In `cpu` the search data is
**Fashion-MNIST**, not CIFAR-10: the benchmark accuracies below are those of the *cells* the search
derives, a transfer proxy, not a CIFAR-10 search result.
"""),
    code(r"""
if run_dir is None:
    config = make_config("gibbs2", profile, seed=seed, **S["search"])
    result = run_search(config, progress=True)
    source, search_arch, search_seconds = result, result.arch, result.seconds
    print(f"searched {config.epochs} epochs in {search_seconds:.0f} s; derived cell {search_arch}")
    print({k: round(v, 2) for k, v in result.benchmark.items()})
else:
    source, search_seconds = run_dir, None
    summary = json.loads(open(f"{run_dir}/summary.json").read())
    search_arch = summary["arch"]
    print(f"loaded {run_dir}: {summary['strategy']} on {summary['dataset']}, derived cell {search_arch}")
"""),
    md(r"""
## 2. The final Gaussian

The $\alpha$ sampler targets $p(\alpha\mid\mathcal D) \propto \exp\{-N\,U(\alpha)/T\}$ ($U$ the mean
validation loss plus the prior $\tfrac\lambda2\|\alpha\|^2$, $N$ the data size) and works with its
Laplace (quasi-Newton) Gaussian around the current $\alpha_t$ (Eq. 16):

$$
\alpha_{t+1} \sim \mathcal N\!\big(\alpha_t - \eta\,H\,\nabla U(\alpha_t),\ \tfrac{T}{N}\,H\big),
\qquad H \approx \big(\nabla^2 U\big)^{-1}\ \text{(BFGS)}.
$$

The **architecture posterior** studied here is that Gaussian at the end of the search,
$\mathcal N\big(\alpha_{\text{final}},\ \tfrac{T}{N} H_{\text{final}}\big)$: centred on the final
$\alpha$ (whose argmax is the cell the search returned), with the search's own temperature $T$.
Two other covariances are *not* it: the sampler's last draw was made at a temperature decayed with the
learning-rate schedule (`noise_follows_lr`, about 1% of $T$ by the last epoch: `final_temperature`), and
the chain's spread $\tfrac{T}{N}H/(\eta(2-\eta))$ depends on the step length, not on the data
(`docs/samplers.md`). `temperature=` (a parameter above) looks at other $T$.
"""),
    code(r"""
gauss = P.load_alpha_gaussian(source, temperature)
print(gauss)
print(f"T = {gauss.temperature:g}, N = {gauss.data_size:g}, T/N = {gauss.temperature / gauss.data_size:.2e}; "
      f"the sampler's last draw was at T = {gauss.final_temperature:.3g}; {gauss.info}")
assert gauss.argmax_arch == search_arch
alpha_heatmap(gauss.mean, softmax=True, title="softmax(α) of the final α (the centre)").show()
alpha_heatmap(gauss.std, softmax=False, colorscale="Oranges",
              title="posterior std of each α entry, sqrt(diag((T/N) H))").show()
"""),
    md(r"""
The std map is not the whole story: $H$ is a full $30\times30$ matrix. Its largest directions are
each edge's *softmax shift* (adding a constant to all five $\alpha$ of an edge changes neither the loss
nor the argmax, so only the prior, $\lambda = 10^{-4}$, bends it). What decides an edge is the variance of
the *differences* between its ops, which the draws below take into account.

## 3. Many α draws, many cells

Draw $K$ values of $\alpha$ (a seeded generator on the Gaussian's device), derive each one's cell with the
benchmark's rule (argmax per edge, `none` included: `spaces.nb201.derive_arch`) and look each distinct cell
up in the NAS-Bench-201 table.
"""),
    code(r"""
draws = gauss.sample(S["samples"], seed=seed)
post = P.architecture_posterior(draws, table=table, mean=gauss.mean)
print(f"{post.num_samples} draws -> {post.num_distinct} distinct cells; "
      f"P(argmax cell) = {post.prob(post.mean_arch):.3f}; modal cell p = {post.probs[0]:.3f}")
print(f"{'p':>6}  {'C10 valid':>9}  {'C10 test':>8}  cell")
for row in post.top(10):
    print(f"{row['prob']:6.3f}  {row['cifar10_valid']:9.2f}  {row['cifar10_test']:8.2f}  {row['arch']}")
"""),
    md(r"""
## 4. Which cell to return

The plain answer is the **argmax** of the final $\alpha$. Three uncertainty-aware alternatives
(`posterior.choose_architecture`):

* **modal**: the most frequent cell among the draws, the maximum of the posterior *over cells*. It reads no
  benchmark number, so it competes with argmax on equal terms.
* **marginal**: each edge's most probable op (can differ from the modal cell when edges are correlated).
* **valid (hybrid)**: among the 10 most probable cells, the best by the table's *search-split validation*
  accuracy (`cifar10-valid` valid, 200 epochs), the signal the table-based searches of section 6 select on.
  The posterior proposes and 10 table queries decide, so it is *not* a one-shot result; it is reported
  apart.

No rule reads a **test** accuracy: choosing by the table's test column would be selecting on the test set.
Test accuracies are only reported. The histogram is the CIFAR-10 test accuracy of the cell of every draw.
"""),
    code(r"""
choices = {rule: P.choose_architecture(post, rule, top=10) for rule in ("argmax", "modal", "marginal", "valid")}
for rule, c in choices.items():
    acc = table.table3_row(c.arch)
    print(f"{rule:8s} p={c.prob:.3f} queries={c.table_queries:2d}  C10 valid {acc['CIFAR-10 valid']:.2f}  "
          f"C10 test {acc['CIFAR-10 test']:.2f}  C100 test {acc['CIFAR-100 test']:.2f}  "
          f"IN16 test {acc['ImageNet16-120 test']:.2f}  {c.arch}")
print(f"posterior mean of the C10 test accuracy: {post.expected('cifar10_test'):.2f} "
      f"(std {post.sample_accuracies('cifar10_test').std():.2f})")
marks = {"argmax": choices["argmax"].arch, "modal": choices["modal"].arch, "valid (hybrid)": choices["valid"].arch}
P.accuracy_histogram_figure(post, "cifar10_test", marks=marks,
                            optimum=table.best("cifar10", "test").accuracy).show()
"""),
    md(r"""
## 5. Which op wins each edge

$P(\text{op } o \text{ wins edge } e)$ is the fraction of draws whose $\alpha$ puts $o$ on top of edge $e$
(`post.win_probs`, the mean of the $K\times 6\times 5$ indicators `post.win_indicators()`). ✕ marks the
argmax of the centre, ○ the modal cell. A row with one dark cell is an edge the search is sure of; a row
split between two ops is where the search could have gone either way.
"""),
    code(r"""
P.win_probability_figure(post).show()
if choices["modal"].arch != choices["argmax"].arch:
    nb201_cell_figure(choices["modal"].arch, title="the modal cell (differs from the argmax)").show()
"""),
    md(r"""
### When do modal and argmax differ?

For a Gaussian with a *symmetric*, uncorrelated spread, the op with the largest mean usually also wins most
often, and the modal cell is the argmax cell. They part in two ways. **Across edges**: when no edge is sure,
the most probable *combination* need not be the combination of each edge's favourite, because the edges'
$\alpha$ are correlated through $H$ (then `marginal` = argmax but `modal` differs). **Within an edge**, when the
uncertainty is lopsided: an op whose $\alpha$ is *certain* but only slightly ahead loses to several uncertain
rivals. `posterior.disagreement_example()` builds the second kind: on edge 0 `none` leads with mean 1 and no variance, `skip_connect` has mean 0.5 and the three
others 0, all four with std 3. `none` wins only when all four rivals fall below 1,
$\Phi(0.5/3)\,\Phi(1/3)^3 \approx 0.14$, while `skip_connect` wins about 0.28 of the draws.
"""),
    code(r"""
toy_mean, toy_cov = P.disagreement_example()
toy = P.architecture_posterior(P.sample_alphas(toy_mean, toy_cov, S["samples"], seed=seed), table=table, mean=toy_mean)
print("edge 0 win probabilities:", dict(zip(("none", "skip", "1x1", "3x3", "pool"), toy.win_probs[0].round(3))))
print("argmax:", toy.mean_arch, f"p={toy.prob(toy.mean_arch):.3f}")
print("modal: ", toy.modal_arch, f"p={toy.probs[0]:.3f}")
P.win_probability_figure(toy, title="toy posterior: the modal op of edge 0 is not its argmax").show()
"""),
    md(r"""
### Temperature

The posterior's spread scales with $T/N$. A colder posterior collapses onto the argmax cell; a hotter one
spreads over more cells and its mean accuracy drops towards the space's average. The same seed is used for
every $T$, so the draws differ only by their scale.
"""),
    code(r"""
temps = [gauss.temperature * f for f in (0.25, 0.5, 1, 2, 4, 8, 16)]
sweep = P.temperature_sweep(gauss, temps, min(S["samples"], 20_000), seed=seed, table=table)
for row in sweep:
    print(f"T={row['temperature']:7.3g}  cells {row['distinct']:5d}  P(argmax) {row['p_argmax']:.3f}  "
          f"modal=argmax {str(row['modal_is_argmax']):5s}  E[C10 test] {row['expected_cifar10_test']:.2f}  "
          f"modal C10 test {row['modal_cifar10_test']:.2f}")
fig = go.Figure()
fig.add_trace(go.Scatter(x=temps, y=[r["p_argmax"] for r in sweep], name="P(argmax cell)", mode="lines+markers"))
fig.add_trace(go.Scatter(x=temps, y=[r["expected_cifar10_test"] for r in sweep], name="posterior mean C10 test (%)",
                         mode="lines+markers", yaxis="y2"))
fig.update_layout(title="The posterior over cells vs temperature", xaxis={"type": "log", "title": "T"},
                  yaxis={"title": "P(argmax cell)", "range": [0, 1.05]},
                  yaxis2={"title": "C10 test (%)", "overlaying": "y", "side": "right"}, template="plotly_white")
fig.show()
"""),
    md(r"""
## 6. The table-only strategies (Table 3, second block)

The paper's Table 3 compares GibbsNAS with four methods that search NAS-Bench-201 *without* a supernet,
reading accuracies from the benchmark (numbers from NAS-Bench-201, 500 runs each). With the tables shipped
here each "evaluation" is a look-up (`gibbsnas_lite.table_search`, protocol in `docs/table_search.md`):

* **RS**: uniform cells, without replacement;
* **REA**: aging evolution, population 10, one-edge mutations;
* **REINFORCE**: a softmax policy per edge, moving-average baseline;
* **BOHB-style**: Hyperband brackets over the **12-epoch and 200-epoch tables** (17 cells at 12 epochs,
  the best one promoted to 200) with a TPE model proposing cells.

Each search selects on the *validation* split (CIFAR-10: `cifar10-valid` valid) with a budget of
`table_budget` full 200-epoch evaluations (a 12-epoch query costs 12/200) and reports the found cell's test
accuracy. Our valid column is optimistic by construction (the table holds the mean over the benchmark's
training seeds, and it is the very number searched on); read the test columns.
"""),
    code(r"""
t0 = time.perf_counter()
runs = {d: run_many(list(ALGORITHMS), d, table_budget, S["runs"], table=table)
        for d in tqdm(TABLE3_DATASETS, desc="table searches")}
block = {name: {d: summarize(runs[d][name]) for d in TABLE3_DATASETS} for name in ALGORITHMS}
table_seconds = time.perf_counter() - t0
print(f"# {len(ALGORITHMS)} algorithms x {len(TABLE3_DATASETS)} datasets x {S['runs']} runs, budget {table_budget}, "
      f"{table_seconds:.1f} s; mean±std (ddof=0); '(paper)' rows: GibbsNAS Table 3 (from NAS-Bench-201, 500 runs)")
print(format_table3(block))
"""),
    md(r"""
**Anytime curves.** The incumbent's accuracy against the budget spent, mean ± std over runs (CIFAR-10).
The dotted line is the table's best cell by the same metric. BOHB-style climbs fastest because its
12-epoch queries cost 0.06 each: at a budget of 100 it looks at about 450 cells, the others at 100.
"""),
    code(r"""
best_valid = table.best("cifar10-valid", "valid").accuracy
anytime_figure(runs["cifar10"], metric="valid", optimum=best_valid,
               title="Anytime: incumbent's cifar10-valid valid accuracy (what the searches select on)").show()
anytime_figure(runs["cifar10"], metric="test",
               title="Anytime: CIFAR-10 test accuracy of the incumbent (reported, never searched on)").show()
"""),
    md(r"""
### GibbsNAS beside them

One search, one seed, so no ± here; in `cpu` the search ran on Fashion-MNIST with a reduced supernet and
budget, so these are the table accuracies of the cells it derived, not the paper's CIFAR-10 protocol
(the paper's GibbsNAS row: 90.02±0.60 / 92.72±0.60 on CIFAR-10 valid / test).
"""),
    code(r"""
labels = [label for label, _, _ in TABLE3_COLUMNS]
print(f"{'':34s}" + "  ".join(f"{label:>20s}" for label in labels))
for rule in ("argmax", "modal", "valid"):
    row = table.table3_row(choices[rule].arch)
    print(f"{'GibbsNAS ' + rule + (' (+10 queries)' if rule == 'valid' else ''):34s}"
          + "  ".join(f"{row[label]:20.2f}" for label in labels))
print(f"{'GibbsNAS posterior mean':34s}" + "  ".join(
    f"{post.expected(key):20.2f}" for key in ("cifar10_valid", "cifar10_test", "cifar100_valid", "cifar100_test",
                                               "ImageNet16-120_valid", "ImageNet16-120_test")))
for name in ALGORITHMS:
    print(f"{name + ' (mean of ' + str(S['runs']) + ')':34s}" + "  ".join(
        f"{block[name][d][s].mean:20.2f}" for d in TABLE3_DATASETS for s in ("valid", "test")))
"""),
    md(r"""
## What to take away

* The final Gaussian of a GibbsNAS search is a distribution over **cells**, not only over numbers: the
  draws show how many cells the search could have returned and how good they are.
* Per edge, the win probabilities say which decisions are settled and which are coin flips; an edge that is
  a coin flip is where more search (or a check on held-out data) pays.
* The modal cell is the uncertainty-aware, benchmark-free answer; when the posterior is concentrated it is
  the argmax cell, and it departs from it when edges are uncertain and correlated, or when the uncertainty
  is lopsided (the toy). Spending a few *validation* queries on the posterior's top cells is a hybrid,
  reported apart.
* The table-only searches see the benchmark's own numbers; that is why they reach higher than one-shot
  methods in Table 3.
"""),
    code(r"""
from gibbsnas_lite.notebooks import record

test_of = lambda arch: round(table.accuracy(arch, "cifar10", "test"), 2)  # noqa: E731
headline = {
    "profile": profile,
    "search_arch": search_arch,
    "search_seconds": None if search_seconds is None else round(search_seconds, 1),
    "temperature": gauss.temperature,
    "data_size": gauss.data_size,
    "num_samples": post.num_samples,
    "distinct_cells": post.num_distinct,
    "p_argmax_cell": round(post.prob(post.mean_arch), 4),
    "argmax_cifar10_test": test_of(choices["argmax"].arch),
    "modal_arch": choices["modal"].arch,
    "modal_p": round(choices["modal"].prob, 4),
    "modal_cifar10_test": test_of(choices["modal"].arch),
    "marginal_cifar10_test": test_of(choices["marginal"].arch),
    "valid_hybrid_arch": choices["valid"].arch,
    "valid_hybrid_cifar10_test": test_of(choices["valid"].arch),
    "posterior_mean_cifar10_test": round(post.expected("cifar10_test"), 2),
    "toy_modal_differs_from_argmax": toy.modal_arch != toy.mean_arch,
    "table_runs": S["runs"],
    "table_budget": table_budget,
    "table_test_means": {name: {d: round(block[name][d]["test"].mean, 2) for d in TABLE3_DATASETS} for name in ALGORITHMS},
    "table_seconds": round(table_seconds, 1),
    "seconds": round(time.perf_counter() - t_start, 1),
}
record(**headline)
print(json.dumps(headline, indent=1))
"""),
]


def main(argv: list[str]) -> int:
    write_notebook(CELLS, NAME, prefix="nb07")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
