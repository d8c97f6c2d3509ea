"""The gradebook: one small Row per student, kept on disk as it arrives (state.jsonl) and written as gradebook.csv.

The parent of a batch holds only these rows, never whole reports, so its memory stays flat as the class grows.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from grader.grading.results import Status, GradeReport
from grader.notebook.clean import clean_tree
from grader.wording import points

STATUSES = tuple(Status)  # a graded row's status is its grade's
PENDING = "pending"  # a roster entry with no graded row yet, in the course's files only
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Row:
    """One student's line in the gradebook, plus what the summary and the rerun cache need.

    areas: (area, score, max) per rubric area that had tests. tests and failed: test names (failed is a subset).
    key: the cache key (submission sha256, grader version, rubric fingerprint). cacheable is False when the
    grader itself failed, so a rerun tries again. test_points: (test, score, max) per test. manual: (item id, how its
    answer was found) per hand-graded item; "missing" flags an answer that is not there.
    """

    student: str
    file: str
    sha256: str
    status: str
    score: float
    max_score: float
    areas: tuple[tuple[str, float, float], ...] = ()
    tests: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    reason: str = ""
    seconds: float = 0.0
    key: str = ""
    cacheable: bool = True
    test_points: tuple[tuple[str, float, float], ...] = ()
    manual: tuple[tuple[str, str], ...] = ()

    @property
    def manual_missing(self) -> tuple[str, ...]:
        return tuple(item for item, found in self.manual if found == "missing")

    def area_score(self, area: str) -> float:
        return next((score for name, score, _ in self.areas if name == area), 0.0)


def row_from_report(report: GradeReport, *, file: str, key: str, cacheable: bool = True) -> Row:
    """The gradebook row of a finished report."""
    areas = tuple((a, s, m) for a, (s, m) in report.area_scores().items())
    return Row(student=report.student, file=file, sha256=report.sha256, status=report.status,
               score=report.score, max_score=report.max_score, areas=areas,
               tests=tuple(t.name for t in report.tests), failed=tuple(t.name for t in report.tests if not t.passed),
               reason=report.reason, seconds=report.execution_time, key=key, cacheable=cacheable,
               test_points=tuple((t.name, t.score, t.max_score) for t in report.tests),
               manual=tuple((m.id, m.found) for m in report.manual))


def row_to_json(row: Row) -> str:
    return json.dumps(asdict(row), separators=(",", ":"))


def row_from_json(text: str) -> Row:
    """A row written by row_to_json; test names are interned so a thousand rows share one copy of each."""
    data = clean_tree(json.loads(text))  # a row cached by an older grader may hold names that are not valid text
    data["areas"] = tuple((str(a), float(s), float(m)) for a, s, m in data.get("areas", ()))
    data["tests"] = tuple(sys.intern(str(t)) for t in data.get("tests", ()))
    data["failed"] = tuple(sys.intern(str(t)) for t in data.get("failed", ()))
    data["test_points"] = tuple((sys.intern(str(t)), float(s), float(m)) for t, s, m in data.get("test_points", ()))
    data["manual"] = tuple((str(i), str(f)) for i, f in data.get("manual", ()))
    if data.get("status") not in STATUSES:
        raise ValueError(f"unknown status {data.get('status')!r}")
    return Row(**data)


class State:
    """state.jsonl: every finished row is appended and synced at once, so Ctrl-C or a crash loses nothing done."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def load(self) -> dict[str, Row]:
        """The latest row per student; a torn or foreign line (say, from a crash mid-write) is ignored."""
        rows: dict[str, Row] = {}
        if not self.path.exists():
            return rows
        with open(self.path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    row = row_from_json(line)
                except (ValueError, TypeError, KeyError, RecursionError):
                    continue
                rows[row.student] = row
        return rows

    def append(self, row: Row) -> None:
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(row_to_json(row) + "\n")
            f.flush()
            os.fsync(f.fileno())


def cell(text: str) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (file names come from students)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def gradebook_csv(rows: list[Row], areas: tuple[str, ...]) -> str:
    """student, file, total, one column per rubric area, status, sha256; sorted by student."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["student", "file", "total", *areas, "status", "sha256"])
    for row in sorted(rows, key=lambda r: r.student):
        writer.writerow([cell(row.student), cell(row.file), points(row.score),
                         *(points(row.area_score(a)) for a in areas), row.status, row.sha256])
    return buf.getvalue()
