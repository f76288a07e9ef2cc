"""The batch runner: parameters, headline recording, summary, readable failures."""

import json

import nbformat
import pytest

from gibbsnas_lite import cli
from gibbsnas_lite.course.notebooks import (
    NotebookError,
    list_notebooks,
    parse_parameters,
    read_headline,
    run_notebooks,
)


def _write_notebook(path, body):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "cpu"\nseed = 0')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# toy"), params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


def test_parse_parameters():
    assert parse_parameters(["a=1", "b=x", "c=[1, 2]", "d=0.5"]) == {"a": 1, "b": "x", "c": [1, 2], "d": 0.5}
    with pytest.raises(ValueError, match="key=value"):
        parse_parameters(["novalue"])


def test_list_notebooks_only_and_unknown(tmp_path):
    for name in ("01_a.ipynb", "02_b.ipynb", "notes.ipynb"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in list_notebooks(tmp_path)] == ["01_a.ipynb", "02_b.ipynb"]
    assert [p.name for p in list_notebooks(tmp_path, ["2"])] == ["02_b.ipynb"]
    with pytest.raises(ValueError, match="07"):
        list_notebooks(tmp_path, ["07"])


def test_run_records_headline_and_summary(tmp_path):
    books = tmp_path / "nb"
    books.mkdir()
    _write_notebook(
        books / "01_ok.ipynb",
        "from gibbsnas_lite.course.notebooks import record\nrecord(profile=profile, answer=6 * 7)",
    )
    _write_notebook(books / "02_bad.ipynb", "x = 1\nraise RuntimeError('boom in cell')")
    out = tmp_path / "out"
    runs = run_notebooks(out, profile="smoke", notebook_dir=books, echo=lambda *_: None)
    assert [r.ok for r in runs] == [True, False]
    assert runs[0].headline == {"profile": "smoke", "answer": 42}
    assert read_headline(out / "01_ok.ipynb") == {"profile": "smoke", "answer": 42}
    assert "boom in cell" in runs[1].error and "02_bad.ipynb: cell" in runs[1].error
    assert "raise RuntimeError" in runs[1].error  # the failing cell's source is shown
    summary = json.loads((out / "summary.json").read_text())
    assert [s["notebook"] for s in summary] == ["01_ok.ipynb", "02_bad.ipynb"]
    assert "answer=42" in (out / "summary.md").read_text()
    # the runner's own cell is gone from the executed copy: it ends where the notebook ends
    executed = nbformat.read(str(out / "01_ok.ipynb"), as_version=4)
    assert [c.source for c in executed.cells][-1].endswith("record(profile=profile, answer=6 * 7)")
    assert executed.cells[-1].outputs == []  # record() prints nothing in front of the learner
    assert executed.metadata["gibbsnas"]["headline"] == {"profile": "smoke", "answer": 42}


def test_record_is_silent_and_checks_values(capsys):
    from gibbsnas_lite.course import notebooks

    notebooks._RECORDED.clear()
    assert notebooks.record(a=1, b=[0.5, "x"]) is None
    notebooks.record(a=2)
    assert capsys.readouterr().out == ""
    assert notebooks.recorded() == {"a": 2, "b": [0.5, "x"]}
    notebooks.emit_headline()
    line = capsys.readouterr().out.strip()
    assert line == notebooks.HEADLINE_MARKER + '{"a": 2, "b": [0.5, "x"]}'
    with pytest.raises(TypeError):
        notebooks.record(bad=object())
    notebooks._RECORDED.clear()


def test_cli_notebooks_run_exit_codes(tmp_path, capsys):
    books = tmp_path / "nb"
    books.mkdir()
    _write_notebook(books / "01_ok.ipynb", "from gibbsnas_lite.course.notebooks import record\nrecord(k=k)")
    rc = cli.main(
        ["notebooks", "run", "--notebooks", str(books), "--out", str(tmp_path / "o"), "--profile", "smoke", "-p", "k=3"]
    )
    assert rc == 0
    assert "executed notebooks:" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["notebooks", "run", "--profile", "gpu"])


def test_unknown_profile_is_refused(tmp_path):
    from gibbsnas_lite.course.notebooks import execute_notebook

    with pytest.raises(ValueError, match="unknown profile 'fast'"):
        execute_notebook(tmp_path / "x.ipynb", tmp_path / "y.ipynb", profile="fast")
    assert NotebookError.__doc__
