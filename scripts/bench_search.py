"""Per-step wall time and peak memory of the search strategies, on one supernet and the same batches.

    .venv/bin/python scripts/bench_search.py --channels 8 --cells 1 --batch 64 --steps 32 --warmup 4
    .venv/bin/python scripts/bench_search.py --device cuda --channels 16 --cells 5 --steps 200 --amp

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
  around the omega optimizer/sampler step and the alpha optimizer/sampler step, and a count of
  the aten operators (each one a kernel launch on a GPU) and of host-device syncs
  (``aten::_local_scalar_dense``: ``.item()``, ``float(t)``, ``bool(t)``) inside one step and
  inside each optimizer step. On a CPU the sampler's cost is hidden by slow convolutions; on a
  GPU every launch and every sync costs microseconds, so these counts predict the GPU overhead.
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

DEFAULT_STRATEGIES = "gibbs2,gibbs1,darts-v1,darts-v2,gdas"
REFERENCE = "darts-v1"


# ----------------------------------------------------------------------------- setup
def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--strategies", default=DEFAULT_STRATEGIES,
                   help="semicolon- or comma-separated strategies, each optionally with config overrides after "
                        "a colon, e.g. 'gibbs2;gibbs2:curvature_every=8;darts-v1' (default: %(default)s)")
    p.add_argument("--channels", "-C", type=int, default=8, help="supernet width C (paper: 16)")
    p.add_argument("--cells", "-N", type=int, default=1, help="cells per stage N (paper: 5)")
    p.add_argument("--batch", type=int, default=64, help="batch size (paper: 64)")
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--in-channels", type=int, default=3)
    p.add_argument("--steps", type=int, default=32, help="timed rounds (rounded up to whole alpha_accum cycles)")
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
    p.add_argument("--breakdown-steps", type=int, default=0,
                   help="rounds of the breakdown pass (default: one alpha_accum cycle)")
    p.add_argument("--memory", action="store_true", help="peak memory per strategy (one subprocess each)")
    p.add_argument("--memory-steps", type=int, default=3)
    p.add_argument("--default-malloc", action="store_true",
                   help="CPU memory: keep glibc's default heap (RSS then includes fragmentation)")
    p.add_argument("--proto-flat", action="store_true",
                   help="add 'gibbs2-flat': GibbsNAS-2nd with a flat-vector omega sampler (a proposal; see "
                        "FlatDiagSecantGaussian)")
    p.add_argument("--json", default=None, help="write all numbers to this JSON file")
    p.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    sep = ";" if ";" in args.strategies else ","
    args.strategies = [s.strip() for s in args.strategies.split(sep) if s.strip()]
    if args.proto_flat and "gibbs2-flat" not in args.strategies:
        args.strategies.append("gibbs2-flat")
    if args.amp and args.device != "cuda":
        print("note: --amp only acts on CUDA (bf16 autocast); ignored on CPU", file=sys.stderr)
    return args


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def split_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"gibbs2:curvature_every=8,history_size=3"`` -> ("gibbs2", {"curvature_every": 8, "history_size": 3})."""
    name, _, rest = spec.partition(":")
    extra: dict[str, Any] = {}
    for item in filter(None, rest.split(",")) if rest else []:
        key, _, value = item.partition("=")
        try:
            extra[key] = json.loads(value)
        except ValueError:
            extra[key] = value
    return name, extra


def make_config(spec: str, args):
    from gibbsnas_lite.search import make_config as mk

    strategy, extra = split_spec(spec)
    overrides: dict[str, Any] = dict(dataset="synthetic", channels=args.channels, cells_per_stage=args.cells,
                                     batch_size=args.batch, image_size=args.image_size, device=args.device,
                                     seed=args.seed, amp=bool(args.amp))
    if strategy.startswith("gibbs"):
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


def build_all(args, device: torch.device):
    """One seeded supernet, deep-copied per strategy; each strategy with its own optimizers."""
    from gibbsnas_lite.search.loop import build_model, build_strategy

    torch.manual_seed(args.seed)
    base = build_model(make_config(REFERENCE, args), 10, args.in_channels)
    strategies = {}
    for name in args.strategies:
        config = make_config(name.replace("gibbs2-flat", "gibbs2"), args)
        model = copy.deepcopy(base).to(device)
        strategy = build_strategy(config, model, steps_per_epoch=10_000, sizes=(args.data_size, args.data_size))
        strategy.fixed_valid_batch = None
        if name.startswith("gibbs2-flat"):
            use_flat_prototype(strategy)
        strategies[name] = strategy
    return strategies


def rounds_for(args) -> int:
    accum = max(1, args.alpha_accum)
    return -(-args.steps // accum) * accum if any(s.startswith("gibbs") for s in args.strategies) else args.steps


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
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "gibbsnas_lite/search", "gibbsnas_lite/samplers"],
                               cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        head, dirty = "unknown", ""
    return {"git": head + ("+uncommitted" if dirty else ""), "search_samplers_sha256": digest.hexdigest()[:12]}


def env_info(args) -> dict[str, Any]:
    info = {"torch": torch.__version__, "python": platform.python_version(), "device": args.device,
            "threads": torch.get_num_threads(), "cpus": os.cpu_count()}
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
def time_steps(strategies: dict, batches, rounds: int, warmup: int, device: torch.device):
    """Round-robin: per round, every strategy does one step (order rotated each round).

    Returns wall times, process CPU times (on a shared CPU with one torch thread the CPU time
    is not inflated by waiting for a core, so its ratios are the steadier ones) and losses.
    """
    names = list(strategies)
    times: dict[str, list[float]] = {n: [] for n in names}
    cpu_times: dict[str, list[float]] = {n: [] for n in names}
    losses: dict[str, list[float]] = {n: [] for n in names}
    for r in range(warmup + rounds):
        train, valid = batches[r % len(batches)]
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            sync(device)
            t0, c0 = time.perf_counter(), time.process_time()
            metrics = strategies[name].step(train, valid, epoch=0, step=r)
            sync(device)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            if r >= warmup:
                times[name].append(dt)
                cpu_times[name].append(dc)
                losses[name].append(float(metrics["train_loss"]))
    return times, cpu_times, losses


def summarize(times: dict[str, list[float]], cpu_times: dict[str, list[float]],
              images_per_step: int) -> dict[str, dict[str, float]]:
    out = {}
    ref, ref_cpu = times.get(REFERENCE), cpu_times.get(REFERENCE)
    for name, ts in times.items():
        cs = cpu_times[name]
        med, mean = statistics.median(ts), statistics.fmean(ts)
        out[name] = {"median_s": med, "mean_s": mean, "min_s": min(ts), "steps": len(ts),
                     "cpu_median_s": statistics.median(cs), "cpu_mean_s": statistics.fmean(cs),
                     "images_per_s": images_per_step / mean}
        if ref:
            out[name]["ratio_median"] = med / statistics.median(ref)
            out[name]["ratio_mean"] = mean / statistics.fmean(ref)
            out[name]["cpu_ratio_median"] = out[name]["cpu_median_s"] / statistics.median(ref_cpu)
            out[name]["cpu_ratio_mean"] = out[name]["cpu_mean_s"] / statistics.fmean(ref_cpu)
    return out


# ----------------------------------------------------------------------------- breakdown
class _OpCounter:
    """Counts non-view aten ops (about one kernel launch each on a GPU) and host syncs while active."""

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
        with self.mode_cls():
            yield self


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


def breakdown(strategies: dict, batches, rounds: int, device: torch.device, offset: int) -> dict[str, Any]:
    """Optimizer-step times (synchronized) and op/sync counts per strategy."""
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
            train, valid = batches[(offset + r) % len(batches)]
            shift = r % len(names)
            for n in names[shift:] + names[:shift]:
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
    # op and sync counts: one full step, and one call of each optimizer step (alpha: a real one)
    for n in names:
        s = strategies[n]
        counts: dict[str, list] = {"w": [], "a": []}
        saved = [(s.w_optimizer, "step", _wrap_timed(s.w_optimizer, "step", None, device, counts["w"]))]
        if hasattr(s, "a_optimizer"):
            saved.append((s.a_optimizer, "step", _wrap_timed(s.a_optimizer, "step", None, device, counts["a"])))
        accum = s.config.alpha_accum if n.startswith("gibbs") else 1
        full_ops, passes = [], []
        forwards = [0]
        hook = s.model.register_forward_pre_hook(lambda *_: forwards.__setitem__(0, forwards[0] + 1))
        try:
            for k in range(accum):
                train, valid = batches[k % len(batches)]
                counter = _OpCounter()
                forwards[0] = 0
                with counter.active():
                    s.step(train, valid, epoch=0, step=10_000 + k)
                full_ops.append((counter.ops, counter.syncs))
                passes.append(forwards[0])
        finally:
            hook.remove()
            for obj, attr, original in saved:
                setattr(obj, attr, original)
        out[n]["forwards_per_step_mean"] = statistics.fmean(passes)
        out[n]["forwards_per_step_max"] = max(passes)
        out[n]["ops_per_step_min"] = min(o for o, _ in full_ops)
        out[n]["ops_per_step_max"] = max(o for o, _ in full_ops)
        out[n]["syncs_per_step_min"] = min(c for _, c in full_ops)
        out[n]["syncs_per_step_max"] = max(c for _, c in full_ops)
        if counts["w"]:
            out[n]["w_step_ops"], out[n]["w_step_syncs"] = counts["w"][-1]
        if counts["a"]:
            out[n]["a_step_ops"], out[n]["a_step_syncs"] = counts["a"][-1]
    return out


# ----------------------------------------------------------------------------- proposal
class FlatDiagSecantGaussian(torch.optim.Optimizer):
    """PROTOTYPE (a measured proposal, not the library's sampler): ``DiagLBFGSGaussian`` with
    ``diag="secant"`` computed on one flat vector instead of tensor by tensor.

    Same arithmetic as the library's sampler (``check_flat_prototype`` compares the weights after
    a few mean-mode steps, with consecutive-step pairs and with same-batch closure pairs):
    ``g = grad + wd * theta``; pairs ``s = theta - theta_prev``, ``y = g - g_prev`` (from
    consecutive steps with ``pairs="step"``, from the closure's second call with ``step(closure)``)
    in a ring of ``history_size``; ``D = clamp(sum s^2 / sum s y, h_min, h_max)`` (h_max where
    sum s y <= 0 or before the first pair); ``theta -= lr * D * g`` plus, in sample mode,
    ``sqrt(T/N) sqrt(D) z`` (z clamped at +-clip_std). Differences: one finite check for all
    gradients, about 30 kernels per step instead of about 36 per tensor (NB201 C=16, N=5 has 201
    weight tensors), and the noise is one draw of the flat vector (so a seed gives other draws
    than the library's). Warm-up/ramp and clip_ratio are left out of the prototype.
    """

    def __init__(self, params, lr=1.0, *, data_size, weight_decay=1e-4, temperature=1.0, mode="sample",
                 history_size=5, h_min=1e-4, h_max=0.1, clip_std=None, pairs="step", seed=0, **_ignored):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, temperature=temperature))
        self.params = [p for g in self.param_groups for p in g["params"]]
        self.sizes = [p.numel() for p in self.params]
        self.data_size, self.mode, self.history_size = float(data_size), mode, history_size
        self.h_min, self.h_max, self.clip_std, self.pairs = h_min, h_max, clip_std, pairs
        first = self.params[0]
        self.generator = torch.Generator(device=first.device).manual_seed(seed)
        numel = sum(self.sizes)
        self.s_hist = torch.zeros(history_size, numel, dtype=first.dtype, device=first.device)
        self.y_hist = torch.zeros_like(self.s_hist)
        self.prev = None  # (theta, g) waiting for the other half of a pair
        self.count = 0

    def _flat(self):
        theta = torch.cat([p.detach().reshape(-1) for p in self.params])
        grad = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in self.params])
        return theta, grad.add_(theta, alpha=self.param_groups[0]["weight_decay"])

    def _store(self, theta, g):
        slot = self.count % self.history_size
        torch.sub(theta, self.prev[0], out=self.s_hist[slot])
        torch.sub(g, self.prev[1], out=self.y_hist[slot])
        self.count += 1
        self.prev = None

    @torch.no_grad()
    def step(self, closure=None):
        group = self.param_groups[0]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        theta, g = self._flat()
        if not bool(torch.isfinite(g).all()):
            raise ValueError("FlatDiagSecantGaussian: non-finite gradient; nothing was changed")
        if self.prev is not None:
            self._store(theta, g)
        if closure is not None or self.pairs == "step":
            self.prev = (theta, g)
        k = min(self.count, self.history_size)
        if k == 0:
            diagonal = torch.full_like(g, self.h_max)
        else:
            s, y = self.s_hist[:k], self.y_hist[:k]
            curvature, squares = (s * y).sum(0), (s * s).sum(0)
            diagonal = torch.where(curvature > 0, squares / curvature.clamp_min(torch.finfo(g.dtype).tiny),
                                   self.h_max).clamp_(self.h_min, self.h_max)
        move = diagonal.mul(g).mul_(group["lr"])
        if self.mode == "sample":
            z = torch.randn(g.shape, dtype=g.dtype, device=g.device, generator=self.generator)
            if self.clip_std is not None:
                z.clamp_(-self.clip_std, self.clip_std)
            move.sub_(z.mul_(diagonal.sqrt_()), alpha=(group["temperature"] / self.data_size) ** 0.5)
        torch._foreach_sub_(self.params, [c.view_as(p) for c, p in zip(move.split(self.sizes), self.params)])
        if closure is not None:
            with torch.enable_grad():
                closure()
            self._store(*self._flat())
        return loss


def use_flat_prototype(strategy) -> None:
    """Swap a GibbsNAS-2nd strategy's omega sampler for the flat prototype (same settings and schedule)."""
    old = strategy.w_optimizer
    group = old.param_groups[0]
    new = FlatDiagSecantGaussian(strategy.model.weight_parameters(), lr=group["lr"], data_size=old.data_size,
                                 weight_decay=group["weight_decay"], temperature=group["temperature"],
                                 mode=old.mode, history_size=old.history_size, h_min=old.h_min, h_max=old.h_max,
                                 clip_std=old.clip_std, pairs=getattr(old, "pairs", "step"),
                                 seed=strategy.config.seed + 1)
    scheduler = strategy.w_scheduler  # same schedule, now driving the prototype
    scheduler.optimizer = new
    for g_new, g_old in zip(new.param_groups, old.param_groups):
        g_new.update({k: v for k, v in g_old.items() if k != "params"})
    strategy.w_optimizer = new
    strategy.name = "gibbs2-flat"


def check_flat_prototype(args, device: torch.device, steps: int = 6) -> float:
    """Max |difference| of the weights after ``steps`` mean-mode steps, library sampler vs prototype,
    over both pair sources (consecutive steps; same-batch closure pairs)."""
    import inspect

    from gibbsnas_lite.samplers import DiagLBFGSGaussian

    has_pairs = "pairs" in inspect.signature(DiagLBFGSGaussian).parameters
    worst = 0.0
    for use_closure in (False, True) if has_pairs else (False,):
        torch.manual_seed(args.seed)
        net = torch.nn.Sequential(torch.nn.Linear(20, 30), torch.nn.Tanh(), torch.nn.Linear(30, 5)).to(device)
        twin = copy.deepcopy(net)
        extra = {"pairs": "closure"} if use_closure else {}
        ref = DiagLBFGSGaussian(net.parameters(), lr=0.5, data_size=1000, mode="mean", history_size=3, **extra)
        proto = FlatDiagSecantGaussian(twin.parameters(), lr=0.5, data_size=1000, mode="mean", history_size=3,
                                       h_min=ref.h_min, h_max=ref.h_max, **extra)
        g = torch.Generator().manual_seed(args.seed)
        for _ in range(steps):
            x, y = torch.randn(64, 20, generator=g).to(device), torch.randint(0, 5, (64,), generator=g).to(device)
            for model, opt in ((net, ref), (twin, proto)):
                def closure(model=model, opt=opt):
                    opt.zero_grad()
                    loss = torch.nn.functional.cross_entropy(model(x), y)
                    loss.backward()
                    return loss
                if use_closure:
                    opt.step(closure)
                else:
                    closure()
                    opt.step()
        worst = max(worst, max(float((a - b).detach().abs().max()) for a, b in zip(net.parameters(), twin.parameters())))
    return worst


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
    for name in ("s_hist", "y_hist"):  # the flat prototype keeps its history outside ``state``
        if torch.is_tensor(getattr(optimizer, name, None)):
            total += getattr(optimizer, name).numel() * getattr(optimizer, name).element_size()
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
        out["kind"] = "peak RSS during the steps (VmHWM after a reset)" if reset_worked else \
            "lifetime peak RSS (ru_maxrss; the reset of VmHWM failed)"
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
    for name in args.strategies:
        cmd = [sys.executable, script, "--memory-child", name, "--channels", str(args.channels),
               "--cells", str(args.cells), "--batch", str(args.batch), "--image-size", str(args.image_size),
               "--in-channels", str(args.in_channels), "--device", args.device, "--threads", str(args.threads),
               "--seed", str(args.seed), "--data-size", str(args.data_size),
               "--memory-steps", str(args.memory_steps), "--batches", "2"]
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
    print(f"# bench_search: NB201 supernet C={a['channels']} N={a['cells']} batch {a['batch']} "
          f"{a['in_channels']}x{a['image_size']}x{a['image_size']} on {a['device']}"
          f"{' (bf16 autocast)' if a['amp'] else ''}; alpha_accum {a['alpha_accum']}; "
          f"{result['rounds']} timed rounds after {a['warmup']} warm-up rounds")
    print("# env: " + ", ".join(f"{k} {v}" for k, v in result["env"].items()))
    nan = float("nan")
    print("# wall = wall-clock per step (the GPU number); cpu = process CPU time per step (on a shared CPU, "
          "the steadier one); x v1 = ratio to darts-v1")
    width = max(12, *(len(n) for n in result["time"]))
    print(f"{'strategy':<{width}} {'wall med':>9} {'wall mean':>9} {'x v1 med':>8} {'x v1 mean':>9} "
          f"{'cpu med':>8} {'cpu mean':>8} {'x v1 med':>8} {'x v1 mean':>9} {'img/s':>7}")
    for name, r in result["time"].items():
        print(f"{name:<{width}} {r['median_s']:9.4f} {r['mean_s']:9.4f} {r.get('ratio_median', nan):8.3f} "
              f"{r.get('ratio_mean', nan):9.3f} {r['cpu_median_s']:8.4f} {r['cpu_mean_s']:8.4f} "
              f"{r.get('cpu_ratio_median', nan):8.3f} {r.get('cpu_ratio_mean', nan):9.3f} {r['images_per_s']:7.1f}")
    if "flat_prototype_max_abs_diff" in result:
        print(f"# gibbs2-flat = a PROTOTYPE omega sampler (bench_search.FlatDiagSecantGaussian); mean-mode weights "
              f"match DiagLBFGSGaussian to {result['flat_prototype_max_abs_diff']:.2g} after 6 steps")
    if "breakdown" in result:
        print("# breakdown: optimizer steps (synchronized; a step(closure) includes the closure's forward/backward "
              "passes), share of step time, supernet forward passes per step (mean over an alpha_accum cycle), "
              "non-view aten ops and host syncs per step and per optimizer step")
        print(f"{'strategy':<{width}} {'fwd/step':>8} {'w-step s':>9} {'w share':>8} {'a-step s':>9} {'a calls':>7} {'a share':>8} "
              f"{'ops/step':>13} {'syncs/step':>11} {'w ops/sync':>11} {'a ops/sync':>11}")
        for name, b in result["breakdown"].items():
            ops = f"{b['ops_per_step_min']}-{b['ops_per_step_max']}"
            syncs = f"{b['syncs_per_step_min']}-{b['syncs_per_step_max']}"
            w = f"{b.get('w_step_ops', '-')}/{b.get('w_step_syncs', '-')}"
            al = f"{b.get('a_step_ops', '-')}/{b.get('a_step_syncs', '-')}"
            print(f"{name:<{width}} {b['forwards_per_step_mean']:8.3f} {b['w_step_mean_s']:9.4f} {b['w_share_of_step']:8.1%} {b['a_step_mean_s']:9.4f} "
                  f"{b['a_step_calls']:7d} {b['a_share_of_step']:8.1%} {ops:>13} {syncs:>11} {w:>11} {al:>11}")
    if "memory" in result:
        kind = next(iter(result["memory"].values()))["kind"]
        print(f"# memory ({kind}; delta over the state before the first step; MiB)")
        print(f"{'strategy':<{width}} {'peak':>9} {'delta':>9} {'x v1 delta':>10} {'opt state':>10} {'weights':>8}")
        ref = result["memory"].get(REFERENCE, {}).get("delta_bytes")
        for name, m in result["memory"].items():
            ratio = m["delta_bytes"] / ref if ref else float("nan")
            print(f"{name:<{width}} {mib(m['peak_bytes']):>9} {mib(m['delta_bytes']):>9} {ratio:10.3f} "
                  f"{mib(m['optimizer_state_bytes']):>10} {mib(m['weight_bytes']):>8}")


def run(args) -> dict[str, Any]:
    device = torch.device(args.device)
    env = env_info(args)  # before the run: the code fingerprint of what is about to be timed
    batches = make_batches(args, device)
    strategies = build_all(args, device)
    rounds = rounds_for(args)
    times, cpu_times, losses = time_steps(strategies, batches, rounds, args.warmup, device)
    result: dict[str, Any] = {"args": vars(args).copy(), "env": env, "rounds": rounds,
                              "time": summarize(times, cpu_times, args.batch), "raw_times": times,
                              "raw_cpu_times": cpu_times,
                              "last_train_loss": {n: l[-1] for n, l in losses.items()}}
    for name, ls in losses.items():
        if not all(map(lambda v: v == v and abs(v) != float("inf"), ls)):
            raise RuntimeError(f"{name}: non-finite training loss during the benchmark")
    if any(n.startswith("gibbs2-flat") for n in strategies):
        result["flat_prototype_max_abs_diff"] = check_flat_prototype(args, device)
    if args.breakdown:
        n = args.breakdown_steps or max(1, args.alpha_accum)
        result["breakdown"] = breakdown(strategies, batches, n, device, offset=args.warmup + rounds)
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
