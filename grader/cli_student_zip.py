"""`python -m grader student-zip --out dist/student.zip`: the student release (skeleton, data, self-check)."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_OUT = Path("dist") / "student.zip"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the zip (default: %(default)s)")
    parser.add_argument("--rubric", type=Path, default=None,
                        help="the grading rubric the public part is taken from (default: rubric.toml)")


def run(args: argparse.Namespace) -> int:
    from grader.rubric import load_rubric
    from grader.student_kit import TOP, build_student_zip

    written, files = build_student_zip(args.out, load_rubric(args.rubric))
    tests = sum(1 for name in files if name.startswith("grader/suite/test_"))
    print(f"wrote {written}: {len(files)} files under {TOP}/ ({tests} public test modules); "
          "audited: no solution, no hidden tests, no hidden seed or thresholds")
    return 0
