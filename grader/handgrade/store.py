"""The hand grades database, OUT/.batch/hand_grades.sqlite: every grade, reusable rubric item and change, in SQLite.

WAL journal and one transaction per change, so a killed server loses nothing it answered. Each grade row has a
version: a change names the version it was made on, and a stale one (another tab saved first) is refused as a
Conflict instead of overwriting. A grade's points are derived, never stored as a total:

    points = start + (sum of the applied rubric items' changes) + adjust

where start is the item's maximum (rubric items deduct) or 0 (they add), per question, and adjust is what makes the
total equal the points a TA typed (NULL when none were typed). So editing a rubric item's change once moves every
grade that has it, and a grade with nothing typed and nothing applied is not graded yet.
"""

from __future__ import annotations

import math
import secrets
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from grader.course.handgrades import Item, over_maximum
from grader.wording import points as fmt_points  # `points` names the grades' points here
from grader.errors import GraderError

FILE = Path(".batch") / "hand_grades.sqlite"
SCHEMA_VERSION = "1"
STARTS = ("max", "zero")  # rubric items deduct from the maximum, or add from 0
BUSY_SECONDS = 15.0  # how long a change waits for another writer before it is refused
MAX_COMMENT = 10_000
MAX_RUBRIC_TEXT = 2_000
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS questions(item TEXT PRIMARY KEY, start TEXT NOT NULL DEFAULT 'max');
CREATE TABLE IF NOT EXISTS grades(
    student TEXT NOT NULL, item TEXT NOT NULL, adjust REAL, comment TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL DEFAULT 0, changed TEXT NOT NULL DEFAULT '', PRIMARY KEY(student, item));
CREATE TABLE IF NOT EXISTS rubric(
    id INTEGER PRIMARY KEY AUTOINCREMENT, item TEXT NOT NULL, text TEXT NOT NULL, delta REAL NOT NULL,
    position INTEGER NOT NULL, version INTEGER NOT NULL DEFAULT 1, deleted INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS applied(
    student TEXT NOT NULL, item TEXT NOT NULL, rubric INTEGER NOT NULL REFERENCES rubric(id),
    PRIMARY KEY(student, item, rubric));
CREATE TABLE IF NOT EXISTS seen(
    student TEXT NOT NULL, item TEXT NOT NULL, points TEXT NOT NULL, comment TEXT NOT NULL,
    PRIMARY KEY(student, item, points, comment));
CREATE TABLE IF NOT EXISTS history(
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, what TEXT NOT NULL, student TEXT NOT NULL DEFAULT '',
    item TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '');
"""


class StoreError(GraderError):
    """The hand grades database cannot be used (another schema, a locked or broken file)."""


class Refused(GraderError):
    """A change that would make a bad grade (points over the maximum, below 0, not a number); nothing was stored."""


class Conflict(GraderError):
    """A change made on a stale version: someone (another tab) saved first; nothing was stored."""


@dataclass(frozen=True)
class RubricItem:
    """A reusable comment with a point change, for one question. position orders the items (keys 1-9)."""

    id: int
    item: str
    text: str
    delta: float
    position: int
    version: int


@dataclass(frozen=True)
class Grade:
    """One student's grade of one question. points is None until graded; applied: the rubric item ids."""

    student: str
    item: str
    points: float | None
    typed: float | None
    comment: str
    applied: tuple[int, ...]
    version: int


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def check_points(value: float, item: Item, what: str = "points") -> None:
    """Refused unless 0 <= value <= the item's maximum (a tiny float error is forgiven)."""
    if not math.isfinite(value):
        raise Refused(f"{what} must be a number")
    if value < -1e-9:
        raise Refused(f"{what} {fmt_points(value)} would be below 0 for {item.id!r}")
    if value > item.max_points + 1e-9:
        raise Refused(over_maximum(f"{what} {fmt_points(value)}", item))


def use_wal(db: sqlite3.Connection, path: object, *, warned: bool = False) -> str:
    """Ask for the WAL journal and return the mode SQLite actually took; say so on stderr (once, unless warned)
    when it is not WAL, as on some network file systems."""
    mode = str(db.execute("PRAGMA journal_mode=WAL").fetchone()[0]).lower()
    if mode != "wal" and not warned:
        print(f"warning: {path}: SQLite keeps its {mode!r} journal here, not WAL (a network or unusual file "
              "system?). Each change is still saved before it is answered, but readers and writers now wait for "
              "each other (a busy moment can refuse a change as locked); keep the batch on a local disk.",
              file=sys.stderr, flush=True)
    return mode


class Store:
    """The database of one batch. Thread-safe: each thread gets its own connection; writes are serialised by
    SQLite (BEGIN IMMEDIATE), so two servers or two tabs never interleave halves of a change."""

    def __init__(self, path: Path, items: tuple[Item, ...], students: set[str]) -> None:
        self.path, self.items, self.students = path, {i.id: i for i in items}, students
        self._local = threading.local()
        self.journal = ""  # the journal mode SQLite took: "wal" unless the file system cannot have it
        path.parent.mkdir(parents=True, exist_ok=True)
        self.created = not path.exists()
        try:
            self.connection().executescript(SCHEMA)  # idempotent; outside a transaction, as executescript commits
            with self.transaction() as db:
                db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
                found = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0]
                db.executemany("INSERT OR IGNORE INTO questions(item) VALUES (?)", [(i,) for i in self.items])
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: not a hand grades database ({exc}); move it away to start afresh") from exc
        if found != SCHEMA_VERSION:
            raise StoreError(f"{path}: a database of schema {found}; this grader reads schema {SCHEMA_VERSION}")

    def secret(self) -> bytes:
        """This database's random key for the anonymous submission keys, made on first use and kept in meta."""
        with self.transaction() as db:
            db.execute("INSERT OR IGNORE INTO meta VALUES ('key secret', ?)", (secrets.token_hex(32),))
            return bytes.fromhex(db.execute("SELECT value FROM meta WHERE key='key secret'").fetchone()[0])

    def connection(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False)
            self.journal = use_wal(db, self.path, warned=self.journal != "")
            db.execute("PRAGMA synchronous=FULL")  # an answered change survives a power cut too
            db.execute("PRAGMA foreign_keys=ON")
            self._local.db = db
        return db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction, taken with the write lock at once, so a read-check-write cannot race another writer."""
        db = self.connection()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # --- reading ---------------------------------------------------------------------------------------------------

    def item(self, item: str) -> Item:
        if item not in self.items:
            raise Refused(f"unknown item {item!r}; the items are {', '.join(self.items)}")
        return self.items[item]

    def _student(self, student: str) -> str:
        if student not in self.students:
            raise Refused(f"unknown student {student!r}")
        return student

    def start(self, item: str, db: sqlite3.Connection | None = None) -> str:
        row = (db or self.connection()).execute("SELECT start FROM questions WHERE item=?", (item,)).fetchone()
        return row[0] if row else "max"

    def start_points(self, item: str, start: str) -> float:
        return self.items[item].max_points if start == "max" else 0.0

    def rubric(self, item: str, db: sqlite3.Connection | None = None) -> list[RubricItem]:
        rows = (db or self.connection()).execute("SELECT id, item, text, delta, position, version FROM rubric "
                                                 "WHERE item=? AND deleted=0 ORDER BY position, id", (item,))
        return [RubricItem(*r) for r in rows]

    def grade(self, student: str, item: str, db: sqlite3.Connection | None = None) -> Grade:
        db = db or self.connection()
        self.item(item)
        row = db.execute("SELECT adjust, comment, version FROM grades WHERE student=? AND item=?",
                         (student, item)).fetchone()
        adjust, comment, version = row if row else (None, "", 0)
        applied = db.execute("SELECT a.rubric, r.delta FROM applied a JOIN rubric r ON r.id=a.rubric "
                             "WHERE a.student=? AND a.item=? ORDER BY r.position, r.id", (student, item)).fetchall()
        if adjust is None and not applied:
            points = None
        else:
            points = self.start_points(item, self.start(item, db)) + sum(d for _, d in applied) + (adjust or 0.0)
            points = round(points, 6)
        typed = None if adjust is None else points
        return Grade(student, item, points, typed, comment, tuple(r for r, _ in applied), version)

    def grades(self, item: str) -> dict[str, Grade]:
        return {s: self.grade(s, item) for s in sorted(self.students)}

    def history(self, limit: int = 50) -> list[tuple[str, str, str, str, str]]:
        """The latest changes first: when, what, to whom, and the detail."""
        return self.connection().execute("SELECT at, what, student, item, detail FROM history ORDER BY id DESC "
                                         "LIMIT ?", (limit,)).fetchall()

    # --- changing ----------------------------------------------------------------------------------------------

    def log(self, db: sqlite3.Connection, what: str, student: str = "", item: str = "", detail: str = "") -> None:
        db.execute("INSERT INTO history(at, what, student, item, detail) VALUES (?,?,?,?,?)",
                   (_now(), what, student, item, detail))

    def _current(self, db: sqlite3.Connection, student: str, item: str, version: int) -> Grade:
        self._student(student)
        current = self.grade(student, item, db)
        if current.version != version:
            raise Conflict(f"this grade was changed meanwhile (in another tab or window): version {current.version}"
                           f", not {version}; it now shows the saved one")
        return current

    def put(self, db: sqlite3.Connection, g: Grade, adjust: float | None, comment: str) -> None:
        db.execute("INSERT INTO grades(student, item, adjust, comment, version, changed) VALUES (?,?,?,?,?,?) "
                   "ON CONFLICT(student, item) DO UPDATE SET adjust=excluded.adjust, comment=excluded.comment, "
                   "version=excluded.version, changed=excluded.changed",
                   (g.student, g.item, adjust, comment, g.version + 1, _now()))

    def set_grade(self, student: str, item: str, version: int, points: float | None, comment: str) -> Grade:
        """Typed points (None: clear them) and the free comment. Refused or Conflict leave everything as it was."""
        it = self.item(item)
        if len(comment) > MAX_COMMENT:
            raise Refused(f"the comment is {len(comment)} characters; at most {MAX_COMMENT}")
        if points is not None:
            check_points(points, it)
        with self.transaction() as db:
            g = self._current(db, student, item, version)
            adjust = None
            if points is not None:
                applied = sum(r.delta for r in self.rubric(item, db) if r.id in g.applied)
                adjust = points - self.start_points(item, self.start(item, db)) - applied
            self.put(db, g, adjust, comment)
            self.log(db, "grade", student, item, f"points {'' if points is None else fmt_points(points)}; {comment}")
            return self.grade(student, item, db)

    def toggle(self, student: str, item: str, version: int, rubric_id: int, on: bool) -> Grade:
        """Apply (on) or remove a rubric item on one grade; refused if the total would leave 0..max."""
        it = self.item(item)
        with self.transaction() as db:
            g = self._current(db, student, item, version)
            r = next((r for r in self.rubric(item, db) if r.id == rubric_id), None)
            if r is None:
                raise Refused(f"no rubric item {rubric_id} for {item!r} (deleted meanwhile?)")
            if on == (rubric_id in g.applied):
                return g
            base = g.points if g.points is not None else self.start_points(item, self.start(item, db))
            check_points(base + (r.delta if on else -r.delta), it, "the points")
            if on:
                db.execute("INSERT INTO applied VALUES (?,?,?)", (student, item, rubric_id))
            else:
                db.execute("DELETE FROM applied WHERE student=? AND item=? AND rubric=?", (student, item, rubric_id))
            self.put(db, g, self._adjust(db, g), g.comment)
            self.log(db, "apply" if on else "remove", student, item, f"{r.text} ({r.delta:+g})")
            return self.grade(student, item, db)

    def _adjust(self, db: sqlite3.Connection, g: Grade) -> float | None:
        row = db.execute("SELECT adjust FROM grades WHERE student=? AND item=?", (g.student, g.item)).fetchone()
        return row[0] if row else None

    def _holders_ok(self, db: sqlite3.Connection, item: str, change: dict[int, float], start: str,
                    moved: float = 0.0) -> None:
        """Refused if new rubric deltas (id -> delta) or a new start (typed totals' adjust moved by `moved`) would
        put any grade that has rubric items outside 0..max."""
        it, bad = self.items[item], 0
        deltas = {r.id: r.delta for r in self.rubric(item, db)} | change
        holders = db.execute("SELECT DISTINCT a.student, g.adjust FROM applied a LEFT JOIN grades g "
                             "ON g.student=a.student AND g.item=a.item WHERE a.item=?", (item,)).fetchall()
        for student, adjust in holders:
            ids = [r for (r,) in db.execute("SELECT rubric FROM applied WHERE student=? AND item=?", (student, item))]
            total = self.start_points(item, start) + sum(deltas.get(r, 0.0) for r in ids)
            total += 0.0 if adjust is None else adjust + moved
            bad += not -1e-9 <= total <= it.max_points + 1e-9
        if bad:
            raise Refused(f"that would take {bad} grade(s) of {item!r} outside 0 to {fmt_points(it.max_points)}; "
                          "nothing was changed")

    def save_rubric(self, item: str, rubric_id: int | None, version: int, text: str, delta: float) -> RubricItem:
        """A new rubric item (rubric_id None) or an edit of one, for every grade that has it."""
        it = self.item(item)
        text = text.strip()
        if not text or len(text) > MAX_RUBRIC_TEXT:
            raise Refused(f"a rubric item needs a comment of 1 to {MAX_RUBRIC_TEXT} characters")
        if not math.isfinite(delta) or abs(delta) > it.max_points:
            raise Refused(f"a rubric item's change must be between -{fmt_points(it.max_points)} and "
                          f"+{fmt_points(it.max_points)} for {item!r}")
        with self.transaction() as db:
            if rubric_id is None:
                position = db.execute("SELECT COALESCE(MAX(position), 0) + 1 FROM rubric WHERE item=?",
                                      (item,)).fetchone()[0]
                rubric_id = db.execute("INSERT INTO rubric(item, text, delta, position) VALUES (?,?,?,?)",
                                       (item, text, delta, position)).lastrowid
                self.log(db, "rubric new", "", item, f"{text} ({delta:+g})")
            else:
                old = next((r for r in self.rubric(item, db) if r.id == rubric_id), None)
                if old is None:
                    raise Refused(f"no rubric item {rubric_id} for {item!r} (deleted meanwhile?)")
                if old.version != version:
                    raise Conflict(f"this rubric item was changed meanwhile (in another tab): version {old.version}"
                                   f", not {version}; it now shows the saved one")
                self._holders_ok(db, item, {rubric_id: delta}, self.start(item, db))
                db.execute("UPDATE rubric SET text=?, delta=?, version=version+1 WHERE id=?", (text, delta, rubric_id))
                self.log(db, "rubric edit", "", item, f"{old.text} ({old.delta:+g}) -> {text} ({delta:+g})")
            return next(r for r in self.rubric(item, db) if r.id == rubric_id)

    def delete_rubric(self, item: str, rubric_id: int, version: int) -> None:
        """Remove a rubric item from the question and from every grade that has it."""
        self.item(item)
        with self.transaction() as db:
            old = next((r for r in self.rubric(item, db) if r.id == rubric_id), None)
            if old is None or old.version != version:
                raise Conflict("this rubric item was changed or deleted meanwhile (in another tab)")
            self._holders_ok(db, item, {rubric_id: 0.0}, self.start(item, db))
            db.execute("UPDATE grades SET version=version+1 WHERE item=? AND student IN "
                       "(SELECT student FROM applied WHERE item=? AND rubric=?)", (item, item, rubric_id))
            db.execute("DELETE FROM applied WHERE rubric=?", (rubric_id,))
            db.execute("UPDATE rubric SET deleted=1, version=version+1 WHERE id=?", (rubric_id,))
            self.log(db, "rubric delete", "", item, f"{old.text} ({old.delta:+g})")

    def set_start(self, item: str, start: str) -> None:
        """Whether rubric items deduct from the maximum or add from 0; a typed total stays as it was."""
        self.item(item)
        if start not in STARTS:
            raise Refused(f"start must be one of {', '.join(STARTS)}")
        with self.transaction() as db:
            old = self.start(item, db)
            if old == start:
                return
            moved = self.start_points(item, old) - self.start_points(item, start)
            self._holders_ok(db, item, {}, start, moved)
            db.execute("UPDATE grades SET adjust=adjust+? WHERE item=? AND adjust IS NOT NULL", (moved, item))
            db.execute("UPDATE questions SET start=? WHERE item=?", (start, item))
            self.log(db, "start", "", item, f"{old} -> {start}")
