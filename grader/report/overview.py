"""The top-level `output` of results.json: what a student reads first on Gradescope, as Markdown (`output_format`
"md").

Gradescope shows this text to the student at once, whatever the tests' `visibility`. So while hidden tests
(visibility `after_published`) exist, it holds only what the public tests say: their points per area and the
hints of the public tests that failed, never the total (which counts the hidden tests) nor any hidden result.
Everything taken from the submission (file names, messages, notes) is escaped, so it renders as the text it is.
"""

from __future__ import annotations

import re

from grader.grading.results import GradeReport, Status, TestResult
from grader.notebook.clean import excerpt
from grader.wording import cell_failure, points

MARKUP = re.compile(r"([\\`*_\[\]<>&|~#!])")  # what could start a link, an image, HTML, emphasis or a table cell


def md_text(text: str, limit: int = 1500) -> str:
    """One line of plain text that renders as itself in Markdown (newlines become spaces)."""

    flat = " ".join(excerpt(text, limit).split())
    return MARKUP.sub(r"\\\1", flat)



def has_hidden(report: GradeReport) -> bool:
    return any(not t.public for t in report.tests)


def _area_table(tests: tuple[TestResult, ...], label: str) -> list[str]:
    areas: dict[str, list[float]] = {}
    for t in tests:
        got = areas.setdefault(t.area, [0.0, 0.0])
        got[0] += t.score
        got[1] += t.max_score
    rows = [f"| {md_text(a, 200)} | {points(got)} | {points(top)} |" for a, (got, top) in areas.items()]
    return ["", f"| area | {label} | of |", "|---|---:|---:|", *rows] if rows else []


def _hints(tests: tuple[TestResult, ...], chars: int) -> list[str]:
    lost = [t for t in tests if t.score < t.max_score]
    if not lost:
        return []
    lines = ["", "**What to look at** (public tests that lost points):", ""]
    for t in lost:
        hint = f": {md_text(t.hint, chars)}" if t.hint else ""
        lines.append(f"- **{md_text(t.name, 300)}** (−{points(t.max_score - t.score)}){hint}")
    return lines


def score_lines(report: GradeReport, chars: int) -> list[str]:
    """The score part: the total and every area, or, while hidden tests exist, the public tests only."""
    if not has_hidden(report):
        return [f"**Score: {points(report.score)} / {points(report.max_score)}** (automatic tests)",
                *_area_table(report.tests, "points"), *_hints(report.tests, chars)]
    public = tuple(t for t in report.tests if t.public)
    got, top = sum(t.score for t in public), sum(t.max_score for t in public)
    return [f"**Public tests: {points(got)} / {points(top)}**", "",
            "Hidden tests, on inputs and data you have not seen, count too. Their results and your total are "
            "shown once your instructor publishes the grades.", *_area_table(public, "public points"), *_hints(public, chars)]


def overview_markdown(report: GradeReport, chars: int, listed) -> str:
    """The whole top-level output. `listed` caps a list of lines (grader.report.text.listed)."""
    if report.status == Status.ERROR:
        return f"This submission could not be graded: {md_text(report.reason, chars)}\n\nScore: 0"
    lines = score_lines(report, chars)
    extra = [md_text(n, chars) for n in report.notes]
    if report.reason:
        extra.append(md_text(report.reason, chars))
    failed = report.notebook.failed if report.notebook else ()
    cells = []
    for cell in failed:
        error = cell.message if cell.message.startswith(cell.error_type) else f"{cell.error_type}: {cell.message}"
        what = cell_failure(cell.status, error)
        cells.append(f"While your notebook ran, cell \\[{cell.index}\\] {md_text(what, chars)}")
    manual = [f"Graded by hand later (0 of 0 here): {md_text(item.title, 300)}" for item in report.manual]
    for block in (listed(extra, "notes"), listed(cells, "cells that failed"), listed(manual, "items")):
        lines += ["", *(f"- {line}" for line in block)] if block else []
    return "\n".join(lines)
