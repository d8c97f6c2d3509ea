"""The one terminal self-check: `python -m grader check`, `make check` and the kit's check.py run the same code
(grader/selfcheck/terminal.py) and print the same report: only the public tests, with messages, hints and where."""

from __future__ import annotations

import ast
import re
import subprocess

import pytest

import grader.backprop.data
import grader.backprop
from grader import paths
from grader.cli import main
from grader.sandbox.outcomes import CellOutcome
from grader.selfcheck import terminal
from grader.selfcheck.summary import NOT_IMPLEMENTED, CheckReport
from grader.grading.results import TestResult as Result  # not collected by pytest as a test class

WRONG = Result("backward: dW1 matches finite differences", "backward", 0, 5, False, message="dW1 is wrong",
               expected="[0.1 0.2]", actual="[0.2 0.4]", hint="Divide by the batch size.", public=True,
               traceback="Traceback (most recent call last):\n  Cell [9], line 4, in train\n"
                         "  Cell [7], line 12, in backward_prop\nValueError: shapes")
RIGHT = Result("softmax: rows sum to 1", "softmax", 2, 2, True, public=True)


def test_each_failure_is_printed_with_its_message_values_where_and_hint():
    report = CheckReport("backprop.ipynb", (RIGHT, WRONG))
    lines = report.text().splitlines()
    assert re.fullmatch(r"softmax\s+2 / 2\s+1 of 1", next(x for x in lines if x.startswith("softmax")))
    assert re.fullmatch(r"backward\s+0 / 5\s+0 of 1", next(x for x in lines if x.startswith("backward")))
    assert re.fullmatch(r"total\s+2 / 7\s+1 of 2", next(x for x in lines if x.startswith("total")))
    after = report.text().split("FAIL backward: dW1 matches finite differences")[1]
    for part in ("dW1 is wrong", "expected: [0.1 0.2]", "got     : [0.2 0.4]",
                 "where   : Cell [7], line 12, in backward_prop", "hint    : Divide by the batch size."):
        assert part in after
    assert "FAIL softmax" not in report.text() and "Every public test passes." not in report.text()
    assert not report.passed and CheckReport("x", (RIGHT,)).passed and not CheckReport("x", ()).passed


def test_failed_cells_and_timeouts_are_noted_first(capsys):
    cells = (CellOutcome(3, "ok"), CellOutcome(8, "error", 0.1, "KeyError", "'X_train'"), CellOutcome(9, "timeout"))
    notes = terminal.cell_notes(cells, timed_out=True)
    assert notes == ["your notebook hit its overall time limit; the tests ran on what it had defined by then",
                     "while your notebook ran, cell [8] raised KeyError: 'X_train'",
                     "while your notebook ran, cell [9] hit its time limit"]
    assert terminal.show(CheckReport("backprop.ipynb", (RIGHT,), tuple(notes)), listing=True) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "PASS  softmax: rows sum to 1" and [f"note: {n}" for n in notes] == out[3:6]


def test_an_unreadable_or_missing_notebook_cannot_be_checked(tmp_path, capsys):
    broken = tmp_path / "backprop.ipynb"
    broken.write_text("{ not json")
    assert main(["check", str(broken)]) == 2
    captured = capsys.readouterr()
    assert "backprop.ipynb: could not be checked:" in captured.err and captured.out == ""
    assert main(["check", str(tmp_path / "absent.ipynb")]) == 2
    assert "could not be checked" in capsys.readouterr().err


def test_the_cli_check_and_the_kits_check_are_one_parser():
    ours = [a.dest for a in terminal.parser()._actions]
    from grader.cli import build_parser

    verbs = next(a for a in build_parser()._actions if a.dest == "verb")
    assert [a.dest for a in verbs.choices["check"]._actions] == ours and "--list" in verbs.choices["check"].format_help()


@pytest.mark.sandbox
@pytest.mark.slow
def test_check_on_the_solution_passes_and_never_touches_the_hidden_set(monkeypatch, capsys):
    def no_hidden(*args, **kwargs):
        raise AssertionError("the self-check asked for the hidden test set")

    monkeypatch.setattr(grader.backprop, "hidden_set", no_hidden)
    monkeypatch.setattr(grader.backprop.data, "hidden_set", no_hidden)
    code = main(["check", str(paths.SOLUTION), "--list"])  # its time against the 15 s budget: `make bench`
    out = capsys.readouterr().out
    assert code == 0, out
    results = [line for line in out.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert results and all(line.startswith("PASS  ") for line in results)
    assert not any(line.startswith("PASS  accuracy: hidden") for line in results), "a hidden test ran"
    assert re.search(rf"^total\s+(\d+) / \1\s+{len(results)} of {len(results)}$", out, re.M), out
    assert out.rstrip().endswith("Every public test passes.")


def unwritten_functions(notebook) -> set[str]:
    """The skeleton's functions and methods whose body still raises NotImplementedError."""
    import nbformat

    found = set()
    for cell in nbformat.read(notebook, as_version=4).cells:
        if cell.cell_type == "code":
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.FunctionDef) and any(
                        isinstance(n, ast.Raise) and "NotImplementedError" in ast.unparse(n) for n in node.body):
                    found.add(node.name)
    return found


@pytest.mark.sandbox
@pytest.mark.slow
def test_make_check_on_the_skeleton_fails_every_public_test_with_a_clear_message():
    proc = subprocess.run(["make", "-s", "check", f"NOTEBOOK={paths.SKELETON}"], cwd=paths.ROOT,
                          capture_output=True, text=True, timeout=120)
    out = proc.stdout
    assert proc.returncode != 0 and "Error 1" in proc.stderr, "a failing self-check exits 1 (make then 2)"
    total = re.search(r"^total\s+0 / \d+\s+0 of (\d+)$", out, re.M)
    assert total and int(total.group(1)) >= 20, out
    listed = [line.split(": ", 1)[1] for line in out.splitlines() if line.strip().startswith(NOT_IMPLEMENTED)]
    assert set(listed) == unwritten_functions(paths.SKELETON), "each unwritten function is named once, as the TODO tip"
    assert len(listed) == len(set(listed)) and "fill in the TODO, delete the `raise NotImplementedError`" in out
    assert "Traceback" not in out and "Traceback" not in proc.stderr, proc.stderr


def test_more_failures_than_shown_point_to_both_checks_without_naming_one_command():
    failing = tuple(Result(f"backward: case {i}", "backward", 0, 1, False, message="wrong", public=True)
                    for i in range(6))
    text = CheckReport("backprop.ipynb", failing).text()
    assert "... and 3 more failing tests" in text and "--list" in text and "check.py" not in text
