"""A grade into its folder: results.json and the feedback pages, as `grade`, the batch and Gradescope write them.

The policy when a page fails, the same for all three:
  1. results.json is written first: the grade is on disk before any page is drawn, and a page never costs it.
  2. Should the full pages fail, the traceback goes to stderr and plain pages (no pictures) are written instead.
  3. Should those fail too, the pages are removed: an older grading's page would show the wrong grade.
  4. Either way, one line on stderr says so, and results.json's extra_data["feedback_error"] records it for TAs
     (students on Gradescope do not see extra_data). Gradescope writes results.json itself, once, last (its
     watchdog may write it first), so it calls write_pages and records the problem with `noted`.
"""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grader.files import write_text
from grader.notebook.clean import excerpt
from grader.report.feedback import STUDENT_PAGE, TA_PAGE, page, write_feedback
from grader.report.text import results_json, write_results_json

if TYPE_CHECKING:
    from grader.grading.results import GradeReport
    from grader.grading.rubric import Rubric

FEEDBACK_ERROR = "feedback_error"  # the key in results.json's extra_data


@dataclass(frozen=True)
class Pages:
    """The feedback pages written, or None where there are none; problem: why they are plain or missing."""

    student: Path | None
    ta: Path | None
    problem: str = ""


@dataclass(frozen=True)
class Written:
    results: Path
    pages: Pages


def _failed(what: str, exc: Exception) -> str:
    traceback.print_exc()
    return f"{what} failed ({type(exc).__name__}: {excerpt(str(exc), 300)})"


def _plain(report: GradeReport, out: Path) -> tuple[Path, Path]:
    return (write_text(out / STUDENT_PAGE, page(report, ta=False)),
            write_text(out / TA_PAGE, page(report, ta=True)))


def write_pages(report: GradeReport, out_dir: str | Path, rubric: Rubric | None = None) -> Pages:
    """feedback.html and feedback_ta.html, under the module's policy: never raises for a page that fails."""
    out = Path(out_dir)
    try:
        return Pages(*write_feedback(report, out, rubric))
    except Exception as exc:  # noqa: BLE001 - the grade stands whatever the pages do
        first = _failed("the feedback pages", exc)
    try:
        pages = Pages(*_plain(report, out), problem=f"{first}; written without pictures")
    except Exception as exc:  # noqa: BLE001
        for name in (STUDENT_PAGE, TA_PAGE):
            (out / name).unlink(missing_ok=True)
        pages = Pages(None, None, f"{first}; {_failed('the plain pages', exc)}; no pages written")
    print(f"{report.submission}: {pages.problem}", file=sys.stderr)
    return pages


def noted(results: dict, pages: Pages) -> dict:
    """Gradescope's results with the pages' problem, if any, in extra_data for TAs."""
    if pages.problem:
        results.setdefault("extra_data", {})[FEEDBACK_ERROR] = pages.problem
    return results


def write_grade(report: GradeReport, out_dir: str | Path, rubric: Rubric | None = None) -> Written:
    """results.json, then the pages; a page's failure is then noted in results.json. The stage boundary of
    reporting: `grade` and the batch worker write a grade this way, and Gradescope its pages."""
    results = write_results_json(report, out_dir)
    pages = write_pages(report, out_dir, rubric)
    if pages.problem:
        write_text(results, json.dumps(noted(json.loads(results_json(report)), pages), indent=2) + "\n")
    return Written(results, pages)
