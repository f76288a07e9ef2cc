"""What Ray costs per trial: a sweep against a plain ``run_search`` loop over the same trials.

    .venv/bin/python scripts/bench_sweep.py --profile smoke --seeds 0-1 --rounds 2
    .venv/bin/python scripts/bench_sweep.py --profile cpu --seeds 0 --rounds 1

Three arms, each a fresh process (interpreter start and ``import torch`` included in all),
one torch thread per search, run interleaved (round 1: A B C, round 2: C B A, ...):

- ``loop``: one process runs the trials one after another with ``run_search``;
- ``sweep-1``: ``gibbsnas-lite sweep --workers 1`` on the same trials (Ray's start, its
  worker and the sweep's bookkeeping are the overhead; the searches run one at a time too);
- ``sweep-2``: ``gibbsnas-lite sweep --workers 2``: what a 2-core machine gains.

Prints a table and writes ``bench_sweep.json`` (wall seconds per arm and round, the derived
cells, which must agree across arms). Results: docs/sweeps.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gibbsnas_lite.sweep import grid  # noqa: E402

LOOP = """
import json, sys, torch
from gibbsnas_lite.search import make_config, run_search
from gibbsnas_lite.sweep import Trial
torch.set_num_threads(1)
archs = {}
for spec in json.loads(sys.argv[1]):
    t = Trial.from_dict(spec)
    archs[t.name] = run_search(make_config(**t.config_args()), out_dir=sys.argv[2] + "/" + t.name).arch
print(json.dumps(archs))
"""


def run_arm(arm: str, trials, out: Path) -> tuple[float, dict[str, str]]:
    if out.exists():
        shutil.rmtree(out)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if arm == "loop":
        cmd = [sys.executable, "-c", LOOP, json.dumps([t.to_dict() for t in trials]), str(out)]
    else:
        t0 = trials[0]
        cmd = [
            sys.executable,
            "-m",
            "gibbsnas_lite.cli",
            "sweep",
            "--strategies",
            ",".join(dict.fromkeys(t.strategy for t in trials)),
            "--seeds",
            ",".join(str(s) for s in dict.fromkeys(t.seed for t in trials)),
            "--profile",
            t0.profile,
            *[x for k, v in t0.overrides.items() for x in ("-o", f"{k}={v}")],
            "--workers",
            arm.split("-")[1],
            "--out",
            str(out),
            "--no-progress",
        ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{arm} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    if arm == "loop":
        archs = json.loads(proc.stdout.strip().splitlines()[-1])
    else:
        rows = json.loads((out / "results.json").read_text())["trials"]
        archs = {r["name"]: r["arch"] for r in rows}
    return seconds, archs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="smoke")
    p.add_argument("--strategies", default="gibbs2,darts-v1")
    p.add_argument("--seeds", default="0")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--arms", default="loop,sweep-1,sweep-2")
    p.add_argument("-o", "--set", action="append", default=[], dest="settings", metavar="KEY=VALUE")
    p.add_argument("--out", default="runs/bench_sweep")
    args = p.parse_args(argv)
    from gibbsnas_lite.runs import parse_settings

    trials = grid(args.strategies, args.seeds, profile=args.profile, overrides=parse_settings(args.settings))
    arms = args.arms.split(",")
    out = Path(args.out)
    times: dict[str, list[float]] = {a: [] for a in arms}
    archs: dict[str, dict[str, str]] = {}
    for r in range(args.rounds):
        for arm in arms if r % 2 == 0 else arms[::-1]:
            seconds, archs[arm] = run_arm(arm, trials, out / arm)
            times[arm].append(seconds)
            print(f"round {r + 1}: {arm:8s} {seconds:8.1f} s", flush=True)
    agree = all(a == archs[arms[0]] for a in archs.values())
    mean = {a: sum(v) / len(v) for a, v in times.items()}
    k = len(trials)
    report = {
        "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "profile": args.profile,
        "trials": [t.name for t in trials],
        "times": times,
        "mean": mean,
        "archs_agree": agree,
        "cpu_count": os.cpu_count(),
    }
    print(f"\n{k} trials, profile {args.profile}, {args.rounds} round(s); derived cells agree across arms: {agree}")
    print("| arm | wall s (mean) | per trial s |\n|---|---|---|")
    for a in arms:
        print(f"| {a} | {mean[a]:.1f} | {mean[a] / k:.1f} |")
    if "loop" in mean and "sweep-1" in mean:
        over = (mean["sweep-1"] - mean["loop"]) / k
        report["overhead_per_trial_s"] = over
        report["overhead_ratio"] = mean["sweep-1"] / mean["loop"]
        print(
            f"Ray overhead per trial (sweep-1 - loop) / {k}: {over:.1f} s = "
            f"{100 * (report['overhead_ratio'] - 1):.1f} %"
        )
    if "loop" in mean and "sweep-2" in mean:
        report["speedup_2_workers"] = mean["loop"] / mean["sweep-2"]
        print(f"2 workers against one after another: {report['speedup_2_workers']:.2f}x the speed")
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_sweep.json").write_text(json.dumps(report, indent=1) + "\n")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
