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


def test_the_registry_is_read_live_everywhere():
    """A strategy registered after import shows up in every public view of the table (none is a copy
    made at import time), with its colour; it leaves them when it is removed."""
    from gibbsnas_lite import search
    from gibbsnas_lite.course import ablation, report, seed_study
    from gibbsnas_lite.search import config as search_config
    from gibbsnas_lite.sweep import stats, trials

    spec = registry.StrategySpec(
        "gibbs3-toy",
        "gibbs:GibbsNAS",
        "GibbsNAS-toy",
        "GibbsNAS",
        "gibbs",
        order=2,
        mode="sample",
        options=dict(order=2, mode="sample"),
        defaults=dict(a_lr=0.2),
        color="#123456",
    )
    registry.register(spec)
    try:
        assert search.STRATEGIES[-1] == search_config.STRATEGIES[-1] == "gibbs3-toy"
        assert stats.ORDER[-1] == seed_study.ORDER[-1] == "gibbs3-toy"
        assert search_config.STRATEGY_DEFAULTS["gibbs3-toy"] == dict(a_lr=0.2)
        assert report.STRATEGY_NAMES["gibbs3-toy"] == "GibbsNAS-toy" == report.strategy_label("gibbs3-toy")
        assert report.STRATEGY_PAPER_ROW["gibbs3-toy"] == "GibbsNAS"
        assert stats.strategies_in([{"strategy": "zz"}, {"strategy": "gibbs3-toy"}]) == ["gibbs3-toy", "zz"]
        assert [t.strategy for t in trials.grid("gibbs3-toy,gdas")] == ["gibbs3-toy", "gdas"]
        assert ablation.VARIANTS[-1] == "gibbs3-toy"
        assert ablation.VARIANT_INFO["gibbs3-toy"]["label"] == "2nd order, sample (GibbsNAS-toy)"
        assert registry.color("gibbs3-toy") == "#123456" and registry.in_family("gibbs3-toy", "gibbs")
    finally:
        del registry.REGISTRY["gibbs3-toy"]
    assert "gibbs3-toy" not in search.STRATEGIES and "gibbs3-toy" not in ablation.VARIANTS
    with pytest.raises(ValueError, match="unknown strategies"):
        trials.grid("gibbs3-toy")


def test_every_strategy_has_its_own_colour_and_the_figures_use_it():
    from gibbsnas_lite.course.ablation import VARIANT_INFO, VARIANTS

    colours = [registry.get(n).color for n in STRATEGIES]
    assert all(colours) and len(set(colours)) == len(colours)
    assert registry.color("nope") == registry.DEFAULT_COLOR and registry.color("nope", None) is None
    assert VARIANTS == ("gibbs2", "gibbs2-mean", "gibbs1", "gibbs1-mean")
    assert VARIANT_INFO["gibbs1"] == dict(
        order="1st",
        mode="sample",
        omega="1st-order-mean (SGD)",
        alpha="2nd-order-sample",
        label="1st order, sample (GibbsNAS-1st)",
    )
    assert VARIANT_INFO["gibbs2-mean"] == dict(
        order="2nd", mode="mean", omega="2nd-order-mean", alpha="2nd-order-mean", label="2nd order, mean"
    )
    # no colour table of its own in the figure modules: each strategy's colour is its registry entry's
    import re
    from pathlib import Path

    plots = Path(runs.__file__).parent / "course"
    for path in plots.rglob("*.py"):
        text = path.read_text()
        for name in registry.REGISTRY:
            assert not re.search(rf'"{re.escape(name)}": "#[0-9a-fA-F]{{6}}"', text), (path, name)


def test_no_scheduler_warning_when_alpha_has_not_moved_in_an_epoch():
    """alpha does not move in an alpha warm-up epoch; its per-epoch schedule still advances, without
    torch's 'lr_scheduler.step() before optimizer.step()' warning (search.base.advance_schedules)."""
    import warnings

    config = make_config("gibbs2", "smoke", epochs=2, max_steps_per_epoch=1, alpha_warmup_epochs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = run_search(config)
    assert result.strategy.a_scheduler.last_epoch == 2


def test_read_run_reads_summary_history_and_measurements(tmp_path):
    import gzip
    import json

    from gibbsnas_lite.runs import read_history, read_run
    from gibbsnas_lite.stats import describe

    folder = tmp_path / "run"
    folder.mkdir()
    lines = [{"kind": "alpha", "epoch": 0, "step": 2}, {"kind": "epoch", "epoch": 0, "arch": "a"}]
    (folder / "history.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    (folder / "config.json").write_text("{}")
    run = read_run(folder)
    assert run.summary is None and run.config == {} and run.measured is None
    assert run.epochs == [{"epoch": 0, "arch": "a"}] and run.alpha == [{"epoch": 0, "step": 2}]
    with pytest.raises(FileNotFoundError, match="not finished"):
        run.finished_summary()
    (folder / "time.txt").write_text("12.5 2048 10.0 1.5\n")
    assert read_run(folder).measured == {"wall_seconds": 12.5, "peak_rss_mb": 2.0, "cpu_seconds": 11.5}
    # a training run's records have no kind: every one is an epoch; a gzipped history reads the same
    (folder / "history.jsonl").unlink()
    (folder / "history.jsonl.gz").write_bytes(gzip.compress(b'{"epoch": 0, "train_loss": 1.0}\n'))
    assert read_history(folder) == [{"epoch": 0, "train_loss": 1.0}]
    assert read_run(folder).epochs == [{"epoch": 0, "train_loss": 1.0}]
    with pytest.raises(FileNotFoundError, match="no search history"):
        read_history(tmp_path, what="search")
    # one statistics helper: finite values, sample std, None where undefined
    assert describe([1.0, None, float("nan"), 3.0]) == {"mean": 2.0, "std": 2**0.5, "n": 2, "min": 1.0, "max": 3.0}
    assert describe([5.0])["std"] is None and describe([5.0], ddof=0)["std"] == 0.0
    assert describe([])["n"] == 0
