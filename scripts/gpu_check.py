"""Prepared GPU check of the search engine (run through scripts/gpu_check.sh).

    scripts/gpu_check.sh                 # the check: full NB201 supernet on a CUDA GPU
    scripts/gpu_check.sh --tiny          # the same code path at a tiny size on the CPU (the test)
    GPU_CHECK_TINY=1 scripts/gpu_check.sh

Three parts, each printed as it finishes; any error, non-finite loss or failed check exits 1.

1. **Step time.** The full NAS-Bench-201 supernet (C=16, N=5 cells per stage), batch 64,
   CIFAR-shaped synthetic batches already on the GPU (no download), bf16 autocast
   (``amp=True``), the search's own strategies: GibbsNAS-2nd (the ``full`` profile's default:
   omega same-batch curvature pair every 8th step), GibbsNAS-1st, DARTS-V1, DARTS-V2, GDAS;
   and for comparison ``gibbs2-flat`` (the flat-vector omega sampler that docs/bench_search.md
   proposes, prototype in scripts/bench_search.py) and ``gibbs2:curvature_every=1`` (the pair
   at every step, the default before 500273a). Round-robin, CUDA-synchronized, warm-up excluded;
   per-step median/mean, images/s and the ratio to DARTS-V1. The goal: GibbsNAS-2nd <= 1.15 x
   DARTS-V1 per step (mean over whole alpha_accum cycles); not meeting it is reported, not an error.
   Plus the breakdown (optimizer-step times, kernels and host syncs per step).
2. **Memory.** ``torch.cuda.max_memory_allocated`` of each strategy, each in a fresh process.
3. **The real loop.** ``run_search`` (profile ``full``, synthetic CIFAR-shaped data, amp) for
   GibbsNAS-2nd over 2 short epochs with checkpoints, then a resume of a 1-epoch run to 2
   epochs; checks the summary, the NB201 lookup and finite losses.

Results go to ``$OUT`` (or ``--out``) as gpu_check.json, bench.json and the run folders.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import torch  # noqa: E402

import bench_search  # noqa: E402

GOAL = 1.15


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", default=os.environ.get("GPU_CHECK_TINY", "") not in ("", "0"),
                   help="tiny size on the CPU (also GPU_CHECK_TINY=1)")
    p.add_argument("--steps", type=int, default=None, help="timed rounds (default 128; tiny: 4)")
    p.add_argument("--warmup", type=int, default=None, help="untimed rounds (default 10; tiny: 1)")
    p.add_argument("--loop-steps", type=int, default=None, help="steps per epoch of the loop check (default 100)")
    p.add_argument("--strategies", default="gibbs2;gibbs2-flat;gibbs2:curvature_every=1;gibbs1;darts-v1;darts-v2;gdas",
                   help="bench_search strategy specs, ';'-separated (default: %(default)s)")
    p.add_argument("--no-amp", action="store_true", help="fp32 instead of bf16 autocast")
    p.add_argument("--skip-memory", action="store_true")
    p.add_argument("--skip-loop", action="store_true")
    p.add_argument("--out", default=os.environ.get("OUT") or "runs/gpu_check")
    return p.parse_args(argv)


def sizes(args) -> dict:
    if args.tiny:
        return dict(device="cpu", channels=4, cells=1, batch=16, image_size=16, alpha_accum=2,
                    steps=args.steps or 4, warmup=1 if args.warmup is None else args.warmup,
                    loop_steps=args.loop_steps or 3, train_limit=64, amp=False)
    return dict(device="cuda", channels=16, cells=5, batch=64, image_size=32, alpha_accum=32,
                steps=args.steps or 128, warmup=10 if args.warmup is None else args.warmup,
                loop_steps=args.loop_steps or 100, train_limit=6400, amp=not args.no_amp)


def say(msg: str) -> None:
    print(msg, flush=True)


def part_bench(args, sz, out: Path, report: dict) -> None:
    argv = ["--device", sz["device"], "-C", str(sz["channels"]), "-N", str(sz["cells"]),
            "--batch", str(sz["batch"]), "--image-size", str(sz["image_size"]),
            "--steps", str(sz["steps"]), "--warmup", str(sz["warmup"]),
            "--alpha-accum", str(sz["alpha_accum"]), "--strategies", args.strategies,
            "--breakdown", "--breakdown-steps", str(min(sz["alpha_accum"], 32)),
            "--json", str(out / "bench.json")]
    if sz["amp"]:
        argv.append("--amp")
    if not args.skip_memory:
        argv += ["--memory", "--memory-steps", "3"]
    bargs = bench_search.parse_args(argv)
    if bargs.device == "cpu":
        torch.set_num_threads(1)
    t0 = time.perf_counter()
    result = bench_search.run(bargs)
    bench_search.print_report(result)
    with open(out / "bench.json", "w") as fh:
        json.dump(result, fh, indent=1, default=float)
    report["bench_seconds"] = time.perf_counter() - t0
    report["time"] = result["time"]
    report["breakdown"] = result.get("breakdown")
    report["memory"] = result.get("memory")
    for name, loss in result["last_train_loss"].items():
        if not math.isfinite(loss):
            raise RuntimeError(f"{name}: non-finite training loss {loss}")
    g2 = result["time"].get("gibbs2", {}).get("ratio_mean")
    if g2 is not None:
        met = g2 <= GOAL
        report["goal_gibbs2_over_darts_v1"] = {"ratio_mean": g2, "goal": GOAL, "met": met}
        say(f"GOAL gibbs2 / darts-v1 per step (mean) = {g2:.3f} {'<=' if met else '>'} {GOAL}: "
            f"{'met' if met else 'NOT met'}")
    for name, row in result["time"].items():
        if name.startswith("gibbs2") and name != "gibbs2" and "ratio_mean" in row:
            say(f"      {name} / darts-v1 per step (mean) = {row['ratio_mean']:.3f}")


def part_loop(args, sz, out: Path, report: dict) -> None:
    from gibbsnas_lite.search import make_config, run_search

    common = dict(dataset="synthetic", channels=sz["channels"], cells_per_stage=sz["cells"],
                  batch_size=sz["batch"], image_size=sz["image_size"], train_limit=sz["train_limit"],
                  device=sz["device"], amp=sz["amp"], alpha_accum=sz["alpha_accum"],
                  max_steps_per_epoch=sz["loop_steps"], alpha_every=10, seed=0)
    t0 = time.perf_counter()
    config = make_config("gibbs2", "full", epochs=2, **common)
    result = run_search(config, out_dir=out / "loop-gibbs2", echo=say)
    seconds = time.perf_counter() - t0
    summary = json.loads((out / "loop-gibbs2" / "summary.json").read_text())
    if summary["epochs_done"] != 2:
        raise RuntimeError(f"loop check: {summary['epochs_done']} epochs done, expected 2")
    final = summary["final"]
    for key in ("train_loss", "valid_loss"):
        if not math.isfinite(final[key]):
            raise RuntimeError(f"loop check: non-finite {key} {final[key]}")
    if not summary["benchmark"] or "cifar10_test" not in summary["benchmark"]:
        raise RuntimeError("loop check: no NAS-Bench-201 lookup in summary.json")
    steps = 2 * sz["loop_steps"]
    say(f"loop: gibbs2 {steps} steps in {seconds:.1f}s (incl. data, table, checkpoints), arch {result.arch}, "
        f"final train loss {final['train_loss']:.4f}, NB201 cifar10 test {summary['benchmark']['cifar10_test']:.2f}")
    report["loop"] = {"seconds": seconds, "steps": steps, "arch": result.arch, "final": final}

    # resume: the same run stopped after epoch 1 (as if killed), then resumed to its 2 epochs
    part = out / "loop-resume"
    stop_after_first = lambda event: "stop" if event["kind"] == "epoch" and event["epoch"] == 0 else None  # noqa: E731
    first = run_search(make_config("gibbs2", "full", epochs=2, **common), out_dir=part, callback=stop_after_first)
    if not first.stopped_early or len(first.history.epochs) != 1:
        raise RuntimeError("resume check: the callback did not stop the run after epoch 1")
    resumed = run_search(resume=part)
    if len(resumed.history.epochs) != 2:
        raise RuntimeError(f"resume check: {len(resumed.history.epochs)} epochs after resume, expected 2")
    same = resumed.arch == result.arch and \
        resumed.history.epochs[-1]["train_loss"] == result.history.epochs[-1]["train_loss"]
    say(f"resume: stopped after epoch 1, resumed to 2 -> arch {resumed.arch}; identical to the uninterrupted "
        f"run: {'yes' if same else 'no'}{'' if same or sz['device'] == 'cpu' else ' (GPU kernels need not be deterministic)'}")
    report["resume"] = {"arch": resumed.arch, "epochs": len(resumed.history.epochs), "identical": same}


def main(argv=None) -> int:
    args = parse_args(argv)
    sz = sizes(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"tiny": args.tiny, "sizes": sz, "ok": False}
    say(f"gpu_check: torch {torch.__version__}, cuda available {torch.cuda.is_available()}"
        + (f", {torch.cuda.get_device_name(0)}, bf16 {torch.cuda.is_bf16_supported()}"
           if torch.cuda.is_available() else ""))
    if sz["device"] == "cuda" and not torch.cuda.is_available():
        say("gpu_check: no CUDA device; run with --tiny (or GPU_CHECK_TINY=1) for the CPU test")
        return 2
    say(f"sizes: {sz}")
    status = 0
    try:
        say("== 1+2. step time, breakdown and memory ==")
        part_bench(args, sz, out, report)
        if not args.skip_loop:
            say("== 3. the search loop (run_search) and resume ==")
            part_loop(args, sz, out, report)
        report["ok"] = True
        say("gpu_check: OK")
    except Exception as err:  # noqa: BLE001 - report every failure and exit non-zero
        traceback.print_exc()
        report["error"] = f"{type(err).__name__}: {err}"
        say(f"gpu_check: FAILED: {report['error']}")
        status = 1
    finally:
        with open(out / "gpu_check.json", "w") as fh:
            json.dump(report, fh, indent=1, default=float)
    return status


if __name__ == "__main__":
    sys.exit(main())
