"""The hand grades database without a browser: derived points, refusals that store nothing, a stale version's
conflict, two writers at once (threads and processes), rubric items edited once for everyone, the CSV round trip."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path

import pytest

from grader.course.handgrades import HandGrade, Item, read_hand_grades, write_grades, write_template
from grader.handgrade.exchange import comment_text, differences, export, import_grades, remember
from grader.handgrade.store import Conflict, Refused, Store

ITEMS = (Item("derivation", "Problem 1: derivation", 10.0), Item("report", "Written report", 5.0))
STUDENTS = {"ann", "ben", "cat"}


def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "hand_grades.sqlite", ITEMS, STUDENTS)


def test_typed_points_and_rubric_items_make_the_total(tmp_path):
    db = store(tmp_path)
    assert db.grade("ann", "derivation").points is None  # nothing typed, nothing applied: not graded
    minus = db.save_rubric("derivation", None, 0, "sign error in the last step", -2)
    plus = db.save_rubric("derivation", None, 0, "extra: Jacobian written out", 1)
    g = db.toggle("ann", "derivation", 0, minus.id, True)
    assert g.points == 8  # deducted from the maximum of 10
    g = db.set_grade("ann", "derivation", g.version, 7, "see the chain rule")
    assert (g.points, g.typed) == (7, 7)
    g = db.toggle("ann", "derivation", g.version, minus.id, False)
    assert g.points == 9  # the typed 7 held the -2; removing it gives the 2 back
    g = db.toggle("ann", "derivation", g.version, plus.id, True)
    assert g.points == 10
    assert comment_text(db, g) == "extra: Jacobian written out (+1); see the chain rule"


def test_points_over_the_maximum_or_below_zero_are_refused_and_nothing_is_stored(tmp_path):
    db = store(tmp_path)
    with pytest.raises(Refused, match=r"points 11 are over the maximum of 10 for 'derivation'"):
        db.set_grade("ann", "derivation", 0, 11, "")
    with pytest.raises(Refused, match="below 0"):
        db.set_grade("ann", "report", 0, -1, "")
    assert db.grade("ann", "derivation").version == 0 and db.grade("ann", "derivation").points is None
    big = db.save_rubric("report", None, 0, "bonus", 3)
    db.set_grade("ben", "report", 0, 4, "")
    with pytest.raises(Refused, match="over the maximum of 5"):
        db.toggle("ben", "report", 1, big.id, True)  # 4 + 3 > 5
    assert db.grade("ben", "report").points == 4 and db.grade("ben", "report").applied == ()
    with pytest.raises(Refused, match="unknown student"):
        db.set_grade("zed", "report", 0, 1, "")


def test_a_stale_version_is_a_conflict_not_an_overwrite(tmp_path):
    db = store(tmp_path)
    first = db.grade("ann", "derivation")
    db.set_grade("ann", "derivation", first.version, 6, "tab one")  # tab one saves
    with pytest.raises(Conflict, match="changed meanwhile"):
        db.set_grade("ann", "derivation", first.version, 9, "tab two")  # tab two still holds version 0
    g = db.grade("ann", "derivation")
    assert (g.points, g.comment, g.version) == (6, "tab one", 1)
    item = db.save_rubric("derivation", None, 0, "typo", -1)
    db.save_rubric("derivation", item.id, item.version, "a typo", -1)
    with pytest.raises(Conflict):
        db.save_rubric("derivation", item.id, item.version, "stale edit", -1)


def test_editing_a_rubric_item_once_changes_every_grade_that_has_it(tmp_path):
    db = store(tmp_path)
    item = db.save_rubric("derivation", None, 0, "missing the softmax Jacobian", -2)
    for student in ("ann", "ben"):
        db.toggle(student, "derivation", 0, item.id, True)
    db.save_rubric("derivation", item.id, item.version, "no softmax Jacobian", -3)
    for student in ("ann", "ben"):
        g = db.grade(student, "derivation")
        assert g.points == 7 and comment_text(db, g) == "no softmax Jacobian (-3)"
    assert db.grade("cat", "derivation").points is None
    with pytest.raises(Refused, match="2 grade"):
        db.save_rubric("derivation", item.id, item.version + 1, "too much", 1)  # 10 + 1 for both
    db.delete_rubric("derivation", item.id, item.version + 1)
    assert db.grade("ann", "derivation").points is None  # its only item gone, nothing typed: not graded again


def test_the_start_can_change_without_moving_typed_totals(tmp_path):
    db = store(tmp_path)
    plus = db.save_rubric("derivation", None, 0, "correct gradient", 6)
    with pytest.raises(Refused, match="over the maximum"):
        db.toggle("ann", "derivation", 0, plus.id, True)  # from the maximum, +6 is 16
    db.set_grade("ben", "derivation", 0, 3, "")
    db.set_start("derivation", "zero")
    g = db.toggle("ann", "derivation", 0, plus.id, True)
    assert g.points == 6 and db.grade("ben", "derivation").points == 3


def _write_many(path: str, student: str, count: int) -> None:
    db = Store(Path(path), ITEMS, STUDENTS)
    for n in range(count):
        g = db.grade(student, "derivation")
        db.set_grade(student, "derivation", g.version, n % 10, f"pass {n}")


def test_two_processes_and_two_threads_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "hand_grades.sqlite"
    store(tmp_path)
    count = 40
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(str(path), s, count)) for s in ("ann", "ben")]
    threads = [threading.Thread(target=_write_many, args=(str(path), "cat", count))]
    for worker in procs + threads:
        worker.start()
    for worker in procs + threads:
        worker.join(120)
    assert all(p.exitcode == 0 for p in procs)
    db = store(tmp_path)
    for student in STUDENTS:
        g = db.grade(student, "derivation")
        assert (g.version, g.comment, g.points) == (count, f"pass {count - 1}", (count - 1) % 10)
    assert len(db.history(1000)) == 3 * count
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_racing_writers_on_one_version_one_wins_the_other_conflicts(tmp_path):
    store(tmp_path)
    barrier, outcomes = threading.Barrier(2), []

    def save(points: float) -> None:
        db = Store(tmp_path / "hand_grades.sqlite", ITEMS, STUDENTS)
        barrier.wait()
        try:
            db.set_grade("ann", "report", 0, points, "")
            outcomes.append("saved")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=save, args=(p,)) for p in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["conflict", "saved"]
    assert store(tmp_path).grade("ann", "report").version == 1


def test_the_csv_round_trip_imports_only_what_changed(tmp_path):
    csv_path = tmp_path / "hand_grades.csv"
    write_template(csv_path, {s: {} for s in STUDENTS}, ITEMS)
    db = store(tmp_path)
    item = db.save_rubric("derivation", None, 0, "sign error", -2)
    db.toggle("ann", "derivation", 0, item.id, True)
    write_grades(csv_path, export(db), ITEMS)
    read = read_hand_grades(csv_path, STUDENTS, ITEMS)
    assert read["ann"]["derivation"] == HandGrade("ann", "derivation", 8.0, "sign error (-2)")
    assert differences(db, read) == [] and import_grades(db, read) == (0, [])  # the export read back changes nothing
    assert db.grade("ann", "derivation").applied == (item.id,)
    edited = {**read, "ben": {"report": HandGrade("ben", "report", 4.5, "typed in a spreadsheet")}}
    assert differences(db, edited) == ["ben / report"]
    assert import_grades(db, edited) == (1, [])
    assert db.grade("ben", "report").points == 4.5 and db.grade("ann", "derivation").applied == (item.id,)


def test_rows_the_app_wrote_are_not_taken_for_hand_edits(tmp_path):
    csv_path = tmp_path / "hand_grades.csv"
    write_template(csv_path, {s: {} for s in STUDENTS}, ITEMS)
    db = store(tmp_path)
    remember(db, export(db))
    db.set_grade("ann", "report", 0, 3, "first")
    remember(db, export(db))
    write_grades(csv_path, export(db), ITEMS)  # the app's export; then a change it never exported, then killed
    db.set_grade("ann", "report", 1, 4, "second")
    assert differences(db, read_hand_grades(csv_path, STUDENTS, ITEMS)) == []
    write_grades(csv_path, {("ben", "report"): HandGrade("ben", "report", 2, "by hand")}, ITEMS)
    assert differences(db, read_hand_grades(csv_path, STUDENTS, ITEMS)) == ["ben / report"]


def test_an_import_leaves_out_older_rows_the_app_wrote_itself(tmp_path):
    csv_path = tmp_path / "hand_grades.csv"
    write_template(csv_path, {s: {} for s in STUDENTS}, ITEMS)
    db = store(tmp_path)
    db.set_grade("ann", "report", 0, 3, "first look")
    remember(db, export(db))
    write_grades(csv_path, export(db), ITEMS)  # the app's export, kept as a copy
    db.set_grade("ann", "report", 1, 5, "regraded")  # newer than the copy
    old = read_hand_grades(csv_path, STUDENTS, ITEMS)
    edited = {**old, "ben": {"report": HandGrade("ben", "report", 2, "typed by hand")}}
    assert import_grades(db, edited) == (1, ["ann / report"])
    ann = db.grade("ann", "report")
    assert (ann.points, ann.comment) == (5, "regraded")  # the newer grade is not reverted
    assert db.grade("ben", "report").points == 2


def test_a_second_server_on_the_same_batch_is_refused_until_the_first_is_gone(tmp_path):
    import os

    from grader.handgrade.session import Locked, take_lock

    (tmp_path / ".batch").mkdir()
    first = take_lock(tmp_path)
    with pytest.raises(Locked, match=f"pid {os.getpid()}"):
        take_lock(tmp_path)
    os.close(first)  # as the system does for a killed server
    os.close(take_lock(tmp_path))


def test_the_journal_mode_is_checked_and_a_missing_wal_said_clearly(tmp_path, capsys):
    from grader.handgrade.store import use_wal

    db = store(tmp_path)
    db.grade("ann", "report")
    assert db.journal == "wal" and capsys.readouterr().err == ""
    memory = sqlite3.connect(":memory:")  # a database where SQLite cannot have WAL
    assert use_wal(memory, "the test database") == "memory"
    err = capsys.readouterr().err
    assert "the test database: SQLite keeps its 'memory' journal here, not WAL" in err and "local disk" in err
    assert use_wal(memory, "again", warned=True) == "memory" and capsys.readouterr().err == ""
