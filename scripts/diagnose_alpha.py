"""Per-alpha-step diagnostics of a GibbsNAS search (issue: why some seeds end on parameter-free cells).

Runs one search and wraps the alpha sampler's ``step`` to record, at every alpha step:
the mean step ``eta H g`` (norm, and its part that changes the softmax: each edge's mean over
ops removed), the noise norm (same split), H's eigenvalues (whole, and restricted to the
softmax-relevant subspace P H P), the largest softmax weight per edge, and which op leads
each edge. One JSON line per alpha step; the epoch records come from the run's history.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/diagnose_alpha.py --seed 1 --epochs-run 3 --out runs/diag/g2-s1
    OMP_NUM_THREADS=1 .venv/bin/python scripts/diagnose_alpha.py --seed 1 -o alpha_trust_radius=0.5 --out ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gibbsnas_lite.runs import parse_settings  # noqa: E402
from gibbsnas_lite.search import loop as loop_module  # noqa: E402
from gibbsnas_lite.search import make_config, run_search  # noqa: E402
from gibbsnas_lite.spaces.nb201.ops import OPS  # noqa: E402


def edge_projector(rows: int, cols: int) -> torch.Tensor:
    """P removes each edge's mean over its ops (the directions the softmax cannot see)."""
    block = torch.eye(cols, dtype=torch.float64) - 1.0 / cols
    return torch.block_diag(*[block] * rows)


def instrument(strategy, records: list, steps_per_epoch: int):
    sampler = strategy.a_optimizer
    alpha = strategy.model.arch_parameters()[0]
    rows, cols = alpha.shape
    proj = edge_projector(rows, cols)
    original = sampler.step

    def step(closure=None):
        captured = {}

        def wrapped():
            out = closure()
            if "g" not in captured:
                captured["g"] = torch.cat([p.grad.reshape(-1) for p in sampler._params]).double()
            return out

        theta0 = alpha.detach().reshape(-1).double().clone()
        H0 = sampler.inverse_hessian()
        lr = sampler.param_groups[0]["lr"]
        wd = sampler.param_groups[0]["weight_decay"]
        out = original(wrapped)
        theta1 = alpha.detach().reshape(-1).double().clone()
        g = captured["g"] + wd * theta0
        mean_step = -lr * (H0 @ g)
        noise = theta1 - theta0 - mean_step
        evals = torch.linalg.eigvalsh(H0)
        pevals = torch.linalg.eigvalsh(proj @ H0 @ proj)
        probs = torch.softmax(alpha.detach().double(), dim=-1)
        top2 = probs.topk(2, dim=-1)
        state = sampler._state()
        records.append(
            {
                "alpha_step": state["step"],
                "lr": lr,
                "temperature": sampler.param_groups[0]["temperature"],
                "grad_norm": float(g.norm()),
                "grad_norm_p": float((proj @ g).norm()),
                "mean_step": float(mean_step.norm()),
                "mean_step_p": float((proj @ mean_step).norm()),
                "noise": float(noise.norm()),
                "noise_p": float((proj @ noise).norm()),
                "H_eig_max": float(evals[-1]),
                "H_eig_min": float(evals[0]),
                "PHP_eig_max": float(pevals[-1]),
                "PHP_eig_top3": [float(v) for v in pevals[-3:]],
                "max_prob": [float(v) for v in top2.values[:, 0]],
                "leader": [OPS[int(i)] for i in top2.indices[:, 0]],
                "gap_alpha": [
                    float(v) for v in (alpha.detach().double().topk(2, dim=-1).values.diff(dim=-1).abs()[:, 0])
                ],
                "pairs": {k: int(state.get(f"pairs_{k}", 0)) for k in ("updated", "damped", "skipped")},
            }
        )
        return out

    sampler.step = step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strategy", default="gibbs2")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs-run", type=int, default=None, help="stop after this many epochs (same schedule)")
    parser.add_argument("-o", "--override", action="append", default=[], help="config key=value (Python literal)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    overrides = parse_settings(args.override, flag="--override")
    config = make_config(args.strategy, profile=args.profile, seed=args.seed, device="cpu", **overrides)
    records: list = []
    build = loop_module.build_strategy

    def build_and_instrument(cfg, model, steps_per_epoch, sizes):
        strategy = build(cfg, model, steps_per_epoch, sizes)
        if hasattr(strategy, "a_optimizer") and hasattr(strategy.a_optimizer, "inverse_hessian"):
            instrument(strategy, records, steps_per_epoch)
        return strategy

    loop_module.build_strategy = build_and_instrument
    out = Path(args.out)

    def callback(event):
        if event["kind"] == "epoch":
            print(
                f"epoch {event['epoch']}: {event['arch']} {event['benchmark'].get('cifar10_test')} "
                f"train_loss {event.get('train_loss'):.3f}",
                flush=True,
            )
            if args.epochs_run is not None and event["epoch"] + 1 >= args.epochs_run:
                return "stop"
        return None

    result = run_search(config, out_dir=out, callback=callback)
    with open(out / "alpha_steps.jsonl", "w") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")
    print(json.dumps({"arch": result.arch, "benchmark": result.benchmark, "seconds": result.seconds}))


if __name__ == "__main__":
    main()
