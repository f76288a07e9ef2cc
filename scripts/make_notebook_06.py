"""Write notebooks/06_darts_space_cifar10.ipynb.

The committed .ipynb is the source of truth; this script is how it was generated (run it from
the repository root, then commit the notebook without outputs):

    .venv/bin/python scripts/make_notebook_06.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebooks_01_02 import code, md, write_notebook  # noqa: E402  (the shared cell helpers)

NAME = "06_darts_space_cifar10.ipynb"


CELLS = [
    md(r"""
# 06 · GibbsNAS in the DARTS space: search, derive, retrain

NAS-Bench-201 (notebooks 04, 05, 07) answers "how good is this cell?" with a table look-up. The
space GibbsNAS reports its headline number in (Xue et al., AAAI 2021, Table 1: **2.53 % CIFAR-10 test
error, 4.1 M parameters**) has no table: it is the DARTS space (Liu, Simonyan & Yang, ICLR 2019), and a
searched cell is judged by **training a large network built from it from scratch**. This notebook does
the whole pipeline:

1. **The space**: 8 ops, cells of 4 intermediate nodes and 14 edges, normal and reduction cells.
2. **A GibbsNAS search** in that space (Algorithm 1: $\omega$ and $\alpha$ drawn from their
   quasi-Newton Gaussians, Eqs. 15-16) with `make_config("gibbs2", profile, space="darts")`.
3. **The derived genotype**: top-2 incoming edges per node, `none` excluded, drawn as two cells.
4. **The evaluation network** of that genotype trained with DARTS's protocol
   (`gibbsnas_lite.train`): briefly here, as a proof that it trains; the paper's 600-epoch run is
   **one command**, printed at the end.

`profile`: `smoke` (seconds, synthetic data, CI), `cpu` (default, minutes on 2 cores: Fashion-MNIST,
tiny networks: a proof of the pipeline, **not** a CIFAR-10 result), `full` (the paper's protocol on a
GPU: the search on CIFAR-10, then the 600-epoch training as a command; set
`train_full_in_notebook = True` to run it here, about 1.5 GPU-days on DARTS's hardware).
"""),
    code(r'''
profile = "cpu"  # "smoke" (seconds, CI) | "cpu" (minutes, Binder) | "full" (GPU, the paper's protocol)
seed = 0
genotype = None  # train this genotype instead of the searched one, e.g. "DARTS_V2" (None: the search's)
train_full_in_notebook = False  # full profile: also run the 600-epoch training here (else: print the command)
''', tags=["parameters"]),
    code(r"""
import json
import math
import time

import numpy as np
import torch
from IPython.display import Markdown, display

from gibbsnas_lite.notebooks import record
from gibbsnas_lite.plots.cells import alpha_heatmap, darts_cell_figure
from gibbsnas_lite.search import make_config, run_search
from gibbsnas_lite.spaces.darts import (EDGES, NUM_EDGES, NUM_OPS, PRIMITIVES, derive_genotype,
                                        format_genotype, parse_genotype)
from gibbsnas_lite.train import (build_network, full_command, make_train_config, table1_markdown,
                                 train_network, training_figure)
from gibbsnas_lite.spaces.darts import count_parameters

torch.set_num_threads(1)  # small networks: extra threads only add overhead on a shared CPU
t_start = time.perf_counter()

SIZES = {
    # search: overrides of make_config("gibbs2", profile, space="darts");
    # train: overrides of make_train_config(profile) (gibbsnas_lite/train.py has the presets)
    "smoke": dict(search=dict(epochs=1, max_steps_per_epoch=1, batch_size=16, train_limit=64, curvature_every=8),
                  train=dict(epochs=2, max_steps_per_epoch=2, train_limit=64, test_limit=64)),
    # cpu: Fashion-MNIST (28x28) in a 3-cell, 4-channel supernet, 3 epochs x 8 steps of 32 images;
    # the evaluation network: 5 cells, C=8, 3 epochs x 12 steps of 64 images (padded to 32x32)
    "cpu": dict(search=dict(channels=4, batch_size=32, image_size=28, train_limit=1024, epochs=3,
                            max_steps_per_epoch=8),
                train=dict(epochs=3, max_steps_per_epoch=12)),
    # full: the paper's protocol: the 8-cell, C=16 supernet on CIFAR-10 (DARTS's split: first/last
    # 25,000 training images), 50 epochs, batch 64; then DARTS's 600-epoch evaluation (the command)
    "full": dict(search=dict(dataset="cifar10", download=True), train=dict(download=True)),
}
S = SIZES[profile]
print(profile, S)
"""),
    md(r"""
## 1. The DARTS cell space

A **cell** is a small directed acyclic graph. It has two *input* nodes, $c_{k-2}$ and $c_{k-1}$ (the
outputs of the two cells before it), and 4 *intermediate* nodes. Intermediate node $i$ may read every
earlier node, so node 0 has 2 candidate incoming edges, node 1 three, node 2 four, node 3 five:
$2+3+4+5 = 14$ edges. The cell's output $c_k$ concatenates the 4 intermediate nodes.

Every edge $(j \to i)$ carries a choice among **8 ops**: `none` (zero), 3×3 max and average pooling,
`skip_connect` (identity), separable convolutions 3×3 and 5×5, dilated separable convolutions 3×3 and
5×5. In the **search network** (the supernet), an edge computes the mixture
$\bar o^{(j,i)}(x) = \sum_o \operatorname{softmax}(\alpha^{(j,i)})_o\, o(x)$, so the architecture is the
14×8 matrix $\alpha$, one for **normal** cells (stride 1) and one for **reduction** cells (stride 2 on
the edges from the inputs, channels doubled), shared by every cell of that type.
"""),
    code(r"""
print(f"{NUM_OPS} ops:", ", ".join(PRIMITIVES))
print(f"{NUM_EDGES} edges (to node <- from node, in alpha's row order; inputs are 0, 1, intermediate nodes 2..5):")
print("  ", "  ".join(f"{i}<-{j}" for i, j in EDGES))
# node i keeps 2 of its i + 2 incoming edges, each with one of the 7 non-none ops
cells = int(np.prod([math.comb(i + 2, 2) * 7 ** 2 for i in range(4)]))
print(f"alpha: 2 x {NUM_EDGES} x {NUM_OPS} = {2 * NUM_EDGES * NUM_OPS} numbers; "
      f"{cells:,} discrete cells of each type, {float(cells) ** 2:.1e} (normal, reduction) pairs")
"""),
    md(r"""
## 2. A GibbsNAS search in the DARTS space

The same loop as on NAS-Bench-201 (notebook 04), with the DARTS supernet: each step draws the network
weights $\omega$ from the diagonal L-BFGS Gaussian on a search-train batch (Eq. 15) and the
architecture $\alpha$ from the BFGS Gaussian on search-valid batches (Eq. 16), at the temperatures of
`docs/search.md`. The paper's protocol (`full`) is DARTS's search: the 8-cell, 16-channel supernet on
CIFAR-10, the first 25,000 training images for $\omega$ and the last 25,000 for $\alpha$, 50 epochs.
In `cpu` the data is **Fashion-MNIST** and the budget a couple of dozen steps, so the genotype below is
mostly the supernet's early preference, not a converged search.
"""),
    code(r"""
config = make_config("gibbs2", profile, space="darts", seed=seed, **S["search"])
out_dir = f"../runs/gibbs2-darts-{config.dataset}-s{seed}" if profile == "full" else None
result = run_search(config, out_dir=out_dir, progress=True)
last = result.history.epochs[-1]
print(f"searched {len(result.history.epochs)} epochs on {config.dataset} in {result.seconds:.0f} s "
      f"(supernet C={config.channels}, {max(3, 3 * config.cells_per_stage - 1)} cells)")
print(f"last epoch: train loss {last['train_loss']:.3f}, search-valid acc {100 * last['valid_acc']:.1f} %")
"""),
    md(r"""
## 3. The derived genotype

DARTS's derivation rule (Liu et al. 2019, Sec. 2.4), applied to $\operatorname{softmax}(\alpha)$ per
edge: for every intermediate node, rank its incoming edges by their strongest op **other than `none`**,
keep the **top 2 edges**, and on each kept edge keep that strongest non-`none` op. A cell therefore has
exactly 2 inputs per node, 8 ops; `none` never survives (it would only delete an edge). The heat maps
show $\operatorname{softmax}(\alpha)$ at the end of the search; `derive_genotype` applied to it gives
the search's own answer.
"""),
    code(r"""
alpha_normal, alpha_reduce = (np.array(a) for a in last["alpha"])
derived = derive_genotype(alpha_normal, alpha_reduce)
assert format_genotype(derived) == result.arch  # the loop's derivation is the rule above
alpha_heatmap(alpha_normal, title="softmax(α), normal cell").show()
alpha_heatmap(alpha_reduce, title="softmax(α), reduction cell").show()
print("searched genotype:", result.arch)
"""),
    code(r"""
chosen = parse_genotype(genotype, steps=None) if genotype else derived
label = genotype or "searched"
darts_cell_figure(chosen, "normal", title=f"{label}: normal cell").show()
darts_cell_figure(chosen, "reduce", title=f"{label}: reduction cell").show()
"""),
    md(r"""
## 4. The evaluation network and DARTS's training protocol

The cells are stacked into a deeper, wider network than the supernet: for CIFAR-10, **20 cells** with
**36** initial channels, reduction cells at 1/3 and 2/3 of the depth, an auxiliary classifier at 2/3.
It is trained from scratch with DARTS's protocol (paper App. A.2; `quark0/darts` `cnn/train.py`),
`make_train_config("full")`: 600 epochs, batch 96, SGD with learning rate 0.025 annealed by a cosine to 0,
momentum 0.9, weight decay $3\cdot10^{-4}$, cutout 16, drop path with probability $0.2\cdot e/600$ in epoch
$e$, auxiliary loss weight 0.4, gradient-norm clip 5. The loss is
$\mathrm{CE}(\text{logits}) + 0.4\,\mathrm{CE}(\text{auxiliary logits})$.

The parameter count is the one DARTS reports (auxiliary head excluded): DARTS-V2's cell gives 3.35 M;
the searched cell at the same size is computed below. Then the `profile`'s network is trained briefly:
in `cpu` 5 cells of 8 channels on 2,048 Fashion-MNIST images, 3 short epochs (a proof that it trains).
"""),
    code(r"""
paper_size = build_network(make_train_config("full", chosen), num_classes=10, in_channels=3)
params_full_m = count_parameters(paper_size) / 1e6
del paper_size
print(f"{label} genotype as the CIFAR-10 evaluation network (C=36, 20 cells): {params_full_m:.2f} M parameters")

if profile == "full" and not train_full_in_notebook:
    train_result = None
    print("full profile: the 600-epoch training is the command printed in section 5")
else:
    train_config = make_train_config(profile, chosen, seed=seed, **S["train"])
    train_result = train_network(train_config, progress=True, echo=print)
    print(f"trained {len(train_result.history)} epochs on {train_config.dataset} in {train_result.seconds:.0f} s: "
          f"{train_result.params_m:.3f} M parameters (C={train_config.channels}, {train_config.layers} cells), "
          f"test accuracy {train_result.test_acc:.1f} %")
"""),
    code(r"""
if train_result is not None:
    training_figure(train_result, title=f"{label} genotype, {train_result.config.dataset} "
                                        f"({profile} profile)").show()
"""),
    md(r"""
## 5. The paper's protocol: one command

The full evaluation (DARTS reports 1.5 GPU-days for it on a 1080Ti) runs headless from the command line;
the checkpoint is written atomically after every epoch, and `--resume DIR` continues a killed run.
For context, the DARTS-space rows of the GibbsNAS paper's Table 1 (Xue et al., AAAI 2021; the other
methods' numbers are quoted there from their own papers), every cell retrained with this protocol:
"""),
    code(r"""
command = full_command(chosen, out=f"runs/train-{label}-cifar10-s{seed}")
print(command)
print("# continue a killed run:")
print(f"gibbsnas-lite train --resume runs/train-{label}-cifar10-s{seed}")
display(Markdown(table1_markdown()))
"""),
    code(r"""
headline = {
    "profile": profile,
    "search_dataset": config.dataset,
    "search_steps": len(result.history.epochs) * result.strategy.steps_per_epoch,
    "search_seconds": round(result.seconds, 1),
    "genotype": format_genotype(chosen),
    "params_c36_l20_m": round(params_full_m, 3),
    "train_dataset": None if train_result is None else train_result.config.dataset,
    "train_params_m": None if train_result is None else round(train_result.params_m, 4),
    "train_loss": None if train_result is None else [round(x, 4) for x in train_result.train_loss],
    "test_acc": None if train_result is None else round(train_result.test_acc, 2),
    "train_seconds": None if train_result is None else round(train_result.seconds, 1),
    "full_command": command,
    "seconds": round(time.perf_counter() - t_start, 1),
}
record(**headline)
print(json.dumps(headline, indent=1))
"""),
]


def main(argv: list[str]) -> int:
    write_notebook(CELLS, NAME, prefix="nb06")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
