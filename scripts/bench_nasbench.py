"""Benchmark the NAS-Bench-201 lookup (gibbsnas_lite.nasbench): load time, memory, lookups.

    .venv/bin/python scripts/bench_nasbench.py [--repeat 5]

Prints one line per measurement (best and median of --repeat runs). Load times are for a
fresh ``NB201Table`` (``cache=False``) in this process, plus one fresh interpreter that only
imports the module and loads the table. Memory: tracemalloc (Python allocations, numpy
included) and the RSS growth of this process while loading.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc

import numpy as np

from gibbsnas_lite.nasbench import NUM_ARCHS, NB201Table


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def timeit(fn, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), statistics.median(times)


def line(what: str, best: float, median: float, per: int | None = None) -> None:
    extra = f"   ({best / per * 1e6:.2f} us each)" if per else ""
    print(f"{what:<58} best {best * 1e3:8.2f} ms   median {median * 1e3:8.2f} ms{extra}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    r = args.repeat
    print(f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, {platform.machine()}")

    # ---------------------------------------------------------------- memory of one load
    rss0 = _rss_bytes()
    tracemalloc.start()
    table = NB201Table.load(cache=False)
    cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss1 = _rss_bytes()
    print(
        f"{'memory of a 200-epoch table (tracemalloc)':<58} kept {cur / 2**20:6.2f} MiB   "
        f"peak while loading {peak / 2**20:6.2f} MiB"
    )
    print(f"{'RSS growth while loading (first load, this process)':<58} {(rss1 - rss0) / 2**20:6.2f} MiB")
    tracemalloc.start()
    table.accuracy(0, "cifar10", "test", epochs=12)
    cur12, peak12 = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"{'+ 12-epoch table (tracemalloc)':<58} kept {cur12 / 2**20:6.2f} MiB   "
        f"peak while loading {peak12 / 2**20:6.2f} MiB"
    )

    # ---------------------------------------------------------------- load time
    line("load: NB201Table.load(cache=False) (200-epoch table)", *timeit(lambda: NB201Table.load(cache=False), r))
    line(
        "load: both tables (fresh table + first epochs=12 query)",
        *timeit(lambda: NB201Table.load(cache=False).accuracies("cifar10", "test", epochs=12), r),
    )
    line("load: cached NB201Table.load()", *timeit(NB201Table.load, r))
    code = (
        "import time; t0 = time.perf_counter(); from gibbsnas_lite.nasbench import NB201Table; "
        "t1 = time.perf_counter(); NB201Table.load(); t2 = time.perf_counter(); "
        "print(t1 - t0, t2 - t1)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imp, load = map(float, out.stdout.split())
    print(f"{'fresh interpreter: import gibbsnas_lite.nasbench':<58} {imp * 1e3:8.2f} ms (numpy import included)")
    print(f"{'fresh interpreter: NB201Table.load()':<58} {load * 1e3:8.2f} ms")

    # ---------------------------------------------------------------- lookups
    t = NB201Table.load()
    archs = list(t.arch_strs)
    idx = np.random.default_rng(0).permutation(NUM_ARCHS)
    _ = t.op_codes  # built once, lazily; timed below on a fresh table
    line(
        f"accuracy(arch string) x {NUM_ARCHS}",
        *timeit(lambda: [t.accuracy(a, "cifar10", "test") for a in archs], r),
        NUM_ARCHS,
    )
    line(
        f"accuracy(index) x {NUM_ARCHS}",
        *timeit(lambda: [t.accuracy(i, "cifar10", "test") for i in range(NUM_ARCHS)], r),
        NUM_ARCHS,
    )
    line(f"index(arch string) x {NUM_ARCHS}", *timeit(lambda: [t.index(a) for a in archs], r), NUM_ARCHS)
    line(f"arch(index) x {NUM_ARCHS}", *timeit(lambda: [t.arch(i) for i in range(NUM_ARCHS)], r), NUM_ARCHS)
    line("accuracies(...) all 15,625 (read-only view)", *timeit(lambda: t.accuracies("cifar10", "test"), r))
    line("accuracies(..., archs=int array of 15,625)", *timeit(lambda: t.accuracies("cifar10", "test", archs=idx), r))
    line(
        "accuracies(..., archs=list of 15,625 arch strings)",
        *timeit(lambda: t.accuracies("cifar10", "test", archs=archs), r),
    )
    codes = t.op_codes[idx]
    line(
        "accuracies(..., archs=(15,625, 6) op-code array)",
        *timeit(lambda: t.accuracies("cifar10", "test", archs=codes), r),
    )
    fresh = [NB201Table.load(cache=False) for _ in range(max(1, r // 2))]
    line("op_codes, first access (lazy; built once per table)", *timeit(lambda: fresh.pop().op_codes, len(fresh)))
    line("ranks(...) all 15,625 (sorted column cached)", *timeit(lambda: t.ranks("cifar100", "valid"), r))
    line("best(...)", *timeit(lambda: t.best("ImageNet16-120", "test"), r))


if __name__ == "__main__":
    main()
