"""Grade one submission: extract, start the sandbox, run the grading suite against it, build a GradeReport."""

from __future__ import annotations

import hashlib
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from grader import __version__
from grader.sandbox.client import open_submission
from grader.grading import assignment
from grader.errors import ConfigError, GraderError, SandboxError, SubmissionError
from grader.notebook import clean, imports
from grader.notebook.extract import Submission, read_submission
from grader.grading.pytest_run import run_pytest
from grader.grading.results import FunctionCode, GradeReport, Status, TestResult
from grader.notebook.manual import ManualItem
from grader.grading.rubric import Rubric, load_rubric

if TYPE_CHECKING:
    from grader.grading.plugin import GradingPlugin

def _file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def manual_items(submission: Submission, rubric: Rubric | None = None) -> tuple[ManualItem, ...]:
    """The hand-graded answers, for TAs: by cell metadata, else by the skeleton's prompt; missing ones flagged."""
    from grader.notebook.manual import manual_answers, skeleton_prompts

    skeleton = assignment.load(rubric.assignment if rubric else assignment.DEFAULT).SKELETON
    return manual_answers(submission, skeleton_prompts(skeleton))


def error_report(path: Path, student: str, reason: str) -> GradeReport:
    """Score 0 with the reason: for a submission that could not be graded at all."""
    return GradeReport(student=clean.file_name(student), submission=clean.file_name(path.name),
                       sha256=_file_sha256(path), status=Status.ERROR, score=0.0, max_score=0.0,
                       reason=clean.valid_text(reason), grader_version=__version__)


def grade_safely(path: str | Path, *, rubric: Rubric, sandbox: str = "auto", student: str | None = None,
                 public_only: bool = False, plugins: Sequence[object] = ()) -> tuple[GradeReport, bool]:
    """The stage boundary of one grading: whatever the file holds, a report comes back (status "error" with the
    reason when grading broke down). The flag is False when the grader itself failed, so a rerun should retry."""
    path = Path(path)
    try:
        report = grade_submission(path, rubric=rubric, sandbox=sandbox, student=student, public_only=public_only,
                                  plugins=plugins)
        return report, True
    except (ConfigError, SandboxError):
        raise  # the rubric or this machine, before any student code ran: the CLI reports it and exits non-zero
    except Exception as exc:  # noqa: BLE001 - a submission must never stop the grader from writing a result
        return failure_report(path, student or path.stem, exc), False


def failure_report(path: Path, student: str, exc: Exception) -> GradeReport:
    """Score 0 for a grading the grader could not finish (not the student's fault): a GraderError in its own words,
    anything else as a bug, with its traceback on stderr."""
    if isinstance(exc, GraderError):
        return error_report(path, student, f"the grader failed: {exc}")
    traceback.print_exc()
    return error_report(path, student, f"the grader failed with {type(exc).__name__}: {exc}")


def run_suite(plugin: "GradingPlugin", *extra: object) -> None:
    """Run the grading suite in-process; pytest's own output is kept and shown only if pytest itself failed.
    extra: more plugin objects to register."""
    import grader.grading.plugin  # noqa: PLC0415

    suite = str(assignment.load(plugin.rubric.assignment).SUITE_DIR)
    run = run_pytest([suite], suite, plugins=[plugin, grader.grading.plugin, *extra])
    if not run.ran:
        raise GraderError(f"the grading suite could not run (pytest exit code {run.code}):\n{run.tail()}")


def source_notes(submission: Submission, rubric: Rubric) -> list[str]:
    """Notes read from the code without running it, for the top of the results: imports outside the allowed
    packages, and required names missing while a close one is defined."""
    sources = [cell.source for cell in submission.cells]
    outside = imports.outside_imports(sources, rubric.packages)
    note = imports.imports_message(outside, rubric.packages)
    return ([note] if note else []) + assignment.load(rubric.assignment).source_notes(sources)


MAX_CODE_CHARS = 6000  # one function's code on the feedback page; a longer one is cut with a note


def lost_code(submission: Submission, tests: tuple[TestResult, ...], task) -> tuple[FunctionCode, ...]:
    """The student's code of every function the areas that lost points call (the assignment's AREA_FUNCTIONS)."""
    from grader.notebook.definitions import function_source  # noqa: PLC0415

    lost = dict.fromkeys(t.area for t in tests if t.score < t.max_score)
    cells = [(cell.index, cell.source) for cell in submission.cells]
    out = []
    for area in lost:
        for name in getattr(task, "AREA_FUNCTIONS", {}).get(area, ()):
            found = function_source(cells, name)
            if found is not None:
                out.append(FunctionCode(area, name, clean.excerpt(found.code, MAX_CODE_CHARS), found.cell_index))
    return tuple(out)


def _notes(live, plugin: "GradingPlugin", submission: Submission) -> tuple[str, ...]:
    notes = [*source_notes(submission, plugin.rubric), *plugin.notes, *submission.notes]
    if not live.isolated:
        notes.insert(0, "WARNING: this submission ran WITHOUT the bubblewrap sandbox (--sandbox none): "
                        "it was not isolated from this machine")
    if plugin.restarts:
        notes.append(f"the notebook's process died during grading and was restarted "
                     f"{'once' if plugin.restarts == 1 else f'{plugin.restarts} times'}")
    if live.remaining() <= 0:
        notes.append(f"the grading time limit of {plugin.rubric.limits.grading_seconds:g} s was used up; the tests "
                     "not run by then count as failed")
    if plugin.model is not None:
        n = plugin.model.attempts_used
        notes.append(f"for the accuracy tests the grader trained your model {'once' if n == 1 else f'{n} times'}"
                     + ("" if n == 1 else " (seeded attempts; the best one counts)"))
    return tuple(notes)


def grade_submission(path: str | Path, *, rubric: Rubric | None = None, sandbox: str = "auto",
                     student: str | None = None, public_only: bool = False,
                     plugins: Sequence[object] = ()) -> GradeReport:
    """Grade one notebook or script. A submission that cannot be read gets status "error" and score 0.
    plugins: more pytest plugins for the suite's run (the report's PrewarmPictures, say)."""
    started, path = time.monotonic(), Path(path)
    rubric = rubric or load_rubric()
    name = clean.file_name(student or path.stem)
    deadline = started + rubric.limits.grading_seconds
    try:
        submission = read_submission(path)
    except SubmissionError as exc:
        return error_report(path, name, str(exc))
    task = assignment.load(rubric.assignment)
    hidden = None if public_only else task.hidden_set(rubric)
    with open_submission(submission, rubric.limits, sandbox=sandbox, data_files=dict(task.DATA_FILES),
                         deadline=deadline, standins_file=assignment.worker_standins(task)) as live:
        from grader.grading.plugin import GradingPlugin  # noqa: PLC0415 - pytest loads after the sandbox has started

        plugin = GradingPlugin(live, rubric, public_only=public_only, public_data=task.public_data(), hidden_data=hidden)
        run_suite(plugin, *plugins)
        notebook, mode, notes = live.notebook, live.mode, _notes(live, plugin, submission)
        confinement = live.confinement
    tests: tuple[TestResult, ...] = tuple(plugin.results)
    return GradeReport(
        student=name, submission=clean.file_name(path.name), sha256=submission.sha256, confinement=confinement,
        status=Status.TIMEOUT if notebook.timed_out else Status.GRADED,
        score=sum(t.score for t in tests), max_score=sum(t.max_score for t in tests), tests=tests,
        notebook=notebook, manual=manual_items(submission, rubric), sandbox_mode=mode, grader_version=__version__,
        execution_time=round(time.monotonic() - started, 3), notes=notes, model=plugin.model,
        code=lost_code(submission, tests, task),
        reason="the notebook ran past its time limit; the tests ran on what it had defined" if notebook.timed_out else "")
