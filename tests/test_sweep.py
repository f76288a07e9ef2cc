"""Sweeps (gibbsnas_lite.sweep): trials, one trial without Ray, and on a local Ray with 2 workers
through real SIGKILLs of a worker and of the driver.

The reference of every Ray test is the same trials run one after another in this process
(``run_trial``, one torch thread): a sweep, killed or not, must give the same rows bit for
bit (run_search's resume is exact on CPU with the same threads). Ray is the ``[sweep]``
extra: without it the Ray tests skip, unless ``GIBBSNAS_REQUIRE_RAY=1`` (set by .ci/run).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gibbsnas_lite.cli import main as cli_main
from gibbsnas_lite.course.plots import sweep as sweep_plots
from gibbsnas_lite.sweep import Trial, grid, load_sweep_file, parse_seeds, run_trial, runner
from gibbsnas_lite.sweep import results as sweep_results

REQUIRE_RAY = os.environ.get("GIBBSNAS_REQUIRE_RAY", "") not in ("", "0")


def _need_ray():
    try:
        import ray  # noqa: F401
    except ImportError:
        if REQUIRE_RAY:
            pytest.fail("GIBBSNAS_REQUIRE_RAY=1 but Ray is not installed: pip install -e '.[sweep]'")
        pytest.skip("Ray is not installed (the [sweep] extra)")


# ----------------------------------------------------------------------------- trials
def test_parse_seeds():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("0,2,7-8") == [0, 2, 7, 8]
    assert parse_seeds(3) == [3]
    assert parse_seeds([1, 2]) == [1, 2]
    with pytest.raises(ValueError, match="cannot read 'x'"):
        parse_seeds("0,x")


def test_grid_names_order_and_errors():
    trials = grid(
        "gibbs2,darts-v1", seeds="0-1", datasets="synthetic,fashion-mnist", profile="smoke", overrides={"epochs": 3}
    )
    assert [t.name for t in trials[:3]] == [
        "gibbs2-synthetic-s0+epochs=3",
        "darts-v1-synthetic-s0+epochs=3",
        "gibbs2-synthetic-s1+epochs=3",
    ]
    assert len(trials) == 8 and trials[-1].dataset == "fashion-mnist"
    assert Trial("gdas", 2, "cpu").name == "gdas-fashion-mnist-s2"  # the profile's dataset
    with pytest.raises(ValueError, match=r"unknown strategies \['gibbs3'\]"):
        grid("gibbs2,gibbs3")
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        grid("gibbs2", profile="huge")
    with pytest.raises(ValueError, match="two different trials are named 'x'"):
        runner.check_unique([Trial("gibbs2", 0, name="x"), Trial("gibbs1", 0, name="x")])
    with pytest.raises(ValueError, match="not a folder name"):
        Trial("gibbs2", 0, name="../up")


def test_sweep_files_json_and_yaml(tmp_path):
    spec = {
        "profile": "smoke",
        "strategies": ["gibbs2", "rsps"],
        "seeds": "0-1",
        "set": {"epochs": 1},
        "trials": [{"strategy": "gdas", "seed": 7, "set": {"temperature": 2.0}, "name": "gdas-hot"}],
    }
    (tmp_path / "s.json").write_text(json.dumps(spec))
    trials = load_sweep_file(tmp_path / "s.json")
    assert [t.name for t in trials] == [
        "gibbs2-synthetic-s0+epochs=1",
        "rsps-synthetic-s0+epochs=1",
        "gibbs2-synthetic-s1+epochs=1",
        "rsps-synthetic-s1+epochs=1",
        "gdas-hot",
    ]
    assert trials[-1].overrides == {"epochs": 1, "temperature": 2.0}
    (tmp_path / "s.yaml").write_text("profile: smoke\nstrategies: gibbs2\nseeds: [3]\nset:\n  epochs: 1\n")
    assert [t.name for t in load_sweep_file(tmp_path / "s.yaml")] == ["gibbs2-synthetic-s3+epochs=1"]
    (tmp_path / "bad.json").write_text(json.dumps({"strategy": "gibbs2"}))
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['strategy'\]"):
        load_sweep_file(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_sweep_file(tmp_path / "missing.json")


def test_a_folder_refuses_a_different_trial_under_the_same_name(tmp_path):
    runner.record_trials(tmp_path, [Trial("gibbs2", 0, name="a")])
    runner.record_trials(tmp_path, [Trial("gibbs2", 0, name="a"), Trial("gibbs1", 0, name="b")])  # same, and a new one
    assert [t.name for t in runner.load_trials(tmp_path)] == ["a", "b"]
    with pytest.raises(ValueError, match="already holds a different trial named 'a'"):
        runner.record_trials(tmp_path, [Trial("gibbs2", 1, name="a")])


# ----------------------------------------------------------------------------- one trial, no Ray
def test_run_trial_row_matches_run_search(tmp_path):
    from gibbsnas_lite.search import make_config, run_search

    trial = Trial("gibbs2", 1, "smoke")
    row = run_trial(trial, tmp_path / "t")
    plain = run_search(make_config("gibbs2", "smoke", seed=1), out_dir=tmp_path / "plain")
    assert row["status"] == "ok" and row["arch"] == plain.arch
    assert row["cifar10_test"] == plain.benchmark["cifar10_test"] and row["benchmark"] == plain.benchmark
    assert [e["arch"] for e in row["epochs"]] == [e["arch"] for e in plain.history.epochs]
    assert row["search_seconds"] == pytest.approx(sum(e["seconds"] for e in plain.history.epochs), rel=0.5)
    assert row["peak_rss_mb"] > 50 and 0 < row["cpu_seconds"] < 600
    assert json.loads((tmp_path / "t" / "trial.json").read_text())["arch"] == plain.arch
    # seed_study reads a sweep trial's folder as one of its rows, with the trial's measurements
    from gibbsnas_lite.course import seed_study

    study_row = seed_study.run_row(tmp_path / "t")
    assert study_row["arch"] == plain.arch and study_row["cpu_seconds"] == row["cpu_seconds"]
    assert study_row["peak_rss_mb"] == row["peak_rss_mb"]
    # a second call reads the finished folder back without searching again
    mtime = (tmp_path / "t" / "summary.json").stat().st_mtime_ns
    assert run_trial(trial, tmp_path / "t")["arch"] == plain.arch
    assert (tmp_path / "t" / "summary.json").stat().st_mtime_ns == mtime


def test_run_trial_reports_a_bad_option_instead_of_raising(tmp_path):
    row = run_trial(Trial("gibbs2", 0, "smoke", overrides={"temperature": -1.0}), tmp_path / "bad")
    assert row["status"] == "failed"
    assert row["error"] == "ValueError: temperature must be > 0, got -1.0"
    assert "Traceback" in row["traceback"]
    row = run_trial(Trial("gibbs2", 0, "smoke", overrides={"no_such_field": 1}), tmp_path / "bad2")
    assert row["status"] == "failed" and "no_such_field" in row["error"]


def test_results_files(tmp_path):
    rows = [run_trial(Trial(s, 0, "smoke", overrides={"epochs": 1}), tmp_path / s) for s in ("gibbs2", "rsps")]
    rows.append(run_trial(Trial("gibbs2", 0, "smoke", overrides={"epochs": 0}), tmp_path / "zero"))
    sweep_results.write_results(tmp_path, rows)
    lines = (tmp_path / "results.csv").read_text().splitlines()
    assert lines[0].split(",")[:4] == ["name", "status", "strategy", "dataset"]
    assert lines[1].startswith("gibbs2-synthetic-s0+epochs=1,ok,gibbs2,synthetic,0,smoke,nb201,|")
    assert ",failed," in lines[3] and "epochs" in lines[3]
    assert sweep_results.load_results(tmp_path) == json.loads(json.dumps(rows, default=float))
    summary = sweep_results.summarize(rows)
    assert [s["strategy"] for s in summary] == ["gibbs2", "rsps"]
    assert summary[0]["mean"] == rows[0]["cifar10_test"]
    fig = sweep_plots.strip_figure(rows)
    assert [t.name for t in fig.data] == ["gibbs2", "rsps"]
    assert len(sweep_plots.epochs_figure(rows).data) == 8  # 2 strategies x (band + line) x 2 panels


def test_without_ray_the_sweep_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ImportError, match=r"pip install -e '\.\[sweep\]'"):
        runner.import_ray()
    assert cli_main(["sweep", "--strategies", "gibbs2", "--out", str(tmp_path), "--no-progress"]) == 2
    assert "not installed: pip install -e '.[sweep]'" in capsys.readouterr().err


def test_without_ray_a_serial_fallback_gives_the_same_rows(tmp_path, monkeypatch):
    from gibbsnas_lite.sweep import run_sweep

    monkeypatch.setitem(sys.modules, "ray", None)
    said = []
    trials = grid("gibbs2,rsps", seeds=0, overrides={"epochs": 1})
    sweep = run_sweep(trials, tmp_path / "s", without_ray="serial", progress=False, echo=said.append)
    assert "not installed" in said[0] and "one after another" in said[0]
    for trial, row in zip(trials, sweep.rows):
        timed = ("peak_rss_mb", "search_seconds", "cpu_seconds")
        ref = run_trial(trial, tmp_path / "ref" / trial.name)
        assert {k: v for k, v in row.items() if k not in timed} == {k: v for k, v in ref.items() if k not in timed}
    with pytest.raises(ValueError, match="without_ray='maybe'"):
        run_sweep(trials, tmp_path / "s", without_ray="maybe")


def test_cli_sweep_argument_errors(tmp_path, capsys):
    assert cli_main(["sweep", "--out", str(tmp_path / "none")]) == 2
    assert "nothing to run: give --strategies" in capsys.readouterr().err
    assert cli_main(["sweep", "--seeds", "0-2", "--out", str(tmp_path)]) == 2
    assert "--strategies is needed" in capsys.readouterr().err


# ----------------------------------------------------------------------------- on Ray
EPOCHS = 8
GRID = dict(strategies="gibbs2,darts-v1", seeds="0-1", profile="smoke", overrides={"epochs": EPOCHS})


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The grid's trials one after another in this process: what every sweep must reproduce."""
    folder = tmp_path_factory.mktemp("reference")
    return {t.name: {**run_trial(t, folder / t.name), "folder": folder / t.name} for t in grid(**GRID)}


def _same(row: dict, ref: dict, folder: Path):
    assert row["status"] == "ok", row.get("error")
    assert row["arch"] == ref["arch"] and row["benchmark"] == ref["benchmark"]
    assert [e["arch"] for e in row["epochs"]] == [e["arch"] for e in ref["epochs"]]
    final, ref_final = (json.loads((f / "summary.json").read_text())["final"] for f in (folder, ref["folder"]))
    final.pop("seconds"), ref_final.pop("seconds")
    assert final == ref_final  # the last epoch's losses and accuracies, bit for bit
    assert final["train_loss"] > 0


@pytest.mark.slow
def test_local_ray_sweep_completes_a_grid_and_reports_a_bad_trial(tmp_path, reference):
    _need_ray()
    from gibbsnas_lite.sweep import run_sweep

    bad = Trial("gibbs2", 0, "smoke", overrides={"temperature": -1.0})
    sweep = run_sweep(grid(**GRID) + [bad], tmp_path, workers=2, progress=False)
    by_name = {r["name"]: r for r in sweep.rows}
    for name, ref in reference.items():
        _same(by_name[name], ref, tmp_path / "trials" / name)
    assert by_name[bad.name]["status"] == "failed"
    assert by_name[bad.name]["error"] == "ValueError: temperature must be > 0, got -1.0"
    assert [r["name"] for r in sweep_results.load_results(tmp_path)] == [r["name"] for r in sweep.rows]
    # started again: nothing finished is rerun (the bad trial is tried again and fails again)
    again = run_sweep(grid(**GRID) + [bad], tmp_path, workers=2, progress=False)
    assert again.ran == [bad.name] and again.rows[:4] == sweep.rows[:4]


def _wait(condition, timeout=120.0, what="a condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _epochs_done(folder: Path) -> int:
    path = folder / "history.jsonl"
    if not path.exists():
        return 0
    return sum('"kind": "epoch"' in line for line in path.read_text().splitlines())


def _trial_workers(driver: subprocess.Popen) -> list[int]:
    """Pids of the trial workers under this test's driver (its local Ray is its child), never another
    sweep's on the same machine."""
    import psutil

    try:
        procs = psutil.Process(driver.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for proc in procs:
        try:
            cmd = proc.cmdline()
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
        if cmd and cmd[0].startswith("ray::_ray_trial"):
            found.append(proc.pid)
    return found


def _start_driver(out: Path) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "gibbsnas_lite.cli",
        "sweep",
        "--strategies",
        GRID["strategies"],
        "--seeds",
        GRID["seeds"],
        "--profile",
        "smoke",
        "-o",
        f"epochs={EPOCHS}",
        "--workers",
        "2",
        "--out",
        str(out),
        "--no-progress",
    ]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _kill_driver(proc: subprocess.Popen):
    import psutil

    family = psutil.Process(proc.pid).children(recursive=True)  # its Ray, before they are orphaned
    workers = [p for p in family if p.pid in set(_trial_workers(proc))]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    # the trials die with the driver (no second writer when the sweep restarts) ...
    _, alive = psutil.wait_procs(workers, timeout=60)
    assert not alive, f"trial workers of the killed driver still alive after 60 s: {alive}"
    # ... and Ray's agents follow within a minute or two on a busy machine; the test does not wait for them
    for leftover in psutil.wait_procs(family, timeout=5)[1]:
        leftover.kill()


@pytest.mark.slow
def test_sweep_survives_sigkill_of_a_worker_and_of_the_driver(tmp_path, reference):
    """Kill points: (1) a worker after its trial's first epochs (Ray retries, the trial resumes);
    (2) the driver in the middle of trials; (3) the driver before any trial has a checkpoint;
    then the same command again finishes the grid with the uninterrupted rows."""
    _need_ray()
    trials_dir = tmp_path / "trials"
    folders = [trials_dir / name for name in reference]

    driver = _start_driver(tmp_path)

    # (1) SIGKILL a worker in the middle of a trial: at least 2 of its epochs are checkpointed
    def mid_trial():
        workers = _trial_workers(driver)
        return workers if workers and any(2 <= _epochs_done(f) < EPOCHS for f in folders) else None

    os.kill(_wait(mid_trial, what="a trial in its middle epochs")[0], signal.SIGKILL)
    # (2) SIGKILL the driver while a trial is half done, after at least one trial has finished
    _wait(
        lambda: (
            any((f / "trial.json").exists() for f in folders)
            and any(1 <= _epochs_done(f) < EPOCHS for f in folders if not (f / "trial.json").exists())
        ),
        what="one finished trial and one half-done",
    )
    _kill_driver(driver)
    finished_before = {f.name for f in folders if (f / "trial.json").exists()}
    assert 1 <= len(finished_before) < len(folders)
    # (3) start again and SIGKILL the driver as soon as a trial runs, before its first checkpoint
    driver = _start_driver(tmp_path)
    _wait(lambda: _trial_workers(driver), what="a trial worker of the second driver")
    _kill_driver(driver)
    # the same command again finishes the grid
    driver = _start_driver(tmp_path)
    out, _ = driver.communicate(timeout=600)
    assert driver.returncode == 0, out
    kept = re.search(r"(\d) of 4 trials finished already: not run again", out)
    assert kept and int(kept.group(1)) >= len(finished_before), out
    rows = {r["name"]: r for r in sweep_results.load_results(tmp_path)}
    for name, ref in reference.items():
        _same(rows[name], ref, trials_dir / name)
    # the killed trials went on from their checkpoints: some trial started more than once, from a later epoch
    resumed = [r["starts"] for r in rows.values() if len(r["starts"]) > 1]
    assert resumed and any(starts[-1] >= 1 for starts in resumed), [r["starts"] for r in rows.values()]
    assert all(r["starts"][0] == 0 and r["starts"] == sorted(r["starts"]) for r in rows.values())


def _stop_cluster(temp_dir: str) -> None:
    """Kill the processes of the cluster whose session lives in ``temp_dir`` (and their children), and no
    other Ray: `ray stop` would stop every Ray instance on the machine."""
    import psutil

    roots = [p for p in psutil.process_iter(["cmdline"]) if temp_dir in " ".join(p.info["cmdline"] or [])]
    procs = {p.pid: p for root in roots for p in [root, *root.children(recursive=True)]}
    for proc in procs.values():
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(list(procs.values()), timeout=30)


@pytest.mark.slow
def test_sweep_on_a_running_cluster_by_address(tmp_path, reference):
    """`ray start --head` on 127.0.0.1 (a one-machine cluster), then the sweep with --address."""
    import tempfile

    _need_ray()
    ray_bin = Path(sys.executable).with_name("ray")
    port = "6391"
    temp_dir = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # Ray's socket paths must stay under 107 bytes
    # one shared token for the cluster and the driver (Ray >= 2.59 authenticates; docs/sweeps.md)
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": os.urandom(16).hex()}
    start = subprocess.run(
        [
            str(ray_bin),
            "start",
            "--head",
            "--node-ip-address",
            "127.0.0.1",
            "--port",
            port,
            "--num-cpus",
            "2",
            "--include-dashboard",
            "false",
            "--disable-usage-stats",
            "--temp-dir",
            temp_dir,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    try:
        assert start.returncode == 0, start.stdout + start.stderr
        name = next(iter(reference))
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "gibbsnas_lite.cli",
                "sweep",
                "--address",
                f"127.0.0.1:{port}",
                "--strategies",
                name.split("-synthetic")[0],
                "--seeds",
                "0",
                "-o",
                f"epochs={EPOCHS}",
                "--out",
                str(tmp_path / "s"),
                "--no-progress",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert out.returncode == 0, out.stdout + out.stderr
        row = sweep_results.load_results(tmp_path / "s")[0]
        _same(row, reference[row["name"]], tmp_path / "s" / "trials" / row["name"])
    finally:
        _stop_cluster(temp_dir)
