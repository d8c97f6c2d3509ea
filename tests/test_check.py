"""The student self-check: `make check NOTEBOOK=...` runs only the public tests and prints messages and hints."""

from __future__ import annotations

import subprocess

import pytest

import grader.backprop.data
import grader.backprop
from grader import paths
from grader.cli import main
from grader.report.check import TODO_TIP, all_passed, check_lines
from grader.grading.results import GradeReport
from grader.sandbox.outcomes import NotebookRun, CellOutcome
from grader.grading.results import TestResult as Result  # not collected by pytest as a test class

WRONG = Result("backward: dW1 matches finite differences", "backward", 0, 5, False, message="dW1 is wrong",
               expected="[0.1 0.2]", actual="[0.2 0.4]", hint="Divide by the batch size.", public=True)
RIGHT = Result("softmax: rows sum to 1", "softmax", 2, 2, True, public=True)


def a_report(*tests: Result, **changes) -> GradeReport:
    fields = dict(student="s", submission="backprop.ipynb", sha256="", status="graded", score=0, max_score=0,
                  tests=tests, notebook=NotebookRun(cells=(CellOutcome(3, "ok"),)))
    return GradeReport(**{**fields, **changes})


def test_each_failure_is_printed_with_its_message_values_and_hint():
    lines = check_lines(a_report(RIGHT, WRONG))
    text = "\n".join(lines)
    assert "PASS  softmax: rows sum to 1" in lines and "FAIL  backward: dW1 matches finite differences" in lines
    after = text.split("FAIL  backward")[1]
    for part in ("dW1 is wrong", "expected: [0.1 0.2]", "got:      [0.2 0.4]", "hint: Divide by the batch size."):
        assert part in after
    assert lines[-1] == "1 passed, 1 failed (public tests)"
    assert not all_passed(a_report(RIGHT, WRONG)) and all_passed(a_report(RIGHT))


def test_failed_cells_timeouts_and_unreadable_notebooks_are_reported():
    run = NotebookRun(cells=(CellOutcome(8, "error", 0.1, "KeyError", "'X_train'"),), timed_out=True)
    text = "\n".join(check_lines(a_report(RIGHT, notebook=run)))
    assert "cell [8] raised KeyError: 'X_train'" in text and "overall time limit" in text
    broken = a_report(status="error", reason="this notebook is not valid JSON")
    assert check_lines(broken) == ["backprop.ipynb: could not be checked: this notebook is not valid JSON"]
    assert not all_passed(broken) and not all_passed(a_report())


@pytest.mark.sandbox
@pytest.mark.slow
def test_check_on_the_solution_passes_and_never_touches_the_hidden_set(monkeypatch, capsys):
    def no_hidden(*args, **kwargs):
        raise AssertionError("the self-check asked for the hidden test set")

    monkeypatch.setattr(grader.backprop, "hidden_set", no_hidden)
    monkeypatch.setattr(grader.backprop.data, "hidden_set", no_hidden)
    code = main(["check", str(paths.SOLUTION)])  # its time against the 15 s budget: `make bench`, section grading
    out = capsys.readouterr().out
    assert code == 0, out
    results = [line for line in out.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert results and all(line.startswith("PASS  ") for line in results)
    assert not any(line.startswith("PASS  accuracy: hidden") for line in results), "a hidden test ran"
    assert out.rstrip().endswith(f"{len(results)} passed, 0 failed (public tests)")


@pytest.mark.sandbox
@pytest.mark.slow
def test_make_check_on_the_skeleton_fails_every_public_test_with_a_clear_message():
    proc = subprocess.run(["make", "-s", "check", f"NOTEBOOK={paths.SKELETON}"], cwd=paths.ROOT,
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout
    assert proc.returncode != 0, "a failing self-check exits non-zero"
    results = [line for line in out.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert len(results) >= 20 and all(line.startswith("FAIL  ") for line in results)
    assert out.count("raise NotImplementedError") >= len(results) - 2, "each failure points at the student's TODO"
    assert TODO_TIP in out and out.rstrip().endswith(f"0 passed, {len(results)} failed (public tests)")
    assert "Traceback" not in proc.stderr, proc.stderr
