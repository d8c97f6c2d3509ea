"""The grade section spliced into a student's feedback pages by the course step: automatic score, each hand grade
with the TA's comment, the late penalty with its reason, and the total that goes to the LMS. The markup is
templates/grade_section.html.j2, whose autoescape escapes all text (a TA's comment, an item's title)."""

from __future__ import annotations

from grader.wording import NOT_GRADED, points
from grader.course.lms import Final


def _row(what: str, got: str, top: str, note: str = "", cls: str = "") -> dict:
    return {"what": what, "got": got, "top": top, "note": note, "cls": cls}


def grade_section(final: Final, possible: float) -> str:
    """The HTML section, or a short note while the student is pending."""
    from grader.templating import render  # noqa: PLC0415

    row = final.row
    rows = [_row("Automatic tests", points(row.score), points(row.max_score))]
    for item in final.items:
        grade = final.hand.get(item.id)
        got = NOT_GRADED if grade is None or grade.points is None else points(grade.points)
        rows.append(_row(f"Graded by hand: {item.title}", got, points(item.max_points),
                         grade.comment if grade else ""))
    late = final.lateness
    if late.late:
        taken = "all" if late.zeroed else f"−{points(late.penalty)}"
        rows.append(_row("Late penalty", taken, "", late.note, "lost"))
    return render(__file__, "grade_section.html.j2", rows=rows, total=points(final.total),
                  possible=points(possible)).rstrip("\n")
