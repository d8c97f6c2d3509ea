"""The steps that follow the grading of a batch: the similarity report and the course step (LMS files, hand grades,
late policy). Each writes its own section of summary.md; neither can fail the batch's grades."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from grader.batch import course as course_step
from grader.batch.book import Row
from grader.batch.handgrades import HandGradesError
from grader.batch.inputs import Roster
from grader.grading.rubric import Rubric

settings = course_step.settings


def similarity(roster: Roster, rows: dict[str, Row], rubric: Rubric, out: Path) -> list[str]:
    """Compare the class's code (while the submissions are still unpacked); the summary.md lines."""
    from grader.batch.similarity import compare_class, parse_threshold, summary_lines
    from grader.grading import assignment

    threshold = parse_threshold(rubric.course.get("similarity", {}), rubric.source)
    try:
        import copydetect  # noqa: F401,PLC0415
    except ImportError:
        return ["", "## Similar submissions", "", "Not computed: copydetect is not installed "
                "(`pip install -e '.[course]'`, which `make` does)."]
    files = {f.student: f.path for f in roster.files}
    hashes = {s: r.sha256 for s, r in rows.items() if s in files}
    result = compare_class(files, hashes, assignment.load(rubric.assignment).SKELETON, threshold, out)
    return summary_lines(result)


def entries(roster: Roster) -> list[course_step.Entry]:
    return [course_step.Entry(f.student, f.file, f.user_id, f.late, f.mtime) for f in roster.files]


def course(out: Path, roster: Roster, rows: dict[str, Row], config: course_step.Settings, rubric: Rubric,
           similar: list[str] | None, times: Path | None, stream: TextIO) -> None:
    """Save what the file names said, run the course step, and add the similarity section to summary.md."""
    course_step.save_roster(out, entries(roster))
    try:
        course_step.finish(out, rows, {e.student: e for e in entries(roster)}, config, rubric.areas, times=times)
    except HandGradesError as exc:
        print(f"hand grades not merged: {exc}", file=stream)
        course_step.splice_summary(out / "summary.md", "course", [
            "## Grades for the LMS", "", "Not written: the hand grades file has errors. Fix it, then run "
            "`python -m grader merge-hand-grades --out <this folder>`.", "", *(f"    {line}" for line in
                                                                              str(exc).splitlines())])
    if similar is not None:
        course_step.splice_summary(out / "summary.md", "similarity", similar)
