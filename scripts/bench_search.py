"""Per-step wall time and peak memory of the search strategies, on one supernet and the same batches.

    .venv/bin/python scripts/bench_search.py --channels 8 --cells 1 --batch 64 --steps 32 --warmup 4
    .venv/bin/python scripts/bench_search.py --device cuda --channels 16 --cells 5 --steps 200 --amp
    .venv/bin/python scripts/bench_search.py -C 16 -N 5 --batch 2 --steps 0 --count   # launches only

What it measures (all in one run, so the ratios are fair on a shared machine):

* **Time.** Every strategy gets its own copy of one seeded NB201 supernet and its own
  optimizers (``gibbsnas_lite.search.loop.build_strategy``, the search's own code), and all
  of them step on the same pre-generated batches (CIFAR-shaped Gaussian images on the device).
  Steps are interleaved round-robin (rotating the order each round), so a burst of load from
  other processes hits every strategy alike. The first ``--warmup`` rounds are not counted.
  Reported per strategy: median and mean wall time per step (CUDA synchronized), and the
  ratio of each to DARTS-V1's. GibbsNAS moves alpha only every ``alpha_accum`` steps
  (paper: alpha batch 2048 = 32 x 64), so its median hides the BFGS step; the mean over a
  whole number of ``alpha_accum`` cycles (``--steps`` is rounded up to one) includes it. The
  ratio that matters for GPU-days is the mean's.
* **Where the time goes** (``--breakdown``): a second, shorter pass with timers (and CUDA syncs)
  around the omega optimizer/sampler step and the alpha optimizer/sampler step.
* **Launches and syncs** (``--count``, also with ``--breakdown``): the non-view aten ops (about
  one kernel launch each on a GPU) and the host syncs (``aten::_local_scalar_dense``:
  ``.item()``, ``float(t)``, ``bool(t)``; and ``Tensor.tolist``/``numpy``) per step over a whole
  cycle of each strategy (GibbsNAS: lcm(alpha_accum, curvature_every) steps), and inside its
  last omega and alpha optimizer steps; as run here and with torch.optim's foreach path (as on
  CUDA); ratios to DARTS-V1. On a CPU the sampler's cost is hidden by slow convolutions; on a
  GPU every launch and every sync costs microseconds, so these counts predict the GPU overhead.
* **Variants**: ``gibbs2+cl`` (model and batches in ``torch.channels_last``), ``gibbs2+compile``
  (``model.compile()``; the first steps compile: see the ``first`` column), each with a check of
  its gradients against the same weights run eagerly in float32 and in float64.
* **Memory** (``--memory``): each strategy in a fresh subprocess; CPU: the peak RSS reached
  during the steps (the kernel's ``VmHWM``, reset through ``/proc/self/clear_refs`` just before
  the first step; falls back to ``ru_maxrss``) minus the RSS just before the first step
  (interpreter, torch, model and batches already there), with ``MALLOC_MMAP_THRESHOLD_=65536`` so
  that freed tensors leave the RSS (``--default-malloc``: glibc's default, fragmentation
  included); CUDA: ``torch.cuda.max_memory_allocated`` minus the allocation
  before the first step. The subprocess steps alpha at every step (``alpha_accum=1``) so the
  alpha step's memory is in the peak. Also reported: the bytes the optimizer state holds.

Absolute CPU timings on a machine shared with other work are noisy: read the ratios.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from typing import Any

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the package from the tree

DEFAULT_STRATEGIES = "gibbs2,gibbs1,darts-v1,darts-v2,gdas"
REFERENCE = "darts-v1"


# ----------------------------------------------------------------------------- setup
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--strategies",
        default=DEFAULT_STRATEGIES,
        help="semicolon- or comma-separated strategies, each optionally with config overrides after "
        "a colon, e.g. 'gibbs2;gibbs2:curvature_every=8;darts-v1' (default: %(default)s)",
    )
    p.add_argument("--channels", "-C", type=int, default=8, help="supernet width C (paper: 16)")
    p.add_argument("--cells", "-N", type=int, default=1, help="cells per stage N (paper: 5)")
    p.add_argument("--batch", type=int, default=64, help="batch size (paper: 64)")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--in-channels", type=int, default=3)
    p.add_argument(
        "--steps",
        type=int,
        default=32,
        help="timed rounds (rounded up to whole cycles of alpha and omega-pair steps; 0: no timing)",
    )
    p.add_argument("--warmup", type=int, default=4, help="untimed rounds first")
    p.add_argument("--alpha-accum", type=int, default=32, help="GibbsNAS alpha accumulation (paper: 2048/64 = 32)")
    p.add_argument("--data-size", type=int, default=25000, help="N of each search half (NB201 CIFAR-10: 25000)")
    p.add_argument("--temperature", type=float, default=None, help="GibbsNAS T (default: the config's)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--amp", action="store_true", help="bf16 autocast (CUDA only; the config's amp=True)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads on CPU (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batches", type=int, default=4, help="distinct pre-generated batches cycled through")
    p.add_argument("--breakdown", action="store_true", help="time and count ops inside the optimizer steps")
    p.add_argument(
        "--breakdown-steps", type=int, default=0, help="rounds of the breakdown pass (default: one alpha_accum cycle)"
    )
    p.add_argument(
        "--count",
        action="store_true",
        help="count ops (kernel launches) and host syncs per step over a whole cycle (also with --breakdown)",
    )
    p.add_argument("--memory", action="store_true", help="peak memory per strategy (one subprocess each)")
    p.add_argument("--memory-steps", type=int, default=3)
    p.add_argument(
        "--memory-strategies",
        default=None,
        help="';'-separated subset of --strategies for --memory (default: all of them)",
    )
    p.add_argument(
        "--default-malloc",
        action="store_true",
        help="CPU memory: keep glibc's default heap (RSS then includes fragmentation)",
    )
    p.add_argument("--json", default=None, help="write all numbers to this JSON file")
    p.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    sep = ";" if ";" in args.strategies else ","
    args.strategies = [s.strip() for s in args.strategies.split(sep) if s.strip()]
    if args.amp and args.device != "cuda":
        print("note: --amp only acts on CUDA (bf16 autocast); ignored on CPU", file=sys.stderr)
    return args


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def split_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"gibbs2:curvature_every=8,history_size=3"`` -> ("gibbs2", {"curvature_every": 8, "history_size": 3}).

    The settings are read as ``search --set`` reads them (``gibbsnas_lite.runs.parse_settings``)."""
    from gibbsnas_lite.runs import parse_settings

    name, _, rest = spec.partition(":")
    return name, parse_settings(filter(None, rest.split(",")), flag="--strategies")


VARIANTS = ("cl", "compile")  # "gibbs2+cl": channels_last model and batches; "+compile": torch.compile


def split_variants(spec: str) -> tuple[str, set[str]]:
    """``"gibbs2+cl:curvature_every=8"`` -> ("gibbs2:curvature_every=8", {"cl"})."""
    name, colon, rest = spec.partition(":")
    base, *flags = name.split("+")
    unknown = set(flags) - set(VARIANTS)
    if unknown:
        raise SystemExit(f"bench_search: unknown variant(s) {sorted(unknown)} in {spec!r}; known: {VARIANTS}")
    return base + colon + rest, set(flags)


def make_config(spec: str, args):
    from gibbsnas_lite.search import make_config as mk

    strategy, extra = split_spec(split_variants(spec)[0])
    overrides: dict[str, Any] = dict(
        dataset="synthetic",
        channels=args.channels,
        cells_per_stage=args.cells,
        batch_size=args.batch,
        image_size=args.image_size,
        device=args.device,
        seed=args.seed,
        amp=bool(args.amp),
    )
    from gibbsnas_lite.search.registry import in_family

    if in_family(strategy, "gibbs"):
        overrides["alpha_accum"] = args.alpha_accum
        if args.temperature is not None:
            overrides["temperature"] = args.temperature
    overrides.update(extra)
    return mk(strategy, "full", **overrides)


def make_batches(args, device: torch.device):
    g = torch.Generator().manual_seed(args.seed + 101)
    shape = (args.batch, args.in_channels, args.image_size, args.image_size)
    out = []
    for _ in range(max(1, args.batches)):
        pair = []
        for _ in range(2):  # (search-train batch, search-valid batch)
            x = torch.randn(shape, generator=g).to(device)
            y = torch.randint(0, 10, (args.batch,), generator=g).to(device)
            pair.append((x, y))
        out.append(tuple(pair))
    return out


def channels_last_batches(batches):
    return [tuple((x.contiguous(memory_format=torch.channels_last), y) for x, y in pair) for pair in batches]


def build_all(args, device: torch.device):
    """One seeded supernet, deep-copied per strategy; each strategy with its own optimizers.

    Variants: ``+cl`` puts the model (and, in the timing, the batches) in ``torch.channels_last``;
    ``+compile`` wraps the model in ``torch.compile`` (its first steps compile).
    """
    from gibbsnas_lite.search.loop import build_model, build_strategy

    torch.manual_seed(args.seed)
    base = build_model(make_config(REFERENCE, args), 10, args.in_channels)
    strategies = {}
    for name in args.strategies:
        config = make_config(name, args)
        flags = split_variants(name)[1]
        model = copy.deepcopy(base).to(device)
        if "cl" in flags:
            model = model.to(memory_format=torch.channels_last)
        strategy = build_strategy(config, model, steps_per_epoch=10_000, sizes=(args.data_size, args.data_size))
        if "compile" in flags:
            model.compile()
        strategy.fixed_valid_batch = None
        strategy.channels_last = "cl" in flags
        strategies[name] = strategy
    return strategies


def batches_for(strategy, batches, cl_batches):
    return cl_batches if getattr(strategy, "channels_last", False) else batches


def rounds_for(args, strategies: dict) -> int:
    """``--steps`` rounded up to whole cycles of every strategy (so the mean includes the alpha steps)."""
    cycle = math.lcm(*(cycle_length(s) for s in strategies.values()))
    return -(-args.steps // cycle) * cycle


def code_fingerprint() -> dict[str, str]:
    """git HEAD and a hash of the search and sampler sources as they were run (the tree may hold
    uncommitted work of other engineers: the hash tells which version a number belongs to)."""
    import hashlib

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    digest = hashlib.sha256()
    for sub in ("gibbsnas_lite/search", "gibbsnas_lite/samplers"):
        folder = os.path.join(root, sub)
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            if name.endswith(".py"):
                with open(os.path.join(folder, name), "rb") as fh:
                    digest.update(name.encode() + fh.read())
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "gibbsnas_lite/search", "gibbsnas_lite/samplers"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head, dirty = "unknown", ""
    return {"git": head + ("+uncommitted" if dirty else ""), "search_samplers_sha256": digest.hexdigest()[:12]}


def env_info(args) -> dict[str, Any]:
    info = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": args.device,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
    }
    try:
        info["loadavg"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        pass
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    if args.device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
    info.update(code_fingerprint())
    return info


# ----------------------------------------------------------------------------- timing
def time_steps(strategies: dict, batches, cl_batches, rounds: int, warmup: int, device: torch.device):
    """Round-robin: per round, every strategy does one step (order rotated each round).

    Returns wall times, process CPU times (on a shared CPU with one torch thread the CPU time
    is not inflated by waiting for a core, so its ratios are the steadier ones), losses, and
    the wall times of the warm-up rounds (a compiled model compiles in its first steps).
    """
    names = list(strategies)
    times: dict[str, list[float]] = {n: [] for n in names}
    cpu_times: dict[str, list[float]] = {n: [] for n in names}
    losses: dict[str, list[float]] = {n: [] for n in names}
    warmup_times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(warmup + rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            train, valid = batches_for(strategies[name], batches, cl_batches)[r % len(batches)]
            sync(device)
            t0, c0 = time.perf_counter(), time.process_time()
            metrics = strategies[name].step(train, valid, epoch=0, step=r)
            sync(device)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            if r >= warmup:
                times[name].append(dt)
                cpu_times[name].append(dc)
                losses[name].append(float(metrics["train_loss"]))
            else:
                warmup_times[name].append(dt)
    return times, cpu_times, losses, warmup_times


def step_time_summary(
    times: dict[str, list[float]], cpu_times: dict[str, list[float]], images_per_step: int
) -> dict[str, dict[str, float]]:
    out = {}
    ref, ref_cpu = times.get(REFERENCE), cpu_times.get(REFERENCE)
    for name, ts in times.items():
        cs = cpu_times[name]
        med, mean = statistics.median(ts), statistics.fmean(ts)
        out[name] = {
            "median_s": med,
            "mean_s": mean,
            "min_s": min(ts),
            "steps": len(ts),
            "cpu_median_s": statistics.median(cs),
            "cpu_mean_s": statistics.fmean(cs),
            "images_per_s": images_per_step / mean,
        }
        if ref:
            out[name]["ratio_median"] = med / statistics.median(ref)
            out[name]["ratio_mean"] = mean / statistics.fmean(ref)
            out[name]["cpu_ratio_median"] = out[name]["cpu_median_s"] / statistics.median(ref_cpu)
            out[name]["cpu_ratio_mean"] = out[name]["cpu_mean_s"] / statistics.fmean(ref_cpu)
    return out


# ----------------------------------------------------------------------------- breakdown
class _OpCounter:
    """Counts non-view aten ops (about one kernel launch each on a GPU) and host syncs while active.

    Syncs: ``aten::_local_scalar_dense`` (``.item()``, ``float(t)``, ``bool(t)``) and calls of
    ``Tensor.tolist``/``Tensor.numpy`` (on CUDA one device-to-host copy each; on a CPU tensor they
    read memory without an aten op, so they are counted here by wrapping them).
    """

    def __init__(self):
        from torch.utils._python_dispatch import TorchDispatchMode

        counter = self

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                if not getattr(func, "is_view", False):  # views launch no kernel
                    counter.ops += 1
                if func.overloadpacket.__name__ == "_local_scalar_dense":
                    counter.syncs += 1
                return func(*args, **(kwargs or {}))

        self.mode_cls = Mode
        self.ops = self.syncs = 0

    @contextmanager
    def active(self):
        self.ops = self.syncs = 0
        originals = {name: getattr(torch.Tensor, name) for name in ("tolist", "numpy")}

        def counted(original):
            def fetch(tensor, *a, **k):
                self.syncs += 1
                return original(tensor, *a, **k)

            return fetch

        for name, original in originals.items():
            setattr(torch.Tensor, name, counted(original))
        try:
            with self.mode_cls():
                yield self
        finally:
            for name, original in originals.items():
                setattr(torch.Tensor, name, original)


def _wrap_timed(obj, attr: str, sink: list, device: torch.device, counter_sink: list | None = None):
    original = getattr(obj, attr)

    def timed(*a, **k):
        sync(device)
        t0 = time.perf_counter()
        result = original(*a, **k)
        sync(device)
        sink.append(time.perf_counter() - t0)
        return result

    def counted(*a, **k):
        counter = _OpCounter()
        with counter.active():
            result = original(*a, **k)
        counter_sink.append((counter.ops, counter.syncs))
        return result

    setattr(obj, attr, counted if counter_sink is not None else timed)
    return original


def breakdown(strategies: dict, batches, cl_batches, rounds: int, device: torch.device, offset: int) -> dict[str, Any]:
    """Optimizer-step times (synchronized) per strategy."""
    out: dict[str, Any] = {}
    names = list(strategies)
    sinks = {n: {"w": [], "a": [], "step": []} for n in names}
    originals = []
    for n in names:
        s = strategies[n]
        originals.append((s.w_optimizer, "step", _wrap_timed(s.w_optimizer, "step", sinks[n]["w"], device)))
        if hasattr(s, "a_optimizer"):
            originals.append((s.a_optimizer, "step", _wrap_timed(s.a_optimizer, "step", sinks[n]["a"], device)))
    try:
        for r in range(rounds):
            shift = r % len(names)
            for n in names[shift:] + names[:shift]:
                train, valid = batches_for(strategies[n], batches, cl_batches)[(offset + r) % len(batches)]
                sync(device)
                t0 = time.perf_counter()
                strategies[n].step(train, valid, epoch=0, step=offset + r)
                sync(device)
                sinks[n]["step"].append(time.perf_counter() - t0)
    finally:
        for obj, attr, original in originals:
            setattr(obj, attr, original)
    for n in names:
        step_total = sum(sinks[n]["step"])
        w_total, a_total = sum(sinks[n]["w"]), sum(sinks[n]["a"])
        out[n] = {
            "rounds": rounds,
            "w_step_mean_s": w_total / max(1, len(sinks[n]["w"])),
            "a_step_calls": len(sinks[n]["a"]),
            "a_step_mean_s": a_total / max(1, len(sinks[n]["a"])),
            "w_share_of_step": w_total / step_total if step_total else 0.0,
            "a_share_of_step": a_total / step_total if step_total else 0.0,
        }
    return out


@contextmanager
def foreach_optimizers(strategy, enabled: bool):
    """``foreach=True`` in the torch.optim optimizers' groups (SGD, Adam), as they run on CUDA;
    on a CPU tensor torch.optim loops over the tensors (about 5 ops each for SGD)."""
    groups = (
        []
        if not enabled
        else [
            g
            for name in ("w_optimizer", "a_optimizer")
            if type(getattr(strategy, name, None)).__module__.startswith("torch.optim")
            for g in getattr(strategy, name).param_groups
            if "foreach" in g
        ]
    )
    saved = [g["foreach"] for g in groups]
    for g in groups:
        g["foreach"] = True
    try:
        yield
    finally:
        for g, value in zip(groups, saved):
            g["foreach"] = value


def cycle_length(strategy) -> int:
    """Steps after which a strategy's step pattern repeats: the alpha cycle (GibbsNAS: alpha moves
    every alpha_accum steps, the omega curvature pair every curvature_every steps)."""
    from gibbsnas_lite.search.registry import in_family

    if not in_family(strategy.config.strategy, "gibbs"):
        return 1
    return math.lcm(int(strategy.config.alpha_accum), int(strategy.config.curvature_every))


def count_cycle(strategy, batches, start: int = 10_000, as_cuda: bool = False, steps: int | None = None) -> dict:
    """Non-view aten ops (~ GPU kernel launches) and host syncs per step over one whole cycle,
    and those of the last omega and alpha optimizer steps; ``as_cuda``: torch.optim with foreach.

    ``start`` is a multiple of every cycle length, so the cycle holds each kind of step in its
    proportion (at the full profile: 32 steps, 4 with the omega pair, 1 with the alpha move).
    """
    device = next(strategy.model.parameters()).device
    counts: dict[str, list] = {"w": [], "a": []}
    saved = [(strategy.w_optimizer, "step", _wrap_timed(strategy.w_optimizer, "step", None, device, counts["w"]))]
    if hasattr(strategy, "a_optimizer"):
        saved.append(
            (strategy.a_optimizer, "step", _wrap_timed(strategy.a_optimizer, "step", None, device, counts["a"]))
        )
    steps = steps or cycle_length(strategy)
    per_step, passes = [], []
    forwards = [0]
    hook = strategy.model.register_forward_pre_hook(lambda *_: forwards.__setitem__(0, forwards[0] + 1))
    try:
        with foreach_optimizers(strategy, as_cuda):
            for k in range(steps):
                train, valid = batches[k % len(batches)]
                counter = _OpCounter()
                forwards[0] = 0
                with counter.active():
                    strategy.step(train, valid, epoch=0, step=start + k)
                per_step.append((counter.ops, counter.syncs))
                passes.append(forwards[0])
    finally:
        hook.remove()
        for obj, attr, original in saved:
            setattr(obj, attr, original)
    ops, syncs = [o for o, _ in per_step], [c for _, c in per_step]
    out = {
        "steps": steps,
        "as_cuda": as_cuda,
        "forwards_per_step_mean": statistics.fmean(passes),
        "forwards_per_step_max": max(passes),
        "ops_per_step_mean": statistics.fmean(ops),
        "ops_per_step_min": min(ops),
        "ops_per_step_max": max(ops),
        "syncs_per_step_mean": statistics.fmean(syncs),
        "syncs_per_step_min": min(syncs),
        "syncs_per_step_max": max(syncs),
    }
    if counts["w"]:
        out["w_step_ops"], out["w_step_syncs"] = counts["w"][-1]
    if counts["a"]:
        out["a_step_ops"], out["a_step_syncs"] = counts["a"][-1]
    return out


def count_all(strategies: dict, batches, cl_batches) -> dict[str, Any]:
    """count_cycle for every strategy, as run on this device and with torch.optim's foreach (as on
    CUDA); ratios of the mean ops and syncs per step to DARTS-V1's."""
    out: dict[str, Any] = {}
    on_cuda = next(iter(strategies.values())).device.type == "cuda"
    for as_cuda in (False,) if on_cuda else (False, True):  # on CUDA, as run is as on CUDA
        key = "as_cuda" if as_cuda else "as_run"
        for name, strategy in strategies.items():
            out.setdefault(name, {})[key] = count_cycle(
                strategy, batches_for(strategy, batches, cl_batches), as_cuda=as_cuda
            )
            if on_cuda:
                out[name]["as_cuda"] = out[name]["as_run"]
    for name in out:
        for key in ("as_run", "as_cuda"):
            ref = out.get(REFERENCE, {}).get(key)
            if ref:
                row = out[name][key]
                row["ops_ratio"] = row["ops_per_step_mean"] / ref["ops_per_step_mean"]
                row["syncs_ratio"] = row["syncs_per_step_mean"] / max(ref["syncs_per_step_mean"], 1e-9)
    return out


# ----------------------------------------------------------------------------- memory
def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of this process (Linux >= 4.0); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak_rss_bytes(reset_worked: bool) -> int:
    """VmHWM (peak since the reset) if the reset worked, else the lifetime ru_maxrss."""
    if reset_worked:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _state_bytes(optimizer) -> int:
    total = 0
    for state in optimizer.state.values():
        for value in state.values():
            if torch.is_tensor(value):
                total += value.numel() * value.element_size()
    return total


def memory_child(args) -> dict[str, Any]:
    """Run in a fresh process: memory of one strategy over a few steps (alpha every step)."""
    device = torch.device(args.device)
    args.alpha_accum = 1
    name = args.memory_child
    args.strategies = [name]
    batches = make_batches(args, device)
    strategy = build_all(args, device)[name]
    sync(device)
    out: dict[str, Any] = {"strategy": name}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
    else:
        out["peak_rss_before_steps_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        reset_worked = _reset_peak_rss()
        before = _rss_bytes()
    batches = batches_for(strategy, batches, channels_last_batches(batches))
    for k in range(max(1, args.memory_steps)):
        train, valid = batches[k % len(batches)]
        strategy.step(train, valid, epoch=0, step=k)
    sync(device)
    if device.type == "cuda":
        out["peak_bytes"] = torch.cuda.max_memory_allocated(device)
        out["baseline_bytes"] = before
        out["kind"] = "cuda max_memory_allocated"
    else:
        out["peak_bytes"] = _peak_rss_bytes(reset_worked)
        out["baseline_bytes"] = before
        out["kind"] = (
            "peak RSS during the steps (VmHWM after a reset)"
            if reset_worked
            else "lifetime peak RSS (ru_maxrss; the reset of VmHWM failed)"
        )
    out["delta_bytes"] = max(0, out["peak_bytes"] - before)
    optimizer_state = _state_bytes(strategy.w_optimizer)
    if hasattr(strategy, "a_optimizer"):
        optimizer_state += _state_bytes(strategy.a_optimizer)
    out["optimizer_state_bytes"] = optimizer_state
    out["weight_bytes"] = sum(p.numel() * p.element_size() for p in strategy.model.weight_parameters())
    return out


def measure_memory(args) -> dict[str, Any]:
    results = {}
    script = os.path.abspath(__file__)
    names = (
        args.strategies
        if not args.memory_strategies
        else [n for n in args.memory_strategies.replace(",", ";").split(";") if n.strip()]
    )
    for name in names:
        cmd = [
            sys.executable,
            script,
            "--memory-child",
            name,
            "--channels",
            str(args.channels),
            "--cells",
            str(args.cells),
            "--batch",
            str(args.batch),
            "--image-size",
            str(args.image_size),
            "--in-channels",
            str(args.in_channels),
            "--device",
            args.device,
            "--threads",
            str(args.threads),
            "--seed",
            str(args.seed),
            "--data-size",
            str(args.data_size),
            "--memory-steps",
            str(args.memory_steps),
            "--batches",
            "2",
        ]
        if args.amp:
            cmd.append("--amp")
        if args.temperature is not None:
            cmd += ["--temperature", str(args.temperature)]
        env = dict(os.environ)
        if args.device == "cpu" and not args.default_malloc:
            # every allocation >= 64 KiB gets its own mmap and is returned to the OS when freed, so
            # the peak RSS follows the peak of live tensors instead of glibc's heap fragmentation
            env.setdefault("MALLOC_MMAP_THRESHOLD_", "65536")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"memory subprocess for {name} failed:\n{proc.stderr[-3000:]}")
        results[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    return results


# ----------------------------------------------------------------------------- report
def mib(n: float) -> str:
    return f"{n / 2**20:.1f}"


def print_report(result: dict[str, Any]) -> None:
    a = result["args"]
    print(
        f"# bench_search: NB201 supernet C={a['channels']} N={a['cells']} batch {a['batch']} "
        f"{a['in_channels']}x{a['image_size']}x{a['image_size']} on {a['device']}"
        f"{' (bf16 autocast)' if a['amp'] else ''}; alpha_accum {a['alpha_accum']}; "
        f"{result['rounds']} timed rounds after {a['warmup']} warm-up rounds"
    )
    print("# env: " + ", ".join(f"{k} {v}" for k, v in result["env"].items()))
    nan = float("nan")
    width = max(12, *(len(n) for n in result["args"]["strategies"]))
    if "time" in result:
        print(
            "# wall = wall-clock per step (the GPU number); cpu = process CPU time per step (on a shared CPU, "
            "the steadier one); x v1 = ratio to darts-v1; first = wall time of the first (warm-up) step"
        )
        print(
            f"{'strategy':<{width}} {'wall med':>9} {'wall mean':>9} {'x v1 med':>8} {'x v1 mean':>9} "
            f"{'cpu med':>8} {'cpu mean':>8} {'x v1 med':>8} {'x v1 mean':>9} {'img/s':>7} {'first':>8}"
        )
        for name, r in result["time"].items():
            first = (result.get("warmup_times", {}).get(name) or [nan])[0]
            print(
                f"{name:<{width}} {r['median_s']:9.4f} {r['mean_s']:9.4f} {r.get('ratio_median', nan):8.3f} "
                f"{r.get('ratio_mean', nan):9.3f} {r['cpu_median_s']:8.4f} {r['cpu_mean_s']:8.4f} "
                f"{r.get('cpu_ratio_median', nan):8.3f} {r.get('cpu_ratio_mean', nan):9.3f} "
                f"{r['images_per_s']:7.1f} {first:8.2f}"
            )
    if "agreement" in result:
        print("# agreement: max |difference| to a float64 forward/backward / max |float64| (eager float32 | variant)")
        for name, rows in result["agreement"].items():
            print(
                f"{name:<{width}} "
                + "  ".join(
                    f"{part} {rows['float32_eager'][part]:.2e} | {rows['variant'][part]:.2e}"
                    for part in rows["variant"]
                )
            )
    if "breakdown" in result:
        print(
            "# breakdown: optimizer steps (synchronized; a step(closure) includes the closure's forward/backward "
            "passes) and their share of the step time"
        )
        print(f"{'strategy':<{width}} {'w-step s':>9} {'w share':>8} {'a-step s':>9} {'a calls':>7} {'a share':>8}")
        for name, b in result["breakdown"].items():
            print(
                f"{name:<{width}} {b['w_step_mean_s']:9.4f} {b['w_share_of_step']:8.1%} {b['a_step_mean_s']:9.4f} "
                f"{b['a_step_calls']:7d} {b['a_share_of_step']:8.1%}"
            )
    if "counts" in result:
        print(
            "# counts per step over a whole cycle (GibbsNAS: alpha_accum steps, with the omega pairs and one alpha "
            "move): non-view aten ops (~ GPU kernel launches) and host syncs; as run here, and with torch.optim's "
            "foreach (as on CUDA); x v1 = mean over the cycle / darts-v1's"
        )
        print(
            f"{'strategy':<{width}} {'steps':>5} {'fwd/step':>8} {'ops mean':>9} {'min-max':>13} {'x v1':>6} "
            f"{'cuda ops':>9} {'x v1':>6} {'syncs mean':>10} {'min-max':>7} {'x v1':>6} {'w ops/sync':>11} "
            f"{'a ops/sync':>11}"
        )
        for name, c in result["counts"].items():
            r, g = c["as_run"], c["as_cuda"]
            print(
                f"{name:<{width}} {r['steps']:5d} {r['forwards_per_step_mean']:8.3f} {r['ops_per_step_mean']:9.1f} "
                f"{str(r['ops_per_step_min']) + '-' + str(r['ops_per_step_max']):>13} {r.get('ops_ratio', nan):6.3f} "
                f"{g['ops_per_step_mean']:9.1f} {g.get('ops_ratio', nan):6.3f} {g['syncs_per_step_mean']:10.2f} "
                f"{str(g['syncs_per_step_min']) + '-' + str(g['syncs_per_step_max']):>7} "
                f"{g.get('syncs_ratio', nan):6.3f} "
                f"{str(g.get('w_step_ops', '-')) + '/' + str(g.get('w_step_syncs', '-')):>11} "
                f"{str(g.get('a_step_ops', '-')) + '/' + str(g.get('a_step_syncs', '-')):>11}"
            )
    if "memory" in result:
        kind = next(iter(result["memory"].values()))["kind"]
        print(f"# memory ({kind}; delta over the state before the first step; MiB)")
        print(f"{'strategy':<{width}} {'peak':>9} {'delta':>9} {'x v1 delta':>10} {'opt state':>10} {'weights':>8}")
        ref = result["memory"].get(REFERENCE, {}).get("delta_bytes")
        for name, m in result["memory"].items():
            ratio = m["delta_bytes"] / ref if ref else float("nan")
            print(
                f"{name:<{width}} {mib(m['peak_bytes']):>9} {mib(m['delta_bytes']):>9} {ratio:10.3f} "
                f"{mib(m['optimizer_state_bytes']):>10} {mib(m['weight_bytes']):>8}"
            )


def agreement(strategies: dict, batches, args, device: torch.device) -> dict[str, Any]:
    """For each ``+cl``/``+compile`` strategy: one forward/backward of its model (as it is after the
    timing) on a train batch, against the same weights run eagerly in float32 and in float64.

    Max |difference| to float64 relative to max |float64|, of the loss, the alpha gradient and the
    weight gradients: the variant is within float32 noise when its errors are of the size of the
    eager float32 ones (at initialization the alpha gradient is a small difference of large sums,
    docs/bench_nb201_supernet.md).
    """
    import torch.nn.functional as F

    from gibbsnas_lite.search.base import logits_of
    from gibbsnas_lite.search.loop import build_model

    def gradients(model, x, y):
        model.zero_grad(set_to_none=True)
        loss = F.cross_entropy(logits_of(model(x)).float() if x.dtype != torch.float64 else logits_of(model(x)), y)
        loss.backward()
        flat = [
            torch.cat([p.grad.reshape(-1) for p in params if p.grad is not None])
            for params in (model.arch_parameters(), model.weight_parameters())
        ]
        return [loss.detach().reshape(1)] + flat

    out: dict[str, Any] = {}
    (x, y), _ = batches[0]
    for name, strategy in strategies.items():
        flags = split_variants(name)[1]
        if not flags:
            continue
        eager = build_model(make_config(REFERENCE, args), 10, args.in_channels).to(device)
        eager.load_state_dict(strategy.model.state_dict())
        reference = gradients(copy.deepcopy(eager).double(), x.double(), y)
        x_variant = x.contiguous(memory_format=torch.channels_last) if "cl" in flags else x
        rows = {"float32_eager": gradients(eager, x, y), "variant": gradients(strategy.model, x_variant, y)}
        out[name] = {
            key: {
                part: float((got.double() - ref).abs().max() / ref.abs().max().clamp_min(1e-30))
                for part, got, ref in zip(("loss", "alpha_grad", "weight_grad"), values, reference)
            }
            for key, values in rows.items()
        }
    return out


def run(args) -> dict[str, Any]:
    device = torch.device(args.device)
    env = env_info(args)  # before the run: the code fingerprint of what is about to be timed
    batches = make_batches(args, device)
    cl_batches = channels_last_batches(batches)
    strategies = build_all(args, device)
    rounds = rounds_for(args, strategies) if args.steps > 0 else 0
    result: dict[str, Any] = {"args": vars(args).copy(), "env": env, "rounds": rounds}
    if rounds:
        times, cpu_times, losses, warmup_times = time_steps(
            strategies, batches, cl_batches, rounds, args.warmup, device
        )
        result.update(
            {
                "time": step_time_summary(times, cpu_times, args.batch),
                "raw_times": times,
                "raw_cpu_times": cpu_times,
                "warmup_times": warmup_times,
                "last_train_loss": {name: curve[-1] for name, curve in losses.items()},
            }
        )
        for name, ls in losses.items():
            if not all(map(lambda v: v == v and abs(v) != float("inf"), ls)):
                raise RuntimeError(f"{name}: non-finite training loss during the benchmark")
    if any(split_variants(n)[1] for n in strategies):
        result["agreement"] = agreement(strategies, batches, args, device)
    if args.breakdown:
        n = args.breakdown_steps or max(1, args.alpha_accum)
        result["breakdown"] = breakdown(strategies, batches, cl_batches, n, device, offset=args.warmup + rounds)
    if args.breakdown or args.count:
        result["counts"] = count_all(strategies, batches, cl_batches)
    if args.memory:
        result["memory"] = measure_memory(args)
    return result


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.device == "cpu":
        torch.set_num_threads(max(1, args.threads))
    if args.device == "cuda" and not torch.cuda.is_available():
        print("bench_search: --device cuda but CUDA is not available", file=sys.stderr)
        return 2
    if args.memory_child:
        print(json.dumps(memory_child(args)))
        return 0
    result = run(args)
    print_report(result)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
