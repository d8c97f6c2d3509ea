"""What a rerun of a batch must respect: `--only` regrades the named students and keeps every other row, and a rubric
edit that changes the maximum stops the batch until `--force` says to regrade everyone under the new one."""

from __future__ import annotations

import difflib
from pathlib import Path

from grader.course.book import Row, State
from grader.wording import points
from grader.batch.inputs import Roster
from grader.errors import ConfigError
from grader.grading.rubric import Rubric
from grader.report.feedback import STUDENT_PAGE, TA_PAGE


def check_only(roster: Roster, only: tuple[str, ...], source: Path) -> None:
    """Every name given to --only must be a student of the class."""
    known = {f.student for f in roster.files}
    for name in only:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"--only {name}: no such student in {source}{hint}")


def previous_rows(out: Path) -> dict[str, Row]:
    return State(out / ".batch" / "state.jsonl").load()


POINTS_COPY = Path(".batch") / "points.json"  # what decides the maximum; never the whole rubric, which holds the secret


def check_maximum(out: Path, rubric: Rubric, force: bool) -> None:
    """Refuse to mix maxima: when the rubric's points changed since the last batch in `out` and its maximum with
    them, say both and ask for --force (which regrades everyone). Then keep this rubric's points for the next run."""
    import json  # noqa: PLC0415
    from dataclasses import replace  # noqa: PLC0415

    from grader.files import write_text  # noqa: PLC0415

    mine = {"assignment": rubric.assignment, "points": rubric.points}
    copy = out / POINTS_COPY
    old = json.loads(copy.read_text(encoding="utf-8")) if copy.exists() else None
    if not force and old is not None and old != mine and previous_rows(out):
        from grader.grading.maxima import automatic_max  # noqa: PLC0415 - collects the suite: only when it matters

        try:
            before = automatic_max(replace(rubric, assignment=old["assignment"], points=old["points"]))
        except (ConfigError, KeyError, TypeError):
            before = None  # the old points no longer fit the suite: nothing to compare with
        now = automatic_max(rubric)
        if before is not None and abs(now - before) > 1e-9:
            raise ConfigError(f"the rubric's maximum changed from {points(before)} to {points(now)} points "
                              f"({rubric.source}); the gradebook in {out} was graded out of {points(before)}. Run "
                              "again with --force to regrade every student under the new rubric")
    write_text(copy, json.dumps(mine, indent=1) + "\n")


def log_row(log: Path, row: Row) -> None:
    """Append what a TA needs to the student's log: the outcome, the reason and where the results are."""
    lines = [f"student: {row.student}", f"file:    {row.file}", f"sha256:  {row.sha256}",
             f"status:  {row.status}, {points(row.score)}/{points(row.max_score)} in {row.seconds:.1f} s"]
    if row.reason:
        lines.append(f"reason:  {row.reason}")
    if row.failed:
        lines.append(f"failed:  {'; '.join(row.failed)}")
    if row.manual_missing:
        lines.append(f"hand-graded answers missing: {', '.join(row.manual_missing)}")
    lines.append(f"results: {row.student}/results.json, {row.student}/{STUDENT_PAGE}, {row.student}/{TA_PAGE}")
    try:
        with open(log, "a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
    except OSError:
        pass  # the log is a convenience; the row is already saved
