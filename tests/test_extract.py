"""The extract stage: notebooks and scripts into ordered cells, IPython syntax neutralised, typed one-line errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat
import pytest

from grader.errors import SubmissionError
from grader.notebook.extract import neutralise, read_submission

HERE = Path(__file__).parent / "submissions"


def notebook(tmp_path: Path, *cells: tuple[str, str], name: str = "nb.ipynb") -> Path:
    nb = nbformat.v4.new_notebook()
    make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
            "raw": nbformat.v4.new_raw_cell}
    nb.cells = [make[kind](src) for kind, src in cells]
    path = tmp_path / name
    nbformat.write(nb, path)
    return path


def run(source: str) -> dict:
    ns: dict = {}
    exec(compile(source, "<cell>", "exec"), ns)  # noqa: S102 - the tests' own trusted snippets
    return ns


def test_a_notebook_gives_code_cells_with_their_index_among_all_cells(tmp_path):
    path = notebook(tmp_path, ("markdown", "# Title"), ("code", "a = 1"), ("raw", "raw"), ("code", "b = a + 1"),
                    ("markdown", "$E = y - t$"))
    sub = read_submission(path)
    assert [(c.index, c.source) for c in sub.cells] == [(1, "a = 1\n"), (3, "b = a + 1\n")]
    assert [(m.index, m.source) for m in sub.markdown] == [(0, "# Title"), (4, "$E = y - t$")]
    assert sub.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() and sub.path == path


def test_markdown_metadata_is_kept_for_the_hand_graded_items(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("derivation", metadata={"grader": {"manual": True, "id": "p1"}}),
                nbformat.v4.new_code_cell("x = 1")]
    nbformat.write(nb, tmp_path / "m.ipynb")
    assert read_submission(tmp_path / "m.ipynb").markdown[0].metadata == {"grader": {"manual": True, "id": "p1"}}


def test_a_percent_script_is_split_on_its_markers(tmp_path):
    sub = read_submission(HERE / "small.py")
    assert [c.index for c in sub.cells] == [0, 2, 3]
    assert sub.cells[1].source.startswith("def relu(x):")
    assert sub.markdown[0].source == "## Problem 2\nThe activations.\n"


def test_a_script_without_markers_is_one_cell(tmp_path):
    (tmp_path / "plain.py").write_text("x = 1\ny = 2\n")
    assert [(c.index, c.source) for c in read_submission(tmp_path / "plain.py").cells] == [(0, "x = 1\ny = 2\n")]


@pytest.mark.filterwarnings("ignore:IPython is needed")
def test_the_script_nbconvert_exports_reads_back_to_the_same_code(tmp_path):
    from nbconvert.exporters import PythonExporter

    path = notebook(tmp_path, ("markdown", "intro"), ("code", "a = 1"), ("code", "def f():\n    return a"))
    script, _ = PythonExporter().from_filename(str(path))
    (tmp_path / "nb.py").write_text(script)
    from_script = read_submission(tmp_path / "nb.py")
    assert [c.source.strip() for c in from_script.cells] == ["a = 1", "def f():\n    return a"]


def test_line_magics_become_no_ops_and_shell_lines_are_skipped_with_a_note():
    cell = neutralise("%matplotlib inline\n%load_ext autoreload\n!pip install numpy\nfiles = !ls\nx = 1\n"
                      "if x:\n    !echo hi\n    %time y = 2\n%pip install sklearn\nnp.dot?\n", 3)
    ns = run(cell.source)
    assert ns["x"] == 1 and ns["y"] == 2 and ns["files"] is None
    assert cell.notes == ("cell 3: skipped shell line `!pip install numpy`", "cell 3: skipped shell line `files = !ls`",
                          "cell 3: skipped shell line `!echo hi`", "cell 3: skipped shell line `%pip install sklearn`")
    assert len(cell.source.splitlines()) == 10  # line numbers in tracebacks still match the notebook


def test_cell_magics_run_their_body_or_skip_a_cell_that_is_not_python():
    assert run(neutralise("%%time\nq = 41\nq += 1\n", 0).source)["q"] == 42
    assert run(neutralise("%%capture out\nz = 3\n", 0).source)["z"] == 3
    bash = neutralise("%%bash\nls -la\n", 5)
    assert bash.source == "" and bash.notes == ("cell 5: skipped a `%%bash` cell (it is not Python)",)


def test_writefile_writes_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run(neutralise("%%writefile helper.py\ndef f():\n    return 1\n", 0).source)
    assert (tmp_path / "helper.py").read_text() == "def f():\n    return 1\n"


def test_percent_and_bang_inside_strings_and_brackets_are_left_alone():
    src = 'doc = """\n%not a magic\n!not shell\n"""\ny = (7\n     % 4)\nz = 9 \\\n  % 5\nw = 1 if 2 != 3 else 0\n'
    cell = neutralise(src, 0)
    assert cell.source == src and cell.notes == ()
    ns = run(cell.source)
    assert ns["doc"] == "\n%not a magic\n!not shell\n" and ns["y"] == 3 and ns["z"] == 4 and ns["w"] == 1


def test_timeit_runs_its_statement_once():
    assert run(neutralise("n = 0\n%timeit -n 3 -r 2 n += 1\n", 0).source)["n"] == 1


def test_an_old_notebook_is_upgraded():
    sub = read_submission(HERE / "v3.ipynb")
    assert [c.index for c in sub.cells] == [1, 3] and "def relu" in sub.cells[0].source
    assert sub.notes == ("cell 3: skipped shell line `!pip install numpy`",)
    assert sub.markdown[0].source == "# An old notebook"


def test_a_structurally_damaged_but_readable_notebook_is_read_leniently(tmp_path):
    (tmp_path / "odd.ipynb").write_text(json.dumps(
        {"cells": [{"cell_type": "code", "source": ["x = 1\n", "y = 2"]}], "metadata": {}, "nbformat": 4,
         "nbformat_minor": 5}))
    sub = read_submission(tmp_path / "odd.ipynb")
    assert sub.cells[0].source == "x = 1\ny = 2\n" and "read leniently" in sub.notes[0]


@pytest.mark.parametrize("content, expected", [
    ("{not json", "this file is not a Jupyter notebook: bad.ipynb is not valid JSON (line 1"),
    ('{"hello": 1}', "this file is not a Jupyter notebook: bad.ipynb is JSON but has no notebook cells"),
    ("[1, 2]", "this file is not a Jupyter notebook: bad.ipynb is JSON but has no notebook cells"),
    ('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "this notebook is empty"),
    ('{"cells": [], "metadata": {}, "nbformat": 9, "nbformat_minor": 0}', "this notebook's format cannot be read"),
])
def test_unreadable_notebooks_raise_one_line_messages(tmp_path, content, expected):
    (tmp_path / "bad.ipynb").write_text(content)
    with pytest.raises(SubmissionError) as info:
        read_submission(tmp_path / "bad.ipynb")
    assert str(info.value).startswith(expected) and "\n" not in str(info.value)


def test_broken_json_from_the_submissions_folder():
    with pytest.raises(SubmissionError, match="not a Jupyter notebook: broken.ipynb is not valid JSON"):
        read_submission(HERE / "broken.ipynb")


def test_a_notebook_with_only_markdown_or_blank_code_has_no_code(tmp_path):
    with pytest.raises(SubmissionError, match="this notebook has no code cells: nb.ipynb"):
        read_submission(notebook(tmp_path, ("markdown", "only words"), ("code", "   \n")))


def test_missing_binary_and_huge_files_are_reported(tmp_path):
    with pytest.raises(SubmissionError, match="does not exist"):
        read_submission(tmp_path / "nope.ipynb")
    (tmp_path / "bin.ipynb").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SubmissionError, match="not UTF-8 text"):
        read_submission(tmp_path / "bin.ipynb")
    with pytest.raises(SubmissionError, match="is a folder"):
        read_submission(tmp_path)
