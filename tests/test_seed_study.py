"""The seed study: cell classification checked against the benchmark, rows from real run folders, summaries."""

import json

import numpy as np
import pytest

from gibbsnas_lite.course import seed_study as S
from gibbsnas_lite.course.plots import seed_study as SP
from gibbsnas_lite.nasbench import NB201Table

ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"


@pytest.fixture(scope="module")
def table():
    return NB201Table.load()


def test_every_chance_level_cell_has_no_parameterised_path(table):
    acc = np.asarray(table.accuracies("cifar10", "test"))
    path = np.array([S.has_parameterised_path(a) for a in table.arch_strs])
    chance = acc <= 10.5  # the benchmark's cells whose output does not depend on the input
    assert chance.sum() > 300 and not path[chance].any()
    # and cells with a convolution on a path are never at chance
    assert acc[path].min() > 50.0
    # DARTS's collapse cell of the paper (all skip_connect, 54.30 % in Table 3)
    assert not S.has_parameterised_path(ALL_SKIP) and S.parameter_free_share(ALL_SKIP) == 1.0
    assert abs(table.accuracy(ALL_SKIP, "cifar10", "test") - 54.30) < 0.01


@pytest.mark.parametrize(
    "arch, share, path",
    [
        ("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", 5 / 6, False),  # the conv leads nowhere
        ("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|", 5 / 6, True),
        ("|avg_pool_3x3~0|+|none~0|avg_pool_3x3~1|+|none~0|avg_pool_3x3~1|none~2|", 1.0, False),
        ("|none~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|", 5 / 6, True),  # 0 -> 3 directly
    ],
)
def test_cells_by_hand(arch, share, path):
    assert S.parameter_free_share(arch) == pytest.approx(share)
    assert S.has_parameterised_path(arch) is path


def test_a_bad_arch_string_is_named():
    with pytest.raises(ValueError, match="not an NB201 arch string"):
        S.cell_edges("|conv~x|")


def make_run(folder, strategy, seed, accs, arch_last, cpu=(10.0, 2.0), rss_kb=512000):
    folder.mkdir(parents=True)
    archs = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"] * (
        len(accs) - 1
    ) + [arch_last]
    with open(folder / "history.jsonl", "w") as fh:
        fh.write(json.dumps({"kind": "alpha", "step": 0}) + "\n")
        for i, (a, arch) in enumerate(zip(accs, archs)):
            fh.write(json.dumps({"kind": "epoch", "epoch": i, "arch": arch, "benchmark": {"cifar10_test": a}}) + "\n")
    (folder / "summary.json").write_text(
        json.dumps(
            {
                "strategy": strategy,
                "seed": seed,
                "arch": arch_last,
                "benchmark": {"cifar10_test": accs[-1]},
                "seconds": 5.0,
                "final": {"train_loss": 0.5},
            }
        )
    )
    (folder / "time.txt").write_text(f"12.5 {rss_kb} {cpu[0]} {cpu[1]}\n")


def test_collect_summarize_save_load(tmp_path):
    good = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    finals = {
        ("gibbs2", 0): 93.0,
        ("gibbs2", 1): 91.0,
        ("gibbs2", 2): 92.5,
        ("darts-v1", 0): 54.3,
        ("darts-v1", 1): 90.0,
    }
    for (strategy, seed), acc in finals.items():
        make_run(tmp_path / f"{strategy}-s{seed}", strategy, seed, [80.0, 85.0, acc], ALL_SKIP if acc < 60 else good)
    (tmp_path / "unfinished").mkdir()
    rows = S.collect(sorted(tmp_path.iterdir()))
    assert len(rows) == 5
    summary = {s["strategy"]: s for s in S.summarize(rows)}
    g = [93.0, 91.0, 92.5]
    assert summary["gibbs2"]["mean"] == pytest.approx(np.mean(g))
    assert summary["gibbs2"]["std"] == pytest.approx(np.std(g, ddof=1))
    assert summary["gibbs2"]["min"] == 91.0 and summary["gibbs2"]["no_path"] == 0
    assert summary["darts-v1"]["no_path"] == 1 and summary["darts-v1"]["parameter_free_share"] == 0.5
    assert summary["gibbs2"]["cpu_seconds"] == 12.0 and summary["gibbs2"]["peak_rss_mb"] == 500.0
    assert [s["strategy"] for s in S.summarize(rows)] == ["gibbs2", "darts-v1"]
    gap = S.gap(rows, "gibbs2", "darts-v1")
    assert gap["n"] == 2 and gap["mean"] == pytest.approx(np.mean([93.0 - 54.3, 91.0 - 90.0]))
    curves = S.epoch_curves(rows)
    assert curves["gibbs2"]["mean"][:2] == [80.0, 85.0] and curves["gibbs2"]["std"][0] == 0.0
    assert S.epoch_curves(rows, "parameter_free_share")["darts-v1"]["mean"][-1] == 0.5
    path = S.save(rows, tmp_path / "out" / "study.json", command="test")
    loaded = S.load(path)
    assert loaded["about"] == {"command": "test"} and loaded["runs"] == json.loads(json.dumps(rows))
    assert "| gibbs2 | 3 | 92.17 ± 1.04 |" in S.markdown_table(S.summarize(rows))
    fig = SP.strip_figure(rows, live={"gibbs2": 92.0})
    assert [t.type for t in fig.data] == ["box", "box", "scatter"] and list(fig.data[-1].y) == [92.0]
    assert len(SP.epochs_figure(rows).data) == 8  # 2 strategies x 2 panels x (band + line)


def test_a_real_run_folder_becomes_a_row(tmp_path):
    from gibbsnas_lite.search import make_config, run_search

    run_search(make_config("gibbs2", "smoke", epochs=1, train_limit=64), out_dir=tmp_path / "run")
    row = S.run_row(tmp_path / "run")
    assert row["strategy"] == "gibbs2" and len(row["epochs"]) == 1
    assert row["epochs"][0]["arch"] == row["arch"] and row["cpu_seconds"] is None
    assert row["parameterised_path"] == S.has_parameterised_path(row["arch"])
