"""Time forward + backward of the NAS-Bench-201 supernet, per-op loop vs. faster formulations.

    .venv/bin/python scripts/bench_nb201_supernet.py --threads 1 --rounds 5

Every formulation runs on the same supernet weights and the same batch; the script asserts
that its logits and gradients (alpha and one conv weight) match the benchmark's per-op loop
(``impl="loop"``) before it reports any time. Rounds are interleaved (loop, fused, ... ,
loop, fused, ...) so a burst of load from other processes hits every formulation alike;
each entry reports the best (min) and median wall time and CPU time of this process
(CPU time is less sensitive to other processes competing for the cores than wall time).
Ratios are loop time / formulation time, from the same run. Keep runs short on a shared CPU.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import time

import torch

from gibbsnas_lite.spaces.nb201.model_search import NB201SearchNetwork


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _loadavg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def _step(net: NB201SearchNetwork, x: torch.Tensor, target: torch.Tensor):
    net.zero_grad(set_to_none=True)
    t0, c0 = time.perf_counter(), time.process_time()
    logits = net(x)
    torch.nn.functional.cross_entropy(logits, target).backward()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    probe = net.cells[0].edges[3][3].conv.weight  # nor_conv_3x3 on edge 3<-0 of cell 0
    return wall, cpu, logits.detach().float(), net.alpha.grad.detach().clone(), probe.grad.detach().clone()


def _check_same(name: str, ref, got) -> dict:
    """Assert equal logits and gradients, up to float32 rounding.

    Errors are max |difference| / max |reference|. Logits must agree to 1e-4 (allclose with
    atol = 1e-4 * max|logit|), gradients to 5e-2: at initialization the alpha gradient is a
    small difference of sums over ~10^6 terms, and even the float32 loop is ~1e-2 (relative to
    max) away from a float64 run of itself (measured once at full size; see the doc). The
    formulations are exact in real arithmetic: tests/test_nb201_space.py checks them in float64.
    """
    errs = {}
    for label, a, b, tol in (
        ("logits", got[0], ref[0], 1e-4),
        ("grad alpha", got[1], ref[1], 5e-2),
        ("grad conv", got[2], ref[2], 5e-2),
    ):
        scale = b.abs().max().clamp_min(1e-12)
        if not torch.allclose(a, b, rtol=tol, atol=tol * scale.item()):
            raise AssertionError(
                f"{name}: {label} differs from the loop by {((a - b).abs().max() / scale).item():.3g} (relative to max)"
            )
        errs[label] = ((a - b).abs().max() / scale).item()
    return errs


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--size", type=int, default=32, help="image height = width")
    p.add_argument("--C", type=int, default=16)
    p.add_argument("--N", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3, help="timed rounds per formulation (after 1 warm-up)")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: leave as is)")
    p.add_argument("--channels-last", action="store_true", help="also time fused + channels_last")
    p.add_argument("--compile", action="store_true", help="also time torch.compile(fused) (slow to compile)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    base = NB201SearchNetwork(C=args.C, N=args.N, impl="loop")
    x = torch.randn(args.batch, 3, args.size, args.size)
    target = torch.randint(0, 10, (args.batch,))

    variants: dict[str, tuple[NB201SearchNetwork, torch.Tensor]] = {"loop": (base, x)}
    fused = copy.deepcopy(base)
    fused.impl = "fused"
    variants["fused"] = (fused, x)
    if args.channels_last:
        cl = copy.deepcopy(fused).to(memory_format=torch.channels_last)
        variants["fused+channels_last"] = (cl, x.contiguous(memory_format=torch.channels_last))
    if args.compile:
        comp = copy.deepcopy(fused)
        comp.forward = torch.compile(comp.forward)
        variants["fused+compile"] = (comp, x)

    print(
        f"torch {torch.__version__}, threads={torch.get_num_threads()}, cpu={_cpu_name()!r}, "
        f"os.cpu_count()={os.cpu_count()}"
    )
    print(
        f"supernet C={args.C} N={args.N}, batch {args.batch}x3x{args.size}x{args.size}, "
        f"{args.rounds} timed rounds + 1 warm-up, loadavg before: {_loadavg()}"
    )

    times = {name: [] for name in variants}
    ref = None
    for name, (net, inp) in variants.items():  # warm-up round, also the equality check
        t0 = time.perf_counter()
        _, _, *result = _step(net, inp, target)
        warm = time.perf_counter() - t0
        if ref is None:
            ref = result
            print(f"  {name:22s} warm-up {warm:6.2f}s (reference)")
        else:
            errs = _check_same(name, ref, result)
            print(
                f"  {name:22s} warm-up {warm:6.2f}s  same as loop: "
                + ", ".join(f"{k} {v:.1e}" for k, v in errs.items())
            )
    for _ in range(args.rounds):
        for name, (net, inp) in variants.items():
            wall, cpu, *_ = _step(net, inp, target)
            times[name].append((wall, cpu))

    print(f"loadavg after: {_loadavg()}")
    print(
        "\n| formulation | wall min (s) | wall median (s) | CPU min (s) | CPU median (s) "
        "| speed-up vs loop: wall min / wall median / CPU min |"
    )
    print("|---|---|---|---|---|---|")
    ref_w = [w for w, _ in times["loop"]]
    ref_c = [c for _, c in times["loop"]]
    for name, ts in times.items():
        walls, cpus = [w for w, _ in ts], [c for _, c in ts]
        print(
            f"| {name} | {min(walls):.2f} | {statistics.median(walls):.2f} | {min(cpus):.2f} | "
            f"{statistics.median(cpus):.2f} | {min(ref_w) / min(walls):.2f}x / "
            f"{statistics.median(ref_w) / statistics.median(walls):.2f}x / {min(ref_c) / min(cpus):.2f}x |"
        )


if __name__ == "__main__":
    main()
