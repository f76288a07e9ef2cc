"""Cell drawings and alpha heat maps: figure structure only (no rendering, headless)."""

from __future__ import annotations

import json
from collections import namedtuple

import numpy as np
import pytest

from gibbsnas_lite.course.plots.cells import (
    DARTS_PRIMITIVES,
    DARTS_ROW_LABELS,
    NB201_ROW_LABELS,
    alpha_heatmap,
    darts_cell_figure,
    nb201_cell_figure,
    row_softmax,
)
from gibbsnas_lite.spaces.nb201.arch import OPS, parse_arch

RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
G = namedtuple("G", "normal normal_concat reduce reduce_concat")
# DARTS-V2 (Liu et al. 2019)
DARTS_V2 = G(
    normal=[
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 0),
        ("sep_conv_3x3", 1),
        ("sep_conv_3x3", 1),
        ("skip_connect", 0),
        ("skip_connect", 0),
        ("dil_conv_3x3", 2),
    ],
    normal_concat=[2, 3, 4, 5],
    reduce=[
        ("max_pool_3x3", 0),
        ("max_pool_3x3", 1),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
        ("max_pool_3x3", 0),
        ("skip_connect", 2),
        ("skip_connect", 2),
        ("max_pool_3x3", 1),
    ],
    reduce_concat=range(2, 6),
)


def _labels(fig):
    return [a.text for a in fig.layout.annotations if not a.showarrow]


def _arrows(fig):
    return [a for a in fig.layout.annotations if a.showarrow]


# ----------------------------------------------------------------------------- NB201
def test_nb201_cell_structure():
    fig = nb201_cell_figure(RESNET, title="ResNet-like")
    assert len(fig.data) == 7  # 6 edges + nodes
    assert len(fig.layout.annotations) == 12  # arrow + label per edge
    assert _labels(fig) == list(parse_arch(RESNET))
    assert [tr.name for tr in fig.data[:6]] == list(parse_arch(RESNET))
    assert [tr.line.dash for tr in fig.data[:6]] == ["solid", "dash", "solid", "solid", "dash", "solid"]
    nodes = fig.data[-1]
    assert list(nodes.text) == ["0", "1", "2", "3"]
    assert fig.layout.title.text == "ResNet-like"
    assert fig.layout.meta["arch"] == RESNET
    # every edge starts at its source node and its arrow points at its target node
    xs = dict(zip(nodes.text, nodes.x))
    for tr, arrow, (src, dst) in zip(fig.data[:6], _arrows(fig), [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]):
        assert tr.x[0] == pytest.approx(xs[str(src)]) and tr.x[-1] == pytest.approx(xs[str(dst)])
        assert abs(arrow.x - xs[str(dst)]) < 0.5


def test_nb201_none_hidden_and_other_inputs():
    fig = nb201_cell_figure(list(parse_arch(RESNET)), none_style="hidden")
    assert len(fig.data) == 5 and len(fig.layout.annotations) == 8
    assert "none" not in _labels(fig)
    by_index = nb201_cell_figure(11472)
    assert by_index.layout.meta["arch"] == RESNET
    json.loads(by_index.to_json())  # serializable without any renderer


@pytest.mark.parametrize(
    "bad, match",
    [
        ("|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown op 'conv'"),
        (["none"] * 5, "6 edges"),
        (15625, "out of range"),
    ],
)
def test_nb201_bad_arch(bad, match):
    with pytest.raises(ValueError, match=match):
        nb201_cell_figure(bad)
    with pytest.raises(ValueError, match="none_style"):
        nb201_cell_figure(RESNET, none_style="dotted")


# ----------------------------------------------------------------------------- DARTS
@pytest.mark.parametrize("which", ["normal", "reduce"])
def test_darts_cell_structure(which):
    fig = darts_cell_figure(DARTS_V2, which)
    pairs = getattr(DARTS_V2, which)
    assert len(fig.data) == 8 + 4 + 1  # op edges, concat edges, nodes
    assert len(_arrows(fig)) == 12 and len(_labels(fig)) == 8
    assert _labels(fig) == [op for op, _ in pairs]
    assert set(fig.data[-1].text) == {"c_{k-2}", "c_{k-1}", "0", "1", "2", "3", "c_{k}"}
    assert [tr.name for tr in fig.data[8:12]] == ["concat"] * 4
    assert fig.layout.title.text == f"{which} cell"
    # inputs left of every intermediate node, output right of them
    nodes = dict(zip(fig.data[-1].text, fig.data[-1].x))
    inner = [nodes[str(n)] for n in range(4)]
    assert nodes["c_{k-2}"] < min(inner) and max(inner) < nodes["c_{k}"]
    json.loads(fig.to_json())


def test_darts_accepts_the_kits_genotype_and_validates():
    genotypes = pytest.importorskip("gibbsnas_lite.spaces.darts.genotypes")
    assert tuple(genotypes.PRIMITIVES) == DARTS_PRIMITIVES
    geno = genotypes.Genotype(*DARTS_V2)
    assert len(darts_cell_figure(geno, "reduce").data) == 13


def test_darts_bad_input():
    with pytest.raises(ValueError, match="normal, reduce"):
        darts_cell_figure(DARTS_V2, "reduction")
    with pytest.raises(ValueError, match="fields"):
        darts_cell_figure(object())
    with pytest.raises(ValueError, match=r"input in 0\.\.1"):
        darts_cell_figure(DARTS_V2._replace(normal=[("sep_conv_3x3", 3)] + DARTS_V2.normal[1:]))
    with pytest.raises(ValueError, match="2 \\(op, input\\) pairs"):
        darts_cell_figure(DARTS_V2._replace(normal=DARTS_V2.normal[:3]))
    with pytest.raises(ValueError, match="concat"):
        darts_cell_figure(DARTS_V2._replace(normal_concat=[2, 6]))


# ----------------------------------------------------------------------------- alpha
def test_alpha_heatmap_nb201_softmax():
    alpha = np.random.default_rng(0).normal(size=(6, 5)) * 3
    fig = alpha_heatmap(alpha, title="α")
    assert len(fig.data) == 1
    hm = fig.data[0]
    expected = np.exp(alpha) / np.exp(alpha).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(hm.z, dtype=float), expected, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(hm.z).sum(axis=1), 1.0)
    assert list(hm.x) == list(OPS) and list(hm.y) == list(NB201_ROW_LABELS)
    assert list(hm.y) == ["0→1", "0→2", "1→2", "0→3", "1→3", "2→3"]
    assert fig.layout.yaxis.autorange == "reversed"  # row 0 on top, as in alpha
    assert (hm.zmin, hm.zmax) == (0.0, 1.0)


def test_alpha_heatmap_darts_raw_and_custom_labels():
    torch = pytest.importorskip("torch")
    alpha = torch.linspace(-1, 1, 14 * 8).reshape(14, 8).requires_grad_()
    fig = alpha_heatmap(alpha, softmax=False)
    hm = fig.data[0]
    np.testing.assert_allclose(np.asarray(hm.z), alpha.detach().numpy(), rtol=1e-6)
    assert list(hm.x) == list(DARTS_PRIMITIVES) and list(hm.y) == list(DARTS_ROW_LABELS)
    assert list(hm.y)[:5] == ["c_{k-2}→0", "c_{k-1}→0", "c_{k-2}→1", "c_{k-1}→1", "0→1"]
    assert hm.zmin is None
    fig = alpha_heatmap(np.zeros((2, 3)), row_labels=["a", "b"], col_labels=["x", "y", "z"])
    np.testing.assert_allclose(np.asarray(fig.data[0].z), 1 / 3)
    assert list(fig.data[0].y) == ["a", "b"]
    assert list(alpha_heatmap(np.zeros((3, 2))).data[0].y) == ["edge 0", "edge 1", "edge 2"]
    # extreme values stay finite
    np.testing.assert_allclose(row_softmax(np.array([[1000.0, 0.0]])), [[1.0, 0.0]])


@pytest.mark.parametrize(
    "alpha, kw, match",
    [
        (np.zeros(5), {}, "2-D"),
        (np.full((6, 5), np.nan), {}, "NaN"),
        (np.zeros((6, 5)), {"row_labels": ["a"]}, "1 row labels for 6 rows"),
        (np.zeros((6, 5)), {"col_labels": ["a"]}, "1 column labels for 5 columns"),
    ],
)
def test_alpha_heatmap_bad_input(alpha, kw, match):
    with pytest.raises(ValueError, match=match):
        alpha_heatmap(alpha, **kw)
