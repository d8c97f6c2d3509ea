"""Command line: `python -m grader VERB ...`. Thin: each verb lives in its own module, imported on demand."""

from __future__ import annotations

import argparse
import importlib
import sys

from grader import __version__
from grader.errors import GraderError

# verb -> (module, one-line help). Each module has add_arguments(parser) and run(args) -> int.
VERBS: dict[str, tuple[str, str]] = {
    "release": ("grader.cli_release", "generate the student skeleton (assignment/) from the reference solution"),
    "grade": ("grader.cli_grade", "grade one submission and write OUT/results.json"),
    "gradescope": ("grader.gradescope", "build the autograder bundle (dist/autograder.zip) to upload to Gradescope"),
    "grade-all": ("grader.cli_batch", "grade a whole class (folder or LMS zip) in parallel into OUT/gradebook.csv"),
    "check": ("grader.cli_check", "student self-check: run only the public tests on a notebook, through the sandbox"),
    "student-zip": ("grader.cli_student_zip", "build the student release: skeleton, public data and self-check"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb, (module, help_text) in VERBS.items():
        sub = verbs.add_parser(verb, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(sub)
        sub.set_defaults(module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return importlib.import_module(args.module).run(args)
    except GraderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
