"""Temperature sweep of GibbsNAS-2nd early in a NAS-Bench-201 search: does sampling matter at T?

    .venv/bin/python scripts/sweep_temperature.py --temperatures 1,10,100,1000,10000 --steps 160 \\
        --json runs/sweep/sweep.json
    # the same at the full protocol's size on a GPU (CIFAR-10, C=16, N=5, N = 25,000):
    python scripts/sweep_temperature.py --profile full --device cuda --steps 640 --temperatures 1,3,10,30

SPEC §1: the posterior is exp(-N U / T); the alpha draw of Eq. 16 has covariance (T/N) H, H the
BFGS inverse-Hessian estimate. With T = 1 and N = 25,000 the noise may be far below the
differences between the alphas of one edge, and then "sample" and "mean" are the same run.
This script measures it. For each T it runs GibbsNAS-2nd in sample mode (alpha at temperature
T; omega at ``--w-temperature``, default: the same T, as the search config does today), plus
one mean-mode run (Table 2's ablation), all from the same seed, supernet and batches, and
records at every alpha step:

* ``noise``: the alpha noise std that the softmax sees: sqrt of the diagonal of P C P^T, C =
  ``a_optimizer.covariance()`` (T/N H), P removing each edge's mean over its 5 ops (adding a
  constant to one edge's alphas changes nothing, and along those 6 directions the posterior is
  as wide as the prior, T/(N lambda)), averaged over the 30 entries; ``noise_raw`` without P;
* ``spread``: the spread of alpha across ops, the std over the 5 ops of each edge's alpha,
  averaged over the 6 edges (for the sample runs: of the drawn alpha; ``spread_mean_run`` is the
  mean run's at the same step);
* ``noise / spread``;
* ``dist``: the RMS over the 30 entries of alpha_T - alpha_mean (the mean run's alpha at the same
  step), how far the trajectory left the mean run's, to read next to the mean run's spread;
* the derived architecture (argmax per edge) and how many of the 6 edges differ from the
  mean run's, and how often the derived architecture changed along the run;
* the omega side: the train loss (mean of the last 20 steps vs the mean run's) and the omega
  noise std sqrt(T/N D) averaged over all weights, next to the mean |omega|.

Also printed: H's diagonal (T-free), so the T giving noise ~ spread can be read for any N
(noise = sqrt(T/N H_ii)). The default data size is the search half (``train_limit`` here);
``--data-size 25000`` mimics the full protocol's N on CIFAR-10.

Runs are sequential (one torch thread): the sweep of 5 temperatures at the default size
takes about 6 x steps x 2 s on a busy 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--temperatures", default="1,10,100,1000,10000")
    p.add_argument(
        "--w-temperature", default="same", help="omega's temperature: 'same' (as alpha, today's config) or a number"
    )
    p.add_argument("--steps", type=int, default=160, help="search steps per run")
    p.add_argument(
        "--profile",
        default="cpu",
        choices=("smoke", "cpu", "full"),
        help="preset the sizes below default to (default: cpu; full: CIFAR-10, C=16, N=5, on a GPU)",
    )
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--dataset", default=None, choices=("fashion-mnist", "synthetic", "cifar10"))
    p.add_argument("--data-root", default=None)
    p.add_argument("--channels", "-C", type=int, default=None)
    p.add_argument("--cells", "-N", type=int, default=None)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--train-limit", type=int, default=None)
    p.add_argument("--alpha-accum", type=int, default=None, help="default: the profile's (cpu: 4, full: 32)")
    p.add_argument("--epochs", type=int, default=None, help="epochs of the lr schedule (cpu profile: 6)")
    p.add_argument("--data-size", type=int, default=None, help="N of Eqs. 15-16 (default: search half size)")
    p.add_argument("--warmup-steps", type=int, default=None)
    p.add_argument("--ramp-steps", type=int, default=None)
    p.add_argument(
        "--scale-noise-with-lr",
        choices=("none", "omega", "both"),
        default="none",
        help="EXPERIMENT (not in the library): at each epoch scale a block's temperature by "
        "eta(2-eta) / (eta0(2-eta0)), eta its scheduled step factor, so that the chain's "
        "stationary spread (T/N) H / (eta(2-eta)) stays what it was at the start",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-mean", action="store_true", help="skip the mean-mode reference run")
    p.add_argument(
        "--mean-from",
        default=None,
        metavar="JSON",
        help="take the mean-mode reference run from an earlier sweep's --json (same sizes and seed)",
    )
    p.add_argument("--json", default=None)
    p.add_argument(
        "--merge",
        nargs="+",
        default=None,
        metavar="JSON",
        help="no runs: print one table of the sample runs in these --json files against the mean run of --mean-from",
    )
    return p.parse_args(argv)


def make_config(strategy: str, args, temperature: float):
    from gibbsnas_lite.search import make_config as mk

    overrides = dict(
        dataset=args.dataset,
        channels=args.channels,
        cells_per_stage=args.cells,
        batch_size=args.batch,
        image_size=args.image_size,
        train_limit=args.train_limit,
        epochs=args.epochs,
        seed=args.seed,
        device=args.device,
        temperature=temperature,
        alpha_accum=args.alpha_accum,
        data_size=args.data_size,
        data_root=args.data_root,
        warmup_steps=args.warmup_steps,
        ramp_steps=args.ramp_steps,
    )
    return mk(strategy, args.profile, **overrides)


def resolve_sizes(args) -> None:
    """Fill the size options left at None with the profile's values (so they are printed and saved)."""
    config = make_config("gibbs2", args, 1.0)
    for arg, field in (
        ("dataset", "dataset"),
        ("channels", "channels"),
        ("cells", "cells_per_stage"),
        ("batch", "batch_size"),
        ("image_size", "image_size"),
        ("train_limit", "train_limit"),
        ("alpha_accum", "alpha_accum"),
        ("epochs", "epochs"),
        ("warmup_steps", "warmup_steps"),
        ("ramp_steps", "ramp_steps"),
    ):
        if getattr(args, arg) is None:
            setattr(args, arg, getattr(config, field))


def centering(edges: int, ops: int) -> torch.Tensor:
    """P with (P a) = a minus its per-edge mean over ops: the directions the softmax sees."""
    block = torch.eye(ops, dtype=torch.float64) - 1.0 / ops
    return torch.block_diag(*[block] * edges)


def alpha_stats(strategy) -> dict:
    alpha = strategy.model.alpha.detach().double().cpu()  # 6 x 5 (NB201)
    cov = strategy.a_optimizer.covariance().detach().double().cpu()
    raw = cov.diagonal().clamp_min(0).sqrt().reshape(alpha.shape)
    P = centering(*alpha.shape)
    centered = (P @ cov @ P.T).diagonal().clamp_min(0).sqrt().reshape(alpha.shape)
    spread = alpha.std(dim=1, unbiased=False)  # std over ops, per edge
    return {
        "alpha": alpha,
        "noise": float(centered.mean()),
        "noise_raw": float(raw.mean()),
        "spread": float(spread.mean()),
    }


def omega_noise(strategy) -> tuple[float, float]:
    """(mean omega noise std sqrt(T/N D) over all weights, mean |omega|); (0, |omega|) for SGD."""
    opt = strategy.w_optimizer
    weights = list(strategy.model.weight_parameters())
    total = sum(p.numel() for p in weights)
    mag = sum(float(p.detach().abs().sum()) for p in weights) / total
    if not hasattr(opt, "variance"):
        return 0.0, mag
    std = sum(float(v.clamp_min(0).sqrt().sum()) for v in opt.variance()) / total
    return std, mag


def run_one(args, mode: str, temperature: float, w_temperature: float | None) -> dict:
    from gibbsnas_lite.nasbench import NB201Table  # noqa: F401 - fail early if the table is missing
    from gibbsnas_lite.search.checkpoint import seed_everything
    from gibbsnas_lite.search.data import build_search_data
    from gibbsnas_lite.search.loop import build_model, build_strategy

    strategy_name = "gibbs2" if mode == "sample" else "gibbs2-mean"
    config = make_config(strategy_name, args, temperature)
    seed_everything(config.seed)
    device = torch.device(args.device)
    data = build_search_data(config, device)
    model = build_model(config, data.num_classes, data.in_channels).to(device)
    strategy = build_strategy(config, model, data.steps_per_epoch, data.sizes)
    if w_temperature is not None:
        for group in strategy.w_optimizer.param_groups:
            group["temperature"] = float(w_temperature)
    n_alpha = strategy.a_optimizer.data_size
    records, losses = [], []
    step = 0
    t0 = time.perf_counter()
    epoch = 0
    while step < args.steps:
        for train_batch, valid_batch in data.epoch_batches(epoch):
            metrics = strategy.step(train_batch, valid_batch, epoch, step)
            losses.append(float(metrics["train_loss"]))
            step += 1
            if step % config.alpha_accum == 0:
                st = alpha_stats(strategy)
                w_std, w_mag = omega_noise(strategy)
                h_diag = strategy.a_optimizer.covariance().diagonal().double().cpu() * (
                    n_alpha / strategy.a_optimizer.param_groups[0]["temperature"]
                )
                records.append(
                    {
                        "step": step,
                        "alpha": st["alpha"].tolist(),
                        "noise": st["noise"],
                        "noise_raw": st["noise_raw"],
                        "spread": st["spread"],
                        "arch": strategy.derive(),
                        "h_diag_mean": float(h_diag.mean()),
                        "h_diag_median": float(h_diag.median()),
                        "w_noise_std": w_std,
                        "w_abs_mean": w_mag,
                        "valid_loss": float(metrics["valid_loss"]),
                    }
                )
            if step >= args.steps:
                break
        strategy.end_epoch(epoch)
        epoch += 1
        blocks = {"none": [], "omega": ["w_optimizer"], "both": ["w_optimizer", "a_optimizer"]}
        for attr in blocks[args.scale_noise_with_lr]:
            opt = getattr(strategy, attr)
            for group in opt.param_groups:
                group.setdefault("_t0", group["temperature"])
                eta, eta0 = group["lr"], group.setdefault("_eta0", group["initial_lr"])
                group["temperature"] = group["_t0"] * eta * (2 - eta) / (eta0 * (2 - eta0))
    return {
        "mode": mode,
        "temperature": temperature,
        "config": config.to_dict(),
        "scale_noise_with_lr": args.scale_noise_with_lr,
        "epoch_train_loss": [
            sum(losses[i : i + data.steps_per_epoch]) / len(losses[i : i + data.steps_per_epoch])
            for i in range(0, len(losses), data.steps_per_epoch)
        ],
        "w_temperature": strategy.w_optimizer.param_groups[0]["temperature"],
        "data_size_alpha": n_alpha,
        "data_size_omega": getattr(strategy.w_optimizer, "data_size", None),
        "alpha_accum": config.alpha_accum,
        "seconds": time.perf_counter() - t0,
        "train_loss": losses,
        "records": records,
        "final_arch": strategy.derive(),
        "pairs": {  # device tensors (the sampler counts without a host sync)
            k: int(strategy.a_optimizer._state().get(k, 0)) for k in ("pairs_updated", "pairs_damped", "pairs_skipped")
        },
    }


def edges_differ(a: str, b: str) -> int:
    from gibbsnas_lite.spaces.nb201.arch import parse_arch

    return sum(x != y for x, y in zip(parse_arch(a), parse_arch(b)))


def arch_changes(records) -> int:
    archs = [r["arch"] for r in records]
    return sum(x != y for x, y in zip(archs, archs[1:]))


def temperature_run_summary(run: dict, mean_run: dict | None, early_frac: float = 0.25) -> dict:
    recs = run["records"]
    k_early = max(0, int(len(recs) * early_frac) - 1)
    early, last = recs[k_early], recs[-1]
    out = {
        "T": run["temperature"],
        "T_w": run["w_temperature"],
        "mode": run["mode"],
        "early_step": early["step"],
        "noise_early": early["noise"],
        "spread_early": early["spread"],
        "noise_raw_early": early.get("noise_raw"),
        "noise_raw_end": last.get("noise_raw"),
        "ratio_early": early["noise"] / max(early["spread"], 1e-12),
        "noise_end": last["noise"],
        "spread_end": last["spread"],
        "ratio_end": last["noise"] / max(last["spread"], 1e-12),
        "h_diag_mean_early": early["h_diag_mean"],
        "h_diag_mean_end": last["h_diag_mean"],
        "train_loss_last20": statistics.fmean(run["train_loss"][-20:]),
        "w_noise_std_end": last["w_noise_std"],
        "w_abs_mean_end": last["w_abs_mean"],
        "final_arch": run["final_arch"],
        "arch_changes": arch_changes(recs),
        "seconds": run["seconds"],
    }
    if mean_run is not None:
        mrecs = mean_run["records"]
        am_e, am_l = torch.tensor(mrecs[k_early]["alpha"]), torch.tensor(mrecs[-1]["alpha"])
        out["spread_mean_run_early"] = mrecs[k_early]["spread"]
        out["dist_early"] = float((torch.tensor(early["alpha"]) - am_e).square().mean().sqrt())
        out["dist_end"] = float((torch.tensor(last["alpha"]) - am_l).square().mean().sqrt())
        out["spread_mean_run_end"] = mrecs[-1]["spread"]
        out["edges_differ_end"] = edges_differ(run["final_arch"], mean_run["final_arch"])
        out["train_loss_last20_mean_run"] = statistics.fmean(mean_run["train_loss"][-20:])
    return out


def print_table(rows: list[dict], args) -> None:
    print(
        f"# sweep_temperature: NB201 C={args.channels} N={args.cells} on {args.dataset} "
        f"{args.image_size}x{args.image_size}, batch {args.batch}, train_limit {args.train_limit}, "
        f"{args.steps} steps, seed {args.seed}"
    )
    head = (
        f"{'T':>7} {'T_w':>7} {'warmup':>7} {'noise@e':>8} {'spread@e':>8} {'n/s@e':>7} {'n/s@end':>8} "
        f"{'dist@e':>7} {'dist@end':>8} {'sprd@end':>8} {'edges!=':>7} {'changes':>7} {'loss20':>7} "
        f"{'w std':>8} {'|w|':>6}  final arch"
    )
    print(head)
    for r in rows:

        def f(key, fmt, r=r):
            return format(r[key], fmt) if key in r else "-"

        sample = r["mode"] == "sample"
        print(
            f"{r['T'] if sample else 'mean':>7} {r['T_w'] if sample else '-':>7} {r.get('warmup', '-'):>7} "
            f"{f('noise_early', '8.4f')} {f('spread_early', '8.4f')} {f('ratio_early', '7.3f')} "
            f"{f('ratio_end', '8.3f')} {f('dist_early', '7.4f')} {f('dist_end', '8.4f')} {f('spread_end', '8.4f')} "
            f"{f('edges_differ_end', '7d')} {r['arch_changes']:7d} {r['train_loss_last20']:7.3f} "
            f"{r['w_noise_std_end']:8.5f} {r['w_abs_mean_end']:6.3f}  {r['final_arch']}"
        )


def merge(args) -> int:
    if not args.mean_from:
        raise SystemExit("--merge needs --mean-from JSON (the run every row is compared with)")
    base = json.loads(Path(args.mean_from).read_text())
    mean_run = base["mean_run"]
    rows = [temperature_run_summary(mean_run, mean_run)]
    for path in args.merge:
        saved = json.loads(Path(path).read_text())
        for run in saved["runs"]:
            row = temperature_run_summary(run, mean_run)
            cfg = run.get("config", {})
            row["warmup"] = f"{cfg.get('warmup_steps', 0)}+{cfg.get('ramp_steps', 0)}"
            rows.append(row)
    for k in ("dataset", "channels", "cells", "batch", "image_size", "train_limit", "steps", "seed"):
        setattr(args, k, base["args"][k])
    print_table(rows, args)
    print(f"# code: {base.get('code')}")
    for path in args.merge:
        print(f"# {path}: code {json.loads(Path(path).read_text()).get('code')}")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.merge:
        return merge(args)
    torch.set_num_threads(max(1, args.threads))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_search import code_fingerprint

    code = code_fingerprint()
    print(f"# code: {code}", flush=True)
    resolve_sizes(args)
    temperatures = [float(t) for t in args.temperatures.split(",") if t.strip()]
    runs = []
    mean_run = None
    if args.mean_from:
        saved = json.loads(Path(args.mean_from).read_text())
        keys = (
            "dataset",
            "channels",
            "cells",
            "batch",
            "image_size",
            "train_limit",
            "alpha_accum",
            "epochs",
            "data_size",
            "warmup_steps",
            "ramp_steps",
            "seed",
            "steps",
        )
        differ = [k for k in keys if saved["args"].get(k) != getattr(args, k)]
        if differ or saved.get("mean_run") is None:
            raise SystemExit(f"--mean-from {args.mean_from}: no mean run, or other settings ({', '.join(differ)})")
        mean_run = saved["mean_run"]
        if saved.get("code") != code:
            print(f"# note: --mean-from ran with code {saved.get('code')}", flush=True)
    elif not args.no_mean:
        mean_run = run_one(args, "mean", 1.0, None)
        print(f"mean run done in {mean_run['seconds']:.0f}s: {mean_run['final_arch']}", flush=True)
    for t in temperatures:
        w_t = None if args.w_temperature == "same" else float(args.w_temperature)
        run = run_one(args, "sample", t, w_t)
        runs.append(run)
        bad = [x for x in run["train_loss"] if not math.isfinite(x)]
        print(
            f"T={t:g} done in {run['seconds']:.0f}s: {run['final_arch']}{' NON-FINITE LOSS' if bad else ''}", flush=True
        )
    rows = ([temperature_run_summary(mean_run, mean_run)] if mean_run else []) + [
        temperature_run_summary(r, mean_run) for r in runs
    ]
    h = (mean_run or runs[0])["records"]
    k = max(0, int(len(h) * 0.25) - 1)
    print_table(rows, args)
    n = (mean_run or runs[0])["data_size_alpha"]
    ref = mean_run or runs[0]
    t_ref = 1.0 if ref["mode"] == "mean" else ref["temperature"]
    rows_t = []
    for rec in (h[k], h[-1]):
        # noise(T) = noise(T_ref) * sqrt(T / T_ref) at the same H: noise = spread at this T
        t_match = t_ref * (rec["spread"] / max(rec["noise"], 1e-30)) ** 2
        rows_t.append(t_match)
        print(
            f"# reference run ({ref['mode']}) at step {rec['step']}: centered alpha noise at T={t_ref:g} "
            f"{rec['noise']:.4g}, alpha spread {rec['spread']:.4g}, mean H_ii {rec['h_diag_mean']:.4g}: "
            f"noise = spread at T = {t_match:.3g} for N = {n:g} (T/N = {t_match / n:.3g})"
        )
    t_match = rows_t[0]
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(
                {
                    "args": vars(args),
                    "code": code,
                    "rows": rows,
                    "runs": runs,
                    "mean_run": mean_run,
                    "t_match": t_match,
                    "n_alpha": n,
                },
                fh,
                default=float,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
