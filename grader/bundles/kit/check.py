#!/usr/bin/env python3
"""Check your notebook with the public tests: python check.py [backprop.ipynb]

It runs the same public tests as the grader, in the same sandbox, on the public data, and prints what each failing
test expected, what your code returned, and a hint where the mistake is a common one. Run it as often as you like.
Exit code: 0 when every public test passes, 1 when some fail, 2 when the check itself could not run.
"""

import argparse
import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NEEDED = {"numpy": "numpy", "sklearn": "scikit-learn", "matplotlib": "matplotlib", "nbformat": "nbformat",
          "nbconvert": "nbconvert", "pytest": "pytest"}


def problems() -> list:
    """What is missing before the check can run, each with what to do about it."""
    if sys.version_info < (3, 11):
        return [f"Python 3.11 or newer is needed; this is {sys.version.split()[0]} ({sys.executable})"]
    missing = [package for module, package in NEEDED.items() if importlib.util.find_spec(module) is None]
    if missing:
        return [f"missing packages: {', '.join(missing)}; install them with: "
                f"{sys.executable} -m pip install -r {HERE / 'requirements.txt'}"]
    return []


def main(argv=None) -> int:
    found = problems()
    if found:
        print("\n".join(f"check.py: {p}" for p in found), file=sys.stderr)
        return 2
    sys.path.insert(0, str(HERE))  # the grader package that came with this kit, not any other
    from grader.errors import GraderError
    from grader.report.check import SANDBOX_CHOICES, run_check

    parser = argparse.ArgumentParser(prog="python check.py", description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path, help="your notebook (.ipynb) or script (.py)")
    parser.add_argument("--sandbox", choices=SANDBOX_CHOICES, default="auto",
                        help="auto (default): isolate with bubblewrap where this computer allows it")
    args = parser.parse_args(argv if argv is not None and argv else (sys.argv[1:] or [str(HERE / "backprop.ipynb")]))
    try:
        return run_check(args.notebook, args.sandbox)
    except GraderError as exc:
        print(f"check.py: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
