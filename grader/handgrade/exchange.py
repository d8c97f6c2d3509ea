"""hand_grades.csv and the database: the export (each grade as the file holds it), the rows the app wrote or read
there (so a later start can tell them from rows typed in by hand), and the import of rows that changed."""

from __future__ import annotations

from grader.course.handgrades import HandGrade
from grader.wording import points
from grader.handgrade.store import Grade, RubricItem, Store


def comment_text(store: Store, grade: Grade, rubric: list[RubricItem] | None = None) -> str:
    """What the student reads: each applied rubric item with its change, then the free comment."""
    by_id = {r.id: r for r in (rubric if rubric is not None else store.rubric(grade.item))}
    parts = [f"{by_id[r].text} ({by_id[r].delta:+g})" for r in grade.applied if r in by_id]
    return "; ".join(parts + ([grade.comment] if grade.comment.strip() else []))


def export(store: Store) -> dict[tuple[str, str], HandGrade]:
    """Every (student, item) as hand_grades.csv holds it: the total, and the comment the student reads."""
    out = {}
    for item in store.items:
        rubric = store.rubric(item)
        for student, g in store.grades(item).items():
            out[(student, item)] = HandGrade(student, item, g.points, comment_text(store, g, rubric))
    return out


def import_grades(store: Store, grades: dict[str, dict[str, HandGrade]]) -> tuple[int, list[str]]:
    """Take hand_grades.csv's rows that differ from what the database would export and that the app never wrote
    or read there: their points become the typed total and their comment the free comment (rubric items on them
    are removed). A row the app itself wrote earlier is older than the database, not an edit, and is left out.
    Returns how many rows were taken, and the (student / item) rows left out as the app's own older ones."""
    now, seen = export(store), _seen(store)
    changed, older = [], []
    for by_item in grades.values():
        for g in by_item.values():
            if _row(now[(g.student, g.item)]) != _row(g):
                (older if (g.student, g.item, *_row(g)) in seen else changed).append(g)
    with store.transaction() as db:
        for g in changed:
            start = store.start_points(g.item, store.start(g.item, db))
            db.execute("DELETE FROM applied WHERE student=? AND item=?", (g.student, g.item))
            current = store.grade(g.student, g.item, db)
            store.put(db, current, None if g.points is None else g.points - start, g.comment)
            store.log(db, "import", g.student, g.item, f"points {_row(g)[0]}; {g.comment}")
    return len(changed), sorted(f"{g.student} / {g.item}" for g in older)


def _seen(store: Store) -> set[tuple[str, str, str, str]]:
    return set(store.connection().execute("SELECT student, item, points, comment FROM seen"))


def remember(store: Store, grades: dict[tuple[str, str], HandGrade]) -> None:
    """Note what hand_grades.csv holds or is about to hold (written before the file is), so a later start can
    tell the app's own rows from rows typed into the file by hand."""
    with store.transaction() as db:
        db.executemany("INSERT OR IGNORE INTO seen VALUES (?,?,?,?)",
                       [(s, i, *_row(g)) for (s, i), g in grades.items()])


def differences(store: Store, grades: dict[str, dict[str, HandGrade]]) -> list[str]:
    """The (student / item) rows of the file that differ from the database and that the app never wrote or
    read there: typed into the file by hand since. A row the app wrote before it was killed is not one."""
    seen, out = _seen(store), []
    for (s, i), g in sorted(export(store).items()):
        in_file = _row(grades.get(s, {}).get(i))
        if in_file != _row(g) and (s, i, *in_file) not in seen:
            out.append(f"{s} / {i}")
    return out


def _row(grade: HandGrade | None) -> tuple[str, str]:
    """points and comment as hand_grades.csv holds them."""
    if grade is None or grade.points is None:
        return "", grade.comment if grade else ""
    return points(grade.points), grade.comment
