"""The course step, after a batch and on `merge-hand-grades`: rows + hand grades + late policy -> the LMS files,
a grade section in each student's feedback pages, and a section of summary.md.

In: the gradebook rows (.batch/state.jsonl), what the batch read from each file name (.batch/roster.json), the
rubric's [manual], [late] and [lms] tables, hand_grades.csv, an optional times file and an optional Canvas gradebook
export as the roster. Out: canvas_import.csv, canvas_feedback.zip, grades.csv, gradebook_detail.csv,
hand_grades.csv (created or extended), and the sections named above.

finish() is the one rebuild path: grade-all calls it after a batch, merge-hand-grades after a hand grades file
changed, and anything else that changes hand grades should call it too, so the LMS files and pages never disagree.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from grader.course import canvas_feedback, lms
from grader.course.canvas_roster import Person, match, read_roster
from grader.course.book import PENDING, Row, State
from grader.wording import LMS_HEADING, NOT_GRADED, points
from grader.files import write_text
from grader.course.handgrades import FILE as HAND_FILE, Item, read_hand_grades, write_template
from grader.course.late import LatePolicy, SubmittedAt, assess, file_time, parse_late, read_times
from grader.errors import ConfigError
from grader.grading.rubric import Rubric
from grader.report.feedback import STUDENT_PAGE, TA_PAGE

DEFAULT_MANUAL_POINTS = 10.0
ROSTER = Path(".batch") / "roster.json"
TIMES = Path(".batch") / "times.csv"
CANVAS_ROSTER = Path(".batch") / "canvas_roster.csv"
BEGIN, END = "<!-- course:begin -->", "<!-- course:end -->"
FOUND = {"metadata": "found", "prompt": "found by its prompt (cell lost its marking)",
         "heading": "found under its heading (cell lost its marking)", "missing": "MISSING"}


@dataclass(frozen=True)
class Settings:
    """The rubric's course tables, validated: hand-graded items, late policy, LMS assignment column."""

    items: tuple[Item, ...]
    late: LatePolicy
    assignment: str


@dataclass(frozen=True)
class Entry:
    """What the batch read from one student's file name and file: for the LMS and the late policy."""

    student: str
    file: str
    user_id: str = ""
    marked_late: bool = False
    mtime: float = 0.0
    attachment_id: str = ""
    anonymous_id: str = ""


def _manual(table: dict, prompts: tuple, source: str) -> tuple[Item, ...]:
    ids = [p.id for p in prompts]
    for key, value in table.items():
        if key not in ids:
            raise ConfigError(f"{source}: [manual] {key}: no hand-graded item has this id; the items are "
                              f"{', '.join(ids) or '(none)'}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1000:
            raise ConfigError(f"{source}: [manual] {key}: expected points from 0 to 1000, got {value!r}")
    return tuple(Item(p.id, p.title, float(table.get(p.id, DEFAULT_MANUAL_POINTS))) for p in prompts)


def settings(rubric: Rubric) -> Settings:
    """Read and check the course tables of the rubric; a bad value raises ConfigError naming it."""
    from grader.grading import assignment
    from grader.notebook.manual import skeleton_prompts

    course, source = rubric.course, rubric.source
    lms_table = course.get("lms", {})
    for key, value in lms_table.items():
        if key != "assignment" or not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{source}: [lms] {key}: the only key is assignment, the title of the LMS column")
    prompts = skeleton_prompts(assignment.load(rubric.assignment).SKELETON)
    return Settings(_manual(course.get("manual", {}), prompts, source), parse_late(course.get("late", {}), source),
                    lms_table.get("assignment", lms.DEFAULT_ASSIGNMENT).strip())


def save_roster(out: Path, entries: list[Entry]) -> None:
    write_text(out / ROSTER, json.dumps([asdict(e) for e in entries], indent=1) + "\n")


def load_roster(out: Path) -> dict[str, Entry]:
    path = out / ROSTER
    if not path.exists():
        raise ConfigError(f"{out}: no batch here ({ROSTER} is missing); run grade-all first")
    return {e["student"]: Entry(**e) for e in json.loads(path.read_text(encoding="utf-8"))}


def pending_row(entry: Entry) -> Row:
    return Row(entry.student, entry.file, "", PENDING, 0.0, 0.0, reason=NOT_GRADED)


def _kept(out: Path, given: Path | None, copy: Path, read):
    """read(the file the TA gave); a copy is kept beside the batch so a later merge reads the same file."""
    if given is not None:
        found = read(given)
        (out / copy).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(given, out / copy)
        return found
    return read(out / copy) if (out / copy).exists() else None


def _times(out: Path, times: Path | None) -> dict[str, SubmittedAt]:
    return _kept(out, times, TIMES, read_times) or {}


@dataclass(frozen=True)
class People:
    """Who each student is in Canvas (from the roster), and why some are not known (no roster: empty)."""

    known: dict[str, Person]
    unknown: dict[str, str]


def _people(out: Path, roster_csv: Path | None, roster: dict[str, "Entry"]) -> People:
    people = _kept(out, roster_csv, CANVAS_ROSTER, read_roster)
    if people is None:
        return People({}, {})
    named = {s: e for s, e in roster.items() if not e.anonymous_id}
    found = match({s: e.user_id for s, e in named.items()}, people)
    unknown = {**found.unmatched, **{s: "anonymous grading: no user id until grades are posted"
                                     for s, e in roster.items() if e.anonymous_id}}
    return People(found.people, unknown)


def _answers(row: Row, items: tuple[Item, ...]) -> dict[str, str]:
    found = dict(row.manual)
    if row.status == PENDING:
        return {i.id: NOT_GRADED for i in items}
    return {i.id: FOUND.get(found.get(i.id, "missing"), "") if found or row.tests else "submission not readable"
            for i in items}


@dataclass(frozen=True)
class Course:
    finals: tuple[lms.Final, ...]
    possible: float
    written: tuple[Path, ...]


def finish(out: Path, rows: dict[str, Row], roster: dict[str, Entry], config: Settings, areas: tuple[str, ...], *,
           times: Path | None = None, automatic_max: float = 0.0, canvas_roster: Path | None = None) -> Course:
    """Write everything the course step makes. A bad hand grades or roster file raises before any write.

    canvas_roster: a Canvas gradebook export naming the class (kept in .batch/, so a later call may omit it)."""
    rows = {**{s: pending_row(e) for s, e in roster.items()}, **{s: r for s, r in rows.items() if s in roster}}
    given = _times(out, times)
    people = _people(out, canvas_roster, roster)
    hand_path = out / HAND_FILE
    hand = read_hand_grades(hand_path, set(rows), config.items)
    write_template(hand_path, {s: _answers(r, config.items) for s, r in rows.items()}, config.items)
    top = max((r.max_score for r in rows.values() if r.tests), default=automatic_max)
    finals = []
    for student, row in sorted(rows.items()):
        entry = roster[student]
        grades = hand.get(student, {})
        score = row.score + sum(g.points for g in grades.values() if g.points is not None)
        late = assess(config.late, marked=entry.marked_late, file_time=file_time(entry.mtime) if entry.mtime else None,
                      given=given.get(student), score=score)
        finals.append(lms.Final(row, entry.user_id, config.items, grades, late, people.known.get(student)))
    possible = lms.points_possible(top, config.items)
    written = (write_text(out / lms.CANVAS_FILE, lms.canvas_csv(finals, config.assignment, possible)),
               write_text(out / lms.GENERIC_FILE, lms.generic_csv(finals, possible)),
               write_text(out / lms.DETAIL_FILE, lms.detail_csv(finals, areas, config.items, possible)),
               hand_path)
    for final in finals:
        _update_pages(out / final.row.student, final, possible)
    left_out = canvas_feedback.write_zip(out, [canvas_feedback.Member(e.student, e.user_id, e.attachment_id,
                                                                      bool(e.anonymous_id)) for e in roster.values()])
    if (out / canvas_feedback.FILE).exists():
        written += (out / canvas_feedback.FILE,)
    splice_summary(out / "summary.md", "course", summary_lines(finals, possible, config, people, left_out))
    return Course(tuple(finals), possible, written)


def rebuild(out: Path, rubric: Rubric, *, times: Path | None = None, canvas_roster: Path | None = None) -> Course:
    """merge-hand-grades as a function: re-read the batch in `out` (rows, file names, hand_grades.csv) and rewrite
    every LMS file, the feedback zip and the grade section of each page. Raises HandGradesError on a bad row."""
    roster = load_roster(out)  # first: a folder that holds no batch gets no .batch/ made in it
    rows = State(out / ".batch" / "state.jsonl").load()
    return finish(out, rows, roster, settings(rubric), rubric.areas, times=times, canvas_roster=canvas_roster)


def splice(text: str, section: str, name: str, before: str) -> str:
    """`text` with the named section replaced in place, or else inserted before `before` (or at the end)."""
    begin, end = BEGIN.replace("course", name), END.replace("course", name)
    block = f"{begin}{section}{end}"
    old = re.search(re.escape(begin) + ".*?" + re.escape(end), text, flags=re.S)
    if old:
        return text[:old.start()] + block + text[old.end():]
    at = text.rfind(before) if before else -1
    return text[:at] + block + text[at:] if at >= 0 else text.rstrip("\n") + "\n\n" + block + "\n"


def splice_summary(path: Path, name: str, lines: list[str]) -> None:
    if path.exists():
        write_text(path, splice(path.read_text(encoding="utf-8"), "\n" + "\n".join(lines) + "\n", name, ""))


def _update_pages(folder: Path, final: lms.Final, possible: float) -> None:
    from grader.course.page import grade_section  # noqa: PLC0415

    for page in (STUDENT_PAGE, TA_PAGE):
        path = folder / page
        if path.exists():
            html = path.read_text(encoding="utf-8")
            write_text(path, splice(html, grade_section(final, possible), "course", '<p class="meta">grader'))


def summary_lines(finals: list[lms.Final], possible: float, config: Settings, people: People | None = None,
                  left_out: dict[str, str] | None = None) -> list[str]:
    """The course section of summary.md: the LMS files, who Canvas cannot match, hand grading, missing answers,
    late and pending."""
    people, left_out = people or People({}, {}), left_out or {}
    graded = [f for f in finals if not f.pending]
    open_items = sum(len(f.hand_open) for f in graded)
    lines = [LMS_HEADING, "",
             f"- `{lms.CANVAS_FILE}`: import into Canvas as it is (Grades > Import); column "
             f"\"{config.assignment}\", {points(possible)} points possible (automatic + hand-graded). Set the Canvas "
             f"assignment's Points Possible to {points(possible)} first: the import does not change it. Students "
             "not graded yet have no row, so Canvas keeps what they have.",
             f"- `{canvas_feedback.FILE}`: "
             + (f"{len(finals) - len(left_out)} feedback pages; upload it with the assignment's Re-upload "
                "submissions to attach each page as a comment for its student." if len(left_out) < len(finals)
                else "not written: no student has a Canvas user id and attachment id in the file name."),
             f"- `{lms.DETAIL_FILE}`: every part of every total: areas, tests, hand grades, late penalty.",
             f"- `{lms.GENERIC_FILE}`: one row per student, for other LMSs and spreadsheets.",
             f"- `{HAND_FILE}`: {open_items} of {len(graded) * len(config.items)} hand grades still to enter; then run "
             "`python -m grader merge-hand-grades --out <this folder>`.",
             f"- Late policy: {config.late.describe()}."]
    lines += _unmatched_lines(finals, people, left_out)
    missing = [(f.row.student, item) for f in graded for item in f.row.manual_missing]
    if missing:
        lines += ["", "### Hand-graded answers missing", "", "| student | item |", "|---|---|"]
        lines += [f"| {s} | {i} |" for s, i in missing]
    late = [f for f in finals if f.lateness.late]
    if late:
        lines += ["", "### Late submissions", "", "| student | penalty | why |", "|---|---:|---|"]
        lines += [f"| {f.row.student} | {'all (score 0)' if f.lateness.zeroed else points(f.lateness.penalty)} | "
                  f"{f.lateness.note.replace('|', '/')} |" for f in late]
    pending = [f.row.student for f in finals if f.pending]
    if pending:
        lines += ["", "### Pending (not graded yet)", "", ", ".join(pending)]
    return lines


def _unmatched_lines(finals: list[lms.Final], people: People, left_out: dict[str, str]) -> list[str]:
    """The students Canvas will not match: no user id for the import, or no ids for the feedback zip."""
    rows = []
    for f in finals:
        student = f.row.student
        why_import = "" if f.canvas_id or f.pending else people.unknown.get(
            student, "no Canvas user id in the file name; give the gradebook export with --roster")
        why_zip = left_out.get(student, "")
        if why_import or why_zip:
            rows.append(f"| {student} | {why_import or 'matched'} | {why_zip or 'in the zip'} |")
    if not rows:
        return []
    return ["", "### Not matched in Canvas", "", "Give these students their feedback page by hand, and enter the "
            "grades of those without an import row in Canvas yourself.", "",
            "| student | canvas_import.csv | canvas_feedback.zip |", "|---|---|---|", *rows]
