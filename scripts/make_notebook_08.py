"""Write notebooks/08_sweeps_on_ray.ipynb (many searches at once: distributions, not draws).

The committed .ipynb is the source of truth; this script is how it was generated (run it
from the repository root, then commit the notebook without outputs):

    .venv/bin/python scripts/make_notebook_08.py
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebooks_01_02 import code, md, write_notebook  # noqa: E402  (the shared cell helpers)

NAME = "08_sweeps_on_ray.ipynb"

CELLS = [
    md(r"""
# 08 · Many searches at once: sweeps on Ray

Notebook 04 ended on a warning: one search is one draw. On the CPU stage the same strategy lands on
cells many points apart from one seed to the next, and the paper's own claims are distributions too:
**Table 3** reports three runs per method and dataset, **Table 2** and **Fig. 2** three parallel tests per
variant. Comparing GibbsNAS with DARTS therefore means running a grid of searches, strategies × datasets ×
seeds, and reading its spread.

A **sweep** is that grid. This notebook runs a small one live and draws it the way the paper draws its
results:

1. the grid: one **trial** per strategy, dataset and seed, each one `run_search` in its own run folder;
2. running it on **Ray**: a local Ray started by the kit on this machine, or a cluster;
3. the results table and the two figures (a strip plot per strategy; the paper's Fig. 3 curves, mean ± std
   over seeds);
4. what happens after a kill: the same call again finishes the grid and reruns nothing that finished;
5. the same sweep on a cluster of GPU machines, for Table 3 at the paper's size.

The kit does not schedule anything itself: Ray places trials on free CPUs or GPUs and restarts a trial
whose worker died. What makes a sweep survive a kill is the run folder: each trial writes a checkpoint after
every epoch, and a trial that finds one continues from it, bit for bit on a CPU.

Ray is optional (`pip install -e ".[sweep]"`, which `make run` and `make test` install). Without it, for
example on Binder, this notebook says so and runs the same trials one after another in this kernel, with the
same folders and the same results.
"""),
    code(r'''
profile = "cpu"  # "smoke" (seconds, CI) | "cpu" (minutes, Binder) | "full" (the paper's protocol, GPU)
strategies = None  # None: the profile's (below), e.g. "gibbs2,darts-v1"
seeds = None  # None: the profile's, e.g. "0-4"
workers = 2  # trials at once on the local Ray (one CPU and one torch thread each)
out_dir = None  # None: a new temporary folder; give a folder to keep the sweep and finish it later
''', tags=["parameters"]),
    code(r'''
import json
import tempfile
import time
from pathlib import Path

from IPython.display import Markdown, display

from gibbsnas_lite import seed_study
from gibbsnas_lite.notebooks import record
from gibbsnas_lite.sweep import epochs_figure, grid, run_sweep, strip_figure, summarize, trial_folder

t_start = time.perf_counter()
SIZES = {
    # the cpu grid is the shipped seed study's stage (profile cpu unchanged): its seeds 0 and 1
    "smoke": dict(strategies="gibbs2,darts-v1", seeds="0-1"),
    "cpu": dict(strategies="gibbs2,darts-v1", seeds="0-1"),
    "full": dict(strategies="gibbs2,gibbs1,darts-v1,darts-v2,gdas,rsps", seeds="0-2"),
}
S = dict(SIZES[profile])
S["strategies"] = strategies or S["strategies"]
S["seeds"] = seeds or S["seeds"]
out = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix=f"gibbsnas-sweep-{profile}-"))
print(f"profile {profile}: strategies {S['strategies']}, seeds {S['seeds']}; sweep folder {out}")
'''),
    md(r"""
## 1 · The grid

`grid` makes one trial per strategy × dataset × seed. A trial is what `make_config` needs (strategy,
profile, seed, dataset, any overrides) plus a **name**, which is its run folder's name and its identity: when
the sweep is started again it finds each trial's finished or half-done run by that name, and it refuses to
reuse a name for a trial with other settings.
"""),
    code(r'''
trials = grid(S["strategies"], S["seeds"], profile=profile)
display(Markdown("| trial | strategy | dataset | seed | run folder |\n|---|---|---|---|---|\n" + "\n".join(
    f"| {t.name} | {t.strategy} | {t.dataset_name} | {t.seed} | `{trial_folder(out, t).relative_to(out)}` |"
    for t in trials)))
'''),
    md(r"""
## 2 · Running it

`run_sweep(trials, folder, workers=2)` starts a Ray instance inside this process with `workers` CPUs and
submits one task per unfinished trial; each task asks for one CPU (and one GPU where Ray sees GPUs), so
Ray runs `workers` trials at once and starts the next one as soon as a worker is free. On a worker a trial:

* takes an exclusive lock on its folder, so two processes never write one run;
* reads back its result if the folder holds a finished search, else resumes from `checkpoint.pt` if there is
  one, else starts the search;
* writes its row (`trial.json`) with the derived cell, its NAS-Bench-201 accuracies, the epochs' own times
  and the process's peak memory; an error (a bad option, a NaN loss) becomes a `failed` row and the other
  trials go on.

The driver writes `results.json` and `results.csv` after every finished trial. The progress bar counts
trials; each finished one prints a line.
"""),
    code(r'''
sweep = run_sweep(trials, out, workers=workers, progress=True, echo=print, without_ray="serial")
print(f"{len(sweep.rows) - len(sweep.failed)} of {len(sweep.rows)} trials ok in {sweep.seconds:.0f} s")
'''),
    md(r"""
## 3 · The results

One row per trial: the table below summarises them per strategy (mean ± std over seeds, with the sample
standard deviation, n − 1), then the strip plot shows every seed as a dot. With two seeds the box is two
dots: the spread of a distribution needs more seeds than a notebook can wait for, which is what the shipped
study (`data/seed_study/`, 5 seeds per strategy, notebook 04) and a cluster are for.
"""),
    code(r'''
display(Markdown(seed_study.markdown_table(summarize(sweep.rows))))
print((out / "results.csv").read_text()[:1200])
strip_figure(sweep.rows).show()
'''),
    md(r"""
The paper's **Fig. 3** follows the derived cell over the search: its benchmark accuracy and its share of
parameter-free edges (`none`, `skip_connect`, `avg_pool_3x3`) after every epoch, mean ± std over seeds. A
strategy whose curve on the right climbs towards 1 is collapsing to a cell without weights.
"""),
    code(r'''
epochs_figure(sweep.rows).show()
'''),
    md(r"""
### Your sweep beside the shipped study

At the `cpu` profile your trials are the shipped seed study's searches for the same strategies and seeds:
same code, same seed, one torch thread on a CPU. The table compares your derived cells with the study's.
They agree when the kit's search code is the one the study was run with (the study's `about` records its
commit); a change to the search code since then shows up here as a different cell.
"""),
    code(r'''
study = {(r["strategy"], r["seed"]): r for r in seed_study.load()["runs"]}
rows = [r for r in sweep.rows if r["status"] == "ok" and profile == "cpu" and (r["strategy"], r["seed"]) in study]
if rows:
    display(Markdown("| trial | your cell's CIFAR-10 test % | the study's | same cell |\n|---|---|---|---|\n" + "\n".join(
        f"| {r['name']} | {r['cifar10_test']:.2f} | {study[(r['strategy'], r['seed'])]['benchmark']['cifar10_test']:.2f} "
        f"| {r['arch'] == study[(r['strategy'], r['seed'])]['arch']} |" for r in rows)))
else:
    print(f"the shipped study is the cpu profile's; this sweep ran the {profile} profile")
'''),
    md(r"""
## 4 · Kill it, run it again

Run the same call again. Finished trials are not submitted (their `trial.json` says `ok`), so this one
returns at once. Had the kernel died in the middle of a trial, or had a Ray worker been killed, the same call
would have resumed that trial from its last completed epoch: `starts.json` in a trial's folder lists the
epoch each start began at (`[0]` for a run in one go, `[0, 3]` for a run killed during its fourth epoch).
The kit's tests kill a worker and the driver with `SIGKILL` at three points and check that the finished grid
equals an uninterrupted one, bit for bit.

From a terminal, the same sweep is one command, and the same command again after any kill:

```
gibbsnas-lite sweep --strategies gibbs2,darts-v1 --seeds 0-1 --profile cpu --workers 2 --out runs/my-sweep
```
"""),
    code(r'''
again = run_sweep(trials, out, workers=workers, progress=False, echo=print, without_ray="serial")
print(f"submitted again: {again.ran or 'nothing'}; {again.seconds:.1f} s")
print("starts of each trial:", {r["name"]: r.get("starts") for r in again.rows})
'''),
    md(r"""
## 5 · On a cluster

Table 3 at the paper's size is 6-8 strategies × 3 datasets × at least 3 seeds of `full` searches, each one
GPU for tens of minutes: more than one machine. The same sweep runs on a Ray cluster:

```
# on the head machine
ray start --head --port 6379
# on every other machine (each with the kit installed: pip install -e ".[sweep]")
ray start --address HEAD_IP:6379
# anywhere on the cluster, with the sweep folder on a file system all machines share
gibbsnas-lite sweep --address HEAD_IP:6379 --profile full --datasets cifar10,cifar100,ImageNet16-120 \
    --strategies gibbs2,gibbs1,darts-v1,darts-v2,gdas,rsps --seeds 0-2 --out /shared/runs/table3
```

Each trial then asks Ray for one GPU; the datasets must be in `--data-root` on every machine (or on the
shared file system). docs/sweeps.md has the details and the measured cost of Ray per trial.

## What you saw

* A sweep is a list of trials; each trial is one ordinary search in its own run folder, so everything you
  know about a search (its history, checkpoint, resume, summary) holds for each trial.
* Ray decides where and when a trial runs; the run folders decide what survives a kill. The same command
  after any kill finishes the grid, and finished trials are never rerun.
* The results come as a table (CSV and JSON), a strip plot per strategy and the paper's Fig. 3 curves.
  Two seeds show how far apart two draws can land; a claim about a strategy needs the spread of five or more.
"""),
    code(r'''
summary = {
    "profile": profile, "trials": len(sweep.rows), "failed": len(sweep.failed),
    "per_strategy": {s["strategy"]: round(s["mean"], 2) for s in summarize(sweep.rows)},
    "seconds": round(time.perf_counter() - t_start, 1),
}
record(**summary)
print(json.dumps(summary, indent=1))
'''),
]


def main(argv: list[str]) -> int:
    write_notebook(CELLS, NAME, prefix="nb08")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
