"""The student skeleton is generated from the solution: stubs, cleared outputs, no hidden metadata, no drift."""

from __future__ import annotations

import copy
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader import paths
from grader.notebook.release import BEGIN, END, MarkerError, make_skeleton, render


def solution():
    return nbformat.read(paths.SOLUTION, as_version=4)


def skeleton_of(*cells):
    return make_skeleton(new_notebook(cells=list(cells)))


def test_committed_skeleton_is_exactly_what_release_generates_now(tmp_path):
    out = tmp_path / "backprop.ipynb"
    subprocess.run([sys.executable, "-m", "grader", "release", "--out", str(out)], check=True, capture_output=True,
                   cwd=paths.ROOT)
    assert out.read_bytes() == paths.SKELETON.read_bytes(), "assignment/ drifted: run `make assignment`"
    assert render(make_skeleton(solution())) == paths.SKELETON.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", [paths.SOLUTION, paths.SKELETON], ids=["solution", "skeleton"])
def test_both_notebooks_are_valid_nbformat_v4(path):
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    assert nb.nbformat == 4
    nbformat.validate(nb)


def test_a_code_region_becomes_a_stub_that_keeps_indentation_and_sets_outputs_to_none():
    src = "def f(x):\n    \"\"\"doc\"\"\"\n    ### BEGIN SOLUTION\n    tmp = x + 1\n    out = tmp * 2\n" \
          "    ### END SOLUTION\n    return out\n\n\ndef g():\n    return tmp_not_out\n"
    body = skeleton_of(new_code_cell(src)).cells[0].source
    assert "    out = None\n    # TODO" in body
    assert "tmp = None" not in body and "out = tmp * 2" not in body
    assert "    raise NotImplementedError\n    return out" in body
    namespace: dict = {}
    exec(body, namespace)
    with pytest.raises(NotImplementedError):
        namespace["f"](1)


def test_a_markdown_region_becomes_a_prompt():
    cell = new_markdown_cell(f"Derive it.\n\n{BEGIN}\nthe secret derivation\n{END}\n")
    body = skeleton_of(cell).cells[0].source
    assert "secret" not in body and "BEGIN" not in body and body.startswith("Derive it.")
    assert "answer here" in body


@pytest.mark.parametrize("src, where", [
    (f"x = 1\n{BEGIN}\ny = 2\n", "cell 0, line 2"),
    (f"x = 1\ny = 2\n{END}\n", "cell 0, line 3"),
    (f"{BEGIN}\n{BEGIN}\n{END}\n{END}\n", "cell 0, line 2"),
], ids=["unclosed", "unopened", "nested"])
def test_unmatched_or_nested_markers_name_the_cell_and_line(src, where):
    with pytest.raises(MarkerError, match=where):
        skeleton_of(new_code_cell(src))


def test_the_error_names_the_right_cell_in_a_longer_notebook():
    cells = [new_markdown_cell("intro"), new_code_cell("a = 1"), new_code_cell(f"b = 2\n\n{END}")]
    with pytest.raises(MarkerError, match="cell 2, line 3"):
        skeleton_of(*cells)


def test_outputs_and_hidden_metadata_are_removed_but_the_manual_marking_stays():
    nb = solution()
    nb = copy.deepcopy(nb)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="hello")]
    nb.cells[1].execution_count = 3
    nb.cells[3].metadata["grader"]["answer_key"] = "instructors only"
    skeleton = make_skeleton(nb)
    assert skeleton.cells[1].outputs == [] and skeleton.cells[1].execution_count is None
    assert skeleton.cells[3].metadata["grader"] == {
        "manual": True, "id": "derivation", "title": "Problem 1: derivation of dE/da"}
    assert "manual-grading" in skeleton.cells[3].metadata["tags"]


def test_no_solution_text_reaches_the_skeleton():
    text = paths.SKELETON.read_text()
    for secret in ("BEGIN SOLUTION", "END SOLUTION", "np.logaddexp", "relu_derivative(Z1)", "HYPERPARAMETERS = dict(",
                   "sum_j t_{nj} = 1"):
        assert secret not in text


def test_the_skeleton_loads_the_data_exactly_as_the_solution_does():
    def loaders(nb):
        return [c.source for c in nb.cells if c.cell_type == "code" and "pickle.load" in c.source]
    assert loaders(solution()) == loaders(nbformat.read(paths.SKELETON, as_version=4)) != []
