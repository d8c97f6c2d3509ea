"""`python -m grader grade PATH --out DIR`: grade one submission and write OUT/results.json."""

from __future__ import annotations

import argparse
from pathlib import Path

from grader import paths

SANDBOX_CHOICES = ("auto", "bwrap", "none")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", type=Path, default=paths.SOLUTION,
                        help="the notebook (.ipynb) or script (.py) to grade (default: the reference solution)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for results.json, feedback.html and feedback_ta.html "
                             "(default: out/<file name without extension>)")
    parser.add_argument("--rubric", type=Path, default=None, help="rubric file (default: rubric.toml)")
    parser.add_argument("--sandbox", choices=SANDBOX_CHOICES, default="auto",
                        help="bwrap: always isolate (fail if impossible); none: no isolation (loud warning); "
                             "auto: bwrap when the host allows it (default)")
    parser.add_argument("--student", default=None, help="the student's name for the report (default: file name)")
    parser.epilog = "Exit code 0 when the submission was graded, whatever its score; non-zero only when the grader " \
                    "itself could not work."


def run(args: argparse.Namespace) -> int:
    from grader.feedback import write_feedback
    from grader.grade import grade_submission
    from grader.report import summary_lines, write_results_json
    from grader.rubric import load_rubric

    out = args.out or Path("out") / args.path.stem
    rubric = load_rubric(args.rubric)
    report = grade_submission(args.path, rubric=rubric, sandbox=args.sandbox, student=args.student)
    written = write_results_json(report, out)
    student_page, ta_page = write_feedback(report, out, rubric)
    print("\n".join(summary_lines(report)))
    print(f"results:  {written}\nfeedback: {student_page} (for the student), {ta_page} (for TAs)")
    return 0
