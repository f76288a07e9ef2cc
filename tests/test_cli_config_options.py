"""Tests of the ``search`` and ``train`` options built from the config dataclasses' fields.

A field declared with ``runs.option`` is a command-line option, is refused with ``--resume``
(unless declared ``with_resume``) and reaches ``make_config``; the command lines below make the
same configs as before the options were generated (the explicit ``make_config`` calls are what
the hand-written options passed).
"""

from __future__ import annotations

import argparse
import typing
from dataclasses import dataclass

import pytest

import gibbsnas_lite.train as train_pkg
from gibbsnas_lite import cli
from gibbsnas_lite.runs import option
from gibbsnas_lite.search import SearchConfig, make_config
from gibbsnas_lite.train import TrainConfig, make_train_config

# The options that `search` and `train` had when they were written by hand (before issue 21).
SEARCH_OPTION_FIELDS = {
    "strategy",
    "space",
    "dataset",
    "profile",
    "device",
    "seed",
    "epochs",
    "batch_size",
    "channels",
    "cells_per_stage",
    "train_limit",
    "w_lr",
    "a_lr",
    "temperature",
    "alpha_warmup_epochs",
    "w_temperature",
    "data_root",
    "download",
    "amp",
}
TRAIN_OPTION_FIELDS = {
    "genotype",
    "dataset",
    "profile",
    "device",
    "seed",
    "epochs",
    "batch_size",
    "channels",
    "layers",
    "lr",
    "train_limit",
    "data_root",
    "download",
}


def parse(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(list(argv))


@pytest.mark.parametrize(
    "argv, expected",
    [
        ("", lambda: make_config("gibbs2", "smoke")),
        ("--cells 2", lambda: make_config("gibbs2", "smoke", cells_per_stage=2)),
        ("--download", lambda: make_config("gibbs2", "smoke", download=True)),
        ("--amp", lambda: make_config("gibbs2", "smoke", amp=True)),
        ("--set image_size=16 --profile cpu", lambda: make_config("gibbs2", "cpu", image_size=16)),
        ("--w-temperature 0.05", lambda: make_config("gibbs2", "smoke", w_temperature=0.05)),
        (
            "--strategy darts-v1 --profile cpu --seed 3 --epochs 4 --batch-size 16",
            lambda: make_config("darts-v1", "cpu", seed=3, epochs=4, batch_size=16),
        ),
        (
            "--strategy gibbs1 --space darts --profile full --dataset cifar100",
            lambda: make_config("gibbs1", "full", space="darts", dataset="cifar100"),
        ),
        (
            "--profile cpu-deep --train-limit 512 --w-lr 0.05 --a-lr 0.01 --temperature 2.5",
            lambda: make_config("gibbs2", "cpu-deep", train_limit=512, w_lr=0.05, a_lr=0.01, temperature=2.5),
        ),
        (
            "--profile cpu --alpha-warmup-epochs 3 --data-root /tmp/data --device cpu",
            lambda: make_config("gibbs2", "cpu", alpha_warmup_epochs=3, data_root="/tmp/data", device="cpu"),
        ),
        (
            "--profile full --space darts --cells 2",
            lambda: make_config("gibbs2", "full", space="darts", cells_per_stage=2),
        ),
        (
            "--channels 6 --set channels_last=true --set clip_std=None --set alpha_h_max=inf",
            lambda: make_config("gibbs2", "smoke", channels=6, channels_last=True, alpha_h_max=float("inf")),
        ),
        ("--seed 1 --set seed=1", lambda: make_config("gibbs2", "smoke", seed=1)),
        ("--set strategy=gdas --set profile=cpu", lambda: make_config("gdas", "cpu")),  # was a TypeError
    ],
)
def test_search_command_lines_make_the_configs_the_hand_written_options_made(argv, expected):
    assert cli.search_config(parse("search", *argv.split())).to_dict() == expected().to_dict()


def test_the_search_options_keep_their_types_and_the_flags_stay_off_unless_given():
    config = cli.search_config(parse("search", "--cells", "2", "--w-temperature", "0.05", "--train-limit", "8"))
    assert (config.cells_per_stage, config.w_temperature, config.train_limit) == (2, 0.05, 8)
    assert type(config.cells_per_stage) is int and type(config.w_temperature) is float
    assert config.download is False and config.amp is False
    args = parse("search", "--download", "--amp")
    assert (args.download, args.amp) == (True, True)
    assert (parse("search").download, parse("search").amp) == (None, None)  # not given: the profile's value


@pytest.mark.parametrize(
    "argv, expected",
    [
        ("", lambda: make_train_config("full", "DARTS_V2")),
        (
            "--profile smoke --genotype DARTS_V1 --epochs 1 --train-limit 32",
            lambda: make_train_config("smoke", "DARTS_V1", epochs=1, train_limit=32),
        ),
        (
            "--profile cpu --dataset synthetic --seed 2 --batch-size 8 --channels 4 --layers 3 --lr 0.1 "
            "--download --data-root /tmp/d --device cpu",
            lambda: make_train_config(
                "cpu",
                "DARTS_V2",
                dataset="synthetic",
                seed=2,
                batch_size=8,
                channels=4,
                layers=3,
                lr=0.1,
                download=True,
                data_root="/tmp/d",
                device="cpu",
            ),
        ),
    ],
)
def test_train_command_lines_make_the_configs_the_hand_written_options_made(argv, expected):
    assert cli.train_config(parse("train", *argv.split())).to_dict() == expected().to_dict()


@pytest.mark.parametrize(
    "argv, dropped",
    [
        ("search --cells 2", "--cells"),
        ("search --epochs 5 --strategy gibbs2", "--strategy, --epochs"),
        ("search --seed 0", "--seed"),  # a value of 0 is given too
        ("search --download --amp --set a=1 --out x", "--download, --amp, --set, --out"),
        ("search --w-temperature 0.05", "--w-temperature"),
        ("train --epochs 3", "--epochs"),
        ("train --genotype PDARTS --download --out y", "--genotype, --download, --out"),
    ],
)
def test_resume_refuses_the_run_options_by_their_flags(argv, dropped, tmp_path, capsys):
    command, *rest = argv.split()
    assert cli.main([command, "--resume", str(tmp_path), *rest]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"gibbsnas-lite {command}: error: --resume continues the run with the settings saved in its checkpoint; "
        f"drop {dropped} (only --device and --no-progress go with --resume)\n"
    )


@pytest.mark.parametrize("command", ["search", "train"])
def test_resume_takes_device_and_no_progress(command, tmp_path, capsys):
    assert cli.main([command, "--resume", str(tmp_path), "--device", "cpu", "--no-progress"]) == 2
    assert "no checkpoint at" in capsys.readouterr().err  # past the refusal, to the missing checkpoint


def _record_make_config(calls: list, first: str, second: str):
    def record(a, b, **options):
        calls.append({first: a, second: b, **options})
        return "recorded"

    return record


def _sample(action: argparse.Action) -> tuple[list[str], object]:
    """A command-line value for ``action`` and the value it parses to."""
    if action.nargs == 0:  # an on/off flag
        return [], True
    if action.choices:
        return [action.choices[-1]], action.choices[-1]
    return {int: (["7"], 7), float: (["0.5"], 0.5), str: (["some-text"], "some-text")}[action.type]


@pytest.mark.parametrize(
    "command, config_class, known, patch_target, names",
    [
        ("search", SearchConfig, SEARCH_OPTION_FIELDS, (cli, "make_config"), ("strategy", "profile")),
        (
            "train",
            TrainConfig,
            TRAIN_OPTION_FIELDS,
            (train_pkg, "make_train_config"),
            ("profile", "genotype"),
        ),
    ],
)
def test_every_option_field_is_on_the_command_line_reaches_make_config_and_is_refused_with_resume(
    command, config_class, known, patch_target, names, monkeypatch, tmp_path, capsys
):
    fields = cli.config_options(config_class)
    assert {f.name for f in fields} >= known  # not vacuous: at least the options written by hand before
    subparsers = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    actions = {a.dest: a for a in subparsers.choices[command]._actions}
    annotations = typing.get_type_hints(config_class)
    calls: list[dict] = []
    monkeypatch.setattr(*patch_target, _record_make_config(calls, *names))
    make = cli.search_config if command == "search" else cli.train_config
    for field in fields:
        flag = cli.option_flag(field)
        assert actions[field.name].option_strings == [flag], field.name
        words, value = _sample(actions[field.name])
        assert isinstance(value, annotations[field.name]), field.name
        args = parse(command, flag, *words)
        assert getattr(args, field.name) == value, field.name
        assert make(args) == "recorded" and calls[-1][field.name] == value, field.name
        code = cli.main([command, "--resume", str(tmp_path), flag, *words])
        err = capsys.readouterr().err
        assert code == 2
        if field.metadata["cli"]["with_resume"]:
            assert "no checkpoint at" in err, field.name
        else:
            assert f"drop {flag} (only" in err, field.name
    assert cli.option_flag(next(f for f in fields if f.name == "device")) == "--device"
    assert [f.name for f in fields if f.metadata["cli"]["with_resume"]] == ["device"]


@dataclass
class KnobConfig(SearchConfig):
    """SearchConfig and two made-up fields declared as options (no other edit anywhere)."""

    knob: float | None = option(None, flag="--the-knob", help="a made-up knob")
    lever: bool = option(False, help="a made-up lever")
    quiet: int = 3  # not an option


def test_a_field_declared_with_option_is_an_option_refused_with_resume_and_passed_to_make_config(
    monkeypatch, tmp_path, capsys
):
    assert not hasattr(parse("search"), "knob")
    with pytest.raises(SystemExit):
        cli.main(["search", "--the-knob", "0.5"])
    assert "unrecognized arguments: --the-knob" in capsys.readouterr().err

    monkeypatch.setattr(cli, "SearchConfig", KnobConfig)
    calls: list[dict] = []
    monkeypatch.setattr(cli, "make_config", _record_make_config(calls, "strategy", "profile"))

    with pytest.raises(SystemExit):
        cli.main(["search", "--help"])
    text = capsys.readouterr().out
    assert "--the-knob KNOB" in text and "a made-up knob" in text and "a made-up lever" in text
    assert text.index("--amp") < text.index("--the-knob") < text.index("--lever") < text.index("--set")
    assert "--quiet" not in text

    assert cli.search_config(parse("search", "--the-knob", "0.5", "--lever", "--cells", "2")) == "recorded"
    assert calls[-1]["knob"] == 0.5 and calls[-1]["lever"] is True and calls[-1]["cells_per_stage"] == 2
    assert "quiet" not in calls[-1]
    cli.search_config(parse("search", "--set", "knob=0.25"))
    assert calls[-1]["knob"] == 0.25 and calls[-1]["lever"] is None

    assert cli.main(["search", "--resume", str(tmp_path), "--lever", "--the-knob", "1"]) == 2
    assert "drop --the-knob, --lever (only --device and --no-progress go with --resume)" in capsys.readouterr().err
