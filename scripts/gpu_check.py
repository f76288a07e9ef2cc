"""Prepared GPU check of the search engine (run through scripts/gpu_check.sh).

    scripts/gpu_check.sh                 # the check: full NB201 supernet on one CUDA GPU (~7 min on an H200)
    scripts/gpu_check.sh --tiny          # the same code at a tiny size on the CPU (tests/test_scripts.py)
    GPU_CHECK_TINY=1 scripts/gpu_check.sh

Four parts, each printed as it finishes; results in ``$OUT`` (default runs/gpu_check):
gpu_check.json (everything below), bench-bf16.json, bench-fp32.json and the run folders.

1. **Step time, bf16 autocast.** The full NAS-Bench-201 supernet (C=16, N=5 cells per stage),
   batch 64, CIFAR-shaped batches already on the GPU, ``amp=True``; every strategy of the
   search (``gibbsnas_lite.search.STRATEGIES``, each with the ``full`` profile's settings:
   GibbsNAS moves alpha every 32 steps and takes the omega curvature pair every 8th) in one
   interleaved run (``scripts/bench_search.py``): per-step median/mean, images/s, the ratio to
   DARTS-V1 over whole cycles; kernel launches and host syncs per step (aten ops on CUDA).
2. **Step time, float32** (the CUDA path without autocast; the search's default, ``amp=False``):
   the same, over one cycle.
3. **Peak GPU memory** of each strategy (``torch.cuda.max_memory_allocated``, a fresh process each).
4. **The real loop.** ``run_search`` with the ``full`` profile (float32, its default) on
   synthetic CIFAR-shaped data (25,000 images per search half on the GPU, as CIFAR-10), 2 epochs of
   60 steps (``--loop-steps``), GibbsNAS-2nd; then the same run in a subprocess that is killed
   (SIGKILL) in the middle of its 2nd epoch and resumed to 2 epochs. The extrapolated 50-epoch
   search time = 50 x the 2nd epoch's time x 390 / 60 (390 steps per CIFAR-10 epoch; the 1st epoch
   includes the warm-up).

Every part runs even when an earlier one failed, and gpu_check.json is rewritten after each part,
so a run stopped by a time limit keeps what it measured.

Exit status: 0 when everything ran and the goal was met; 1 on any error, non-finite loss or
failed check; 3 when everything ran but the goal was missed: GibbsNAS-2nd <= GOAL (1.10) x
DARTS-V1 per step (mean over whole cycles), in float32 and in bf16. At ``--tiny`` (CPU) the goal
is reported, not enforced (tiny CPU steps do not answer the GPU question).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))  # the package from the tree: nothing needs to be installed

import bench_search  # noqa: E402
import torch  # noqa: E402

GOAL = 1.10
FULL_EPOCHS = 50
MEMORY_STRATEGIES = ("gibbs2", "gibbs1", "darts-v1", "darts-v2", "gdas", "rsps")  # "-mean" twins: same memory


def parse_args(argv=None):
    from gibbsnas_lite.search import STRATEGIES

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--tiny",
        action="store_true",
        default=os.environ.get("GPU_CHECK_TINY", "") not in ("", "0"),
        help="tiny size on the CPU (also GPU_CHECK_TINY=1)",
    )
    p.add_argument("--steps", type=int, default=None, help="timed rounds of the bf16 run (default 32; tiny: 2)")
    p.add_argument("--fp32-steps", type=int, default=None, help="timed rounds of the float32 run (default 32; tiny: 2)")
    p.add_argument("--warmup", type=int, default=None, help="untimed rounds (default 4; tiny: 1)")
    p.add_argument(
        "--loop-steps",
        type=int,
        default=None,
        help="steps per epoch of the loop check (default 60, extrapolated to the 390 of a CIFAR-10 search half; "
        "tiny: 3)",
    )
    p.add_argument(
        "--strategies",
        default=";".join(STRATEGIES),
        help="bench_search strategy specs, ';'- or ','-separated (default: %(default)s)",
    )
    p.add_argument(
        "--bf16-extra",
        default=None,
        help="variants added to the bf16 run only (default on CUDA: gibbs2+cl;darts-v1+cl, channels_last; "
        "none at --tiny); '' for none",
    )
    p.add_argument("--goal", type=float, default=GOAL, help="GibbsNAS-2nd / DARTS-V1 per step (default %(default)s)")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-loop", action="store_true")
    p.add_argument("--out", default=os.environ.get("OUT") or "runs/gpu_check")
    p.add_argument("--child-search", default=None, help=argparse.SUPPRESS)  # the loop run that gets killed
    return p.parse_args(argv)


def sizes(args) -> dict:
    if args.tiny:
        return dict(
            device="cpu",
            channels=4,
            cells=1,
            batch=16,
            image_size=16,
            alpha_accum=2,
            steps=args.steps or 2,
            fp32_steps=args.fp32_steps or 2,
            warmup=1 if args.warmup is None else args.warmup,
            loop_steps=args.loop_steps or 3,
            train_limit=64,
            alpha_every=1,
            kill_timeout=300,
        )
    # sized from the first run on an H200 (docs/bench_search.md): 64 bf16 rounds with the memory part took
    # 279 s, 32 float32 rounds 104 s, and a 390-step epoch ~56 s: the whole check at these defaults ~7 min
    return dict(
        device="cuda",
        channels=16,
        cells=5,
        batch=64,
        image_size=32,
        alpha_accum=32,
        steps=args.steps or 32,
        fp32_steps=args.fp32_steps or 32,
        warmup=4 if args.warmup is None else args.warmup,
        loop_steps=args.loop_steps or 60,
        train_limit=25_000,
        alpha_every=20,
        kill_timeout=900,
    )


def say(msg: str) -> None:
    print(msg, flush=True)


# ----------------------------------------------------------------------------- 1-3. bench
def bench(args, sz, out: Path, amp: bool, steps: int, memory: bool) -> dict:
    extra = args.bf16_extra if args.bf16_extra is not None else ("" if args.tiny else "gibbs2+cl;darts-v1+cl")
    strategies = args.strategies + (";" + extra if amp and extra else "")
    argv = [
        "--device",
        sz["device"],
        "-C",
        str(sz["channels"]),
        "-N",
        str(sz["cells"]),
        "--batch",
        str(sz["batch"]),
        "--image-size",
        str(sz["image_size"]),
        "--steps",
        str(steps),
        "--warmup",
        str(sz["warmup"]),
        "--alpha-accum",
        str(sz["alpha_accum"]),
        "--strategies",
        strategies,
        "--count",
    ]
    if amp:
        argv.append("--amp")
    if memory:
        names = [s for s in bench_search.parse_args(argv).strategies if s in MEMORY_STRATEGIES]
        argv += ["--memory", "--memory-steps", "3", "--memory-strategies", ";".join(names)]
    bargs = bench_search.parse_args(argv)
    result = bench_search.run(bargs)
    bench_search.print_report(result)
    with open(out / f"bench-{'bf16' if amp else 'fp32'}.json", "w") as fh:
        json.dump(result, fh, indent=1, default=float)
    for name, loss in result["last_train_loss"].items():
        if not math.isfinite(loss):
            raise RuntimeError(f"{name}: non-finite training loss {loss}")
    return result


def goal_rows(result: dict, goal: float, label: str) -> dict:
    """GibbsNAS-2nd's step-time and launch ratios to DARTS-V1 in one bench result, and whether the goal holds."""
    row = result["time"]["gibbs2"]
    counts = result.get("counts", {}).get("gibbs2", {}).get("as_cuda", {})
    out = {
        "time_ratio_mean": row["ratio_mean"],
        "time_ratio_median": row["ratio_median"],
        "launch_ratio": counts.get("ops_ratio"),
        "sync_ratio": counts.get("syncs_ratio"),
        "goal": goal,
        "met": row["ratio_mean"] <= goal,
    }
    say(
        f"GOAL gibbs2 / darts-v1 per step ({label}, mean over whole cycles) = {row['ratio_mean']:.3f} "
        f"{'<=' if out['met'] else '>'} {goal}: {'met' if out['met'] else 'NOT met'}"
        + (f"; launches {out['launch_ratio']:.3f}x, syncs {out['sync_ratio']:.3f}x" if counts else "")
    )
    return out


# ----------------------------------------------------------------------------- 4. loop
def loop_config(sz, **extra):
    from gibbsnas_lite.search import make_config

    alpha_every = min(sz["alpha_every"], sz["loop_steps"] or sz["alpha_every"])  # alpha records in each epoch
    return make_config(
        "gibbs2",
        "full",
        dataset="synthetic",
        channels=sz["channels"],
        cells_per_stage=sz["cells"],
        batch_size=sz["batch"],
        image_size=sz["image_size"],
        train_limit=sz["train_limit"],
        device=sz["device"],
        alpha_accum=sz["alpha_accum"],
        max_steps_per_epoch=sz["loop_steps"],
        alpha_every=alpha_every,
        seed=0,
        epochs=2,
        **extra,
    )


def child_search(out_dir: str) -> int:
    """The run that gets killed: a search that signals, in its 2nd epoch, that it may be killed now,
    then keeps waiting (the parent sends SIGKILL)."""
    from gibbsnas_lite.search import SearchConfig, run_search

    out = Path(out_dir)
    config = SearchConfig.from_dict(json.loads((out / "child-config.json").read_text()))

    def pause_in_second_epoch(event):
        if event["kind"] == "alpha" and event["epoch"] == 1:
            (out / "killable").write_text(str(event["step"]))
            time.sleep(3600)

    run_search(config, out_dir=out, callback=pause_in_second_epoch)
    return 4  # not killed: the parent reports it


def part_loop(sz, out: Path, report: dict) -> None:
    from gibbsnas_lite.search import run_search
    from gibbsnas_lite.search.checkpoint import load_checkpoint

    config = loop_config(sz)
    t0 = time.perf_counter()
    result = run_search(config, out_dir=out / "loop-gibbs2", echo=say)
    seconds = time.perf_counter() - t0
    summary = json.loads((out / "loop-gibbs2" / "summary.json").read_text())
    epochs = result.history.epochs
    if summary["epochs_done"] != 2 or len(epochs) != 2:
        raise RuntimeError(f"loop check: {summary['epochs_done']} epochs done, expected 2")
    for key in ("train_loss", "valid_loss"):
        if not math.isfinite(summary["final"][key]):
            raise RuntimeError(f"loop check: non-finite {key} {summary['final'][key]}")
    if not summary["benchmark"] or "cifar10_test" not in summary["benchmark"]:
        raise RuntimeError("loop check: no NAS-Bench-201 lookup in summary.json")
    steps_per_epoch = result.strategy.steps_per_epoch
    epoch_seconds = [e["seconds"] for e in epochs]
    full_steps = 25_000 // 64  # CIFAR-10 search half / batch 64 (last partial batch dropped): 390 steps
    extrapolated = FULL_EPOCHS * epoch_seconds[-1] * full_steps / steps_per_epoch
    say(
        f"loop: gibbs2, 2 epochs x {steps_per_epoch} steps in {seconds:.1f}s (with data, table, checkpoints); epochs "
        f"{', '.join(f'{s:.1f}s' for s in epoch_seconds)}; arch {result.arch}; NB201 cifar10 test "
        f"{summary['benchmark']['cifar10_test']:.2f}"
    )
    say(
        f"EXTRAPOLATED {FULL_EPOCHS}-epoch full-profile GibbsNAS-2nd search (float32): {extrapolated / 60:.1f} min "
        f"({FULL_EPOCHS} x the 2nd epoch's {epoch_seconds[-1]:.1f}s, scaled to {full_steps} steps per epoch)"
    )
    report["loop"] = {
        "seconds": seconds,
        "steps": 2 * steps_per_epoch,
        "steps_per_epoch": steps_per_epoch,
        "epoch_seconds": epoch_seconds,
        "arch": result.arch,
        "final": summary["final"],
        "extrapolated_50_epoch_seconds": extrapolated,
    }

    # the same run in a subprocess, killed (SIGKILL) in its 2nd epoch, then resumed to 2 epochs
    part = out / "loop-killed"
    part.mkdir(parents=True, exist_ok=True)
    (part / "child-config.json").write_text(json.dumps(config.to_dict()))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    t0 = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--child-search", str(part)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        while not (part / "killable").exists():
            if child.poll() is not None:
                raise RuntimeError(
                    f"kill check: the search ended (status {child.returncode}) before its 2nd epoch:\n"
                    + child.stdout.read()[-3000:]
                )
            if time.perf_counter() - t0 > sz["kill_timeout"]:
                raise RuntimeError("kill check: the search did not reach its 2nd epoch in time")
            time.sleep(0.2)
    finally:
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
        child.wait()
    if child.returncode != -signal.SIGKILL:
        raise RuntimeError(f"kill check: the child exited with {child.returncode}, not by SIGKILL")
    killed_at = int((part / "killable").read_text())
    saved_epoch = load_checkpoint(part)["epoch"]
    if saved_epoch != 0:
        raise RuntimeError(f"kill check: the checkpoint left by the killed run is of epoch {saved_epoch}, expected 0")
    resumed = run_search(resume=part, echo=say)
    if len(resumed.history.epochs) != 2 or resumed.stopped_early:
        raise RuntimeError(f"resume check: {len(resumed.history.epochs)} epochs after the resume, expected 2")
    if not all(math.isfinite(resumed.history.epochs[-1][k]) for k in ("train_loss", "valid_loss")):
        raise RuntimeError("resume check: non-finite loss after the resume")
    same = resumed.arch == result.arch and [e["train_loss"] for e in resumed.history.epochs] == [
        e["train_loss"] for e in epochs
    ]
    say(
        f"resume: killed (SIGKILL) at step {killed_at} of epoch 2, resumed from the epoch-1 checkpoint to 2 epochs "
        f"-> arch {resumed.arch}; identical to the uninterrupted run: {'yes' if same else 'no'}"
        f"{'' if same or sz['device'] == 'cpu' else ' (GPU kernels need not be deterministic)'}"
    )
    if sz["device"] == "cpu" and not same:
        raise RuntimeError("resume check: on the CPU the resumed run must equal the uninterrupted one")
    report["resume"] = {
        "killed_at_step": killed_at,
        "checkpoint_epoch": saved_epoch,
        "arch": resumed.arch,
        "epochs": len(resumed.history.epochs),
        "identical": same,
        "seconds": time.perf_counter() - t0,
    }


# ----------------------------------------------------------------------------- main
def verdict(goals: dict, tiny: bool) -> int:
    """Exit status once everything ran: 3 if a goal was missed (or none was measured), else 0;
    always 0 at --tiny."""
    if tiny:
        return 0
    return 0 if goals and all(g["met"] for g in goals.values()) else 3


def write_report(out: Path, report: dict) -> None:
    """gpu_check.json, rewritten after every part (atomically), so a run stopped by a time limit
    still leaves what it measured."""
    tmp = out / "gpu_check.json.tmp"
    with open(tmp, "w") as fh:
        json.dump(report, fh, indent=1, default=float)
    os.replace(tmp, out / "gpu_check.json")


def run_part(name: str, report: dict, out: Path, fn) -> bool:
    """Runs one part; a failure is reported and the next part still runs (one GPU session, many answers)."""
    t0 = time.perf_counter()
    try:
        fn()
        ok = True
    except Exception as err:  # noqa: BLE001 - report every failure and exit non-zero
        traceback.print_exc()
        report.setdefault("errors", {})[name] = f"{type(err).__name__}: {err}"
        say(f"gpu_check: part {name} FAILED: {report['errors'][name]}")
        ok = False
    report["seconds"][name] = time.perf_counter() - t0
    if torch.cuda.is_available():
        report["peak_gpu_memory_bytes_this_process"] = torch.cuda.max_memory_allocated()
    write_report(out, report)
    return ok


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child_search:
        return child_search(args.child_search)
    sz = sizes(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"tiny": args.tiny, "sizes": sz, "goal": args.goal, "ok": False, "env": {}, "seconds": {}}
    say(
        f"gpu_check: torch {torch.__version__}, cuda available {torch.cuda.is_available()}"
        + (
            f", {torch.cuda.get_device_name(0)}, bf16 {torch.cuda.is_bf16_supported()}"
            if torch.cuda.is_available()
            else ""
        )
    )
    if sz["device"] == "cuda" and not torch.cuda.is_available():
        say("gpu_check: no CUDA device; run with --tiny (or GPU_CHECK_TINY=1) for the CPU test")
        return 2
    if sz["device"] == "cpu":
        torch.set_num_threads(1)
    say(f"sizes: {sz}")
    started = time.perf_counter()
    oks = []
    for amp, steps in ((True, sz["steps"]), (False, sz["fp32_steps"])):
        label = "bf16" if amp else "fp32"

        def part(amp=amp, steps=steps, label=label):
            say(f"== {'1' if amp else '2'}. step time, {'bf16 autocast' if amp else 'float32'} ==")
            result = bench(args, sz, out, amp=amp, steps=steps, memory=amp and not args.skip_memory)
            report[f"bench_{label}"] = {k: result.get(k) for k in ("time", "counts", "memory", "env", "rounds")}
            if "gibbs2" in result["time"] and "darts-v1" in result["time"]:
                report.setdefault("goals", {})[label] = goal_rows(result, args.goal, label)
            if amp and result.get("memory"):
                say("== 3. peak memory: in the bf16 report above ==")

        oks.append(run_part(f"bench_{label}", report, out, part))
    if not args.skip_loop:

        def loop():
            say("== 4. the search loop (run_search, full profile) with a kill and a resume ==")
            part_loop(sz, out, report)

        oks.append(run_part("loop", report, out, loop))
    report["ok"] = all(oks)
    if not report["ok"]:
        status = 1
        say(f"gpu_check: FAILED parts: {report.get('errors')}")
    else:
        status = verdict(report.get("goals", {}), args.tiny)
        if status:
            say(f"gpu_check: everything ran, but the goal was missed: {report['goals']}")
        else:
            say("gpu_check: OK" + (" (the goal is not enforced at --tiny)" if args.tiny else ""))
    report["seconds"]["total"] = time.perf_counter() - started
    report["exit_status"] = status
    write_report(out, report)
    say(f"gpu_check: {report['seconds']['total']:.0f}s in all; report {out / 'gpu_check.json'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
