"""Before/after: the search step of two source trees side by side, on one CPU thread (issue 19).

    # per-step ops and CPU time, every strategy, three sizes; /work/base against this tree
    .venv/bin/python scripts/bench_before_after.py steps --before /work/base --json runs/bench/ba_steps.json
    # whole deep-stage searches, 2 epochs, before/after/before/after
    .venv/bin/python scripts/bench_before_after.py search --before /work/base --epochs 2 \\
        --strategies darts-v1,gibbs2 --repeats 2 --json runs/bench/ba_search.json

Each measurement runs in a fresh subprocess that imports the package of one tree (``PYTHONPATH``
set to the tree; the worker checks where ``gibbsnas_lite`` came from) with one torch thread
(``OMP_NUM_THREADS=1``, ``torch.set_num_threads(1)``); the trees alternate (before, after, then
after, before, ...), so a burst of load from other processes hits both alike. Times are the
process CPU time (``time.process_time``): on a shared machine it does not count waiting for a
core, as wall time does (load still slows a core's memory and caches: read the ratios).

**steps**: per size and tree, one worker builds one seeded supernet, deep-copies it for every
strategy, builds each strategy as the search does (``search.loop.build_model``/``build_strategy``,
the tree's own profile defaults: its layout included) and steps them round-robin on the same
pre-generated Gaussian batches (the order rotated each round), ``--warmup`` rounds untimed. The
timed rounds are rounded up to whole cycles of every strategy (GibbsNAS: lcm(alpha_accum,
curvature_every) steps) when the size's ``cycle`` is on, so means include the alpha steps.
Sizes: ``cpu`` (the ``cpu`` profile: C=8, N=1, batch 64, 1x16x16), ``deep`` (the ``cpu-deep``
profile where the tree has it, else ``cpu`` with ``cells_per_stage=5``: C=8, N=5), ``full``
(the ``full`` profile: C=16, N=5, batch 64, 3x32x32; few steps, GibbsNAS's 32-step alpha cycle
not covered); ``smoke`` (the ``smoke`` profile, one step: the script's test). Ops: the non-view
aten ops per step over one cycle of each strategy (a TorchDispatchMode, as
``scripts/bench_search.py --count``; at batch 2: the count does not depend on the batch size),
counted once per tree and size.

**search**: ``run_search`` as ``gibbsnas-lite search --profile cpu-deep --epochs E`` runs it (a tree
without ``cpu-deep``: ``--profile cpu --set cells_per_stage=5``, the same sizes), into a temporary
folder, per strategy and tree, alternating; reported: CPU seconds of each epoch (the first one
includes building the data and the model) and of the whole call.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STRATEGIES = "gibbs2,gibbs2-mean,gibbs1,darts-v1,darts-v2,gdas,rsps"
SIZES = {  # size -> (warm-up rounds, timed rounds, round up to whole cycles, repeats)
    "cpu": (2, 16, True, 2),
    "deep": (2, 16, True, 2),
    "full": (1, 4, False, 1),
    "smoke": (1, 1, False, 1),  # the smoke profile (C=4, N=1): the script's own test
}


# ----------------------------------------------------------------------------- worker side
def _config(strategy: str, size: str, **overrides):
    from gibbsnas_lite.search import config as C

    if size == "cpu":
        return C.make_config(strategy, "cpu", **overrides)
    if size == "deep":
        if "cpu-deep" in C.PROFILES:
            return C.make_config(strategy, "cpu-deep", **overrides)
        return C.make_config(strategy, "cpu", cells_per_stage=5, **overrides)
    if size in ("full", "smoke"):
        return C.make_config(strategy, size, **overrides)
    raise SystemExit(f"unknown size {size!r}; choose from {', '.join(SIZES)}")


def _cycle(config) -> int:
    from gibbsnas_lite.search.registry import in_family

    if in_family(config.strategy, "gibbs"):
        return math.lcm(int(config.alpha_accum), int(config.curvature_every))
    return 1


def _in_channels(size: str) -> int:
    return 1 if size in ("cpu", "deep") else 3


def _build(strategies: list[str], size: str, batch: int | None = None):
    """One seeded supernet deep-copied per strategy, each in its config's layout, and batches."""
    import copy

    import torch

    from gibbsnas_lite.search.loop import build_model, build_strategy

    configs = {s: _config(s, size) for s in strategies}
    first = configs[strategies[0]]
    in_ch = _in_channels(size)
    torch.manual_seed(0)
    base = build_model(first, 10, in_ch)
    steps_per_epoch = 390 if size == "full" else 64
    half = 25_000 if size == "full" else 4096
    built = {}
    for name, config in configs.items():
        model = copy.deepcopy(base)
        if config.channels_last:  # as search.loop.run_search does
            model = model.to(memory_format=torch.channels_last)
        strategy = build_strategy(config, model, steps_per_epoch, (half, half))
        strategy.fixed_valid_batch = None
        built[name] = (config, strategy)
    batch = batch or first.batch_size
    gen = torch.Generator().manual_seed(101)
    shape = (batch, in_ch, first.image_size, first.image_size)
    batches = []
    for _ in range(4):
        pair = tuple((torch.randn(shape, generator=gen), torch.randint(0, 10, (batch,), generator=gen)) for _ in (0, 1))
        batches.append(pair)
    cl_batches = [tuple((x.contiguous(memory_format=torch.channels_last), y) for x, y in p) for p in batches]
    return built, batches, cl_batches


def _count_ops(fn) -> int:
    from torch.utils._python_dispatch import TorchDispatchMode

    count = [0]

    class Mode(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            count[0] += not getattr(func, "is_view", False)
            return func(*args, **(kwargs or {}))

    with Mode():
        fn()
    return count[0]


def worker_steps(args) -> dict[str, Any]:
    import torch

    strategies = args.strategies.split(",")
    built, batches, cl_batches = _build(strategies, args.size)
    warmup, steps, whole_cycles, _ = SIZES[args.size]
    warmup = args.warmup if args.warmup is not None else warmup
    steps = args.steps if args.steps is not None else steps
    if whole_cycles:
        cycle = math.lcm(*(_cycle(c) for c, _ in built.values()))
        steps = -(-steps // cycle) * cycle
    cpu: dict[str, list[float]] = {s: [] for s in strategies}
    for r in range(warmup + steps):
        shift = r % len(strategies)
        for name in strategies[shift:] + strategies[:shift]:
            config, strategy = built[name]
            train, valid = (cl_batches if config.channels_last else batches)[r % len(batches)]
            t0 = time.process_time()
            strategy.step(train, valid, 0, r)
            dt = time.process_time() - t0
            if r >= warmup:
                cpu[name].append(dt)
    out = {"cpu": cpu, "warmup": warmup, "steps": steps, "configs": {}}
    for name, (config, _) in built.items():
        out["configs"][name] = {
            k: getattr(config, k)
            for k in (
                "profile",
                "channels",
                "cells_per_stage",
                "image_size",
                "batch_size",
                "channels_last",
                "alpha_accum",
                "curvature_every",
            )
        }
    out["threads"] = torch.get_num_threads()
    return out


def worker_count(args) -> dict[str, Any]:
    strategies = args.strategies.split(",")
    built, batches, cl_batches = _build(strategies, args.size, batch=2)
    ops = {}
    for name in strategies:
        config, strategy = built[name]
        source = cl_batches if config.channels_last else batches
        strategy.step(*source[0], 0, 0)  # lazy state (optimizers, samplers) out of the count
        cycle = _cycle(config)
        total = 0
        for i in range(1, cycle + 1):
            train, valid = source[i % len(source)]
            total += _count_ops(lambda s=strategy, t=train, v=valid, i=i: s.step(t, v, 0, i))
        ops[name] = {"ops_per_step": total / cycle, "cycle": cycle}
    return {"ops": ops}


def worker_search(args) -> dict[str, Any]:
    from gibbsnas_lite.search import run_search

    config = _config(args.strategies, "deep", epochs=args.epochs, device="cpu")
    marks: list[float] = []

    def callback(event):
        if event.get("kind") == "epoch":
            marks.append(time.process_time())

    with tempfile.TemporaryDirectory() as tmp:
        t0, w0 = time.process_time(), time.perf_counter()
        result = run_search(config, out_dir=os.path.join(tmp, "run"), callback=callback)
        total, wall = time.process_time() - t0, time.perf_counter() - w0
    epochs = [b - a for a, b in zip([t0, *marks[:-1]], marks)]
    summary = result.summary()
    return {
        "epoch_cpu_s": epochs,
        "call_cpu_s": total,
        "call_wall_s": wall,
        "epoch_wall_s": [e["seconds"] for e in result.history.epochs],
        "arch": summary["arch"],
        "profile": config.profile,
        "cells_per_stage": config.cells_per_stage,
        "channels_last": config.channels_last,
        "data": summary.get("data"),
    }


def worker(args) -> None:
    import torch

    torch.set_num_threads(1)
    import gibbsnas_lite

    where = os.path.realpath(os.path.dirname(gibbsnas_lite.__file__))
    if not where.startswith(os.path.realpath(args.worker) + os.sep):
        raise SystemExit(f"bench_before_after: imported {where}, not the tree {args.worker}")
    fn = {"steps": worker_steps, "count": worker_count, "search": worker_search}[args.mode]
    out = fn(args)
    out["package"] = where
    print("RESULT " + json.dumps(out))


# ----------------------------------------------------------------------------- driver side
def run_worker(tree: str, mode: str, extra: list[str]) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=tree, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", tree, "--mode", mode, *extra]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tree)
    if proc.returncode != 0:
        raise SystemExit(f"worker failed ({tree}, {mode} {' '.join(extra)}):\n{proc.stderr[-4000:]}")
    line = next(ln for ln in proc.stdout.splitlines()[::-1] if ln.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def git_head(tree: str) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=tree, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "gibbsnas_lite"], cwd=tree, capture_output=True, text=True
        )
        return out.stdout.strip() + ("+uncommitted" if dirty.stdout.strip() else "")
    except OSError:
        return "unknown"


def machine() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as fh:
            info["cpu"] = next(ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return info


def loadavg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def order(rep: int, trees: dict[str, str]) -> list[str]:
    names = list(trees)
    return names if rep % 2 == 0 else names[::-1]


def drive_steps(args, trees: dict[str, str]) -> dict[str, Any]:
    report: dict[str, Any] = {"sizes": {}}
    for size in args.sizes.split(","):
        repeats = args.repeats or SIZES[size][3]
        extra = ["--size", size, "--strategies", args.strategies]
        if args.steps is not None:
            extra += ["--steps", str(args.steps)]
        if args.warmup is not None:
            extra += ["--warmup", str(args.warmup)]
        entry: dict[str, Any] = {"runs": {t: [] for t in trees}, "ops": {}, "load": []}
        for rep in range(repeats):
            for tree in order(rep, trees):
                entry["load"].append(loadavg())
                res = run_worker(trees[tree], "steps", extra)
                entry["runs"][tree].append(res)
                print(
                    f"[{size}] {tree} rep {rep}: "
                    + ", ".join(f"{s} {statistics.fmean(v):.3f}" for s, v in res["cpu"].items()),
                    flush=True,
                )
        if not args.no_count:
            for tree in trees:
                entry["ops"][tree] = run_worker(
                    trees[tree], "count", ["--size", size, "--strategies", args.strategies]
                )["ops"]
        entry["load"].append(loadavg())
        report["sizes"][size] = entry
        write(args, report)
    return report


def drive_search(args, trees: dict[str, str]) -> dict[str, Any]:
    report: dict[str, Any] = {"epochs": args.epochs, "runs": {t: {} for t in trees}, "load": []}
    for rep in range(args.repeats or 2):
        for tree in order(0, trees):  # before, after, before, after (as the issue asks)
            for strategy in args.strategies.split(","):
                report["load"].append(loadavg())
                res = run_worker(trees[tree], "search", ["--strategies", strategy, "--epochs", str(args.epochs)])
                report["runs"][tree].setdefault(strategy, []).append(res)
                print(
                    f"[search] {tree} {strategy} rep {rep}: epochs CPU s "
                    + ", ".join(f"{e:.1f}" for e in res["epoch_cpu_s"])
                    + f"; call {res['call_cpu_s']:.1f}",
                    flush=True,
                )
                write(args, report)
    report["load"].append(loadavg())
    return report


def write(args, report) -> None:
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=1)


def table_steps(report: dict[str, Any]) -> str:
    lines = []
    for size, entry in report["sizes"].items():
        timed = sum(len(next(iter(r["cpu"].values()))) for r in entry["runs"]["before"])
        lines.append(f"\n{size}: ops / step; CPU s / step, mean over {timed} timed steps per tree (median)")
        lines.append(
            "| strategy | ops before | ops after | ratio | CPU s before | CPU s after | speed-up: mean | median |"
        )
        lines.append("|---|---|---|---|---|---|---|---|")
        strategies = list(entry["runs"]["before"][0]["cpu"])
        for s in strategies:
            b = [t for r in entry["runs"]["before"] for t in r["cpu"][s]]
            a = [t for r in entry["runs"]["after"] for t in r["cpu"][s]]
            ob = entry["ops"].get("before", {}).get(s, {}).get("ops_per_step")
            oa = entry["ops"].get("after", {}).get(s, {}).get("ops_per_step")
            ops = f"{ob:,.0f} | {oa:,.0f} | {oa / ob:.3f}" if ob and oa else " | | "
            lines.append(
                f"| {s} | {ops} | {statistics.fmean(b):.3f} ({statistics.median(b):.3f}) | "
                f"{statistics.fmean(a):.3f} ({statistics.median(a):.3f}) | "
                f"{statistics.fmean(b) / statistics.fmean(a):.2f}x | "
                f"{statistics.median(b) / statistics.median(a):.2f}x |"
            )
    return "\n".join(lines)


def table_search(report: dict[str, Any]) -> str:
    lines = [
        "| strategy | tree | epoch CPU s (each run) | call CPU s | last epoch CPU s, mean |",
        "|---|---|---|---|---|",
    ]
    for tree, runs in report["runs"].items():
        for s, rs in runs.items():
            lines.append(
                f"| {s} | {tree} | "
                + "; ".join(", ".join(f"{e:.1f}" for e in r["epoch_cpu_s"]) for r in rs)
                + " | "
                + ", ".join(f"{r['call_cpu_s']:.1f}" for r in rs)
                + f" | {statistics.fmean(r['epoch_cpu_s'][-1] for r in rs):.1f} |"
            )
    strategies = list(report["runs"]["before"])
    for s in strategies:
        b = [r for r in report["runs"]["before"][s]]
        a = [r for r in report["runs"]["after"][s]]
        last = statistics.fmean(r["epoch_cpu_s"][-1] for r in b) / statistics.fmean(r["epoch_cpu_s"][-1] for r in a)
        per = statistics.fmean(r["call_cpu_s"] for r in b) / statistics.fmean(r["call_cpu_s"] for r in a)
        lines.append(f"\n{s}: before/after CPU per epoch, last epoch {last:.2f}x, whole call {per:.2f}x")
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("what", nargs="?", choices=("steps", "search"), default="steps")
    p.add_argument("--before", default="/work/base", help="the tree before (default: %(default)s)")
    p.add_argument("--after", default=ROOT, help="the tree after (default: this script's tree)")
    p.add_argument("--strategies", default=STRATEGIES)
    p.add_argument("--sizes", default="cpu,deep,full", help=f"steps: comma-separated, of {', '.join(SIZES)}")
    p.add_argument("--steps", type=int, default=None, help="timed rounds per worker (default: per size)")
    p.add_argument("--warmup", type=int, default=None, help="untimed rounds per worker (default: per size)")
    p.add_argument("--repeats", type=int, default=None, help="workers per tree (default: per size; search: 2)")
    p.add_argument("--epochs", type=int, default=2, help="search: epochs per run")
    p.add_argument("--no-count", action="store_true", help="steps: skip the op counts")
    p.add_argument("--json", default=None)
    # worker side
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--mode", default=None, help=argparse.SUPPRESS)
    p.add_argument("--size", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    trees = {"before": os.path.abspath(args.before), "after": os.path.abspath(args.after)}
    head = {
        "trees": {k: {"path": v, "git": git_head(v)} for k, v in trees.items()},
        "machine": machine(),
        "command": " ".join([os.path.relpath(sys.argv[0], ROOT), *sys.argv[1:]]),
        "load_start": loadavg(),
    }
    print(json.dumps(head))
    start = time.perf_counter()
    if args.what == "steps":
        report = {**head, **drive_steps(args, trees)}
        report["wall_s"] = time.perf_counter() - start
        write(args, report)
        print(table_steps(report))
    else:
        report = {**head, **drive_search(args, trees)}
        report["wall_s"] = time.perf_counter() - start
        write(args, report)
        print(table_search(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
