"""The student self-check (`python -m grader check NOTEBOOK`, and check.py in the student kit).

It runs only the public tests, on the public data, through the same sandbox as grading, and prints each failure
with the same message and hint a student later sees in the feedback. The hidden test set is never loaded.
"""

from __future__ import annotations

from pathlib import Path

from grader.grading.results import GradeReport

SANDBOX_CHOICES = ("auto", "bwrap", "none")
INDENT = "      "
TODO_TIP = "Tip: NotImplementedError means that function still has its `# TODO`: write it and delete the raise."


def _indented(text: str) -> list[str]:
    return [INDENT + line if line else "" for line in text.splitlines()]


def check_lines(report: GradeReport) -> list[str]:
    """What the terminal shows: every public test, each failure in full, how the notebook ran, and a tally."""
    from grader.report.text import test_output_text

    if report.status == "error":
        return [f"{report.submission}: could not be checked: {report.reason}"]
    lines = [f"Self-check of {report.submission}: public tests only (grading adds hidden tests)", ""]
    lines += [f"note: {note}" for note in report.notes]
    for test in report.tests:
        lines.append(f"{'PASS' if test.passed else 'FAIL'}  {test.name}")
        if not test.passed:
            lines += _indented(test_output_text(test))
    run = report.notebook
    if run is not None:
        if run.timed_out:
            lines.append("Your notebook hit its overall time limit; the tests ran on what it had defined by then.")
        for cell in run.failed:
            what = "hit its time limit" if cell.status == "timeout" else f"raised {cell.error_type}: {cell.message}"
            lines.append(f"While your notebook ran, cell [{cell.index}] {what}")
    if any("NotImplementedError" in t.message for t in report.tests if not t.passed):
        lines.append(TODO_TIP)
    failed = sum(not t.passed for t in report.tests)
    lines += ["", f"{len(report.tests) - failed} passed, {failed} failed (public tests)"]
    return lines


def all_passed(report: GradeReport) -> bool:
    return report.status != "error" and bool(report.tests) and all(t.passed for t in report.tests)


def run_check(notebook: Path, sandbox: str = "auto") -> int:
    """Grade with the public tests only, print the check, and return the exit code (0: every public test passed)."""
    from grader.grading.grade import grade_submission

    report = grade_submission(notebook, sandbox=sandbox, public_only=True)
    print("\n".join(check_lines(report)))
    return 0 if all_passed(report) else 1
