"""Property-based tests of the stage boundaries: whatever a submission holds or sends, each stage returns its result
or a typed error, every text it passes on is valid UTF-8, what reaches a terminal has no control characters, and the
reports stay under their size cap. `make test` runs them derandomised with few examples; `make fuzz` in full."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from grader.batch.grade_all import BatchOptions, describe, grade_class
from grader.batch.summary import _md
from grader.errors import GraderError, SubmissionError
from grader.grading.results import GradeReport, TestResult as Result
from grader.sandbox.outcomes import CellOutcome, NotebookRun
from grader.notebook import clean
from grader.notebook.extract import read_submission
from grader.report.feedback import attempt, page
from grader.report.pictures import loss_curves_png
from grader.report.text import MAX_FILE_BYTES, results_json, summary_lines
from grader.sandbox import replies
from grader.sandbox.inside import protocol

pytestmark = pytest.mark.fuzz
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")

# text as a submission can make it: lone surrogates, NULs, ANSI escapes and bidi marks among ordinary characters
hostile_text = st.lists(st.one_of(st.characters(), st.sampled_from(["\ud800", "\udfff", "\x00", "\x1b[2J", "\r",
                                                                    "\u202e", "|", "`", "<img src=x>", "![a](b)"])),
                        max_size=20).map("".join)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**400), max_value=10**400),
                         st.floats(allow_nan=True, allow_infinity=True), hostile_text)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                  st.dictionaries(hostile_text, inner, max_size=4)),
                           max_leaves=20)


def valid(text: str) -> bool:
    text.encode("utf-8")
    return True


cells = st.fixed_dictionaries({"cell_type": st.sampled_from(["code", "markdown", "raw"]) | hostile_text},
                              optional={"source": hostile_text | st.lists(hostile_text, max_size=3) | json_values,
                                        "metadata": json_values, "outputs": json_values})
notebooks = st.fixed_dictionaries({"cells": st.lists(cells, max_size=5)},
                                  optional={"nbformat": st.sampled_from([4, 3]) | json_values,
                                            "nbformat_minor": json_values, "metadata": json_values})


@given(notebooks | json_values)
def test_any_notebook_json_is_read_into_valid_text_or_refused_with_a_reason(tmp_path_factory, document):
    path = tmp_path_factory.mktemp("nb") / "submission.ipynb"
    path.write_text(json.dumps(document))  # ensure_ascii: surrogates travel as escapes, as in a hand-edited file
    try:
        sub = read_submission(path)
    except SubmissionError as exc:
        assert valid(str(exc))
        return
    texts = [*sub.notes, *(c.source for c in sub.cells), *(m.source for m in sub.markdown)]
    assert all(valid(t) for t in texts) and valid(json.dumps(sub.markdown[0].metadata if sub.markdown else {},
                                                             ensure_ascii=False))


reply_fields = st.sampled_from(["ok", "kind", "message", "traceback", "exc_type", "type_name", "where", "size",
                                "seconds", "stdout", "stderr", "id", "handle", "type", "value", "junk"])


@given(st.dictionaries(reply_fields, json_values | st.sampled_from(["raised", "timeout", "unsendable", "too_large"])))
def test_any_reply_from_a_fake_worker_becomes_an_outcome_or_a_typed_error(reply):
    message, blobs = protocol.unpack(protocol.pack(reply)[8:])  # through the real frame format
    try:
        checked = replies.checked(message)
        outcome = replies.cell_outcome(3, checked)
        replies.raise_for(checked, "`f`", 1.0, "call")
    except GraderError as exc:
        assert valid(str(exc))
        return
    assert np.isfinite(outcome.seconds) and outcome.status in ("ok", "error", "timeout")
    assert all(valid(getattr(outcome, f)) for f in ("message", "traceback", "stdout", "stderr", "error_type"))


def _report(texts: list[str], failed_cells: int) -> GradeReport:
    text = (texts * 3)[:3]
    tests = tuple(Result(name=f"forward: test {i}", area="forward", score=0.0, max_score=1.0, passed=False,
                             message=text[0] * 50, expected=text[1] * 50, actual=text[2] * 50,
                             traceback=text[0] * 400) for i in range(40))
    cells = tuple(CellOutcome(i, "error", error_type=text[1], message=text[2] * 20, traceback=text[0] * 200)
                  for i in range(failed_cells))
    return GradeReport(student=text[0], submission=text[1], sha256="0" * 64, status="graded", score=0.0,
                       max_score=40.0, tests=tests, notebook=NotebookRun(cells, notes=tuple(texts)),
                       notes=tuple(texts) * 20, reason=text[2] * 100)


@given(st.lists(hostile_text.map(clean.valid_text), min_size=1, max_size=6), st.integers(0, 400))
def test_reports_of_any_text_are_valid_bounded_and_inert_on_a_terminal(texts, failed_cells):
    report = _report(texts, failed_cells)
    assert len(results_json(report).encode("utf-8")) <= MAX_FILE_BYTES
    assert len(page(report, ta=True).encode("utf-8")) <= MAX_FILE_BYTES
    for line in summary_lines(report):
        assert not CONTROL.search(line) and valid(line)


@given(hostile_text)
def test_a_name_in_summary_md_renders_as_itself(name):
    cell = _md(name)
    assert "\n" not in cell and "<" not in cell.replace("<", "") and valid(cell)
    fence = re.match("`*", cell).group(0)
    if cell:
        inner = cell[len(fence):-len(fence)]
        assert fence * 1 not in inner.strip(" ") or len(fence) == 0  # the fence never occurs inside: one code span
        assert "|" not in inner.replace("\\|", "")  # no pipe ends the table cell


extreme = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([1.7e308, -1.7e308, 5e-324, -0.0, 1e-300]))


@given(st.dictionaries(st.sampled_from(["train_loss", "val_loss", "other"]), st.lists(extreme, max_size=40)))
def test_any_history_is_drawn_or_left_out_with_a_line_saying_why(history):
    outcome = attempt(lambda: loss_curves_png(history), "loss curves")
    assert outcome.startswith("The loss curves could not be drawn" if isinstance(outcome, str) else b"\x89PNG")


FAKE_GRADER = textwrap.dedent('''
    """Stands in for the batch child: a report for the file, with its name, from the real report and row code."""
    import argparse
    from pathlib import Path
    from grader.course.book import row_from_report, row_to_json
    from grader.files import write_text
    from grader.grading.results import GradeReport
    from grader.report.text import write_results_json
    p = argparse.ArgumentParser()
    p.add_argument("path"); [p.add_argument(f"--{k}") for k in ("student", "file", "key", "out", "row", "sandbox")]
    a = p.parse_args()
    report = GradeReport(a.student, a.file, "0" * 64, "graded", 1.0, 1.0)
    write_results_json(report, Path(a.out))
    write_text(Path(a.row), row_to_json(row_from_report(report, file=a.file, key=a.key)) + "\\n")
''')

name_bytes = st.binary(min_size=1, max_size=24).filter(lambda b: b"/" not in b and b"\0" not in b)


@pytest.mark.slow
@settings(max_examples=4 if settings.default.max_examples <= 25 else 200)  # two batches each: keep `make test` quick
@given(st.lists(name_bytes, min_size=1, max_size=3, unique=True))
def test_any_file_name_bytes_give_a_gradebook_a_summary_and_a_rerun(tmp_path_factory, names):
    root = tmp_path_factory.mktemp("class")
    folder, fake = root / "in", root / "fake.py"
    folder.mkdir()
    fake.write_text(FAKE_GRADER)
    for raw in names:
        (folder / os.fsdecode(raw + b".ipynb")).write_bytes(b"{}")
    opts = BatchOptions(source=folder, out=root / "out", jobs=2, worker=(sys.executable, str(fake)))
    with open(root / "log", "w", encoding="utf-8") as stream:
        for _ in range(2):  # the rerun reads the cached state back
            result = grade_class(opts, stream=stream, tty=False)
    assert result.students == len({clean.file_name(os.fsdecode(n + b".ipynb")) for n in names}) or result.students
    for out in ("gradebook.csv", "summary.md"):
        assert valid((root / "out" / out).read_bytes().decode("utf-8"))
    assert not CONTROL.search((root / "log").read_text(encoding="utf-8").replace("\n", ""))
    shutil.rmtree(root, ignore_errors=True)


@given(st.builds(lambda s, n: (s, n), hostile_text, st.integers(0, 3)))
def test_progress_lines_have_no_control_characters(case):
    from grader.course.book import Row

    text, status = case
    line = describe(Row(text, text, "", ("graded", "error", "timeout", "graded")[status], 1.0, 2.0, reason=text))
    assert not CONTROL.search(line) and valid(line)
