"""The grade section spliced into a student's feedback pages by the course step: automatic score, each hand grade
with the TA's comment, the late penalty with its reason, and the total that goes to the LMS. All text is escaped."""

from __future__ import annotations

import html

from grader.course.book import points
from grader.course.lms import Final


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _row(what: str, got: str, top: str, note: str = "", cls: str = "") -> str:
    extra = f'<br><span class="meta">{_e(note)}</span>' if note else ""
    return (f'<tr class="{cls}"><th scope="row">{_e(what)}{extra}</th><td class="num">{got}</td>'
            f'<td class="num">{top}</td></tr>')


def grade_section(final: Final, possible: float) -> str:
    """The HTML section, or a short note while the student is pending."""
    row = final.row
    rows = [_row("Automatic tests", points(row.score), points(row.max_score))]
    for item in final.items:
        grade = final.hand.get(item.id)
        got = "not graded yet" if grade is None or grade.points is None else points(grade.points)
        rows.append(_row(f"Graded by hand: {item.title}", got, points(item.max_points),
                         grade.comment if grade else ""))
    late = final.lateness
    if late.late:
        taken = "all" if late.zeroed else f"−{points(late.penalty)}"
        rows.append(_row("Late penalty", taken, "", late.note, "lost"))
    rows.append(f'<tr class="total-row"><th scope="row">Total for the gradebook</th>'
                f'<td class="num">{points(final.total)}</td><td class="num">{points(possible)}</td></tr>')
    return ('<section class="course" id="grade"><h2>Your grade</h2><table class="scores" id="grade-table">'
            "<caption>The parts of your grade: automatic tests, each item graded by hand, any late penalty, and the "
            'total that goes to the gradebook</caption><thead><tr><th scope="col">part</th><th scope="col">points</th>'
            f'<th scope="col">of</th></tr></thead><tbody>{"".join(rows)}</tbody></table></section>')
