#!/usr/bin/env python3
"""Check your saved notebook with the public tests: python check.py [backprop.ipynb] [--list]

It runs your notebook from top to bottom in a fresh process (sandboxed on Linux), then the same public tests as the
grader, and prints your public points per area and the first failing tests with a hint. Run it as often as you like.
Inside the notebook, `from backprop_check import check; check()` does the same on the code you have run so far.
Exit code: 0 when every public test passes, 1 when some fail, 2 when the check itself could not run.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NEEDED = {"numpy": "numpy", "sklearn": "scikit-learn", "nbformat": "nbformat", "pytest": "pytest", "jinja2": "jinja2"}


def problems() -> list:
    """What is missing before the check can run, each with what to do about it."""
    import importlib.util

    if sys.version_info < (3, 10):
        return [f"Python 3.10 or newer is needed; this is {sys.version.split()[0]} ({sys.executable})"]
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
    sys.path.insert(0, str(HERE))  # this kit's backprop_check and grader, not any other
    from backprop_check import main as check_main

    return check_main(sys.argv[1:] if argv is None else argv, prog="python check.py")


if __name__ == "__main__":
    sys.exit(main())
