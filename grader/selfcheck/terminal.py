"""The self-check from a terminal, on the saved notebook: a fresh run from top to bottom, then the public tests.

The one terminal check: `python -m grader check`, the kit's `python check.py` and `backprop-check` all run main()
and print the same CheckReport text (grader/selfcheck/summary.py). On Linux it runs in the grader's sandbox (bubblewrap, or a plain process with a warning where that cannot run).
Elsewhere it runs in a plain subprocess (grader/selfcheck/fresh.py), with a one-line note: isolation protects a
grader from a stranger's code, not a student from their own.
Exit code: 0 when every public test passes, 1 when some fail, 2 when the check itself could not run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import grader
from grader.errors import GraderError
from grader.sandbox.outcomes import CellOutcome, CellStatus
from grader.selfcheck.summary import CheckReport
from grader.grading.results import Status
from grader.wording import cell_failure

NOT_SANDBOXED = ("note: no sandbox on this system ({platform}): your notebook runs in a plain Python process, "
                 "which is fine for your own code")


DESCRIPTION = "Run the public tests on your saved notebook (.ipynb) or script (.py), from a fresh top-to-bottom run."
EPILOG = ("Only the public tests run; grading also runs hidden tests on data you never see. Exit code 0 when every "
          "public test passes, 1 when some fail, 2 when the check itself could not run.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The check's arguments, for its own parser and for `python -m grader check`."""
    p.add_argument("notebook", type=Path, nargs="?", default=Path("backprop.ipynb"),
                   help="your notebook or script (default: backprop.ipynb in this folder)")
    p.add_argument("--list", action="store_true", help="also list every public test with PASS or FAIL")
    p.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto",
                   help="Linux only: auto (default) isolates with bubblewrap where this computer allows it")
    p.epilog = EPILOG


def parser(prog: str = "python check.py") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(p)
    return p


def cell_notes(cells: Sequence[CellOutcome], timed_out: bool = False) -> list[str]:
    """One line per cell that failed while the notebook ran (the tests then ran on what it had defined)."""
    notes = ["your notebook hit its overall time limit; the tests ran on what it had defined by then"] if timed_out \
        else []
    for cell in cells:
        if cell.status != CellStatus.OK:
            what = cell_failure(cell.status, f"{cell.error_type}: {cell.message}")
            notes.append(f"while your notebook ran, cell [{cell.index}] {what}")
    return notes


def show(report: CheckReport, listing: bool) -> int:
    if listing:
        print("\n".join(f"{'PASS' if t.passed else 'FAIL'}  {t.name}" for t in report.tests), end="\n\n")
    print(report.text())
    return 0 if report.passed else 1


def sandboxed(path: Path, sandbox: str) -> CheckReport:
    """The grader's own sandboxed run with only the public tests (Linux)."""
    from grader.grading.grade import grade_submission  # noqa: PLC0415 - Linux-only: the sandbox imports fcntl

    report = grade_submission(path, sandbox=sandbox, public_only=True)
    if report.status == Status.ERROR:
        raise GraderError(f"{report.submission}: could not be checked: {report.reason}")
    run = report.notebook
    notes = [*report.notes, *cell_notes(run.cells if run else (), bool(run and run.timed_out))]
    return CheckReport(report.submission, tuple(report.tests), tuple(notes))


PACKAGE_ROOT = Path(grader.__file__).resolve().parent.parent  # where the child imports this same grader from


def run_fresh(path: Path, listing: bool) -> int:
    """Run the check in a child process (its output goes straight to this terminal); returns its exit code."""
    if not path.is_file():
        print(f"check: no such file: {path}", file=sys.stderr)
        return 2
    from grader.grading import assignment  # noqa: PLC0415
    from grader.grading.rubric import load_rubric  # noqa: PLC0415

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory(prefix="backprop-check-") as folder:
        for name, source in assignment.load(load_rubric().assignment).DATA_FILES.items():
            shutil.copy(source, Path(folder) / name)
        command = [sys.executable, "-m", "grader.selfcheck.fresh", str(path.resolve()), *(["--list"] * listing)]
        return subprocess.run(command, cwd=folder, env=env, check=False).returncode


def main(argv: Sequence[str] | None = None, prog: str = "python check.py") -> int:
    return run(parser(prog).parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """The check of args.notebook, printed; the exit code (see the module's docstring)."""
    try:
        if sys.platform.startswith("linux"):
            return show(sandboxed(args.notebook, args.sandbox), args.list)
        print(NOT_SANDBOXED.format(platform=sys.platform), flush=True)
        return run_fresh(args.notebook, args.list)
    except GraderError as exc:
        print(f"check: {exc}", file=sys.stderr)
        return 2
