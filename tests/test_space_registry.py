"""The registries (issue 21): spaces and strategies are entries, and nothing above them branches on a name.

(a) The two spaces' entries hold the published labels and derive as the supernets do.
(b) A toy third space and a toy third strategy, registered here and nowhere else, run smoke
    searches (every registered strategy on the toy space), appear in a sweep's table, run
    from the command line and draw in the dashboard: no other module was edited for them.
(c) No module outside the registries compares a space or strategy name with a literal (an
    ``ast`` scan, checked on a snippet of the code it replaced so it cannot pass vacuously).
"""

from __future__ import annotations

import ast
import csv
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gibbsnas_lite.search import make_config, run_search
from gibbsnas_lite.search import registry as strategies
from gibbsnas_lite.search.darts import DartsV1
from gibbsnas_lite.spaces import registry as spaces
from gibbsnas_lite.spaces.darts.genotypes import PRIMITIVES

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "gibbsnas_lite"
BUILT_IN_STRATEGIES = strategies.strategy_names()

# NB201's five ops (Dong & Yang 2020); DARTS's PRIMITIVES are pinned to the published list in test_darts_space.py
NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")


# ----------------------------------------------------------------------------- (a) the two entries
def test_the_entries_hold_the_published_labels():
    nb201, darts = spaces.get("nb201"), spaces.get("darts")
    assert nb201.ops == NB201_OPS and nb201.edges == ("0→1", "0→2", "1→2", "0→3", "1→3", "2→3")
    assert nb201.alpha_shapes == ((6, 5),) and nb201.blocks == ("cell",) and nb201.single_path
    assert darts.ops == PRIMITIVES and len(darts.edges) == 14 and darts.alpha_shapes == ((14, 8), (14, 8))
    assert darts.edges[:5] == ("c_{k-2}→0", "c_{k-1}→0", "c_{k-2}→1", "c_{k-1}→1", "0→1")
    assert darts.edge_labels()[14] == "reduce c_{k-2}→0" and not darts.single_path
    assert spaces.space_of_shapes([(6, 5)]) is nb201 and spaces.space_of_shapes([(14, 8)] * 2) is darts
    assert spaces.space_of_shapes([(3, 3)]) is None
    from gibbsnas_lite.nasbench import NB201Table

    assert nb201.benchmark_name == NB201Table.NAME and spaces.spaces_in_benchmark(NB201Table.NAME) == ("nb201",)
    assert not darts.has_benchmark and darts.benchmark_accuracies("anything") == {}
    with pytest.raises(ValueError, match="unknown space 'nb301'; choose one of: nb201, darts"):
        spaces.get("nb301")


def test_the_entries_derive_and_look_up_as_the_supernets_do():
    from gibbsnas_lite.nasbench import NB201Table
    from gibbsnas_lite.spaces.darts.model_search import Network
    from gibbsnas_lite.spaces.nb201.model_search import NB201SearchNetwork

    torch.manual_seed(0)
    net = NB201SearchNetwork(C=4, N=1, num_classes=10)
    alpha = torch.randn(6, 5)
    arch = spaces.get("nb201").derive_arch([alpha])
    assert arch == net.genotype(alpha) == net.arch_string([alpha])
    all_skip = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
    assert spaces.get("nb201").path_arch([1] * 6) == all_skip
    accs = spaces.get("nb201").benchmark_accuracies(all_skip)
    assert accs["cifar10_test"] == NB201Table.load().accuracy(all_skip, "cifar10", "test")
    stats = spaces.get("nb201").cell_statistics(all_skip)
    assert stats == {"parameterised_path": False, "parameter_free_share": 1.0}
    darts_net = Network(C=4, layers=3, num_classes=10)
    alphas = [torch.randn(14, 8), torch.randn(14, 8)]
    genotype = spaces.get("darts").derive_arch(alphas)
    assert genotype == darts_net.arch_string(alphas) and genotype.startswith("normal=|")
    assert spaces.get("darts").canonical_arch(genotype) == genotype
    with pytest.raises(ValueError):
        spaces.get("nb201").canonical_arch("|conv_9x9~0|+|")


# ----------------------------------------------------------------------------- (b) a toy third space and strategy
TOY_OPS = ("none", "skip_connect", "conv_3x3")


class ChainSupernet(nn.Module):
    """A toy space: a stem, then 3 edges in a chain (node 0 → 1 → 2 → 3), each a mix of
    ``none`` (zeros), ``skip_connect`` and a 3x3 convolution; a pooled linear head."""

    def __init__(self, C: int, num_classes: int, in_channels: int):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, C, 3, padding=1, bias=False)
        self.convs = nn.ModuleList(nn.Conv2d(C, C, 3, padding=1, bias=False) for _ in range(3))
        self.head = nn.Linear(C, num_classes)
        self.alpha = nn.Parameter(1e-3 * torch.randn(3, len(TOY_OPS)))

    def arch_parameters(self):
        return [self.alpha]

    def weight_parameters(self):
        return [p for p in self.parameters() if p is not self.alpha]

    def arch_string(self, alphas=None) -> str:
        return toy_derive([self.alpha if alphas is None else alphas[0]])

    def forward(self, x, weights=None, path=None):
        h = self.stem(x)
        w = F.softmax(self.alpha, dim=-1) if weights is None else weights
        for edge, conv in enumerate(self.convs):
            if path is not None:  # one op per edge: only that one runs (a single-path supernet)
                op = path[edge]
                h = h * w[edge, op] if op == 1 else conv(h) * w[edge, op] if op == 2 else h * 0.0
            else:
                h = w[edge, 1] * h + w[edge, 2] * conv(h)  # none adds zeros
        return self.head(h.mean(dim=(2, 3)))


def toy_derive(alphas) -> str:
    (alpha,) = alphas
    rows = np.asarray(alpha.detach() if hasattr(alpha, "detach") else alpha, dtype=float)
    return ">".join(TOY_OPS[int(k)] for k in rows.argmax(axis=1))


def toy_canonical(arch: str) -> str:
    ops = arch.split(">")
    if len(ops) != 3 or any(op not in TOY_OPS for op in ops):
        raise ValueError(f"not a toy-chain arch: {arch!r}; expected 3 of {TOY_OPS} joined by '>'")
    return arch


def toy_figure(arch: str, block=None) -> dict:
    import plotly.graph_objects as go

    ops = arch.split(">")
    fig = go.Figure(go.Scatter(x=[0, 1, 2, 3], y=[0, 0, 0, 0], mode="lines+markers+text", text=["in", *ops]))
    return fig.update_layout(meta={"arch": arch}).to_plotly_json()


class SgdAlpha(DartsV1):
    """A toy strategy: first-order DARTS with plain SGD on alpha instead of Adam."""

    name = "toy-sgd"

    def __init__(self, model, config, steps_per_epoch, search_sizes):
        super().__init__(model, config, steps_per_epoch, search_sizes)
        self.a_optimizer = torch.optim.SGD(model.arch_parameters(), lr=config.a_lr)


TOY_SPACE = spaces.SpaceSpec(
    name="toy-chain",
    label="toy chain",
    supernet=lambda config, num_classes, in_channels: ChainSupernet(config.channels, num_classes, in_channels),
    derive=toy_derive,
    canonical=toy_canonical,
    blocks=("chain",),
    edges=("0→1", "1→2", "2→3"),
    ops=TOY_OPS,
    split="nb201",
    single_path=True,
    figure=toy_figure,
)
TOY_STRATEGY = strategies.StrategySpec(
    "toy-sgd", SgdAlpha, "toy SGD-α", "-", "toy", order=1, defaults=dict(a_lr=0.05), color="#8c564b"
)
TINY = dict(epochs=2, train_limit=64, batch_size=16, image_size=8, alpha_every=2)


@pytest.fixture
def toys():
    spaces.register(TOY_SPACE)
    strategies.register(TOY_STRATEGY)
    try:
        yield
    finally:
        spaces.REGISTRY.pop(TOY_SPACE.name)
        strategies.REGISTRY.pop(TOY_STRATEGY.name)


@pytest.mark.parametrize("strategy", [*BUILT_IN_STRATEGIES, TOY_STRATEGY.name])
def test_every_strategy_searches_the_toy_space(toys, strategy, tmp_path):
    result = run_search(make_config(strategy, "smoke", space="toy-chain", **TINY), out_dir=tmp_path)
    assert toy_canonical(result.arch) == result.arch
    assert result.benchmark == {} and len(result.history.epochs) == 2
    if result.history.alpha:  # the strategies with an alpha record its 3 x 3 block
        assert np.asarray(result.history.alpha[-1]["alpha"]).shape == (1, 3, 3)
    if strategies.get(strategy).family == "gibbs":  # the drive report's noise-only control, derived by the toy
        assert toy_canonical(result.summary()["drive"]["noise_only_arch"])


def test_the_toy_strategy_searches_nb201(toys, tmp_path):
    result = run_search(make_config("toy-sgd", "smoke", **TINY), out_dir=tmp_path)
    assert result.config.a_lr == 0.05 and isinstance(result.strategy.a_optimizer, torch.optim.SGD)
    assert result.benchmark["cifar10_test"] > 0  # an NB201 cell, looked up


def test_the_toys_appear_in_a_sweep_table(toys, tmp_path):
    from gibbsnas_lite.course.plots import sweep as sweep_plots
    from gibbsnas_lite.sweep import Trial, run_sweep
    from gibbsnas_lite.sweep import results as sweep_results

    trials = [
        Trial("toy-sgd", 0, "smoke", overrides=dict(space="toy-chain", **TINY)),
        Trial("toy-sgd", 0, "smoke", overrides=TINY),
        Trial("darts-v1", 0, "smoke", overrides=TINY),
    ]
    with pytest.raises(ValueError, match="trial toy-sgd-synthetic-s0.* uses the strategy .toy-sgd., registered"):
        run_sweep(trials, tmp_path / "on-ray", workers=2, progress=False)  # Ray's workers would not know them
    sweep = run_sweep(trials, tmp_path, workers=0, progress=False)
    rows = {(r["strategy"], r["space"]): r for r in sweep.rows}
    assert all(r["status"] == "ok" for r in rows.values()), [r.get("error") for r in rows.values()]
    toy = rows[("toy-sgd", "toy-chain")]
    assert toy_canonical(toy["arch"]) and toy["parameterised_path"] is None and toy["benchmark"] == {}
    with open(tmp_path / "results.csv") as fh:
        table = list(csv.DictReader(fh))
    assert {(r["strategy"], r["space"]) for r in table} == set(rows)
    summary = sweep_results.strategy_summary(sweep.rows)  # the NB201 rows, in the registry's order
    assert [s["strategy"] for s in summary] == ["darts-v1", "toy-sgd"]
    fig = sweep_plots.strip_figure(sweep.rows)
    toy_traces = [t for t in fig.data if "toy" in (t.name or "")]
    assert toy_traces and toy_traces[0].marker.color == "#8c564b"  # the entry's colour


def test_the_toys_run_from_the_command_line(toys, tmp_path, capsys):
    from gibbsnas_lite.cli import main

    out = tmp_path / "cli"
    code = main(
        ["search", "--strategy", "toy-sgd", "--space", "toy-chain", "--epochs", "1", "--train-limit", "64"]
        + ["--batch-size", "16", "--set", "image_size=8", "--out", str(out), "--no-progress"]
    )
    assert code == 0 and toy_canonical(__import__("json").loads((out / "summary.json").read_text())["arch"])


def test_the_toy_space_draws_in_the_dashboard(toys, tmp_path):
    from gibbsnas_lite.course.widgets import AlphaDashboard

    result = run_search(make_config("gibbs2", "smoke", space="toy-chain", **TINY), out_dir=tmp_path)
    for space in ("toy-chain", "auto"):  # named, or found from alpha's shape
        dash = AlphaDashboard.replay(tmp_path, space=space, headless=False)
        dash.widget
        assert dash.layout.space == "toy-chain"
        heat = dash.panels["heatmap"].data[0]
        assert list(heat.x) == list(TOY_OPS) and list(heat.y) == ["0→1", "1→2", "2→3"]
        assert [label for label, _ in dash.view.ui.picker.options] == ["edge 0→1", "edge 1→2", "edge 2→3"]
        np.testing.assert_allclose(dash.panels["edge"].data[0].y, result.history.alpha[-1]["alpha"][0][0])
        assert dash.state()["arch"] == result.arch
        cell = dash.panels["cell"].data
        assert cell and list(cell[0].text) == ["in", *result.arch.split(">")]  # the toy's own drawing
        assert not dash.panels["benchmark"].visible  # no benchmark table for the toy
    # a method without alpha (RSPS): the named space's labels and its drawing of the epochs' cells
    rsps = run_search(make_config("rsps", "smoke", space="toy-chain", **TINY), out_dir=tmp_path / "rsps")
    dash = AlphaDashboard.replay(tmp_path / "rsps", space="toy-chain", headless=False)
    dash.widget
    assert dash.state()["arch"] == rsps.arch and list(dash.panels["cell"].data[0].text) == ["in", *rsps.arch.split(">")]


# ----------------------------------------------------------------------------- (c) no branches on a name
REGISTRY_FILES = {PACKAGE / "spaces" / "registry.py", PACKAGE / "search" / "registry.py"}
NAMED = ("space", "strategy")  # a comparison whose other side names one of these is a branch on a name


def name_branches(source: str, names: set[str]) -> list[tuple[int, str]]:
    """(line, code) of each comparison between a registered name (a literal in ``names``) and an
    expression that reads a space or strategy (``config.space``, ``strategy``, ``row["space"]``,
    ``snap["space"]``...), and of each ``.startswith(prefix)`` of such an expression."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            literals = [
                s.value
                for side in sides
                for s in ([side] if isinstance(side, ast.Constant) else getattr(side, "elts", []))
                if isinstance(s, ast.Constant) and s.value in names
            ]
            others = [ast.unparse(side) for side in sides if not isinstance(side, (ast.Constant, ast.Tuple))]
            if literals and any(word in text for text in others for word in NAMED):
                found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "startswith":
            target = ast.unparse(node.func.value)
            args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if any(word in target for word in NAMED) and any(n.startswith(a) for a in args for n in names):
                found.append((node.lineno, ast.unparse(node)))
    return found


def test_the_scan_finds_the_branches_it_replaced():
    names = {*spaces.space_names(), *strategies.strategy_names()}
    old = (
        'if config.space == "nb201":\n    pass\n'
        'protocol = "darts" if config.space == "darts" else "nb201"\n'
        'nb201 = snap["space"] == "nb201"\n'
        'if space not in ("nb201", "darts", "auto"):\n    pass\n'
        'gibbs = config.strategy.startswith("gibbs")\n'
    )
    assert sorted(line for line, _ in name_branches(old, names)) == [1, 3, 4, 5, 7]
    fine = 'if spec.family == "gibbs" and protocol == "darts":\n    pass\nx = get("nb201")\n'
    assert name_branches(fine, names) == []


def test_no_module_outside_the_registries_branches_on_a_name():
    names = {*spaces.space_names(), *strategies.strategy_names()}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in REGISTRY_FILES:
            continue
        found += [f"{path.relative_to(ROOT)}:{line}: {code}" for line, code in name_branches(path.read_text(), names)]
    assert not found, "branches on a space or strategy name (read the registry entry instead):\n" + "\n".join(found)
