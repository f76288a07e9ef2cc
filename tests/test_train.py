"""Training a derived genotype (gibbsnas_lite.train) and the `gibbsnas-lite train` command."""

import json
import math

import pytest
import torch

from gibbsnas_lite import train as T
from gibbsnas_lite.cli import main
from gibbsnas_lite.course.plots import training as TP
from gibbsnas_lite.spaces.darts import DARTS_V2, count_parameters, format_genotype, genotype_to_dict
from gibbsnas_lite.train import (
    DARTS_PROTOCOL,
    NonFiniteLossError,
    build_network,
    drop_path_at,
    full_command,
    lr_at,
    make_train_config,
    parse_genotype_arg,
    train_network,
)
from gibbsnas_lite.train import loop as TL


def tiny(**overrides):
    """A 3-cell, 4-channel network on 64 synthetic images: a few steps per epoch."""
    values = dict(train_limit=64, test_limit=64, batch_size=16, epochs=2)
    values.update(overrides)
    return make_train_config("smoke", "DARTS_V2", **values)


# ----------------------------------------------------------------------------- the protocol
def test_full_profile_is_dartss_protocol():
    # quark0/darts cnn/train.py defaults with --auxiliary --cutout; DARTS paper App. A.2.
    c = make_train_config("full")
    assert (c.dataset, c.network, c.channels, c.layers) == ("cifar10", "cifar", 36, 20)
    assert (c.epochs, c.batch_size, c.lr, c.lr_min, c.momentum, c.weight_decay) == (600, 96, 0.025, 0.0, 0.9, 3e-4)
    assert (c.cutout, c.drop_path_prob, c.auxiliary, c.auxiliary_weight, c.grad_clip) == (16, 0.2, True, 0.4, 5.0)
    assert (c.train_limit, c.test_limit, c.max_steps_per_epoch) == (None, None, None)
    assert c.genotype == "DARTS_V2"
    assert all(getattr(c, k) == v for k, v in DARTS_PROTOCOL.items())


def test_darts_v2_full_network_has_dartss_published_parameter_count():
    # 3,349,342 without the auxiliary head (DARTS README "3.349MB params"; tests/test_darts_space.py)
    net = build_network(make_train_config("full"), num_classes=10, in_channels=3)
    assert count_parameters(net) == 3_349_342
    assert round(count_parameters(net) / 1e6, 1) == 3.3


def test_learning_rate_and_drop_path_schedules():
    c = make_train_config("full")
    assert lr_at(c, 0) == pytest.approx(0.025)
    assert lr_at(c, 300) == pytest.approx(0.0125)
    assert lr_at(c, 150) == pytest.approx(0.025 * (1 + math.cos(math.pi / 4)) / 2)
    assert lr_at(c, 600) == pytest.approx(0.0, abs=1e-15)
    # DARTS: drop_path_prob * epoch / epochs
    assert drop_path_at(c, 0) == 0.0
    assert drop_path_at(c, 300) == pytest.approx(0.1)
    assert drop_path_at(c, 150) == pytest.approx(0.05)
    assert drop_path_at(c, 599) == pytest.approx(0.2 * 599 / 600)


def test_the_loop_follows_the_schedules():
    r = train_network(tiny(epochs=4, max_steps_per_epoch=1))
    c = r.config
    assert [h["lr"] for h in r.history] == pytest.approx([lr_at(c, e) for e in range(4)])
    assert [h["drop_path_prob"] for h in r.history] == pytest.approx([0.0, 0.05, 0.1, 0.15])


# ----------------------------------------------------------------------------- genotypes
def test_genotype_arguments():
    text = format_genotype(DARTS_V2)
    assert parse_genotype_arg("DARTS_V2") == parse_genotype_arg(text) == parse_genotype_arg(DARTS_V2)
    assert parse_genotype_arg(json.dumps(genotype_to_dict(DARTS_V2))) == parse_genotype_arg(text)
    assert parse_genotype_arg(repr(DARTS_V2)) == parse_genotype_arg(text)
    assert make_train_config("smoke", DARTS_V2).genotype == text
    with pytest.raises(ValueError, match="unknown genotype 'DARTS_V3'.*DARTS_V2"):
        make_train_config("smoke", "DARTS_V3")
    with pytest.raises(ValueError):
        parse_genotype_arg("normal=|sep_conv_3x3~0|;reduce=|sep_conv_3x3~0|")  # one op per node


def test_genotype_from_a_search_run_folder(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps({"space": "darts", "arch": format_genotype(DARTS_V2)}))
    assert parse_genotype_arg(str(tmp_path)) == parse_genotype_arg("DARTS_V2")
    (tmp_path / "summary.json").write_text(json.dumps({"space": "nb201", "arch": "|none~0|+|..."}))
    with pytest.raises(ValueError, match="nb201 search"):
        parse_genotype_arg(str(tmp_path))


def test_full_command_is_one_line_that_parses():
    cmd = full_command(DARTS_V2, out="runs/x")
    assert cmd.startswith("gibbsnas-lite train --genotype ") and "--profile full" in cmd and "\n" not in cmd
    import shlex

    argv = shlex.split(cmd)[1:]
    assert parse_genotype_arg(argv[argv.index("--genotype") + 1]) == parse_genotype_arg("DARTS_V2")


# ----------------------------------------------------------------------------- training
def test_smoke_training_decreases_the_loss_and_learns(tmp_path):
    r = train_network(tiny(epochs=4, train_limit=128, cutout=0, drop_path_prob=0.0), out_dir=tmp_path)
    losses = r.train_loss
    assert len(losses) == 4 and all(math.isfinite(x) for x in losses)
    assert losses[-1] < 0.8 * losses[0], losses
    assert r.test_acc > 20.0  # 10 classes: chance is 10 %
    assert r.params == count_parameters(r.model) and r.params_m == r.params / 1e6
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["epochs_done"] == 4 and summary["test_acc"] == r.test_acc
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [0, 1, 2, 3]


def test_resume_equals_uninterrupted(tmp_path):
    config = tiny(epochs=3)
    full = train_network(config, out_dir=tmp_path / "a")
    stopped = train_network(config, out_dir=tmp_path / "b", callback=lambda rec: "stop" if rec["epoch"] == 0 else None)
    assert stopped.stopped_early and len(stopped.history) == 1
    assert T.load_train_checkpoint(tmp_path / "b")["epoch"] == 0
    resumed = train_network(resume=tmp_path / "b")
    assert [h["train_loss"] for h in resumed.history] == [h["train_loss"] for h in full.history]
    assert [h["test_acc"] for h in resumed.history] == [h["test_acc"] for h in full.history]
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert len((tmp_path / "b" / "history.jsonl").read_text().splitlines()) == 3


def test_nan_loss_is_a_clear_error_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    calls = {"n": 0}
    real = TL._objective

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] > 2 else loss  # epoch 1 (2 steps) fine, then NaN

    monkeypatch.setattr(TL, "_objective", poisoned)
    with pytest.raises(NonFiniteLossError, match=r"non-finite training loss.*epoch 2, step 1.*last good checkpoint"):
        train_network(tiny(epochs=3, max_steps_per_epoch=2), out_dir=tmp_path)
    ckpt = T.load_train_checkpoint(tmp_path)
    assert ckpt["epoch"] == 0 and all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 1
    monkeypatch.setattr(TL, "_objective", real)
    resumed = train_network(resume=tmp_path)
    assert len(resumed.history) == 3


def test_resume_refuses_a_search_folder(tmp_path):
    torch.save({"config": {}, "epoch": 0}, tmp_path / "checkpoint.pt")
    with pytest.raises(ValueError, match="not a gibbsnas-lite training checkpoint"):
        train_network(resume=tmp_path)
    with pytest.raises(FileNotFoundError):
        train_network(resume=tmp_path / "nothing")


# ----------------------------------------------------------------------------- command line
def test_cli_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for option in ("--genotype", "--dataset", "--profile", "--out", "--resume", "--device", "600 epochs"):
        assert option in out


def test_cli_unknown_genotype_is_a_clear_error(capsys, tmp_path):
    assert main(["train", "--genotype", "NOPE", "--profile", "smoke", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "gibbsnas-lite train: error: unknown genotype 'NOPE'" in err and "DARTS_V2" in err
    assert not (tmp_path / "r").exists()


def test_cli_trains_and_resumes(capsys, tmp_path):
    out = tmp_path / "run"
    argv = [
        "train",
        "--genotype",
        "DARTS_V1",
        "--profile",
        "smoke",
        "--epochs",
        "1",
        "--train-limit",
        "32",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "params:" in text and "test accuracy:" in text and (out / "checkpoint.pt").exists()
    assert main(["train", "--resume", str(out), "--epochs", "3"]) == 2
    assert "drop --epochs" in capsys.readouterr().err
    assert main(["train", "--resume", str(out), "--no-progress"]) == 0  # already done: nothing to do


def test_table1_and_figure(tmp_path):
    md = T.table1_markdown(dict(method="this run", error=None, params_m=0.05, gpu_days=None, search="x"))
    assert "| GibbsNAS + cutout | 2.53 ± 0.02 | 4.1 | 0.5 |" in md
    assert "| DARTS-V2 + cutout | 2.76 ± 0.09 | 3.4 | 1 |" in md and md.splitlines()[-1].startswith("| this run | – |")
    r = train_network(tiny(epochs=2, max_steps_per_epoch=1), out_dir=tmp_path)
    fig = TP.training_figure(tmp_path)
    assert [list(t.y) for t in fig.data][0] == pytest.approx(r.train_loss)
    assert list(fig.data[2].y) == pytest.approx([h["test_acc"] for h in r.history])
