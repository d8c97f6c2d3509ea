"""The steps that follow the grading of a batch: the similarity report and the course step (LMS files, hand grades,
late policy). Each writes its own section of summary.md; neither can fail the batch's grades."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path
from typing import TextIO

from grader.course import build as course_step
from grader.files import write_json
from grader.wording import LMS_HEADING
from grader.course.book import Row
from grader.course.handgrades import HandGradesError
from grader.batch.inputs import Roster
from grader.grading.rubric import Rubric

settings = course_step.settings


BACKGROUND_NICENESS = 10  # below the grading children within its own session; it runs only in a freed place anyway


class Background:
    """A forked child comparing the class's code in the place the last grades leave free. It writes its pages
    into `work`/similarity and its summary lines to `result`; the parent moves the pages into place once it is done."""

    def __init__(self, pid: int, work: Path) -> None:
        self.pid, self.work, self.result = pid, work, work / "lines.json"
        self.reaped = False

    def wait(self) -> int:
        """The child's exit code, once it has ended (reaped once, so a recycled pid is never touched)."""
        if self.reaped:
            return -1
        _, status = os.waitpid(self.pid, 0)
        self.reaped = True
        return os.waitstatus_to_exitcode(status)

    def stop(self) -> None:
        """End and reap the child, if it is still ours (an interrupted batch writes no similarity section)."""
        if self.reaped:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.wait()
        except ChildProcessError:
            self.reaped = True


def start_similarity(roster: Roster, hashes: dict[str, str], rubric: Rubric, work: Path) -> Background | None:
    """Fork a child that compares the class's code (the files stay unpacked until finish_similarity). It reads only
    the files, so it can start before the last grades end. None where fork is missing."""
    if not hasattr(os, "fork") or not roster.files:
        return None
    work.mkdir(parents=True, exist_ok=True)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which ends with os._exit
        code = 1
        try:
            from grader.batch.pool import die_with_parent

            die_with_parent()  # a parent killed outright takes the comparison with it
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.nice(BACKGROUND_NICENESS)
            lines = _similarity(roster, hashes, rubric, work)
            write_json(work / "lines.json", lines, indent=None, newline=False)
            code = 0
        finally:
            os._exit(code)
    return Background(pid, work)


def finish_similarity(job: Background | None, roster: Roster, rows: dict[str, Row], rubric: Rubric,
                      out: Path) -> list[str]:
    """Wait for the child and move its pages into `out`; if it failed or never ran, compare here instead."""
    from grader.course.similarity import FOLDER

    if job is not None:
        try:
            if job.wait() == 0:
                lines = json.loads(job.result.read_text(encoding="utf-8"))
                if isinstance(lines, list) and all(isinstance(x, str) for x in lines):
                    shutil.rmtree(out / FOLDER, ignore_errors=True)
                    if (job.work / FOLDER).is_dir():
                        shutil.move(str(job.work / FOLDER), str(out / FOLDER))
                    return lines
        except (ChildProcessError, OSError, ValueError):
            pass
    return similarity(roster, rows, rubric, out)


def similarity(roster: Roster, rows: dict[str, Row], rubric: Rubric, out: Path) -> list[str]:
    """Compare the class's code (while the submissions are still unpacked); the summary.md lines."""
    files = {f.student for f in roster.files}
    return _similarity(roster, {s: r.sha256 for s, r in rows.items() if s in files}, rubric, out)


def _similarity(roster: Roster, hashes: dict[str, str], rubric: Rubric, out: Path) -> list[str]:
    from grader.course.similarity import compare_class, parse_threshold, summary_lines
    from grader.grading import assignment

    threshold = parse_threshold(rubric.course.get("similarity", {}), rubric.source)
    try:
        import copydetect  # noqa: F401,PLC0415
    except ImportError:
        return ["", "## Similar submissions", "", "Not computed: copydetect is not installed "
                "(`pip install -e '.[course]'`, which `make` does)."]
    files = {f.student: f.path for f in roster.files}
    result = compare_class(files, hashes, assignment.load(rubric.assignment).SKELETON, threshold, out)
    return summary_lines(result)


def entries(roster: Roster) -> list[course_step.Entry]:
    return [course_step.Entry(f.student, f.file, f.user_id, f.late, f.mtime, f.attachment_id, f.anonymous_id)
            for f in roster.files]


def course(out: Path, roster: Roster, rows: dict[str, Row], config: course_step.Settings, rubric: Rubric,
           similar: list[str] | None, times: Path | None, stream: TextIO, canvas_roster: Path | None = None) -> None:
    """Save what the file names said, run the course step, and add the similarity section to summary.md."""
    course_step.save_roster(out, entries(roster))
    try:
        course_step.finish(out, rows, {e.student: e for e in entries(roster)}, config, rubric.areas, times=times,
                           canvas_roster=canvas_roster)
    except HandGradesError as exc:
        print(f"hand grades not merged: {exc}", file=stream)
        course_step.splice_summary(out / "summary.md", "course", [
            LMS_HEADING, "", "Not written: the hand grades file has errors. Fix it, then run "
            "`python -m grader merge-hand-grades --out <this folder>`.", "", *(f"    {line}" for line in
                                                                              str(exc).splitlines())])
    if similar is not None:
        course_step.splice_summary(out / "summary.md", "similarity", similar)
