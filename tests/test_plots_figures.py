"""The course figures that drew wrongly in the browser (issue 20): each test pins what was fixed."""

import numpy as np
import pytest

from gibbsnas_lite.course import arch_posterior as P
from gibbsnas_lite.course.plots import arch_posterior as PP
from gibbsnas_lite.course.plots.cells import alpha_heatmap


@pytest.fixture(scope="module")
def toy():
    from gibbsnas_lite.nasbench import NB201Table

    mean, cov = P.disagreement_example()
    return P.architecture_posterior(P.sample_alphas(mean, cov, 2000, seed=0), table=NB201Table.load(), mean=mean)


def test_std_heatmap_prints_the_digits_its_colours_show():
    std = np.linspace(0.041, 0.049, 30).reshape(6, 5)
    fig = alpha_heatmap(std, softmax=False, zlabel="std")
    heat = fig.data[0]
    assert heat.texttemplate == "%{z:.3f}", "0.041 ... 0.049 must not all read 0.05"
    assert heat.colorbar.title.text == "std"
    assert alpha_heatmap(np.zeros((6, 5))).data[0].texttemplate == "%{z:.2f}"  # softmax: 2 decimals
    assert alpha_heatmap(std, softmax=False).data[0].colorbar.title.text == "α"


def test_win_probability_marks_leave_the_numbers_readable(toy):
    fig = PP.win_probability_figure(toy)
    marks = [a for a in fig.layout.annotations if a.text in ("<b>✕</b>", "<b>○</b>")]
    assert len(marks) == 12, "one ✕ (argmax) and one ○ (modal) per edge"
    # in a corner of the square (category axes: cell centres at integers), not on its number
    assert all(abs(a.x - round(a.x)) > 0.3 and abs(a.y - round(a.y)) > 0.15 for a in marks)
    assert all(t.x == (None,) for t in fig.data[1:]), "the legend entries plot no point over the map"


def test_histogram_names_its_lines_in_the_legend_not_in_overlapping_labels(toy):
    marks = {"argmax": toy.mean_arch, "modal": toy.modal_arch}
    fig = PP.accuracy_histogram_figure(toy, "cifar10_test", marks=marks, optimum=94.37)
    assert not fig.layout.annotations
    names = [t.name for t in fig.data if t.showlegend is not False]
    assert [n.split(":")[0] for n in names] == ["argmax", "modal", "posterior mean", "table best"]
    assert len(fig.layout.shapes) == 4


def test_temperature_figure_right_axis_has_its_own_two_decimal_ticks():
    sweep = [
        {"temperature": t, "p_argmax": 0.1 / (i + 1), "expected_cifar10_test": 92.0 + 0.04 * i}
        for i, t in enumerate([1, 2, 4, 8])
    ]
    fig = PP.temperature_figure(sweep)
    assert fig.layout.yaxis2.tickformat == ".2f" and fig.layout.yaxis2.tickmode == "auto"
    assert list(fig.data[1].y) == [92.0, 92.04, 92.08, 92.12]


def test_anytime_y_title_is_short_and_the_split_is_under_the_title():
    from gibbsnas_lite.course.plots.table_search import anytime_figure
    from gibbsnas_lite.table_search import run_many

    runs = run_many(["RS"], "cifar10", 5, 2)
    fig = anytime_figure(runs, metric="test", title="Anytime")
    assert len(fig.layout.yaxis.title.text) <= 30, fig.layout.yaxis.title.text
    assert "cifar10 test accuracy, 200 epochs" in fig.layout.title.text


def test_table3_figure_shows_whole_arch_strings_and_every_column():
    from gibbsnas_lite.course.plots.report import table3_figure
    from gibbsnas_lite.course.report import LABELS

    arch = "|none~0|+|none~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_1x1~2|"
    rows = [{"method": "GibbsNAS-2nd", "arch": arch, "values": {label: (90.0, None) for label in LABELS}}]
    fig = table3_figure(rows)
    cell = fig.data[0].cells.values[1][0]
    assert cell.replace("<br>", "") == arch and cell.count("<br>") == 2, "one line per node"
    assert len(fig.data[0].header.values) == 2 + len(LABELS) and fig.layout.width >= 1000
