"""`python -m grader grade-all SUBMISSIONS --out DIR --jobs N`: grade a whole class into a gradebook."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from grader.cli_grade import SANDBOX_CHOICES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", type=Path,
                        help="a folder of submissions, or the .zip the LMS exports (Canvas names are understood)")
    parser.add_argument("--out", type=Path, default=Path("out/class"),
                        help="folder for gradebook.csv, summary.md, summary.png and <student>/results.json "
                             "(default: %(default)s)")
    parser.add_argument("--jobs", "-j", type=int, default=0,
                        help="submissions graded at once, one sandboxed process each (default: all cores)")
    parser.add_argument("--rubric", type=Path, default=None, help="rubric file (default: rubric.toml)")
    parser.add_argument("--pattern", action="append", default=[], metavar="REGEX",
                        help="how file names name students: a regular expression with a (?P<student>...) group, "
                             "matched against each path inside the class folder; may be repeated (default: Canvas "
                             "names, one folder per student, or <student>.ipynb)")
    parser.add_argument("--force", action="store_true",
                        help="regrade everything, even submissions unchanged since the last run")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds to grade one submission before it is stopped and marked timeout "
                             "(default: from the rubric's limits)")
    parser.add_argument("--sandbox", choices=SANDBOX_CHOICES, default="auto",
                        help="passed to each grading process (default: %(default)s)")
    parser.epilog = "Exit code 0 when every student has a row (whatever the scores), 130 when interrupted; run " \
                    "again to finish: unchanged submissions are skipped."


def _stop_on_sigterm() -> None:
    """SIGTERM stops the batch the way Ctrl-C does: children killed, finished rows kept."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handler)


def run(args: argparse.Namespace) -> int:
    from grader.batch import BatchOptions, grade_class
    from grader.batch_summary import plural
    from grader.errors import ConfigError

    if args.jobs < 0 or (args.timeout is not None and args.timeout <= 0):
        raise ConfigError("--jobs must be 0 (all cores) or more, and --timeout a positive number of seconds")
    _stop_on_sigterm()
    opts = BatchOptions(source=args.submissions, out=args.out, jobs=args.jobs, rubric=args.rubric,
                        patterns=tuple(args.pattern), force=args.force, sandbox=args.sandbox, timeout=args.timeout)
    result = grade_class(opts)
    counts = ", ".join(f"{n} {s}" for s, n in result.statuses.items() if n)
    print(f"{plural(result.students, 'student')} ({counts or 'none'}); graded {result.graded} now, "
          f"skipped {result.reused} unchanged, in {result.seconds:.1f} s")
    print(f"gradebook: {result.gradebook}\nsummary:   {args.out / 'summary.md'}, {args.out / 'summary.png'}")
    if result.interrupted:
        print("interrupted: the finished rows are saved; run the same command again to finish", file=sys.stderr)
        return 130
    return 0
