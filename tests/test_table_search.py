"""Table-based searches on NAS-Bench-201 (gibbsnas_lite.table_search), on the real tables."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest

from gibbsnas_lite.course.plots.table_search import anytime_figure
from gibbsnas_lite.nasbench import NUM_ARCHS, NB201Table
from gibbsnas_lite.table_search import (
    ALGORITHMS,
    PAPER_TABLE3,
    TableSearchResult,
    anytime_curves,
    bohb,
    format_table3,
    mutate,
    random_search,
    regularized_evolution,
    reinforce,
    run_many,
    run_table_search,
    summarize,
    table3_block,
)


@pytest.fixture(scope="module")
def t() -> NB201Table:
    return NB201Table.load()


def _mean_valid(alg: str, budget: float, seeds: range, **kw) -> float:
    return float(np.mean([run_table_search(alg, "cifar10", budget, s, **kw).valid for s in seeds]))


# ----------------------------------------------------------------------------- RS
def test_rs_with_the_whole_space_finds_the_exact_best_valid_cell(t):
    best = t.best("cifar10-valid", "valid")
    r = random_search("cifar10", budget=NUM_ARCHS, seed=3, table=t)
    assert r.n_queries == NUM_ARCHS and r.n_unique == NUM_ARCHS  # without replacement
    assert r.arch_index == best.index and r.valid == best.accuracy == 91.6067
    # reported test: the same cell on cifar10 (all 50k train images), never used to select
    assert r.test == t.accuracy(best.index, "cifar10", "test")
    assert r.valid_split == ("cifar10-valid", "valid") and r.test_split == ("cifar10", "test")
    # a bigger budget stops when the space is exhausted
    r2 = random_search("cifar100", budget=NUM_ARCHS + 1000, seed=0, table=t)
    assert r2.n_queries == NUM_ARCHS and r2.cost_used == NUM_ARCHS
    assert r2.arch_index == t.best("cifar100", "valid").index


def test_selection_is_by_validation_and_the_budget_is_respected(t):
    r = random_search("ImageNet16-120", budget=37.5, seed=1, table=t)
    assert r.n_queries == 37 and r.cost_used == 37.0  # the 38th query would overrun 37.5
    assert r.valid == r.observed.max() == t.accuracy(r.arch_index, "ImageNet16-120", "valid")
    assert r.test == t.accuracy(r.arch_index, "ImageNet16-120", "test")
    assert np.all(np.diff(r.incumbent_valid) >= 0)  # best-so-far
    np.testing.assert_array_equal(r.incumbent_valid, np.maximum.accumulate(r.observed))
    # 12-epoch queries cost 12/200: budget 3 buys 50 of them
    r12 = random_search("cifar10", budget=3, seed=1, fidelity=12, table=t)
    assert r12.n_queries == 50 and math.isclose(r12.cost_used, 3.0)
    np.testing.assert_allclose(r12.cost, np.arange(1, 51) * 0.06)
    np.testing.assert_array_equal(r12.observed, t.accuracies("cifar10-valid", "valid", 12, archs=r12.archs))
    # its incumbent is judged at 12 epochs; valid/test are still the 200-epoch numbers
    assert r12.incumbent_signal[-1] == r12.observed.max()
    assert r12.valid == t.accuracy(r12.arch_index, "cifar10-valid", "valid")


# ----------------------------------------------------------------------------- REA
def test_mutation_changes_exactly_one_edge_to_another_op():
    rng = np.random.default_rng(0)
    parent = np.array([0, 1, 2, 3, 4, 0])
    for _ in range(200):
        child = mutate(parent, rng)
        assert (child != parent).sum() == 1 and child.min() >= 0 and child.max() <= 4


def test_rea_beats_rs_on_average_at_a_moderate_budget(t):
    # measured over seeds 0..19, budget 100 on cifar10-valid valid: REA 91.46 ± 0.18,
    # RS 91.00 ± 0.22
    seeds = range(20)
    rea, rs = _mean_valid("REA", 100, seeds, table=t), _mean_valid("RS", 100, seeds, table=t)
    assert rea - rs > 0.2, (rea, rs)
    r = regularized_evolution("cifar10", 100, 0, table=t)
    assert r.n_queries == 100 and r.params["population_size"] == 10 and r.params["sample_size"] == 10
    # children are one-edge mutants: after the 10 random cells, each query differs from some
    # earlier query in exactly one edge
    codes = t.op_codes[r.archs].astype(int)
    for q in range(10, r.n_queries):
        assert ((codes[:q] != codes[q]).sum(axis=1) == 1).any()


# ----------------------------------------------------------------------------- REINFORCE
def test_reinforce_raises_the_probability_of_the_best_ops(t):
    best = t.op_codes[t.best("cifar10-valid", "valid").index]
    rows = np.arange(6)
    start, end, end_fast = [], [], []
    for s in range(8):
        r = reinforce("cifar10", 300, s, table=t)  # default lr 0.01
        p = r.extras["probs"]
        assert p.shape == (301, 6, 5)
        np.testing.assert_allclose(p.sum(axis=2), 1.0)
        start.append(p[0][rows, best].mean())
        end.append(p[-1][rows, best].mean())
        end_fast.append(reinforce("cifar10", 300, s, learning_rate=0.1, table=t).extras["probs"][-1][rows, best].mean())
    assert np.allclose(start, 0.2, atol=1e-3)  # near-uniform start
    # measured mean over edges and seeds: 0.244 (lr 0.01), 0.55 (lr 0.1)
    assert np.mean(end) > 0.225 and np.mean(end_fast) > 0.4, (np.mean(end), np.mean(end_fast))
    r = reinforce("cifar10", 50, 0, table=t)
    assert r.valid == r.observed.max()  # result: the best cell sampled
    assert isinstance(r.extras["policy_arch"], str)


# ----------------------------------------------------------------------------- BOHB-style
def test_bohb_queries_most_cells_at_12_epochs_and_promotes_the_best(t):
    r = bohb("cifar10", 100, 0, table=t)
    counts = r.fidelity_counts()
    assert counts[12] > 0.8 * r.n_queries and counts[200] > 0, counts
    assert r.cost_used <= 100 and math.isclose(r.cost_used, (12 * counts[12] + 200 * counts[200]) / 200)
    assert r.params["n_low"] == 17 and r.extras["n_promote"] == 1 and r.params["n_full"] == 2
    # walk the brackets: each promoted cell is the best 12-epoch cell of its bracket
    q = 0
    for kind, n_low, n_high in r.extras["brackets"]:
        if kind == "low->high":
            low = slice(q, q + n_low)
            assert np.all(r.fidelities[low] == 12)
            q += n_low
            if n_high:  # the best 12-epoch cell not already known at 200 epochs
                assert r.fidelities[q] == 200
                known = set(r.archs[:q][r.fidelities[:q] == 200].tolist())
                ranked = r.archs[low][np.argsort(-r.observed[low], kind="stable")]
                assert r.archs[q] == next(a for a in ranked if a not in known)
        else:
            assert np.all(r.fidelities[q : q + n_high] == 200)
        q += n_high
    assert q == r.n_queries
    # the incumbent is the best cell at 200 epochs, once there is one
    hi = r.fidelities == 200
    assert r.valid == r.observed[hi].max()
    # no (cell, fidelity) is looked up twice
    assert len(set(zip(r.archs.tolist(), r.fidelities.tolist()))) == r.n_queries
    rep = bohb("cifar10", 100, 0, num_samples=64, avoid_repeats=False, table=t)
    assert rep.n_unique < 0.2 * rep.n_queries  # BOHB's maximizer, left alone, re-proposes
    # a model drives the proposals once enough observations exist
    assert (r.extras["model_fidelity"] == 200).any() and (r.extras["model_fidelity"] == 12).any()
    # and it does better than RS at the same budget, on average (measured, seeds 0..9: 91.44 vs 91.08)
    seeds = range(10)
    assert _mean_valid("BOHB", 100, seeds, table=t) > _mean_valid("RS", 100, seeds, table=t) + 0.2


# ----------------------------------------------------------------------------- all
@pytest.mark.parametrize("alg", list(ALGORITHMS))
def test_each_algorithm_is_deterministic_per_seed(alg, t):
    a = run_table_search(alg, "cifar100", 20, 7, table=t)
    b = run_table_search(alg, "cifar100", 20, 7, table=t)
    c = run_table_search(alg, "cifar100", 20, 8, table=t)
    np.testing.assert_array_equal(a.archs, b.archs)
    np.testing.assert_array_equal(a.observed, b.observed)
    assert a.arch == b.arch and a.test == b.test
    assert not np.array_equal(a.archs[: min(a.n_queries, c.n_queries)], c.archs[: min(a.n_queries, c.n_queries)])
    assert isinstance(a, TableSearchResult) and a.algorithm == alg and a.cost_used <= 20
    assert len(a.incumbent_valid) == len(a.incumbent_test) == a.n_queries


def test_bad_inputs_raise_value_errors_naming_the_value(t):
    with pytest.raises(ValueError, match="'SMASH'"):
        run_table_search("SMASH", "cifar10", 10)
    with pytest.raises(ValueError, match="'mnist'"):
        run_table_search("RS", "mnist", 10)
    for bad in (0, -5, float("nan"), float("inf"), True, "10"):
        with pytest.raises(ValueError, match="budget"):
            run_table_search("REA", "cifar10", bad, table=t)
    with pytest.raises(ValueError, match=r"-5"):
        run_table_search("REA", "cifar10", -5, table=t)
    with pytest.raises(ValueError, match="less than one query"):
        run_table_search("RS", "cifar10", 0.5, table=t)  # one 200-epoch query costs 1
    with pytest.raises(ValueError, match="fidelity 50"):
        run_table_search("RS", "cifar10", 10, fidelity=50, table=t)
    with pytest.raises(ValueError, match="seed"):
        run_table_search("RS", "cifar10", 10, seed=-1, table=t)
    with pytest.raises(ValueError, match="sample_size"):
        run_table_search("REA", "cifar10", 10, sample_size=0, table=t)
    with pytest.raises(ValueError, match="REA.*unexpected keyword"):
        run_table_search("REA", "cifar10", 10, learning_rate=0.1, table=t)
    with pytest.raises(ValueError, match="'nope'"):
        run_many(["RS", "nope"], "cifar10", 10, 2, table=t)
    with pytest.raises(ValueError, match="'svhn'"):
        table3_block(["RS"], 10, 2, datasets=["cifar10", "svhn"], table=t)


def test_run_many_summary_block_and_figure(t):
    runs = run_many(["RS", "rea"], "cifar10", 30, 3, table=t, params={"REA": {"sample_size": 3}})
    assert list(runs) == ["RS", "REA"] and all(len(v) == 3 for v in runs.values())
    assert [r.seed for r in runs["RS"]] == [0, 1, 2]
    assert runs["REA"][0].params["sample_size"] == 3
    s = summarize(runs["RS"])
    tests = [r.test for r in runs["RS"]]
    assert math.isclose(s["test"].mean, np.mean(tests)) and math.isclose(s["test"].std, np.std(tests))
    assert f"{s['test']:.2f}" == f"{np.mean(tests):.2f}±{np.std(tests):.2f}"

    g, mean, std = anytime_curves(runs["RS"], grid=[0.5, 1, 10, 30])
    assert np.isnan(mean[0]) and not np.isnan(mean[1:]).any()
    assert math.isclose(mean[-1], s["valid"].mean) and np.all(np.diff(mean[1:]) >= 0)
    fig = anytime_figure(runs, metric="test", optimum=t.best("cifar10", "test").accuracy)
    assert isinstance(fig, go.Figure) and len(fig.data) == 4  # band + line per algorithm

    block = table3_block(["RS", "BOHB"], 10, 2, table=t)
    assert set(block) == {"RS", "BOHB"} and set(block["RS"]) == {"cifar10", "cifar100", "ImageNet16-120"}
    text = format_table3(block)
    assert "RS (ours)" in text and "RS (paper)" in text and "90.93±0.36" in text
    assert "BOHB (paper)" in text and "70.74±1.29" in text
    assert PAPER_TABLE3["REA"]["ImageNet16-120"] == ((45.15, 0.89), (45.54, 1.03))


def test_script_prints_the_block_and_writes_json_and_figure(tmp_path, capsys):
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts" / "run_table_search.py"
    spec = importlib.util.spec_from_file_location("run_table_search", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out_json, out_html = tmp_path / "b.json", tmp_path / "c.html"
    assert (
        mod.main(
            [
                "--budget",
                "5",
                "--seeds",
                "2",
                "--datasets",
                "cifar10",
                "cifar100",
                "--json",
                str(out_json),
                "--figure",
                str(out_html),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "REA (ours)" in text and "REA (paper)" in text and "91.19±0.31" in text
    data = json.loads(out_json.read_text())
    assert set(data["BOHB"]) == {"cifar10", "cifar100"} and len(data["RS"]["cifar10"]["test"]) == 2
    assert out_html.stat().st_size > 1000


def test_result_arrays_are_read_only(t):
    r = run_table_search("RS", "cifar10", 5, 0, table=t)
    with pytest.raises(ValueError):
        r.archs[0] = 1
