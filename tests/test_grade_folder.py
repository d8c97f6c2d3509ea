"""One policy when a feedback page fails, whichever writes the grade: `grade`, the batch worker, Gradescope.

report/folder.py's policy: results.json keeps the grade; failed full pages become plain ones; failed plain pages
are removed (a stale page would show an old grade); stderr and results.json's extra_data["feedback_error"] say so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.batch import worker
from grader.bundles import gradescope_run
from grader.cli import main
from grader.grading import grade as grade_module
from grader.grading.results import GradeReport, TestResult as Result
from grader.report import drawing, feedback

REPORT = GradeReport(student="ada", submission="backprop.ipynb", sha256="0" * 64, status="graded", score=3.0,
                     max_score=5.0, tests=(Result("softmax: sums to one", "softmax", 3.0, 3.0, True),
                                           Result("backward: dW1", "backward", 0.0, 2.0, False, "wrong")))


def by_grade(root: Path, monkeypatch) -> tuple[Path, dict]:
    monkeypatch.setattr(grade_module, "grade_safely", lambda *a, **k: (REPORT, True))
    out = root / "out"
    assert main(["grade", str(root / "backprop.ipynb"), "--out", str(out), "--sandbox", "none"]) == 0
    return out, json.loads((out / "results.json").read_text())


def by_worker(root: Path, monkeypatch) -> tuple[Path, dict]:
    monkeypatch.setattr(grade_module, "grade_submission", lambda *a, **k: REPORT)
    monkeypatch.setattr(drawing, "_parallel", drawing._parallel)  # run_task turns it off for the batch
    out = root / "out"
    task = worker.GradeTask(root / "backprop.ipynb", "ada", "backprop.ipynb", "key", out, root / "row.json")
    assert worker.run_task(task) == 0 and json.loads((root / "row.json").read_text())["score"] == 3.0
    return out, json.loads((out / "results.json").read_text())


def by_gradescope(root: Path, monkeypatch) -> tuple[Path, dict]:
    (root / "submission").mkdir()
    (root / "submission" / "backprop.ipynb").write_text("{}")
    code = gradescope_run.run_once({gradescope_run.ROOT_ENV: str(root)}, grade=lambda *a, **k: REPORT)
    out = root / "results"
    assert code == 0
    return out, json.loads((out / "results.json").read_text())


CALLERS = pytest.mark.parametrize("write", [by_grade, by_worker, by_gradescope], ids=["grade", "worker", "gradescope"])


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "backprop.ipynb").write_text("{}")
    return tmp_path


@CALLERS
def test_whole_pages_carry_no_problem(write, root, monkeypatch, capsys):
    out, results = write(root, monkeypatch)
    assert results["score"] == 3.0 and "feedback_error" not in results["extra_data"]
    page = (out / feedback.STUDENT_PAGE).read_text()
    assert "Automatic score: 3 / 5" in page and "No pictures" in page and (out / feedback.TA_PAGE).exists()
    assert "feedback pages" not in capsys.readouterr().err


@CALLERS
def test_when_the_pictures_fail_the_grade_stands_with_plain_pages_and_the_failure_is_said(write, root, monkeypatch,
                                                                                          capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("no display 4711")

    monkeypatch.setattr(feedback, "draw_pictures", broken)
    out, results = write(root, monkeypatch)
    assert results["score"] == 3.0
    problem = results["extra_data"]["feedback_error"]
    assert "RuntimeError: no display 4711" in problem and problem.endswith("written without pictures")
    page = (out / feedback.STUDENT_PAGE).read_text()
    assert "Automatic score: 3 / 5" in page and "No pictures" not in page and (out / feedback.TA_PAGE).exists()
    err = capsys.readouterr().err
    assert "no display 4711" in err and "Traceback" in err


@CALLERS
def test_when_no_page_can_be_rendered_the_old_pages_go_and_the_grade_stands(write, root, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise RuntimeError("template gone 4712")

    for stale in (root / "out", root / "results"):  # an earlier grading's pages, with another grade
        stale.mkdir()
        (stale / feedback.STUDENT_PAGE).write_text("5 / 5")
        (stale / feedback.TA_PAGE).write_text("5 / 5")
    monkeypatch.setattr(feedback, "render_feedback", broken)
    out, results = write(root, monkeypatch)
    assert results["score"] == 3.0
    assert results["extra_data"]["feedback_error"].endswith("no pages written")
    assert not (out / feedback.STUDENT_PAGE).exists() and not (out / feedback.TA_PAGE).exists()
    assert "template gone 4712" in capsys.readouterr().err
