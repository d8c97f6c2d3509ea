"""What goes back to the LMS: canvas_import.csv (Canvas's gradebook import format, taken as it is), grades.csv (one
generic table) and gradebook_detail.csv (every part of every total: per area, per test, hand grades, late penalty).

Canvas's import reads a header of Student, ID, SIS User ID, SIS Login ID and Section followed by assignment columns,
then an optional row whose first cell says "Points Possible", then one row per student, matched by the ID column
(the Canvas user id, read from the downloaded file's name, or from a gradebook export given as the roster). A column
titled "<name> (<assignment id>)" updates that assignment; any other title makes Canvas create a new one. The Points
Possible row does not change the assignment's points possible in Canvas: the assignment must already have the same
value, or the percentages Canvas shows are off. A student not graded yet has no row, so Canvas leaves their grade
as it is (a blank cell would read as "no grade" on some imports).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from grader.course.book import PENDING, Row, cell
from grader.wording import points
from grader.course.canvas_roster import Person
from grader.course.handgrades import HandGrade, Item
from grader.course.late import Lateness

CANVAS_FILE = "canvas_import.csv"
GENERIC_FILE = "grades.csv"
DETAIL_FILE = "gradebook_detail.csv"
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_POSSIBLE = "    Points Possible"  # as Canvas's own export writes it; the import skips this row
DEFAULT_ASSIGNMENT = "Backpropagation"


@dataclass(frozen=True)
class Final:
    """One student's grade for the LMS: the automatic row, hand grades, lateness, and the total they make."""

    row: Row
    user_id: str
    items: tuple[Item, ...]
    hand: dict[str, HandGrade] = field(default_factory=dict)
    lateness: Lateness = Lateness()
    person: Person | None = None  # who the student is in Canvas, from the roster given with --roster

    @property
    def canvas_id(self) -> str:
        """The Canvas user id: the roster's, else the one in the downloaded file's name."""
        return self.person.id if self.person else self.user_id

    @property
    def pending(self) -> bool:
        return self.row.status == PENDING

    @property
    def hand_points(self) -> float:
        return sum(g.points for g in self.hand.values() if g.points is not None)

    @property
    def hand_open(self) -> tuple[str, ...]:
        """Items with no hand grade yet."""
        return tuple(i.id for i in self.items if self.hand.get(i.id) is None or self.hand[i.id].points is None)

    @property
    def total(self) -> float:
        """Automatic + hand - late penalty, never below 0; 0 after a late cutoff."""
        if self.lateness.zeroed:
            return 0.0
        return max(0.0, round(self.row.score + self.hand_points - self.lateness.penalty, 4))


def points_possible(automatic_max: float, items: tuple[Item, ...]) -> float:
    return automatic_max + sum(i.max_points for i in items)


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def canvas_csv(finals: list[Final], assignment: str, possible: float) -> str:
    """The Canvas gradebook import: header, Points Possible row, one row per graded student (none when pending)."""
    rows = [[*CANVAS_COLUMNS, assignment], [POINTS_POSSIBLE, "", "", "", "", points(possible)]]
    for f in sorted(finals, key=lambda f: f.row.student):
        if f.pending:
            continue
        who = f.person or Person(f.row.student, f.user_id)
        rows.append([cell(who.name), f.canvas_id, cell(who.sis_user_id), cell(who.sis_login_id), cell(who.section),
                     points(f.total)])
    return _csv(rows)


def generic_csv(finals: list[Final], possible: float) -> str:
    """student, id, points, points_possible, status, late: for other LMSs and spreadsheets."""
    rows = [["student", "id", "points", "points_possible", "status", "late"]]
    for f in sorted(finals, key=lambda f: f.row.student):
        rows.append([cell(f.row.student), f.canvas_id, "" if f.pending else points(f.total), points(possible),
                     f.row.status, "yes" if f.lateness.late else "no"])
    return _csv(rows)


def _tests(finals: list[Final]) -> list[tuple[str, float]]:
    """Every test name with its maximum, in the order the rows list them."""
    seen: dict[str, float] = {}
    for f in finals:
        for name, _, top in f.row.test_points:
            seen.setdefault(name, top)
    return list(seen.items())


def detail_csv(finals: list[Final], areas: tuple[str, ...], items: tuple[Item, ...], possible: float) -> str:
    """Every part of every total, one row per student."""
    tests = _tests(finals)
    head = ["student", "id", "file", "status", "automatic", "automatic_max", *areas,
            *(f"hand: {i.id}" for i in items), "hand", "hand_max", "hand_not_graded", "answers_missing",
            "late", "late_penalty", "late_note", "total", "points_possible", "reason", "sha256",
            *(f"{name} (max {points(top)})" for name, top in tests)]
    rows = [head]
    for f in sorted(finals, key=lambda f: f.row.student):
        r = f.row
        by_test = {name: score for name, score, _ in r.test_points}
        hand = [("" if f.hand.get(i.id) is None or f.hand[i.id].points is None else points(f.hand[i.id].points))
                for i in items]
        rows.append([cell(r.student), f.canvas_id, cell(r.file), r.status, points(r.score), points(r.max_score),
                     *(points(r.area_score(a)) for a in areas), *hand, points(f.hand_points),
                     points(sum(i.max_points for i in items)), " ".join(f.hand_open), " ".join(r.manual_missing),
                     "yes" if f.lateness.late else "no", points(f.lateness.penalty), cell(f.lateness.note),
                     "" if f.pending else points(f.total), points(possible),
                     cell(r.reason), r.sha256, *(points(by_test[n]) if n in by_test else "" for n, _ in tests)])
    return _csv(rows)
