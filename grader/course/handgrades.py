"""The hand grades file, hand_grades.csv: one row per student and hand-graded item, with points and a comment.

The batch writes it pre-filled (everything but points and comment) and extends it when students are added, never
touching what a TA typed. `merge-hand-grades` reads it back; a bad row stops the merge with every problem listed by
line: an unknown student or item, points that are not a number, below 0 or above the item's maximum, a duplicate.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.wording import points

FILE = "hand_grades.csv"
COLUMNS = ("student", "item", "title", "max", "points", "comment", "answer")
MAX_LISTED = 20


class HandGradesError(GraderError):
    """The hand grades file has bad rows; the message lists them by line."""


@dataclass(frozen=True)
class Item:
    """A hand-graded item: its id (the notebook cell's grader id), title and maximum points (from the rubric)."""

    id: str
    title: str
    max_points: float


@dataclass(frozen=True)
class HandGrade:
    """One TA grade. points is None until a TA fills it in."""

    student: str
    item: str
    points: float | None
    comment: str = ""


def template_rows(students: dict[str, dict[str, str]], items: tuple[Item, ...]) -> list[dict[str, str]]:
    """Blank rows for every student and item. students: id -> {item id: how the answer was found}."""
    return [{"student": s, "item": i.id, "title": i.title, "max": points(i.max_points), "points": "", "comment": "",
             "answer": answers.get(i.id, "")} for s, answers in sorted(students.items()) for i in items]


def _read(path: Path) -> list[dict[str, str]]:
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("student", "item", "points") if c not in (reader.fieldnames or ())]
    if missing:
        raise HandGradesError(f"{path}: missing column(s) {', '.join(missing)}; the header must be "
                              f"{','.join(COLUMNS)}")
    return [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]


def write_template(path: Path, students: dict[str, dict[str, str]], items: tuple[Item, ...]) -> int:
    """Create or extend the file: new (student, item) rows are added, and the `answer` column refreshed; what a TA
    typed (points, comment) is kept. Returns the number of rows added."""
    fresh = template_rows(students, items)
    old = _read(path) if path.exists() else []
    have = {(r.get("student", ""), r.get("item", "")): r for r in old}
    added = 0
    for row in fresh:
        key = (row["student"], row["item"])
        if key in have:
            have[key]["answer"] = row["answer"]
        else:
            have[key], added = row, added + 1
    _write_rows(path, list(have.values()), items)
    return added


def _write_rows(path: Path, rows: list[dict[str, str]], items: tuple[Item, ...]) -> None:
    order = {i.id: n for n, i in enumerate(items)}
    rows = sorted(rows, key=lambda r: (r.get("student", ""), order.get(r.get("item", ""), len(order))))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows({c: r.get(c, "") for c in COLUMNS} for r in rows)
    from grader.files import write_text  # noqa: PLC0415

    write_text(path, buf.getvalue())


def write_grades(path: Path, grades: dict[tuple[str, str], HandGrade], items: tuple[Item, ...]) -> None:
    """Put these grades' points and comments into the file's rows (a row is added where there is none); every
    other row and column stays as it is. The hand-grading app exports its database this way."""
    by_id = {i.id: i for i in items}
    have = {(r.get("student", ""), r.get("item", "")): r for r in (_read(path) if path.exists() else [])}
    for (student, item), grade in grades.items():
        row = have.setdefault((student, item), {"student": student, "item": item, "title": by_id[item].title,
                                                 "max": points(by_id[item].max_points), "answer": ""})
        row["points"] = "" if grade.points is None else points(grade.points)
        row["comment"] = grade.comment
    _write_rows(path, list(have.values()), items)


def over_maximum(what: str, item: Item) -> str:
    return f"{what} are over the maximum of {points(item.max_points)} for {item.id!r}"


def _points(text: str, item: Item) -> tuple[float | None, str]:
    if not text:
        return None, ""
    try:
        value = float(text)
    except ValueError:
        return None, f"points {text!r} is not a number"
    if not math.isfinite(value) or value < 0:
        return None, f"points {text} must be 0 or more"
    if value > item.max_points:
        return None, over_maximum(f"points {text}", item)
    return value, ""


def read_hand_grades(path: Path, students: set[str], items: tuple[Item, ...]) -> dict[str, dict[str, HandGrade]]:
    """student -> item -> grade, validated. Raises HandGradesError listing every bad row."""
    if not path.exists():
        return {}
    by_id = {i.id: i for i in items}
    out: dict[str, dict[str, HandGrade]] = {}
    problems: list[str] = []
    for line, row in enumerate(_read(path), 2):
        student, item = row.get("student", ""), row.get("item", "")
        if student not in students:
            problems.append(f"line {line}: unknown student {student!r} (not in the gradebook)")
        elif item not in by_id:
            problems.append(f"line {line}: unknown item {item!r}; the items are {', '.join(by_id)}")
        elif item in out.get(student, {}):
            problems.append(f"line {line}: a second row for {student} / {item}")
        else:
            value, problem = _points(row.get("points", ""), by_id[item])
            if problem:
                problems.append(f"line {line}: {student} / {item}: {problem}")
            out.setdefault(student, {})[item] = HandGrade(student, item, value, row.get("comment", ""))
    if problems:
        more = f"\n... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        raise HandGradesError(f"{path}: {len(problems)} bad row(s), nothing was merged:\n  "
                              + "\n  ".join(problems[:MAX_LISTED]) + more)
    return out
