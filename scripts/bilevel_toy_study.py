"""The seed study behind docs/notebooks/03_bilevel_toy.md: every method on many toy instances.

Runs ``gibbsnas_lite.course.bilevel_toy.run`` for each method and seed, appends one JSON line per run to
``--out`` (method, settings, seed, the three derived ops, tail frequencies, final losses) and prints,
per method, how many seeds derive the right op under each reading rule.

    .venv/bin/python scripts/bilevel_toy_study.py --seeds 0:20 --out runs/toy03/main.jsonl
    .venv/bin/python scripts/bilevel_toy_study.py --seeds 100:120 --out runs/toy03/heldout.jsonl
    .venv/bin/python scripts/bilevel_toy_study.py --seeds 0:20 --steps 1000 --methods darts-v1,gibbs2,gibbs1 \
        --out runs/toy03/s1000.jsonl
    .venv/bin/python scripts/bilevel_toy_study.py --seeds 0:20 --methods gibbs1 --set gibbs_a_weight_decay=1e-2 \
        --out runs/toy03/decay.jsonl
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from gibbsnas_lite.course import bilevel_toy as B  # noqa: E402
from gibbsnas_lite.course.notebooks import parse_parameters  # noqa: E402


def seed_range(text: str) -> range:
    first, _, last = text.partition(":")
    return range(int(first), int(last)) if last else range(int(first))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0:20", help="A:B (seeds A..B-1) or N (0..N-1)")
    ap.add_argument("--steps", type=int, default=B.DEFAULTS["steps"])
    ap.add_argument("--methods", default=",".join(B.METHODS))
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides of bilevel_toy.DEFAULTS")
    ap.add_argument("--out", required=True, help="JSON lines file (appended)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    overrides = parse_parameters(args.set)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    seeds = seed_range(args.seeds)
    with out.open("a") as f:
        for method in args.methods.split(","):
            start, runs = time.perf_counter(), []
            for seed in seeds:
                r = B.run(B.make_problem(seed), method, seed, steps=args.steps, **overrides)
                runs.append(r)
                f.write(
                    json.dumps(
                        dict(
                            method=method,
                            overrides=overrides,
                            steps=args.steps,
                            seed=seed,
                            commit=commit,
                            picked=r.picked,
                            picked_mean=r.picked_mean,
                            picked_final=r.picked_final,
                            argmax_frequency=r.argmax_frequency.tolist(),
                            final_probs=r.probs[-1].tolist(),
                            train_loss=float(r.train_loss[-1]),
                            valid_loss=float(r.valid_loss[-1]),
                        )
                    )
                    + "\n"
                )
                f.flush()
            rules = {
                rule: B.summarize({method: runs}, rule)[method] for rule in ("picked", "picked_mean", "picked_final")
            }
            s = rules["picked"]
            print(
                f"{method:12s} {json.dumps(overrides)} steps {args.steps} seeds {seeds.start}..{seeds.stop - 1}: "
                f"right {s['right']}/{s['n']} (most frequent), {rules['picked_mean']['right']} (averaged α), "
                f"{rules['picked_final']['right']} (last α); picks {s['picks']}; mean P(linear first) "
                f"{s['mean_p_right_first']:.2f}; {time.perf_counter() - start:.0f} s",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
