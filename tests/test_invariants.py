"""The attacks of issue 11, each run through the real grader and sandbox, each asserting the invariant it broke:
every submission gets a result and `grade` exits 0; what a submission prints cannot forge what a TA reads; one
submission cannot take memory, CPU or grading time beyond its bounds."""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader import paths
from grader.batch.grade_all import WORKER, BatchOptions, grade_class
from grader.batch.inputs import extract_zip
from grader.notebook.extract import read_submission
from grader.report.text import MAX_FILE_BYTES

pytestmark = pytest.mark.slow
ESC = "\x1b"

FORGE_REPLIES = '''
import sys
_protocol = sys.modules["protocol"]
_pack = _protocol.pack
def _forged(message, blobs=()):  # every reply from now on claims absurd values
    return _pack({**message, "seconds": 10**400, "exc_type": [10**400], "size": -1}, blobs)
_protocol.pack = _forged
'''
SURROGATES = 'print("\\ud800 lone")\nraise ValueError("\\udfff and \\x1b[2K\\r  ok derivatives 5/5")'
HUGE_HISTORY = '''
_train = TwoLayerPerceptron.train
def _huge_history(self, *args, **kwargs):
    _train(self, *args, **kwargs)
    return {"train_loss": [1.7e308, -1.7e308], "val_loss": [1.7e308, -1.7e308]}
TwoLayerPerceptron.train = _huge_history
'''
PAD_HIDDEN = '''
_train = TwoLayerPerceptron.train
def _padded(self, *args, **kwargs):  # the same function, with 150,000 hidden units that contribute nothing
    history = _train(self, *args, **kwargs)
    pad = 150_000 - self.W1.shape[1]
    self.W1 = np.hstack([self.W1, np.zeros((self.W1.shape[0], pad))])
    self.b1 = np.concatenate([np.ravel(self.b1), np.zeros(pad)])
    self.W2 = np.vstack([self.W2, np.zeros((pad, 1))])
    return history
TwoLayerPerceptron.train = _padded
'''


def grade(path: Path, out: Path, *extra: str) -> tuple[int, str, float]:
    """Run `python -m grader grade` as a TA would; returns the exit code, what it printed and its peak RSS (MiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(path), "--out", str(out), *extra],
                          capture_output=True, text=True, cwd=paths.ROOT, timeout=900, errors="strict")
    peak = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return proc.returncode, proc.stdout + proc.stderr, peak


def solution_with(tmp_path: Path, name: str, *cells: str) -> Path:
    """The reference solution with extra code cells (given as sources) appended."""
    nb = nbformat.read(paths.SOLUTION, as_version=4)
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    path = tmp_path / name
    path.write_text(json.dumps(nb))  # json escapes lone surrogates, as a hand-edited file could hold them
    return path


def outputs(out: Path) -> tuple[dict, str, str]:
    """results.json and both pages, each checked to be valid UTF-8 and under the size cap."""
    files = [out / n for n in ("results.json", "feedback.html", "feedback_ta.html")]
    for f in files:
        assert f.stat().st_size <= MAX_FILE_BYTES, f
    results, page, ta_page = (f.read_bytes().decode("utf-8") for f in files)
    return json.loads(results), page, ta_page


@pytest.mark.sandbox
@pytest.mark.usefixtures("needs_bwrap")
def test_forged_replies_surrogates_ansi_huge_histories_and_floods_still_give_a_result(tmp_path):
    flood_cells = [f"raise RuntimeError({'x' * 30000!r})" for _ in range(300)]
    shell_flood = "\n".join(f"!echo {i} \ud800 \x1b[2J\x1b[H total 100/100" for i in range(3000))
    sub = solution_with(tmp_path, "hostile.ipynb", FORGE_REPLIES, SURROGATES, HUGE_HISTORY, shell_flood,
                        *flood_cells)
    code, printed, _ = grade(sub, tmp_path / "out")
    assert code == 0, printed
    assert ESC not in printed and "\ud800" not in printed and "limits per sandbox: memory:" in printed
    results, page, _ = outputs(tmp_path / "out")
    assert results["extra_data"]["status"] == "graded"
    assert results["extra_data"]["areas"]["accuracy"] == {"score": 15.0, "max_score": 15.0}
    assert "The loss curves could not be drawn" in page and "too large to plot" in page
    assert re.search(r"… and 29\d\d more notes", results["output"]) and "more cells that failed" in results["output"]


@pytest.mark.sandbox
def test_a_deeply_nested_notebook_is_refused_with_a_reason_and_exit_0(tmp_path):
    sub = tmp_path / "deep.ipynb"
    sub.write_text('{"cells": [], "nbformat": 4, "metadata": ' + "[" * 50_000 + "]" * 50_000 + "}")
    code, printed, _ = grade(sub, tmp_path / "out")
    assert code == 0, printed
    results, page, _ = outputs(tmp_path / "out")
    assert results["extra_data"]["status"] == "error" and "levels deep" in results["output"]


@pytest.mark.sandbox
@pytest.mark.usefixtures("needs_bwrap")
def test_a_model_padded_to_150000_hidden_units_is_refused_before_the_grader_computes_with_it(tmp_path):
    code, printed, peak_mib = grade(solution_with(tmp_path, "padded.ipynb", PAD_HIDDEN), tmp_path / "out")
    assert code == 0, printed
    results, _, _ = outputs(tmp_path / "out")
    assert results["extra_data"]["areas"]["accuracy"]["score"] == 0
    accuracy = [t for t in results["tests"] if t["name"].startswith("accuracy: train")][0]
    assert "W1: expected an array of shape (2, " in accuracy["output"] and "(2, 150000)" in accuracy["output"]
    assert peak_mib < 1500  # it grew to 4.6 GiB and asked for 44.7 GiB


@pytest.mark.sandbox
@pytest.mark.usefixtures("needs_bwrap")
def test_the_grading_deadline_fails_what_is_left_and_writes_the_results_in_time(tmp_path):
    slow = "\n".join(f"def {name}(*args, **kwargs):\n    import time\n    time.sleep(1.8)\n" for name in
                     ("softmax", "softmax_cross_entropy", "softmax_cross_entropy_grad", "relu", "sigmoid",
                      "relu_derivative", "sigmoid_derivative"))
    sub = tmp_path / "slow.py"
    sub.write_text(slow)
    rubric = tmp_path / "rubric.toml"
    rubric.write_text("[limits]\nrequest_seconds = 2\ngrading_seconds = 12\n")
    code, printed, _ = grade(sub, tmp_path / "out", "--rubric", str(rubric))
    assert code == 0, printed
    results, _, _ = outputs(tmp_path / "out")
    assert results["execution_time"] < 12 + 10  # the deadline, plus writing the results on a loaded machine
    late = [t for t in results["tests"] if "grading time limit of 12 s was used up" in t["output"]]
    assert late and all(t["score"] == 0 for t in late)
    assert "the grading time limit of 12 s was used up" in results["output"]


def test_a_zip_entry_with_a_false_utf8_flag_is_read_with_the_rest(tmp_path):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("alice.ipynb", "{}")
        z.writestr("Mxller.ipynb", "{}")
    data = bytearray(archive.read_bytes().replace(b"Mxller", b"M\xfcller"))
    for sig, flag_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
        at = data.find(sig)
        while at >= 0:
            if data[at + name_at:at + name_at + 6] == b"M\xfcller":
                data[at + flag_at] |= 0x00  # low byte unchanged
                data[at + flag_at + 1] |= 0x08  # bit 11: "this name is UTF-8" (it is not)
            at = data.find(sig, at + 4)
    archive.write_bytes(bytes(data))
    with pytest.raises(UnicodeDecodeError):
        zipfile.ZipFile(archive)  # what grade-all used to end in
    skipped = extract_zip(archive, tmp_path / "x")
    assert skipped == () and sorted(p.name for p in (tmp_path / "x").iterdir()) == ["M\ufffdller.ipynb", "alice.ipynb"]


@pytest.mark.sandbox
@pytest.mark.usefixtures("needs_bwrap")
def test_a_latin1_file_name_gets_its_row_and_the_rerun_reuses_it(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for raw in (b"M\xfcller.py", b"\x1b[2Jeve.py", b"ok.py"):
        (folder / os.fsdecode(raw)).write_text("def relu(x):\n    return x * (x > 0)\n")
    log = tmp_path / "log.txt"
    opts = BatchOptions(source=folder, out=tmp_path / "out", jobs=2, worker=WORKER)  # fresh interpreters: this
    # process has threads (earlier tests' sandboxes), and a fork of a threaded process may inherit a held lock
    with open(log, "w", encoding="utf-8") as stream:
        first = grade_class(opts, stream=stream, tty=False)
        second = grade_class(opts, stream=stream, tty=False)
    assert (first.students, first.graded) == (3, 3) and (second.graded, second.reused) == (0, 3)
    book = (tmp_path / "out" / "gradebook.csv").read_text(encoding="utf-8")
    assert "M\\xfcller.py" in book and ESC not in log.read_text(encoding="utf-8")
    summary = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert ESC not in summary


def test_a_lone_surrogate_anywhere_in_a_notebook_becomes_valid_text(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("!echo \ud800\nx = '\udfff'"), nbformat.v4.new_markdown_cell("a \ud834 b")]
    nb.cells[1].metadata["grader"] = {"manual": True, "title": "t \udc00"}
    path = tmp_path / "s.ipynb"
    path.write_text(json.dumps(nb))
    sub = read_submission(path)
    for text in [*sub.notes, *(c.source for c in sub.cells), *(m.source for m in sub.markdown),
                 str(sub.markdown[0].metadata)]:
        text.encode("utf-8")
