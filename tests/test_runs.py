"""gibbsnas_lite.runs (run-folder helpers) and the strategy registry (gibbsnas_lite.search.registry)."""

import json
import random
import sys

import numpy as np
import pytest
import torch

from gibbsnas_lite import runs
from gibbsnas_lite.search import STRATEGIES, SearchConfig, make_config, registry, run_search
from gibbsnas_lite.search.base import Strategy
from gibbsnas_lite.train import TrainConfig


def test_atomic_writes_leave_only_the_file(tmp_path):
    runs.atomic_write_text(tmp_path / "a.txt", "hello\n")
    runs.atomic_write_json(tmp_path / runs.SUMMARY, {"x": np.float32(1.5)})
    runs.atomic_torch_save(tmp_path / runs.CHECKPOINT, {"t": torch.arange(3)})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["a.txt", runs.SUMMARY, runs.CHECKPOINT])
    assert (tmp_path / "a.txt").read_text() == "hello\n"
    assert json.loads((tmp_path / runs.SUMMARY).read_text()) == {"x": 1.5}
    path, payload = runs.read_checkpoint_file(tmp_path)
    assert path == tmp_path / runs.CHECKPOINT and payload["t"].tolist() == [0, 1, 2]
    with pytest.raises(FileNotFoundError, match="run folder of an earlier search"):
        runs.read_checkpoint_file(tmp_path / "nothing")


def test_rng_capture_and_restore_round_trip():
    runs.seed_everything(3)
    state = runs.capture_rng()
    first = (torch.rand(2).tolist(), random.random(), np.random.rand())
    runs.restore_rng(state)
    assert (torch.rand(2).tolist(), random.random(), np.random.rand()) == first


def test_choice_and_config_errors():
    assert runs.PROFILES == ("smoke", "cpu", "full")
    with pytest.raises(ValueError, match=r"unknown profile 'tiny'; choose one of: smoke, cpu, full"):
        runs.choice("profile", "tiny", runs.PROFILES)
    with pytest.raises(ValueError, match=r"unknown config key\(s\) bogus; known: "):
        SearchConfig.from_dict({"bogus": 1})
    with pytest.raises(ValueError, match=r"unknown train config key\(s\) bogus; known: "):
        TrainConfig.from_dict({"bogus": 1})
    config = make_config("gibbs1", "smoke")
    assert SearchConfig.from_dict(config.to_dict()) == config


def test_progress_is_a_silent_stand_in_without_tqdm(monkeypatch):
    for enabled in (False, True):
        if enabled:  # tqdm not installed
            monkeypatch.setitem(sys.modules, "tqdm", None)
            monkeypatch.setitem(sys.modules, "tqdm.auto", None)
        bar = runs.progress(enabled, total=5, initial=1, desc="x", unit="step")
        assert isinstance(bar, runs.NullProgress)
        bar.update(1)
        bar.set_postfix(loss=1.0)
        bar.close()


def test_registry_is_the_strategy_table():
    assert STRATEGIES == ("gibbs2", "gibbs2-mean", "gibbs1", "gibbs1-mean", "darts-v1", "darts-v2", "gdas", "rsps")
    assert registry.strategy_names() == STRATEGIES
    for name in STRATEGIES:
        spec = registry.get(name)
        assert issubclass(spec.cls, Strategy) and spec.label and spec.paper_row
    assert [registry.get(n).order for n in STRATEGIES] == [2, 2, 1, 1, 1, 2, 1, None]
    assert [registry.get(n).mode for n in STRATEGIES[:4]] == ["sample", "mean", "sample", "mean"]
    with pytest.raises(ValueError, match="unknown strategy 'nope'; choose one of: gibbs2, "):
        registry.get("nope")
    with pytest.raises(ValueError, match="registered already"):
        registry.register(registry.get("gdas"))


def test_a_registered_strategy_runs_through_config_and_loop():
    spec = registry.StrategySpec(
        "darts-v1-copy", "darts:DartsV1", "DARTS-V1 (copy)", "DARTS-V1", "darts", order=1, defaults=dict(a_lr=1e-3)
    )
    registry.register(spec)
    try:
        config = make_config("darts-v1-copy", "smoke", epochs=1, max_steps_per_epoch=1)
        assert config.a_lr == 1e-3
        result = run_search(config)
        assert type(result.strategy).__name__ == "DartsV1" and len(result.history.epochs) == 1
    finally:
        del registry.REGISTRY["darts-v1-copy"]
    assert registry.strategy_names() == STRATEGIES


def test_no_scheduler_warning_when_alpha_has_not_moved_in_an_epoch():
    """alpha does not move in an alpha warm-up epoch; its per-epoch schedule still advances, without
    torch's 'lr_scheduler.step() before optimizer.step()' warning (search.base.advance_schedules)."""
    import warnings

    config = make_config("gibbs2", "smoke", epochs=2, max_steps_per_epoch=1, alpha_warmup_epochs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = run_search(config)
    assert result.strategy.a_scheduler.last_epoch == 2
