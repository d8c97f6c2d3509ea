"""The child process of a batch: grade one submission, write what single grading writes (results.json and the
feedback pages) into OUT/<student>/, and one gradebook row.

`python -m grader.batch_worker FILE --student S --file NAME --key K --out DIR --row ROW.json [--rubric R]`.
The row is written last and atomically: a row file exists only for a grade that finished.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

from grader.batch_book import row_from_report, row_to_json, write_atomic
from grader.errors import GraderError
from grader.results import GradeReport

if TYPE_CHECKING:
    from grader.rubric import Rubric


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m grader.batch_worker", description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--student", required=True)
    parser.add_argument("--file", required=True, help="the submission's name in the class folder or zip")
    parser.add_argument("--key", required=True, help="the rerun cache key to store in the row")
    parser.add_argument("--out", type=Path, required=True, help="the student's result folder")
    parser.add_argument("--row", type=Path, required=True, help="where to write the gradebook row (JSON)")
    parser.add_argument("--rubric", type=Path, default=None)
    parser.add_argument("--sandbox", default="auto")
    return parser.parse_args(argv)


def write_outputs(report: GradeReport, out: Path, rubric: Rubric | None = None) -> None:
    """What single grading writes: results.json, then the feedback pages. A page that cannot be drawn costs the
    pages (the old ones are removed, so they cannot mislead), never the grade."""
    from grader.feedback import STUDENT_PAGE, TA_PAGE, write_feedback
    from grader.report import write_results_json

    write_results_json(report, out)
    try:
        write_feedback(report, out, rubric)
    except Exception:  # noqa: BLE001 - the grade stands without its pages
        traceback.print_exc()
        for page in (STUDENT_PAGE, TA_PAGE):
            (out / page).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from grader.grade import error_report, grade_submission
    from grader.rubric import load_rubric

    rubric = load_rubric(args.rubric)
    cacheable = True
    try:
        report = grade_submission(args.path, rubric=rubric, sandbox=args.sandbox, student=args.student)
    except GraderError as exc:  # the grader could not work (sandbox, suite): not the student's fault, so retry later
        report, cacheable = error_report(args.path, args.student, f"the grader failed: {exc}", rubric), False
    except Exception as exc:  # noqa: BLE001 - a grader bug must cost one row, not the batch
        traceback.print_exc()
        reason = f"the grader failed with {type(exc).__name__}: {exc}"
        report, cacheable = error_report(args.path, args.student, reason, rubric), False
    write_outputs(report, args.out, rubric)
    row = row_from_report(report, file=args.file, key=args.key, cacheable=cacheable)
    write_atomic(args.row, row_to_json(row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
