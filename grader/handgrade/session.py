"""One batch opened for hand grading: its students (in an anonymous order), their answers, the database, and the
rebuild that brings hand_grades.csv, the LMS files and the feedback pages up to date with the database.

The first start creates the database from hand_grades.csv. Later starts check that the file still says what the
database says: rows typed into the file meanwhile stop the start (nothing is lost either way) until the TA says
which side wins, --import (the file's rows) or --discard-csv (the database's).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import os
import sys
import threading
import traceback
from dataclasses import dataclass
from pathlib import Path

from grader.course.answers import load_answers
from grader.course.book import PENDING, Row, State
from grader.course.build import FOUND, load_roster, rebuild, settings
from grader.course.handgrades import FILE as HAND_FILE, Item, read_hand_grades, write_grades
from grader.errors import GraderError
from grader.notebook.manual import ManualItem
from grader.grading.rubric import Rubric
from grader.handgrade import exchange
from grader.handgrade.store import FILE as DB_FILE, Store, StoreError

LOCK = Path(".batch") / "hand_grade.lock"
DISCARDED = Path(".batch") / "hand_grades.discarded.csv"  # where --discard-csv puts the file it does not read
MAX_LISTED = 5


@dataclass(frozen=True)
class Submission:
    """A student as the app shows them: an opaque key, a number in the anonymous order, and the answers."""

    key: str
    number: int
    student: str
    status: str
    answers: dict[str, ManualItem] | None
    found: dict[str, str]

    def answer(self, item: Item, reveal: bool = False) -> tuple[ManualItem | None, str]:
        """The answer, or None with a note saying why there is none to show (naming the student only if reveal)."""
        if self.status == PENDING:
            return None, "Not graded yet: grade-all has not reached this submission."
        got = (self.answers or {}).get(item.id)
        if got is not None and not got.missing:
            return got, "" if got.found == "metadata" else f"Answer {FOUND.get(got.found, got.found)}."
        if got is not None or self.found.get(item.id) == "missing":
            return None, f"Answer missing. {got.note if got else ''}".strip()
        if self.answers is None and self.found:
            page = (f"{self.student}/feedback_ta.html" if reveal
                    else "the student's feedback_ta.html (show names to see whose)")
            return None, (f"This batch kept no copy of the answer (graded by an older grader): see {page}, or "
                          "regrade with grade-all --force.")
        return None, "The submission could not be read, so there is no answer."


def key_of(student: str, secret: bytes) -> str:
    """An opaque key: an HMAC of the name under the database's own secret, so the name cannot be guessed from it
    (a plain hash of each name on the roster would give it away)."""
    return hmac.new(secret, student.encode(), hashlib.sha256).hexdigest()[:16]


def submissions(out: Path, students: list[str], rows: dict[str, Row], secret: bytes) -> list[Submission]:
    """In an order that does not follow the names (their keys'), numbered from 1; the same on every start."""
    keys = {s: key_of(s, secret) for s in students}
    order = sorted(students, key=keys.__getitem__)
    return [Submission(keys[s], n, s, rows[s].status if s in rows else PENDING, load_answers(out, s),
                       dict(rows[s].manual) if s in rows else {}) for n, s in enumerate(order, 1)]


def _listed(rows: list[str]) -> str:
    more = len(rows) - MAX_LISTED
    return ", ".join(rows[:MAX_LISTED]) + (f" and {more} more" if more > 0 else "")


def _digest(path: Path) -> str | None:
    """What the file holds, as a hash; None when there is none (a deleted file holds no one's edits)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


class CsvEdited(GraderError):
    """hand_grades.csv was changed by someone else while the app runs."""


class Locked(GraderError):
    """Another hand-grade server has this batch open."""


def take_lock(out: Path) -> int:
    """An exclusive lock on the batch for this process; the system drops it when the process dies, even by -9."""
    path = out / LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        other = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        raise Locked(f"{out}: another hand-grade server (pid {other or '?'}) has this batch open; use its URL, or "
                     "stop it first") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


class Session:
    """The batch, its database and the rebuild. publish() brings the files up to date (in the background after
    each change, or at once); status says how that went."""

    def __init__(self, out: Path, rubric: Rubric, *, import_csv: Path | None = None, discard_csv: bool = False,
                 times: Path | None = None) -> None:
        self.out, self.rubric, self.times = out, rubric, times
        roster = load_roster(out)
        self.items: tuple[Item, ...] = settings(rubric).items
        if not self.items:
            raise GraderError(f"{rubric.source}: this assignment has no hand-graded items")
        self.lock = take_lock(out)
        try:
            rows = State(out / ".batch" / "state.jsonl").load()
            self.store = Store(out / DB_FILE, self.items, set(roster))
            self.subs = submissions(out, list(roster), rows, self.store.secret())
            self.by_key = {s.key: s for s in self.subs}
            self._reconcile(import_csv, discard_csv)
        except BaseException:  # a refused start lets go of the batch
            if hasattr(self, "store"):
                self.store.close()
            os.close(self.lock)
            raise
        self._csv_digest = _digest(out / HAND_FILE)  # the file as the TA left it: checked before each rewrite
        self.csv_edited = ""
        self._cond = threading.Condition()
        self._wanted = self._done = 0
        self.status, self._stopping = "starting", False
        self._thread = threading.Thread(target=self._run, name="hand-grade-publish", daemon=True)
        self._thread.start()
        self.publish()  # what a killed server had not written yet

    def _reconcile(self, import_csv: Path | None, discard_csv: bool) -> None:
        students = {s.student for s in self.subs}
        csv_path = self.out / HAND_FILE
        if import_csv is not None:
            taken, older = exchange.import_grades(self.store, read_hand_grades(import_csv, students, self.items))
            print(f"imported {taken} changed rows from {import_csv}")
            if older:
                print(f"kept the database's newer grade for {len(older)} row(s) that the app itself wrote into the "
                      f"file earlier ({_listed(older)}): they are not edits", file=sys.stderr)
            return
        if discard_csv:  # the database wins: the file is not read, only moved aside, so a broken one is no bar
            if csv_path.exists():
                kept = next(p for n in range(1, 10**6) if not (p := self.out / DISCARDED.with_suffix(
                    ".csv" if n == 1 else f".{n}.csv")).exists())  # an earlier discarded file is kept too
                os.replace(csv_path, kept)
                print(f"kept the database's grades; {csv_path} is written afresh from it (the old file is kept "
                      f"as {kept})")
            return
        file_grades = read_hand_grades(csv_path, students, self.items)
        if self.store.created:
            taken, _ = exchange.import_grades(self.store, file_grades)  # a new database: nothing seen yet
            exchange.remember(self.store, exchange.export(self.store))
            print(f"created {self.out / DB_FILE}" + (f" with {taken} grades from {csv_path}" if taken else ""))
            return
        differ = exchange.differences(self.store, file_grades)
        if differ:
            listed = _listed(differ)
            raise StoreError(f"{csv_path} has {len(differ)} row(s) that differ from the database {DB_FILE} "
                             f"({listed}): edited by hand since the app last wrote it? Start with --import "
                             f"{csv_path} to take the file's rows, or --discard-csv to keep the database's")

    # --- the rebuild -------------------------------------------------------------------------------------------

    def rebuild(self) -> None:
        """The database -> hand_grades.csv, then what merge-hand-grades does. Stops for good (CsvEdited) once
        the file is found changed since the app wrote it: a person edited it, and overwriting would lose that."""
        path = self.out / HAND_FILE
        found = _digest(path)
        if self.csv_edited or (found is not None and found != self._csv_digest):
            if not self.csv_edited:
                self.csv_edited = (f"{path} was edited while the app runs, so the app no longer writes it, the LMS "
                                   f"files or the feedback pages (the edits are kept; every grade is still saved in "
                                   f"{DB_FILE}). Stop the app and start it again with --import {path} to take the "
                                   f"file's rows, or with --discard-csv to keep the database's")
                print(f"hand-grade: {self.csv_edited}", file=sys.stderr, flush=True)
            raise CsvEdited(self.csv_edited)
        grades = exchange.export(self.store)
        exchange.remember(self.store, grades)
        write_grades(path, grades, self.items)
        try:
            rebuild(self.out, self.rubric, times=self.times)  # refreshes the file's answer column too
        finally:
            self._csv_digest = _digest(path)

    def publish(self) -> int:
        """Ask for a rebuild; returns its number, for wait()."""
        with self._cond:
            self._wanted += 1
            self.status = "updating files"
            self._cond.notify_all()
            return self._wanted

    def wait(self, number: int, timeout: float = 120.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._done >= number, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._wanted > self._done or self._stopping)
                if self._wanted <= self._done:
                    return
                number = self._wanted  # every change asked for so far is in this one rebuild
            status = self._rebuild_status()
            with self._cond:
                self._done = number
                self.status = status if self._wanted == number else "updating files"
                self._cond.notify_all()

    def _rebuild_status(self) -> str:
        try:
            self.rebuild()
            return "files up to date"
        except CsvEdited as exc:
            return str(exc)
        except GraderError as exc:
            return f"could not update the files: {exc}"
        except Exception as exc:  # noqa: BLE001 - the grades are safe in the database; say why the files are not
            traceback.print_exc()
            return f"could not update the files: {type(exc).__name__}: {exc}"

    def close(self) -> None:
        """Finish the last rebuild asked for, then let go of the batch."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=300)
        self.store.close()
        os.close(self.lock)
