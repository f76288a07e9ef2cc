"""A learner's run lands on the shipped studies' runs (issue 20): the stages that notebooks run read
the embedded images on every machine, so the same seed, torch and thread count repeat a shipped
run step for step. Checked here on a search's first steps, against the shipped rows themselves."""

from __future__ import annotations

import torch

from gibbsnas_lite.course import deep_study, seed_study
from gibbsnas_lite.search import make_config, run_search
from gibbsnas_lite.search.history import History


def _first_records(config, out_dir, stop_after):
    """Run ``config`` until ``stop_after(event)`` says so; the run folder's history."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the studies ran on one thread: the float sums' order depends on it
    try:
        run_search(config, out_dir=out_dir, callback=lambda event: "stop" if stop_after(event) else None)
    finally:
        torch.set_num_threads(threads)
    return History.load(out_dir)


def test_a_deep_stage_rerun_repeats_the_shipped_run_bit_for_bit(tmp_path):
    """DARTS-V1 on cpu-deep, seed 4: the first two alpha records equal the shipped history's exactly."""
    shipped = History.load(deep_study.example_history("darts-v1"))
    config = make_config("darts-v1", "cpu-deep", seed=deep_study.EXAMPLE_SEED)
    mine = _first_records(config, tmp_path / "deep", lambda e: e["kind"] == "alpha" and e["step"] >= 19)
    assert len(mine.alpha) == 2
    for record, reference in zip(mine.alpha, shipped.alpha):
        assert (record["epoch"], record["step"]) == (reference["epoch"], reference["step"])
        assert record["alpha"] == reference["alpha"]  # the same floats, not merely close ones


def test_a_cpu_stage_rerun_reads_the_studys_images_and_derives_its_first_cell(tmp_path):
    study = seed_study.load()["runs"]
    row = next(r for r in study if r["strategy"] == "darts-v1" and r["seed"] == 0)
    assert row["data_sha256"], "the shipped cpu study records the images each run searched"
    config = make_config("darts-v1", "cpu", seed=0)
    mine = _first_records(config, tmp_path / "cpu", lambda e: e["kind"] == "epoch")
    summary = (tmp_path / "cpu" / "summary.json").read_text()
    assert row["data_sha256"] in summary  # the same images as the study's run
    assert mine.epochs[0]["arch"] == row["epochs"][0]["arch"]
