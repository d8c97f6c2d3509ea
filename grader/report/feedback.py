"""Feedback a student can act on: OUT/feedback.html for the student, OUT/feedback_ta.html for TAs.

Both pages are self-contained: inline CSS, pictures as PNG data URIs, no script, and a Content-Security-Policy that
forbids loading anything from the network. The markup is templates/feedback.html.j2 (its CSS feedback.css), whose
autoescape escapes everything the submission controls (messages, tracebacks, stdout, Markdown answers); only the
MathML of report/math.py's allow-list goes in as it is. The TA copy adds the hand-graded items.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grader.files import write_text
from grader.notebook.clean import EXCERPT_CHARS, excerpt as _excerpt
from grader.report.text import MAX_LISTED, fitted, listed
from grader.report.text import tail as _tail
from grader.grading.results import GradeReport, TestResult
from grader.sandbox.outcomes import CellOutcome
from grader.notebook.manual import ManualItem
from grader.wording import cell_failure, points
from grader.grading.results import Status

if TYPE_CHECKING:
    from collections.abc import Callable

    from grader.grading.rubric import Rubric

STUDENT_PAGE = "feedback.html"
TA_PAGE = "feedback_ta.html"
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


@dataclass(frozen=True)
class Picture:
    """One PNG for the page, with the text a reader needs to interpret it."""

    title: str
    caption: str
    png: bytes
    alt: str = ""  # what the picture shows, in words, for a reader who cannot see it


def draw_pictures(report: GradeReport, rubric: "Rubric | None" = None) -> tuple[tuple[Picture, ...], tuple[str, ...]]:
    """The decision boundary over the public validation points and the loss curves of the grader-trained model.

    Returns the pictures and, for each one that could not be drawn, a note saying why.
    """
    if report.model is None:
        return (), ("No pictures: the grader could not train your model (see the `train` and `accuracy` tests).",)
    from grader.report import drawing, pictures  # matplotlib loads only when there is something to draw

    # the loss curves are drawn in a forked child meanwhile: the pair takes the time of the slower picture
    loss_curves = drawing.start(lambda: pictures.loss_curves_png(report.model.history), pictures.PictureError)

    def boundary() -> Picture:
        X, y, where = _boundary_points(rubric)
        hidden = report.model.hidden_accuracy
        score = "" if hidden is None else f" Its accuracy on the hidden test set, whose points are not shown: {hidden:.3f}."
        png = pictures.decision_boundary_png(report.model.params, X, y)
        return Picture("Decision boundary", f"P(label 1) of the model the grader trained with your code and "
                       f"HYPERPARAMETERS, over {where}. Black line: the 0.5 boundary; crosses: misclassified "
                       f"points.{score}", png, pictures.boundary_text(report.model.params, X, y))

    def losses() -> Picture:
        png = loss_curves()
        return Picture("Loss curves", "Mean binary cross-entropy per epoch, from the history your `train` returned.",
                       png, pictures.loss_text(report.model.history))

    outcomes = [attempt(draw, what) for draw, what in ((boundary, "decision boundary"), (losses, "loss curves"))]
    return (tuple(p for p in outcomes if isinstance(p, Picture)),
            tuple(n for n in outcomes if isinstance(n, str)))


def attempt(draw: "Callable[[], Picture]", what: str) -> "Picture | str":
    """The picture, or a note saying why it could not be drawn: a picture never costs the page."""
    from grader.report.pictures import PictureError

    try:
        return draw()
    except PictureError as exc:
        return f"The {what} could not be drawn: {exc}."
    except Exception as exc:  # noqa: BLE001 - values the student's code chose can break a plotting library
        return f"The {what} could not be drawn: the plotting library refused the values ({type(exc).__name__})."


def _boundary_points(rubric: "Rubric | None"):
    """The public validation points: the picture never shows the hidden test set, which stays a number."""
    from grader.grading import assignment
    from grader.grading.rubric import load_rubric

    rubric = rubric or load_rubric()
    public = assignment.load(rubric.assignment).public_data()
    return public["X_val"], public["y_val"], f"the {len(public['y_val'])} public validation points"


# --- HTML: the page's values as plain text; templates/feedback.html.j2 escapes them and lays them out -----------

SELF_CHECK = 'from backprop_check import check; check("{area}")'  # as the student kit's README spells it
WHERE = {"metadata": "notebook cell [{}]",
         "prompt": "notebook cell [{}], found by the prompt (the cell lost its marking)",
         "heading": "notebook cell [{}], found under the prompt's heading (the cell lost its marking)"}


def _lost_test(test: TestResult, chars: int) -> dict:
    values = [(label, _excerpt(value, chars)) for label, value in (("expected", test.expected), ("got", test.actual))
              if value]
    return {"name": test.name, "lost": points(test.max_score - test.score),
            "checked": test.name.split(": ", 1)[-1], "message": _excerpt(test.message or "failed", chars),
            "compared": values, "hint": _excerpt(test.hint, chars) if test.hint else "",
            "traceback": _excerpt(_tail(test.traceback), 2 * chars) if test.traceback else ""}


def _lost_areas(report: GradeReport, chars: int) -> list[dict]:
    """Each area that lost points: its failed tests, and the student's own code of the functions it calls."""
    by_area: dict[str, list[TestResult]] = {}
    for test in report.tests:
        if test.score < test.max_score:
            by_area.setdefault(test.area, []).append(test)
    scores = report.area_scores()
    return [{"name": area, "got": points(scores[area][0]), "top": points(scores[area][1]),
             "self_check": SELF_CHECK.format(area=area), "tests": [_lost_test(t, chars) for t in tests],
             "code": [{"name": c.name, "cell_index": c.cell_index, "code": _excerpt(c.code, 4 * chars)}
                      for c in report.code if c.area == area]}
            for area, tests in by_area.items()]


def _picture(p: Picture) -> dict:
    return {"base64": base64.b64encode(p.png).decode("ascii"), "alt": p.title + ": " + p.alt if p.alt else p.title,
            "title": p.title, "caption": p.caption}


def _cell(cell: CellOutcome, chars: int) -> dict:
    error = _excerpt(cell.error_type, 200) or "an error"
    return {"index": cell.index, "what": cell_failure(cell.status, error),
            "body": _excerpt(_tail(cell.traceback) if cell.traceback else cell.message, 2 * chars)}


def _paragraphs(lines: "list[str] | tuple[str, ...]", what: str, chars: int) -> list[str]:
    return [_excerpt(n, chars) for n in listed(lines, what)]


def _notebook(report: GradeReport, chars: int) -> "dict | None":
    run = report.notebook
    if run is None:
        return None
    failed = run.failed
    return {"timed_out": run.timed_out, "failed": [_cell(c, chars) for c in failed[:MAX_LISTED]],
            "more": max(0, len(failed) - MAX_LISTED), "cells": len(run.cells),
            "notes": _paragraphs(run.notes, "notes", chars)}


def _manual_item(m: ManualItem, ta: bool, chars: int) -> dict:
    """One hand-graded item; for TAs its answer with the LaTeX as MathML (sanitised), or a flag that it is missing."""
    item = {"id": _excerpt(m.id, 200), "title": _excerpt(m.title, 200)}
    if not ta:
        return item
    from markupsafe import Markup  # noqa: PLC0415

    from grader.report.math import render_answer  # noqa: PLC0415 - only the TA page needs it

    # Markup only for render_answer's output: it escapes all text and keeps allow-listed MathML alone
    answer = Markup(render_answer(_excerpt(m.text, 10 * chars))) if m.text.strip() and not m.missing else None
    return {**item, "where": WHERE[m.found].format(m.cell_index) if m.found in WHERE else "", "missing": m.missing,
            "note": m.note or "No cell answers this prompt.", "answer": answer}


def render_feedback(report: GradeReport, pictures: tuple[Picture, ...] = (), picture_notes: tuple[str, ...] = (),
                    *, ta: bool = False, chars: int = EXCERPT_CHARS) -> str:
    """The whole page as one HTML string. ta=True adds the hand-graded items for TAs; `chars` clips each text."""
    from grader.templating import render  # noqa: PLC0415

    lost = [t for t in report.tests if t.score < t.max_score]
    areas = [{"name": area, "state": "full" if got >= top else "lost", "got": points(got), "top": points(top)}
             for area, (got, top) in report.area_scores().items()]
    return render(__file__, "feedback.html.j2", csp=CSP, ta=ta, student=report.student,
                  who=f"{report.student} — {report.submission}" + (" (TA copy)" if ta else ""),
                  score=points(report.score), max_score=points(report.max_score),
                  error=report.status == Status.ERROR, reason=_excerpt(report.reason, chars),
                  notes=_paragraphs(report.notes, "notes", chars), has_tests=bool(report.tests), areas=areas,
                  lost_count=len(lost), lost=_lost_areas(report, chars) if lost else [],
                  passed=[(t.name, points(t.score)) for t in report.tests if t.score >= t.max_score],
                  pictures=[_picture(p) for p in pictures], picture_notes=list(picture_notes),
                  notebook=_notebook(report, chars),
                  manual=[_manual_item(m, ta, chars) for m in report.manual[:MAX_LISTED]],
                  manual_more=max(0, len(report.manual) - MAX_LISTED), grader_version=report.grader_version,
                  sandbox_mode=report.sandbox_mode or "n/a", sha256=report.sha256[:16],
                  confinement=report.confinement)


def write_feedback(report: GradeReport, out_dir: str | Path, rubric: "Rubric | None" = None) -> tuple[Path, Path]:
    """Write OUT/feedback.html (student copy) and OUT/feedback_ta.html (with the manual items); returns both.
    May raise: report/folder.py's write_pages is what callers use, with the policy when a page fails."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pictures, notes = draw_pictures(report, rubric) if report.status != Status.ERROR else ((), ())
    # atomic: a reader never sees half a page
    return (write_text(out / STUDENT_PAGE, page(report, pictures, notes, ta=False)),
            write_text(out / TA_PAGE, page(report, pictures, notes, ta=True)))


def page(report: GradeReport, pictures: tuple[Picture, ...] = (), notes: tuple[str, ...] = (), *,
         ta: bool = False) -> str:
    """render_feedback, with texts clipped tighter until the page is under MAX_FILE_BYTES."""
    return fitted(lambda chars: render_feedback(report, pictures, notes, ta=ta, chars=chars), EXCERPT_CHARS)
