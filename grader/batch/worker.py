"""The child process of a batch: grade one submission, write what single grading writes (results.json and the
feedback pages) into OUT/<student>/, and one gradebook row.

The batch forks this child from a parent that has already imported the grader (warm_up), which saves each
submission about a second of CPU. `python -m grader.batch.worker FILE --student S --file NAME --key K --out DIR
--row ROW.json [--rubric R]` runs the same task in a fresh interpreter. The row is written last and atomically:
a row file exists only for a grade that finished.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.course.answers import answers_path, save_answers
from grader.course.book import row_from_report, row_to_json
from grader.files import write_text
from grader.errors import GraderError
from grader.report.drawing import PrewarmPictures, draw_in_parallel
from grader.report.folder import write_grade


@dataclass(frozen=True)
class GradeTask:
    """One submission to grade, and where its outputs go. file: its name in the class folder or zip."""

    path: Path
    student: str
    file: str
    key: str
    out: Path
    row: Path
    rubric: Path | None = None
    sandbox: str = "auto"
    grading_seconds: float | None = None  # the batch's --timeout: the rubric's deadline for one grading, replaced

    def argv(self) -> list[str]:
        """The same task as arguments of `python -m grader.batch.worker`."""
        args = [str(self.path), "--student", self.student, "--file", self.file, "--key", self.key,
                "--out", str(self.out), "--row", str(self.row), "--sandbox", self.sandbox]
        args += ["--grading-seconds", repr(self.grading_seconds)] if self.grading_seconds is not None else []
        return args + (["--rubric", str(self.rubric)] if self.rubric else [])

    def __call__(self) -> int:
        return run_task(self)


def parse_args(argv: list[str] | None) -> GradeTask:
    parser = argparse.ArgumentParser(prog="python -m grader.batch.worker", description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--student", required=True)
    parser.add_argument("--file", required=True, help="the submission's name in the class folder or zip")
    parser.add_argument("--key", required=True, help="the rerun cache key to store in the row")
    parser.add_argument("--out", type=Path, required=True, help="the student's result folder")
    parser.add_argument("--row", type=Path, required=True, help="where to write the gradebook row (JSON)")
    parser.add_argument("--rubric", type=Path, default=None)
    parser.add_argument("--sandbox", default="auto")
    parser.add_argument("--grading-seconds", type=float, default=None)
    return GradeTask(**vars(parser.parse_args(argv)))


def _suite_modules(suite: Path) -> list[str]:
    """The dotted names pytest gives the suite's modules: the package path up to the first folder without
    __init__.py (pytest's default `prepend` import mode), so an import here is the one pytest finds later."""
    package, folder = [], suite
    while (folder / "__init__.py").exists():
        package.insert(0, folder.name)
        folder = folder.parent
    return [".".join([*package, path.stem]) for path in sorted(suite.glob("test_*.py"))]


def _load_lazy_imports() -> None:
    """What a grade imports only once it runs: nbformat's reader and validator, and pytest's own plugins (loaded
    by an empty pytest run with the grading arguments)."""
    import nbformat

    from grader.grading.pytest_run import run_pytest

    nbformat.reads('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', as_version=4)
    with tempfile.TemporaryDirectory(prefix="grader-warm-") as empty:
        run_pytest([empty], empty)


def warm_up(rubric_path: Path | None, sandbox: str = "auto") -> None:
    """Do once, in the parent, what every grade needs, so each forked child starts warm: import the grader, pytest,
    the grading suite (with the oracles' libraries) and the pictures' libraries, load the data, probe bubblewrap.
    Then freeze the heap: the children's garbage collector skips it, and its pages stay shared. The collector is
    off meanwhile: loading creates many lasting objects and little garbage, and one collection at the end is enough."""
    gc.disable()
    try:
        _warm_up(rubric_path, sandbox)
    finally:
        gc.enable()
    gc.collect()
    gc.freeze()


def _warm_up(rubric_path: Path | None, sandbox: str) -> None:
    import importlib

    import pytest  # noqa: F401

    from grader.grading import assignment, grade, plugin  # noqa: F401
    from grader.grading.rubric import load_rubric
    from grader.report import feedback  # noqa: F401
    from grader.report.drawing import import_picture_modules
    from grader.sandbox.bwrap import available_mode

    rubric = load_rubric(rubric_path)
    task = assignment.load(rubric.assignment)
    task.public_data()
    for name in _suite_modules(task.SUITE_DIR):
        importlib.import_module(name)
    import_picture_modules()
    _load_lazy_imports()
    from grader.notebook.manual import skeleton_prompts
    from grader.report.math import latex_to_mathml

    skeleton_prompts(task.SKELETON)  # cached: every child reads the same prompts
    latex_to_mathml("x")  # imports the converter the TA page's formulas need
    if sandbox != "none":
        with contextlib.suppress(GraderError):  # each child then reports it in its own row, as without warm-up
            available_mode(sandbox)  # the probe's answer is cached, so the children inherit it


def _one_blas_thread() -> None:
    """The batch runs one process per core; a child forked after numpy was imported ignores OMP_NUM_THREADS."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(1)


def run_task(task: GradeTask) -> int:
    """Grade, write the outputs, then the row. A grader failure is an error row that a rerun will retry."""
    from grader.grading.grade import failure_report, grade_submission
    from grader.grading.rubric import load_rubric, with_grading_seconds

    _one_blas_thread()
    draw_in_parallel(False)  # the batch runs a grade per core already
    rubric = with_grading_seconds(load_rubric(task.rubric), task.grading_seconds)
    cacheable = True
    try:
        report = grade_submission(task.path, rubric=rubric, sandbox=task.sandbox, student=task.student,
                                  plugins=(PrewarmPictures(),))
    except Exception as exc:  # noqa: BLE001 - the grader failed (sandbox, suite, a bug): one row, retried next run
        report, cacheable = failure_report(task.path, task.student, exc), False
    write_grade(report, task.out, rubric)  # what single grading writes, with its policy when a page fails
    save_answers(answers_path(task.out), report.manual)  # for `hand-grade`
    row = row_from_report(report, file=task.file, key=task.key, cacheable=cacheable)
    write_text(task.row, row_to_json(row) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_task(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
