"""Reports of one grade: Gradescope's results.json and the terminal summary.

Nothing time-dependent goes into any text here except `execution_time`, so grading twice gives the same file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from grader.grading.results import GradeReport, TestResult

EXCERPT_CHARS = 1500  # one expected/actual value or message
TRACEBACK_LINES = 40  # the end of a traceback, where the student's own frames are
TEXT_CHARS = 3000  # one test's plain-text output (results.json, terminal); Gradescope pages slow down past this


def fmt_points(x: float) -> str:
    return f"{x:g}"


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    text = text.rstrip()
    return text if len(text) <= limit else f"{text[:limit]}\n… ({len(text) - limit} more characters)"


def tail(traceback: str, lines: int = TRACEBACK_LINES) -> str:
    kept = traceback.rstrip().splitlines()
    return "\n".join((["…"] if len(kept) > lines else []) + kept[-lines:])


def test_output_text(result: TestResult) -> str:
    """One test as plain text, for results.json and the terminal: message, expected/actual, hint, traceback.

    The hint comes before the traceback, so cutting a long output never drops it.
    """
    if result.passed:
        return result.message or "passed"
    parts = [excerpt(result.message or "failed")]
    if result.expected:
        parts.append(f"expected: {excerpt(result.expected)}")
    if result.actual:
        parts.append(f"got:      {excerpt(result.actual)}")
    if result.hint:
        parts.append(f"hint: {result.hint}")
    if result.traceback:
        parts.append("traceback (your code):\n" + tail(result.traceback))
    return excerpt("\n".join(parts), TEXT_CHARS)


def overview_text(report: GradeReport) -> str:
    """The top-level `output`: the total, how the notebook ran, and what still needs a human."""
    if report.status == "error":
        return f"This submission could not be graded: {report.reason}\nScore: 0"
    lines = [f"Score: {fmt_points(report.score)} / {fmt_points(report.max_score)} (automatic tests)."]
    lines += list(report.notes)
    if report.reason:
        lines.append(report.reason)
    failed = report.notebook.failed if report.notebook else ()
    for cell in failed:
        error = cell.message if cell.message.startswith(cell.error_type) else f"{cell.error_type}: {cell.message}"
        what = "hit its time limit" if cell.status == "timeout" else f"raised {error}"
        lines.append(f"While your notebook ran, cell [{cell.index}] {what}")
    for item in report.manual:
        lines.append(f"Graded by hand later (0 of 0 here): {item.title}")
    return "\n".join(lines)


def results_dict(report: GradeReport) -> dict:
    """Gradescope's autograder results format."""
    tests = [{"name": t.name, "number": str(i), "score": t.score, "max_score": t.max_score,
              "status": "passed" if t.passed else "failed", "output": test_output_text(t),
              "visibility": t.visibility, "tags": [t.area]} for i, t in enumerate(report.tests, 1)]
    return {
        "score": report.score,
        "execution_time": report.execution_time,
        "output": overview_text(report),
        "output_format": "text",
        "test_output_format": "text",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "grader_version": report.grader_version, "sha256": report.sha256, "sandbox": report.sandbox_mode,
            "status": report.status, "student": report.student, "submission": report.submission,
            "max_score": report.max_score, "reason": report.reason,
            "areas": {a: {"score": s, "max_score": m} for a, (s, m) in report.area_scores().items()},
        },
    }


def write_json_atomic(path: Path, data: dict) -> Path:
    """Write via a temporary file and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_results_json(report: GradeReport, out_dir: str | Path) -> Path:
    return write_json_atomic(Path(out_dir) / "results.json", results_dict(report))


def summary_lines(report: GradeReport) -> list[str]:
    """The terminal summary: one line per area with points, then the total and each failed test."""
    if report.status == "error":
        return [f"{report.submission}: could not be graded: {report.reason}", "total: 0"]
    lines = [f"{report.submission}  (sandbox: {report.sandbox_mode or 'n/a'})"]
    lines += [f"  WARNING: {n}" if n.startswith("WARNING") else f"  note: {n}" for n in report.notes]
    for area, (got, top) in report.area_scores().items():
        mark = "ok " if got == top else "-- "
        lines.append(f"  {mark}{area:<14}{fmt_points(got):>6} / {fmt_points(top)}")
    lines.append(f"  {'total':<17}{fmt_points(report.score):>6} / {fmt_points(report.max_score)}")
    for test in report.tests:
        if not test.passed:
            first = test.message.splitlines()[0] if test.message else "failed"
            lines.append(f"  FAILED {test.name}: {first}" + (f"\n         hint: {test.hint}" if test.hint else ""))
    return lines
