"""Kernel launches and host syncs per search step: GibbsNAS-2nd at DARTS-V1's level.

A step of this small-kernel supernet is launch bound on a GPU, so the number of non-view aten
ops per step (about one kernel each) predicts its GPU cost (docs/bench_search.md). Counted on
the CPU with ``scripts/bench_search.py``'s counter, over GibbsNAS's whole cycle at the ``full``
profile's settings (alpha moves every 32 steps, the omega curvature pair every 8th), against
DARTS-V1 with torch.optim's foreach path as on CUDA. A per-tensor loop in a sampler, the
clipping or the metrics (about 25 ops per weight tensor in the old omega sampler) fails here.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import bench_search  # noqa: E402


@pytest.fixture(scope="module")
def counts():
    args = bench_search.parse_args(
        [
            "-C",
            "4",
            "-N",
            "1",
            "--batch",
            "2",
            "--image-size",
            "8",
            "--batches",
            "2",
            "--alpha-accum",
            "32",
            "--strategies",
            "gibbs2;darts-v1",
        ]
    )
    strategies = bench_search.build_all(args, bench_search.torch.device("cpu"))
    batches = bench_search.make_batches(args, bench_search.torch.device("cpu"))
    t0 = time.perf_counter()
    out = {name: bench_search.count_cycle(s, batches, as_cuda=True) for name, s in strategies.items()}
    out["seconds"] = time.perf_counter() - t0
    out["tensors"] = len(list(strategies["gibbs2"].model.weight_parameters()))
    return out


def test_the_count_covers_the_full_profiles_cycle(counts):
    g = counts["gibbs2"]
    assert g["steps"] == 32  # lcm(alpha_accum 32, curvature_every 8)
    # passes per step: omega + alpha, + the omega pair on 4 of 32 steps, + the alpha pair on 1
    assert g["forwards_per_step_mean"] == pytest.approx(2 + 4 / 32 + 1 / 32)
    assert counts["darts-v1"]["forwards_per_step_mean"] == 2
    assert counts["tensors"] > 40  # enough weight tensors for a per-tensor loop to show


def test_gibbsnas_launches_no_more_kernels_than_darts_v1(counts):
    g, d = counts["gibbs2"], counts["darts-v1"]
    ratio = g["ops_per_step_mean"] / d["ops_per_step_mean"]
    # measured 0.858 here (1,301 vs 1,516 ops) and 0.831 at full size (docs/bench_search.md) while
    # DARTS-V1's omega step also differentiated alpha; since it differentiates omega alone (issue 19),
    # 1.027 here (1,284 vs 1,250), and 0.990 (577 vs 583) with the fused NB201 cell. The goal is
    # <= 1.10 at full size.
    # With the per-tensor omega sampler it was 1.74 here (1,430 ops in its step instead of 26).
    assert ratio <= 1.10, (g["ops_per_step_mean"], d["ops_per_step_mean"])
    # the flat omega sampler, a step without a pair: its finite-gradient check is noted in the
    # strategy's NaN record (read once per epoch), so no host sync
    assert g["w_step_ops"] <= 30 and g["w_step_syncs"] == 0


def test_gibbsnas_syncs_no_more_than_darts_v1(counts):
    g, d = counts["gibbs2"], counts["darts-v1"]
    # measured: see docs/bench_search.md (the alpha step, once in 32, has the most)
    assert g["syncs_per_step_mean"] <= d["syncs_per_step_mean"]
    assert g["syncs_per_step_min"] == 0  # a plain step (tests/test_host_syncs.py pins every strategy's)
