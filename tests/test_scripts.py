"""The benchmark, GPU-check and temperature-sweep scripts run (tiny sizes, CPU, seconds).

They are measurement tools, so these tests prove only that they work end to end and report
what they claim: finite numbers, every strategy, the JSON files, exit codes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
sys.path.insert(0, str(SCRIPTS))

import bench_search  # noqa: E402
import sweep_temperature  # noqa: E402

TINY = ["--device", "cpu", "-C", "4", "-N", "1", "--batch", "8", "--image-size", "16",
        "--alpha-accum", "2", "--steps", "2", "--warmup", "1", "--batches", "2"]


def test_bench_search_times_every_strategy_and_counts_ops(tmp_path):
    out = tmp_path / "bench.json"
    args = bench_search.parse_args(TINY + ["--strategies", "gibbs2,darts-v1,gdas", "--proto-flat", "--breakdown",
                                           "--breakdown-steps", "2", "--json", str(out)])
    result = bench_search.run(args)
    assert set(result["time"]) == {"gibbs2", "darts-v1", "gdas", "gibbs2-flat"}
    for name, row in result["time"].items():
        assert row["steps"] == 2 and row["median_s"] > 0 and row["images_per_s"] > 0, name
    assert result["time"]["darts-v1"]["ratio_mean"] == pytest.approx(1.0)
    assert result["flat_prototype_max_abs_diff"] == 0.0
    b = result["breakdown"]
    # the flat prototype: one host sync and a few dozen kernels per omega step, whatever the tensor count
    assert b["gibbs2-flat"]["w_step_syncs"] == 1
    assert b["gibbs2-flat"]["w_step_ops"] < 50 < b["gibbs2"]["w_step_ops"]
    assert b["gibbs2"]["a_step_ops"] > 0  # one real alpha (BFGS) step was counted
    bench_search.print_report(result)


def test_bench_search_memory_subprocess():
    args = bench_search.parse_args(TINY + ["--strategies", "gibbs2", "--memory", "--memory-steps", "2"])
    mem = bench_search.measure_memory(args)["gibbs2"]
    assert mem["peak_bytes"] >= mem["baseline_bytes"] > 0
    # DiagLBFGSGaussian keeps 2 x history_size (5) pairs + previous theta and gradient: 12 x the weights
    assert mem["optimizer_state_bytes"] >= 12 * mem["weight_bytes"]


def test_gpu_check_tiny_runs_through_the_shell_wrapper(tmp_path):
    env = dict(os.environ, GPU_CHECK_TINY="1", OUT=str(tmp_path), OMP_NUM_THREADS="1")
    proc = subprocess.run(
        ["bash", str(SCRIPTS / "gpu_check.sh"), "--strategies", "gibbs2,darts-v1", "--skip-memory", "--steps", "2"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "gpu_check: OK" in proc.stdout
    assert "GOAL gibbs2 / darts-v1" in proc.stdout
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["ok"] and report["tiny"]
    assert report["loop"]["steps"] == 6 and report["resume"]["epochs"] == 2
    assert report["resume"]["identical"]  # CPU: the resumed run equals the uninterrupted one
    assert (tmp_path / "loop-gibbs2" / "summary.json").exists()


def test_gpu_check_without_cuda_says_so(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    import gpu_check

    assert gpu_check.main(["--out", str(tmp_path)]) == 2


def test_sweep_temperature_tiny(tmp_path, capsys):
    out = tmp_path / "sweep.json"
    code = sweep_temperature.main(["--dataset", "synthetic", "-C", "4", "--image-size", "16", "--batch", "8",
                                   "--train-limit", "32", "--steps", "4", "--alpha-accum", "2",
                                   "--temperatures", "1,100", "--json", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    assert [r["mode"] for r in data["rows"]] == ["mean", "sample", "sample"]
    mean_row, t1, t100 = data["rows"]
    assert mean_row["dist_end"] == 0.0
    # the alpha noise std scales as sqrt(T): same H at the first alpha step, T 100 vs 1
    first = [run["records"][0] for run in data["runs"]]
    assert first[1]["noise"] / first[0]["noise"] == pytest.approx(10.0, rel=1e-6)
    assert "T/N" in capsys.readouterr().out
