"""The ablation helpers of notebook 05: aggregation on hand-made rows, a known cell's accuracy, a smoke grid."""

import math

import pytest
import torch

from gibbsnas_lite.course import ablation as A
from gibbsnas_lite.course.plots import ablation as AP
from gibbsnas_lite.search import History, SearchResult, make_config
from gibbsnas_lite.search.loop import benchmark_accuracies

RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def test_mean_std_hand_made():
    # docs/search.md's DARTS-V1 cpu-study column: 91.79, 93.45, 92.45 -> 92.5633 ± 0.8358 (n - 1)
    stat = A.mean_std([91.79, 93.45, 92.45])
    assert stat["n"] == 3
    assert stat["mean"] == pytest.approx(92.563333, abs=1e-6)
    assert stat["std"] == pytest.approx(math.sqrt((0.773333**2 + 0.886667**2 + 0.113333**2) / 2), abs=1e-5)
    assert stat["std"] == pytest.approx(0.83578, abs=1e-5)
    assert (stat["min"], stat["max"]) == (91.79, 93.45)
    assert A.format_mean_std(stat) == "92.56 ± 0.84 (n=3)"
    # None and NaN are dropped; one value has no std (not a made-up 0); nothing has no mean
    one = A.mean_std([None, 10.0, float("nan")])
    assert one == {"mean": 10.0, "std": None, "n": 1, "min": 10.0, "max": 10.0}
    assert A.format_mean_std(one) == "10.00 (n=1)"
    assert A.mean_std([]) == {"mean": None, "std": None, "n": 0, "min": None, "max": None}
    assert A.format_mean_std(A.mean_std([None])) == "n/a"


def _rows():
    return [
        {"strategy": "gibbs1", "seed": 0, "accuracy": 90.0},
        {"strategy": "gibbs2-mean", "seed": 0, "accuracy": 80.0},
        {"strategy": "gibbs2", "seed": 0, "accuracy": 93.0},
        {"strategy": "gibbs2", "seed": 1, "accuracy": 91.0},
        {"strategy": "gibbs2-mean", "seed": 1, "accuracy": 84.0},
        {"strategy": "gibbs1", "seed": 1, "accuracy": None},  # e.g. a failed lookup: dropped
    ]


def test_aggregate_groups_orders_and_headline():
    stats = A.aggregate(_rows(), "strategy", order=A.VARIANTS)
    assert [s["strategy"] for s in stats] == ["gibbs2", "gibbs2-mean", "gibbs1"]  # VARIANTS order
    g2, g2m, g1 = stats
    assert (g2["mean"], g2["n"]) == (92.0, 2) and g2["std"] == pytest.approx(math.sqrt(2))
    assert (g2m["mean"], g2m["std"]) == (82.0, pytest.approx(math.sqrt(8)))
    assert (g1["mean"], g1["std"], g1["n"]) == (90.0, None, 1)
    # without an order: first-seen order; two keys
    assert [s["strategy"] for s in A.aggregate(_rows())] == ["gibbs1", "gibbs2-mean", "gibbs2"]
    by_two = A.aggregate(_rows(), ("strategy", "seed"))
    assert len(by_two) == 6 and by_two[0] == {
        "strategy": "gibbs1",
        "seed": 0,
        "mean": 90.0,
        "std": None,
        "n": 1,
        "min": 90.0,
        "max": 90.0,
    }
    head = A.headline(_rows())
    assert head == {
        "gibbs2_mean": 92.0,
        "gibbs2_std": 1.41,
        "gibbs2_n": 2,
        "gibbs2-mean_mean": 82.0,
        "gibbs2-mean_std": 2.83,
        "gibbs2-mean_n": 2,
        "gibbs1_mean": 90.0,
        "gibbs1_std": None,
        "gibbs1_n": 1,
        "sample_minus_mean_2nd": 10.0,
    }  # no gibbs1-mean: no 1st-order difference


def test_alpha_spread_known_values():
    assert A.alpha_spread([[[0.0] * 5] * 6]) == 0.0  # the uniform start
    # one edge [0, 0, 0, 0, 1]: population std 0.4; a second edge at 0: mean 0.2
    assert A.alpha_spread([[[0, 0, 0, 0, 1], [0, 0, 0, 0, 0]]]) == pytest.approx(0.2)
    assert A.alpha_spread([[0, 0, 0, 0, 1]]) == pytest.approx(0.4)  # a 1-D block is one edge
    assert A.alpha_spread(None) is None


def test_paper_table2_and_comparison():
    accs = [r["accuracy"] for r in A.PAPER_TABLE2]
    assert accs == [97.43, 97.33, 97.47, 97.29, 97.20]
    g2 = next(r for r in A.PAPER_TABLE2 if r["strategy"] == "gibbs2")
    assert g2["accuracy"] == pytest.approx(100 - 2.53) and g2["certain"]  # Table 1: GibbsNAS 2.53 % error
    assert {r["strategy"] for r in A.PAPER_TABLE2} == set(A.VARIANTS) | {None}
    table = A.table2_comparison(_rows())
    assert len(table) == 5
    row3 = table[2]
    assert row3["ours: strategy"] == "gibbs2" and row3["ours: NB201 CIFAR-10 test %"] == "92.00 ± 1.41 (n=2)"
    assert table[0]["ours: NB201 CIFAR-10 test %"] == "90.00 (n=1)"
    assert table[3]["ours: NB201 CIFAR-10 test %"] == "-"


def test_known_arch_accuracy_in_a_row():
    """A result row carries the NB201 table's accuracy of its cell (ResNet-like cell: 93.97 in Table 3)."""
    config = make_config("gibbs2", "smoke", seed=3)
    rows = {}
    for arch in (RESNET, ALL_NONE):
        bench = benchmark_accuracies(config, arch)
        history = History()
        history.log_epoch(
            {
                "epoch": 0,
                "arch": arch,
                "benchmark": bench,
                "train_loss": 1.5,
                "valid_acc": 0.5,
                "alpha": [[[0.0, 0, 0, 0, 1]] * 6],
            }
        )
        rows[arch] = (
            A.result_row(SearchResult(config, arch, history, None, bench, seconds=1.234)),
            A.epoch_rows(SearchResult(config, arch, history, None, bench)),
        )
    row, epochs = rows[RESNET]
    assert round(row["accuracy"], 1) == 93.9 and row["accuracy"] == row["nb201_cifar10_test"]
    assert abs(row["accuracy"] - 93.97) < 0.1
    assert (row["strategy"], row["seed"], row["epochs"], row["seconds"]) == ("gibbs2", 3, 1, 1.23)
    assert row["alpha_spread"] == pytest.approx(0.4)
    assert epochs == [
        {
            "strategy": "gibbs2",
            "seed": 3,
            "temperature_factor": None,
            "epoch": 1,
            "arch": RESNET,
            "accuracy": row["accuracy"],
            "train_loss": 1.5,
            "valid_acc": 0.5,
            "alpha_spread": pytest.approx(0.4),
        }
    ]
    assert rows[ALL_NONE][0]["accuracy"] == pytest.approx(10.0)  # no path from input to output: chance


def test_temperature_grid_scales_the_defaults():
    base = make_config("gibbs2", "cpu", seed=1)
    grid = A.temperature_grid([0.1, 1, 10], "gibbs2", "cpu", seed=1, epochs=2)
    assert [c.extra["temperature_factor"] for c in grid] == [0.1, 1.0, 10.0]
    for c, f in zip(grid, (0.1, 1, 10)):
        assert c.temperature == pytest.approx(base.temperature * f)
        assert c.w_temperature == pytest.approx(base.w_temperature * f)  # ratio kept
        assert c.epochs == 2 and c.seed == 1
    assert A.run_name(grid[0]) == "gibbs2-s1-T0.1x"
    # a strategy whose omega temperature is None (follows alpha's) keeps None; else it is scaled too
    g1 = make_config("gibbs1", "cpu")
    (c,) = A.temperature_grid([2], "gibbs1", "cpu")
    assert c.temperature == pytest.approx(2 * g1.temperature)
    assert c.w_temperature == (None if g1.w_temperature is None else pytest.approx(2 * g1.w_temperature))
    with pytest.raises(ValueError, match="> 0"):
        A.temperature_grid([0.0])


def test_run_grid_reuses_identical_configs():
    calls = []

    def fake_run(config, out_dir=None, progress=False, resume=None):
        calls.append(config.strategy)
        h = History()
        return SearchResult(config, RESNET, h, out_dir, {"cifar10_test": 93.0})

    first = A.run_grid(A.make_grid(["gibbs2"], [0], "smoke"), progress=False, run=fake_run)
    sweep = A.run_grid(
        A.temperature_grid([1, 10], "gibbs2", "smoke", seed=0), progress=False, reuse=first, run=fake_run
    )
    assert calls == ["gibbs2", "gibbs2"]  # factor 1 = the default run: not run again
    assert sweep[0].config.extra["temperature_factor"] == 1.0 and sweep[0].arch == RESNET
    assert A.result_row(sweep[1])["temperature_factor"] == 10.0


def test_smoke_grid_runs_all_four_variants(tmp_path):
    torch.set_num_threads(1)
    configs = A.make_grid(A.VARIANTS, seeds=[0], profile="smoke", epochs=1)
    results = A.run_grid(configs, out_dir=tmp_path, progress=False)
    rows = [A.result_row(r) for r in results]
    assert [r["strategy"] for r in rows] == list(A.VARIANTS)
    for r in rows:
        assert 10.0 <= r["accuracy"] <= 94.38  # a real NB201 cell: chance .. the table's best
        assert r["arch"].count("~") == 6 and r["epochs"] == 1 and r["alpha_spread"] > 0
    assert (tmp_path / "gibbs2-s0" / "summary.json").exists()
    # sampling changes the run: same seed, same data, different alpha
    alpha = {r.config.strategy: torch.tensor(r.history.epochs[-1]["alpha"]) for r in results}
    assert not torch.allclose(alpha["gibbs2"], alpha["gibbs2-mean"])
    assert not torch.allclose(alpha["gibbs1"], alpha["gibbs1-mean"])
    table = [e for r in results for e in A.epoch_rows(r)]
    assert len(table) == 4 and all(e["epoch"] == 1 for e in table)
    head = A.headline(rows)
    assert set(head) == {f"{s}_{k}" for s in A.VARIANTS for k in ("mean", "std", "n")} | {
        "sample_minus_mean_2nd",
        "sample_minus_mean_1st",
    }
    assert head["sample_minus_mean_1st"] == pytest.approx(head["gibbs1_mean"] - head["gibbs1-mean_mean"], abs=0.011)
    assert all(head[f"{s}_n"] == 1 and head[f"{s}_std"] is None for s in A.VARIANTS)
    box = AP.accuracy_box_figure(rows)
    assert len(box.data) == 4 and list(box.data[0].y) == [rows[0]["accuracy"]]
    curves = AP.curves_figure(table)
    assert len(curves.data) == 4 * 2 * 2  # 4 variants x (band + line) x 2 panels

    # restartable: finished folders are read back, a killed one (no summary) is resumed
    (tmp_path / "gibbs1-s0" / "summary.json").unlink()
    calls = []

    def counting_run(config, **kwargs):
        from gibbsnas_lite.search import run_search

        calls.append((config.strategy, kwargs.get("resume")))
        return run_search(config, **kwargs)

    again = A.run_grid(
        A.make_grid(A.VARIANTS, seeds=[0], profile="smoke", epochs=1),
        out_dir=tmp_path,
        progress=False,
        run=counting_run,
    )
    assert calls == [("gibbs1", tmp_path / "gibbs1-s0")]
    assert [A.result_row(r)["arch"] for r in again] == [r["arch"] for r in rows]
    assert [A.result_row(r)["accuracy"] for r in again] == [r["accuracy"] for r in rows]
    assert A.epoch_rows(again[0]) == A.epoch_rows(results[0])
    # a different config in the same folder is run afresh
    calls.clear()
    A.run_grid(
        A.make_grid(["gibbs2-mean"], seeds=[0], profile="smoke", epochs=1, max_steps_per_epoch=2),
        out_dir=tmp_path,
        progress=False,
        run=counting_run,
    )
    assert calls == [("gibbs2-mean", None)]


def test_markdown_table():
    text = A.markdown_table([{"a": 1.234, "b": "|x~0|", "c": None}, {"a": 2, "b": "y"}], digits=1)
    assert text.splitlines() == ["| a | b | c |", "|---|---|---|", "| 1.2 | \\|x~0\\| | - |", "| 2 | y | - |"]
