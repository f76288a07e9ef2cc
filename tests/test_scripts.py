"""The benchmark, GPU-check and temperature-sweep scripts run (tiny sizes, CPU, seconds).

They are measurement tools, so these tests prove only that they work end to end and report
what they claim: finite numbers, every strategy, the JSON files, exit codes. The shell scripts get
``PYTHON=sys.executable``: they run under the interpreter running the tests, whichever environment
that is (a checkout's .venv, a conda environment, an installed package).
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

import bench_before_after  # noqa: E402
import bench_search  # noqa: E402
import sweep_temperature  # noqa: E402

TINY = "--device cpu -C 4 -N 1 --batch 8 --image-size 16 --alpha-accum 2 --steps 2 --warmup 1 --batches 2".split()


def test_bench_before_after_runs_both_trees_in_subprocesses(tmp_path, capsys):
    # This tree as both "before" and "after" at the smoke size: one worker per tree, each importing
    # the tree it is given; CPU times and op counts per strategy, and the table.
    out = tmp_path / "ba.json"
    argv = ["steps", "--before", str(ROOT), "--after", str(ROOT), "--sizes", "smoke"]
    assert bench_before_after.main(argv + ["--strategies", "darts-v1,gibbs2", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    entry = report["sizes"]["smoke"]
    for tree in ("before", "after"):
        (run,) = entry["runs"][tree]
        assert run["package"] == str(ROOT / "gibbsnas_lite")
        assert set(run["cpu"]) == {"darts-v1", "gibbs2"} and all(t[0] > 0 for t in run["cpu"].values())
        assert all(v["ops_per_step"] > 100 for v in entry["ops"][tree].values())
    assert entry["ops"]["before"] == entry["ops"]["after"]  # the same tree: the same ops
    assert "| darts-v1 |" in capsys.readouterr().out


def test_bench_search_times_every_strategy_and_counts_ops(tmp_path):
    out = tmp_path / "bench.json"
    # curvature_every=2: the last counted omega step (the 2nd) is one without a curvature pair
    specs = "gibbs2:curvature_every=2;darts-v1;gdas;gibbs2+cl:curvature_every=2"
    args = bench_search.parse_args(
        TINY + ["--strategies", specs, "--breakdown", "--breakdown-steps", "2", "--json", str(out)]
    )
    result = bench_search.run(args)
    assert set(result["time"]) == {"gibbs2:curvature_every=2", "darts-v1", "gdas", "gibbs2+cl:curvature_every=2"}
    for name, row in result["time"].items():
        assert row["steps"] == 2 and row["median_s"] > 0 and row["images_per_s"] > 0, name
    assert result["time"]["darts-v1"]["ratio_mean"] == pytest.approx(1.0)
    # channels_last: the same network; its gradients within float32 noise of a float64 run
    cl = result["agreement"]["gibbs2+cl:curvature_every=2"]
    assert 0 < cl["variant"]["weight_grad"] < 1e-2 and cl["float32_eager"]["loss"] < 1e-5
    counts = {name: c["as_cuda"] for name, c in result["counts"].items()}
    lib = counts["gibbs2:curvature_every=2"]
    # the flat omega sampler: a few dozen kernels per step, whatever the tensor count, and no host
    # sync (its finite-gradient check is noted for the search's epoch check)
    assert lib["w_step_syncs"] == 0 and lib["w_step_ops"] < 50
    assert lib["a_step_ops"] > 0  # one real alpha (BFGS) step was counted
    # passes per step over the 2-step cycle: 2 + 1/2 (omega pair every 2nd step) + 1/2 (alpha pair)
    assert lib["steps"] == 2 and lib["forwards_per_step_mean"] == pytest.approx(3.0)
    assert counts["darts-v1"]["forwards_per_step_mean"] == 2 and counts["darts-v1"]["ops_ratio"] == 1.0
    assert result["breakdown"]["gibbs2:curvature_every=2"]["a_step_calls"] == 1
    bench_search.print_report(result)


def test_bench_search_memory_subprocess():
    args = bench_search.parse_args(TINY + ["--strategies", "gibbs2", "--memory", "--memory-steps", "2"])
    mem = bench_search.measure_memory(args)["gibbs2"]
    assert mem["peak_bytes"] >= mem["baseline_bytes"] > 0
    # DiagonalGaussian keeps 2 x history_size (5) tensors of pairs: >= 10 x the weights
    assert mem["optimizer_state_bytes"] >= 10 * mem["weight_bytes"]


def test_gpu_check_tiny_runs_through_the_shell_wrapper(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, GPU_CHECK_TINY="1", OUT=str(tmp_path), OMP_NUM_THREADS="1")
    env.pop("PYTHONPATH", None)  # the wrapper imports the package from the tree by itself
    proc = subprocess.run(
        ["bash", str(SCRIPTS / "gpu_check.sh"), "--strategies", "gibbs2,darts-v1", "--skip-memory", "--steps", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "gpu_check: OK" in proc.stdout
    assert "GOAL gibbs2 / darts-v1 per step (bf16" in proc.stdout and "(fp32" in proc.stdout
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["ok"] and report["tiny"] and report["exit_status"] == 0
    for label in ("bf16", "fp32"):  # both paths timed, with their launch and sync ratios
        goal = report["goals"][label]
        assert goal["time_ratio_mean"] > 0 and 0.5 < goal["launch_ratio"] < 1.5 and goal["sync_ratio"] > 0
        assert set(report[f"bench_{label}"]["time"]) == {"gibbs2", "darts-v1"}
    assert report["loop"]["steps"] == 6 and report["loop"]["extrapolated_50_epoch_seconds"] > 0
    # a real SIGKILL in the 2nd epoch, the epoch-1 checkpoint left, resumed to 2 epochs
    assert report["resume"]["checkpoint_epoch"] == 0 and report["resume"]["epochs"] == 2
    assert report["resume"]["identical"]  # CPU: the resumed run equals the uninterrupted one
    assert (tmp_path / "loop-gibbs2" / "summary.json").exists()
    assert (tmp_path / "loop-killed" / "killable").exists()


def test_gpu_check_exits_3_on_a_missed_goal_and_2_without_cuda(tmp_path):
    import gpu_check

    assert gpu_check.verdict({"bf16": {"met": True}, "fp32": {"met": True}}, tiny=False) == 0
    assert gpu_check.verdict({"bf16": {"met": True}, "fp32": {"met": False}}, tiny=False) == 3
    assert gpu_check.verdict({}, tiny=False) == 3  # nothing measured is no pass
    assert gpu_check.verdict({"fp32": {"met": False}}, tiny=True) == 0
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the full check would run")
    assert gpu_check.main(["--out", str(tmp_path)]) == 2


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (the CUDA and bf16 paths of the check)")
def test_gpu_check_cuda_paths_at_full_size_few_steps(tmp_path):
    """The full check's code on CUDA with few steps (about a minute); scripts/gpu_check.sh runs all of it."""
    import gpu_check

    args = "--strategies gibbs2;darts-v1 --steps 2 --fp32-steps 2 --warmup 1 --loop-steps 5 --skip-memory".split()
    status = gpu_check.main(["--out", str(tmp_path), *args])
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["ok"], report.get("error")
    assert status in (0, 3)  # 3: the goal was missed over these few steps (reported, not a defect)
    assert report["sizes"]["channels"] == 16 and report["resume"]["epochs"] == 2
    assert report["bench_bf16"]["counts"]["gibbs2"]["as_run"]["w_step_ops"] < 60  # foreach on CUDA


def test_sweep_temperature_tiny(tmp_path, capsys):
    out = tmp_path / "sweep.json"
    args = "--dataset synthetic -C 4 --image-size 16 --batch 8 --train-limit 32 --steps 4 --alpha-accum 2".split()
    code = sweep_temperature.main([*args, "--temperatures", "1,100", "--json", str(out)])
    assert code == 0
    data = json.loads(out.read_text())
    assert [r["mode"] for r in data["rows"]] == ["mean", "sample", "sample"]
    mean_row, t1, t100 = data["rows"]
    assert mean_row["dist_end"] == 0.0
    # the alpha noise std grows with T (sqrt(T) at equal H; H itself depends on the draws)
    first = [run["records"][0] for run in data["runs"]]
    assert first[1]["noise"] / first[0]["noise"] > 3
    assert "T/N" in capsys.readouterr().out


def test_run_cpu_study_smoke_profile_writes_the_table(tmp_path):
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        PROFILE="smoke",
        SEEDS="0",
        STRATEGIES="gdas",
        JOBS="1",
        OUT=str(tmp_path),
        EXTRA="--epochs 1",
    )
    proc = subprocess.run(
        ["bash", str(SCRIPTS / "run_cpu_study.sh")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    row = [line for line in proc.stdout.splitlines() if line.startswith("| gdas | 0 |")]
    assert len(row) == 1 and "\\|" in row[0]  # the arch's pipes are escaped for markdown
    assert (tmp_path / "gdas-s0" / "summary.json").exists()
    wall, rss_kib, user, system = (tmp_path / "gdas-s0" / "time.txt").read_text().split()[:4]
    assert float(wall) > 0 and int(rss_kib) > 0
