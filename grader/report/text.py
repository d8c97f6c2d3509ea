"""Reports of one grade: Gradescope's results.json and the terminal summary.

Nothing time-dependent goes into any text here except `execution_time`, so grading twice gives the same file.
Whatever the notebook printed, results.json stays under MAX_FILE_BYTES (lists are capped, texts clipped, and the clip
tightened until the file fits), and every terminal line has its control characters escaped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from grader.files import write_text
from grader.grading.results import GradeReport, TestResult
from grader.notebook.clean import EXCERPT_CHARS, excerpt, terminal
from grader.wording import points
from grader.grading.results import Status

TRACEBACK_LINES = 40  # the end of a traceback, where the student's own frames are
TEXT_CHARS = 3000  # one test's plain-text output (results.json, terminal); Gradescope pages slow down past this
MAX_FILE_BYTES = 1 << 20  # results.json and each feedback page, whatever the notebook prints
MAX_LISTED = 20  # notes, failed cells and hand-graded items listed in full; the rest are counted
MIN_CHARS = 40  # the tightest clip tried when fitting a file under MAX_FILE_BYTES


def tail(traceback: str, lines: int = TRACEBACK_LINES) -> str:
    kept = traceback.rstrip().splitlines()
    return "\n".join((["…"] if len(kept) > lines else []) + kept[-lines:])


def listed(items: list[str] | tuple[str, ...], what: str, limit: int = MAX_LISTED) -> list[str]:
    """The first `limit` items, and a line counting the rest, so a flood of notes cannot flood the report."""
    items = list(items)
    return items[:limit] + ([f"… and {len(items) - limit} more {what}"] if len(items) > limit else [])


def fitted(render: Callable[[int], str], chars: int) -> str:
    """render(chars), with chars halved until the text is under MAX_FILE_BYTES (in UTF-8)."""
    text = render(chars)
    while len(text.encode("utf-8", "replace")) > MAX_FILE_BYTES and chars > MIN_CHARS:
        chars //= 2
        text = render(chars)
    return text


def test_output_text(result: TestResult, chars: int = TEXT_CHARS) -> str:
    """One test as plain text, for results.json and the terminal: message, expected/actual, hint, traceback.

    The hint comes before the traceback, so cutting a long output never drops it.
    """
    if result.passed:
        return excerpt(result.message or "passed", chars)
    each = min(EXCERPT_CHARS, chars)
    parts = [excerpt(result.message or "failed", each)]
    if result.expected:
        parts.append(f"expected: {excerpt(result.expected, each)}")
    if result.actual:
        parts.append(f"got:      {excerpt(result.actual, each)}")
    if result.hint:
        parts.append(f"hint: {excerpt(result.hint, each)}")
    if result.traceback:
        parts.append("traceback (your code):\n" + tail(result.traceback))
    return excerpt("\n".join(parts), chars)


def overview_text(report: GradeReport, chars: int = EXCERPT_CHARS) -> str:
    """The top-level `output`, in Markdown: the score (only the public tests' while hidden tests exist), the points
    per area, the hints of the failed tests students may see, how the notebook ran, and what still needs a human."""
    from grader.report.overview import overview_markdown  # noqa: PLC0415

    return overview_markdown(report, chars, listed)


def results_dict(report: GradeReport, chars: int = TEXT_CHARS) -> dict:
    """Gradescope's autograder results format; `chars` clips each test's output."""
    tests = [{"name": t.name, "number": str(i), "score": t.score, "max_score": t.max_score,
              "status": "passed" if t.passed else "failed", "output": test_output_text(t, chars),
              "visibility": t.visibility, "tags": [t.area]} for i, t in enumerate(report.tests, 1)]
    return {
        "score": report.score,
        "execution_time": report.execution_time,
        "output": overview_text(report, min(chars, EXCERPT_CHARS)),
        "output_format": "md",
        "test_output_format": "text",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "grader_version": report.grader_version, "sha256": report.sha256, "sandbox": report.sandbox_mode,
            "status": report.status, "student": report.student, "submission": report.submission,
            "max_score": report.max_score, "reason": excerpt(report.reason, chars),
            "confinement": report.confinement,
            "areas": {a: {"score": s, "max_score": m} for a, (s, m) in report.area_scores().items()},
        },
    }


def results_json(report: GradeReport) -> str:
    """results.json's text, under MAX_FILE_BYTES whatever the notebook printed."""
    return fitted(lambda chars: json.dumps(results_dict(report, chars), indent=2) + "\n", TEXT_CHARS)


def write_results_json(report: GradeReport, out_dir: str | Path) -> Path:
    return write_text(Path(out_dir) / "results.json", results_json(report))


def summary_lines(report: GradeReport) -> list[str]:
    """The terminal summary: one line per area with points, then the total and each failed test. Every line has its
    control characters escaped, so nothing the submission wrote can redraw the terminal."""
    if report.status == Status.ERROR:
        lines = [f"{report.submission}: could not be graded: {excerpt(report.reason)}", "total: 0"]
        return [terminal(line) for line in lines]
    lines = [f"{report.submission}  (sandbox: {report.sandbox_mode or 'n/a'})"]
    if report.confinement:
        lines.append(f"  limits per sandbox: {report.confinement}")
    notes = [f"  WARNING: {n}" if n.startswith("WARNING") else f"  note: {n}" for n in report.notes]
    lines += listed(notes, "notes (see the feedback page)")
    for area, (got, top) in report.area_scores().items():
        mark = "ok " if got == top else "-- "
        lines.append(f"  {mark}{area:<14}{points(got):>6} / {points(top)}")
    lines.append(f"  {'total':<17}{points(report.score):>6} / {points(report.max_score)}")
    for test in report.tests:
        if not test.passed:
            first = test.message.splitlines()[0] if test.message else "failed"
            lines.append(f"  FAILED {test.name}: {excerpt(first)}")
            lines += [f"         hint: {excerpt(test.hint)}"] if test.hint else []
    return [terminal(line) for line in lines]
