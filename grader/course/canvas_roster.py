"""A Canvas gradebook export given as the class roster (`--roster`): who each student is in Canvas.

In: the CSV that Canvas's *Grades > Export > Export Entire Gradebook* writes (columns Student, ID, SIS User ID,
SIS Login ID, optionally Integration ID, Section, then one column per assignment; a "Points Possible" row and
Canvas's test student may come first). Out: for each student of the batch, the Canvas person it is, so the import
file carries their Canvas name, user id, SIS ids and section even when the file name gave no user id (a folder per
student, plain names). A student is matched by the user id from the file name first, else by a unique match of
the student id against the login, the SIS user id or the name ("Doe, Jane" as doejane or janedoe).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from grader.errors import ConfigError

REQUIRED = ("Student", "ID")
TEST_STUDENT = "Student, Test"  # the test student Canvas adds to every course


@dataclass(frozen=True)
class Person:
    """One student row of the Canvas gradebook export."""

    name: str
    id: str
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def read_roster(path: Path) -> list[Person]:
    """The students of a Canvas gradebook export; a file that is not one raises ConfigError saying why."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"--roster {path}: cannot be read as a CSV file ({exc})") from None
    if not rows or any(col not in rows[0] for col in REQUIRED):
        raise ConfigError(f"--roster {path}: not a Canvas gradebook export (it needs the columns "
                          f"{', '.join(REQUIRED)}; export it from Grades > Export > Export Entire Gradebook)")
    people = []
    for row in rows:
        name, uid = (row.get("Student") or "").strip(), (row.get("ID") or "").strip()
        if not uid.isdigit() or name == TEST_STUDENT:  # the Points Possible row, blank lines, the test student
            continue
        people.append(Person(name, uid, (row.get("SIS User ID") or "").strip(),
                             (row.get("SIS Login ID") or "").strip(), (row.get("Section") or "").strip()))
    return people


def _keys(person: Person) -> set[str]:
    """The ways a file or folder name may spell this person."""
    last, _, first = person.name.partition(",")
    keys = {_key(person.sis_login_id), _key(person.sis_login_id.split("@")[0]), _key(person.sis_user_id),
            _key(last + first), _key(first + last), _key(person.name)}
    return {k for k in keys if k}


@dataclass(frozen=True)
class Matched:
    """Who each student is in Canvas, and the students it could not tell (with the reason)."""

    people: dict[str, Person]
    unmatched: dict[str, str]


def match(students: dict[str, str], people: list[Person]) -> Matched:
    """students: student id -> Canvas user id from the file name ("" when none). A name that fits two people
    matches neither: a wrong match would put one student's grade on another's row."""
    by_id = {p.id: p for p in people}
    by_key: dict[str, list[Person]] = {}
    for person in people:
        for key in _keys(person):
            by_key.setdefault(key, []).append(person)
    found, unmatched = {}, {}
    for student, user_id in sorted(students.items()):
        if user_id:
            if user_id in by_id:
                found[student] = by_id[user_id]
            else:
                unmatched[student] = f"user id {user_id} is not in the roster"
            continue
        fits = by_key.get(_key(student), [])
        if len(fits) == 1:
            found[student] = fits[0]
        else:
            unmatched[student] = ("fits several people in the roster: " + ", ".join(p.name for p in fits)) if fits \
                else "no name, login or SIS id in the roster fits it"
    return Matched(found, unmatched)
