"""`python -m grader release`: write the student skeleton generated from the reference solution."""

from __future__ import annotations

import argparse
from pathlib import Path

from grader import paths
from grader.release import release


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--solution", type=Path, default=paths.SOLUTION,
                        help="the reference notebook with solution regions (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=paths.SKELETON,
                        help="where to write the skeleton (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    written = release(args.solution, args.out)
    print(f"wrote {written} from {args.solution}")
    return 0
