"""Tests of ``gibbsnas-lite search``: the files it writes, its output, --resume, help, bad input.

Runs are the smoke profile made smaller (64 synthetic images per search half, batches of 32:
2 steps per epoch, 2 epochs).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import gibbsnas_lite.search as search_pkg
from gibbsnas_lite.cli import main
from gibbsnas_lite.nasbench import NB201Table
from gibbsnas_lite.search import StopSearch
from gibbsnas_lite.search.checkpoint import load_checkpoint
from gibbsnas_lite.spaces.nb201 import parse_arch
from helpers import assert_same, file_records

SMALL = ["--train-limit", "64", "--batch-size", "32"]
ENTRY_POINT = shutil.which("gibbsnas-lite", path=os.path.dirname(sys.executable))


def search_cli(out: Path, *extra: str) -> list[str]:
    return ["search", "--profile", "smoke", "--strategy", "gdas", "--out", str(out), "--no-progress", *SMALL, *extra]


def epoch_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("epoch ")]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """One uninterrupted CLI run: (folder, captured stdout)."""
    out = tmp_path_factory.mktemp("cli") / "gdas"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main(search_cli(out))
    assert code == 0
    return out, buffer.getvalue()


def test_search_writes_checkpoint_history_summary_and_one_line_per_epoch(full_run):
    out, stdout = full_run
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.json", "history.jsonl", "summary.json"]
    lines = epoch_lines(stdout)
    assert [line.split(" | ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all("train_loss" in line and "arch |" in line for line in lines)

    history = file_records(out)  # every line is valid JSON (json.loads above)
    epochs = [r for r in history if r["kind"] == "epoch"]
    assert [r["epoch"] for r in epochs] == [0, 1]
    alphas = [r for r in history if r["kind"] == "alpha"]
    # one alpha tensor in NB201 (6 edges x 5 ops): alpha, softmax probabilities, std per entry
    assert alphas and all(
        len(r["probs"]) == 1 and len(r["probs"][0]) == 6 and len(r["probs"][0][0]) == 5 for r in alphas
    )
    assert load_checkpoint(out)["epoch"] == 1

    summary = json.loads((out / "summary.json").read_text())
    arch = summary["arch"]
    assert len(parse_arch(arch)) == 6 and arch == epochs[-1]["arch"]
    assert summary["epochs_done"] == 2 and not summary["stopped_early"]
    assert summary["strategy"] == "gdas" and summary["config"]["train_limit"] == 64
    table = NB201Table.load()
    assert summary["benchmark"] == {
        "cifar10_valid": table.accuracy(arch, "cifar10-valid", "valid"),
        "cifar10_test": table.accuracy(arch, "cifar10", "test"),
        "cifar100_test": table.accuracy(arch, "cifar100", "test"),
        "ImageNet16-120_test": table.accuracy(arch, "ImageNet16-120", "test"),
    }
    assert f"arch: {arch}" in stdout
    assert f"NAS-Bench-201 cifar10_test: {summary['benchmark']['cifar10_test']:.2f}" in stdout
    assert f"run folder: {out}" in stdout


def test_resume_continues_a_stopped_run_to_the_same_result(full_run, tmp_path, capsys, monkeypatch):
    full_dir, _ = full_run
    run_search = search_pkg.run_search

    def stop_after_first_epoch(*args, **kwargs):
        def callback(event):
            if event["kind"] == "epoch":
                raise StopSearch

        return run_search(*args, callback=callback, **kwargs)

    monkeypatch.setattr(search_pkg, "run_search", stop_after_first_epoch)
    out = tmp_path / "gdas"
    assert main(search_cli(out)) == 0
    first = capsys.readouterr().out
    assert [line.split(" | ")[0] for line in epoch_lines(first)] == ["epoch 1/2"]
    assert "stopped after epoch 1/2" in first
    monkeypatch.undo()

    assert main(["search", "--resume", str(out), "--no-progress"]) == 0
    second = capsys.readouterr().out
    assert [line.split(" | ")[0] for line in epoch_lines(second)] == ["epoch 2/2"]
    assert file_records(out) == file_records(full_dir)
    a, b = load_checkpoint(full_dir), load_checkpoint(out)
    for key in ("epoch", "model", "strategy", "data", "rng", "arch", "history"):
        assert_same(a[key], b[key], key, ignore={"seconds"})
    assert (
        json.loads((out / "summary.json").read_text())["arch"]
        == json.loads((full_dir / "summary.json").read_text())["arch"]
    )


@pytest.mark.skipif(ENTRY_POINT is None, reason="the gibbsnas-lite script is not installed in this venv")
def test_entry_point_help_and_resume_in_a_fresh_process(full_run, tmp_path):
    result = subprocess.run([ENTRY_POINT, "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert "search" in result.stdout and "notebooks" in result.stdout
    # a run stopped after epoch 0 here, continued by the installed command in another process,
    # ends bit for bit where the uninterrupted CLI run did
    full_dir, _ = full_run
    out = tmp_path / "gdas"

    def callback(event):
        if event["kind"] == "epoch":
            raise StopSearch

    config = search_pkg.make_config("gdas", "smoke", train_limit=64, batch_size=32)
    search_pkg.run_search(config, out_dir=out, callback=callback)
    assert load_checkpoint(out)["epoch"] == 0
    # Bit for bit needs the same float reduction order, so the same number of CPU threads as
    # this process (tests/conftest.py: 1); with 2 threads alpha differs in the last digits.
    env = dict(os.environ, OMP_NUM_THREADS=str(torch.get_num_threads()))
    result = subprocess.run(
        [ENTRY_POINT, "search", "--resume", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert [line.split(" | ")[0] for line in epoch_lines(result.stdout)] == ["epoch 2/2"]
    a, b = load_checkpoint(full_dir), load_checkpoint(out)
    for key in ("model", "strategy", "data", "rng", "arch"):
        assert_same(a[key], b[key], key, ignore={"seconds"})
    assert file_records(out) == file_records(full_dir)


def test_search_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as info:
        main(["search", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--strategy",
        "--space",
        "--dataset",
        "--profile",
        "--device",
        "--seed",
        "--epochs",
        "--batch-size",
        "--channels",
        "--cells",
        "--train-limit",
        "--w-lr",
        "--a-lr",
        "--temperature",
        "--w-temperature",
        "--data-root",
        "--download",
        "--amp",
        "--out",
        "--resume",
        "--no-progress",
    ):
        assert option in text, option
    for choice in ("gibbs2", "gibbs1-mean", "darts-v2", "gdas", "rsps", "smoke", "nb201", "darts"):
        assert choice in text


@pytest.mark.parametrize(
    "option, value, choices",
    [
        ("--strategy", "gibbs3", "gibbs2"),
        ("--space", "nb301", "nb201"),
        ("--dataset", "mnist", "fashion-mnist"),
        ("--profile", "huge", "smoke"),
        ("--device", "tpu", "cuda"),
    ],
)
def test_unknown_choice_exits_2_naming_the_value_and_choices(option, value, choices, capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["search", option, value, "--out", str(tmp_path / "run")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"invalid choice: '{value}'" in err and choices in err
    assert not (tmp_path / "run").exists()


def test_bad_values_and_folders_exit_2_with_the_message_on_stderr(full_run, tmp_path, capsys):
    def fails(argv, message):
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert captured.err.startswith("gibbsnas-lite search: error: ") and message in captured.err, captured.err

    fails(search_cli(tmp_path / "a", "--epochs", "0"), "epochs must be >= 1, got 0")
    fails(["search", "--resume", str(tmp_path)], "no checkpoint at")
    fails(["search", "--resume", str(tmp_path / "nowhere")], "no checkpoint at")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "checkpoint.pt").write_bytes(b"\x00garbage")
    fails(["search", "--resume", str(corrupt)], "corrupt or not a gibbsnas-lite checkpoint")
    full_dir, _ = full_run
    fails(["search", "--resume", str(full_dir), "--epochs", "5", "--strategy", "gibbs2"], "drop --strategy, --epochs")
    if not torch.cuda.is_available():
        fails(search_cli(tmp_path / "b", "--device", "cuda"), "CUDA is not available")
        assert not (tmp_path / "b").exists()
    a_file = tmp_path / "a-file"
    a_file.write_text("not a run folder")
    fails(search_cli(a_file), f"the run folder {a_file} is a file; give a folder")
    assert a_file.read_text() == "not a run folder"


def test_notebooks_run_names_an_unknown_notebook_in_one_line(capsys):
    pytest.importorskip("papermill")
    assert main(["notebooks", "run", "--only", "99"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gibbsnas-lite notebooks: error: unknown notebook number(s) 99; available: 01,")
    assert "Traceback" not in err


def test_set_passes_any_config_field_and_names_bad_ones(tmp_path, capsys):
    from gibbsnas_lite.cli import parse_settings

    assert parse_settings(
        ["image_size=16", "alpha_max_step=2.5", "dataset=synthetic", "clip_std=None", "alpha_h_max=inf"]
    ) == {
        "image_size": 16,
        "alpha_max_step": 2.5,
        "dataset": "synthetic",
        "clip_std": None,
        "alpha_h_max": float("inf"),
    }
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_settings(["image_size"])
    from gibbsnas_lite import runs

    assert parse_settings is runs.parse_settings  # one KEY=VALUE reader (cli, sweep -o, the scripts)
    with pytest.raises(ValueError, match="^-o expects KEY=VALUE, got '=3'"):
        runs.parse_settings(["=3"], flag="-o")
    out = tmp_path / "run"
    assert (
        main(
            [
                "search",
                "--profile",
                "smoke",
                "--epochs",
                "1",
                "--set",
                "alpha_h_max=3.0",
                "--set",
                "alpha_max_step=0.2",
                "--out",
                str(out),
                "--no-progress",
            ]
        )
        == 0
    )
    config = json.loads((out / "config.json").read_text())
    assert config["alpha_h_max"] == 3.0 and config["alpha_max_step"] == 0.2
    capsys.readouterr()
    assert main(["search", "--profile", "smoke", "--set", "alpha_hmax=3", "--out", str(tmp_path / "bad")]) == 2
    assert "unknown config key(s) alpha_hmax" in capsys.readouterr().err


def test_set_reads_booleans_and_refuses_a_contradiction_or_a_non_boolean(tmp_path, capsys):
    from gibbsnas_lite.cli import parse_settings

    # "true"/"false" as a sweep file or a shell user writes them, not the truthy string "false"
    assert parse_settings(["channels_last=true", "amp=False", "noise_follows_lr=FALSE"]) == {
        "channels_last": True,
        "amp": False,
        "noise_follows_lr": False,
    }
    assert main(["search", "--profile", "smoke", "--set", "amp=yes", "--out", str(tmp_path / "a")]) == 2
    assert "amp must be True or False, got 'yes'" in capsys.readouterr().err
    assert main(["search", "--profile", "smoke", "--seed", "1", "--set", "seed=2", "--out", str(tmp_path / "b")]) == 2
    assert "--set seed=2 contradicts the option given for seed (1)" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_channels_last_is_the_cpu_profiles_default_and_puts_model_and_batches_in_that_layout(tmp_path):
    from gibbsnas_lite.search import make_config
    from gibbsnas_lite.search.data import build_search_data

    config = make_config("gibbs2", "smoke", train_limit=64, batch_size=32, channels_last=True)
    data = build_search_data(config, torch.device("cpu"))
    x, _ = next(iter(data.epoch_batches(0)))[0]
    assert x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    assert make_config("gibbs2", "smoke").channels_last is False
    # on by default where a search runs on a CPU (docs/bench_search.md, "Issue 19"); not on a GPU
    for profile, default in (("cpu", True), ("cpu-deep", True), ("full", False)):
        for strategy in ("gibbs2", "darts-v1"):
            assert make_config(strategy, profile).channels_last is default
            assert make_config(strategy, profile, channels_last=not default).channels_last is not default
    out = tmp_path / "cl"
    assert main(search_cli(out, "--set", "channels_last=true")) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["channels_last"] is True and summary["epochs_done"] == 2
    parse_arch(summary["arch"])
