"""The self-check of the backpropagation assignment: the public tests, on your code.

In the notebook, at any time (no saving, no restart; it uses the functions as they are defined now):

    from backprop_check import check
    check()              # every public test
    check("backward")    # one area

In a terminal, on the saved file, from a fresh top-to-bottom run (what you will hand in):

    python check.py [backprop.ipynb]      # in the kit's folder; or `backprop-check` once the kit is installed
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # the grader copy that came with this kit, next to this file


def _kit_grader() -> None:
    """Fail clearly if another package called `grader` was imported before this kit's own."""
    import grader  # noqa: PLC0415

    if Path(grader.__file__).resolve().parent != HERE / "grader":
        raise ImportError(f"backprop_check needs the `grader` folder next to it ({HERE / 'grader'}), but Python "
                          f"imported another one ({grader.__file__}); restart the kernel and import backprop_check "
                          "first")


def run_check(*areas: str, namespace: dict | None = None):
    """The CheckReport of the public tests of `areas` (all when none) on the code defined in `namespace`
    (the notebook's, by default); shown as a table when displayed."""
    _kit_grader()
    from grader.selfcheck import check_namespace  # noqa: PLC0415

    return check_namespace(sys.modules["__main__"].__dict__ if namespace is None else namespace, areas)


def check(*areas: str) -> None:
    """Run the public tests of `areas` (all when none) on this notebook's functions and show what they found."""
    report = run_check(*areas)
    shell = sys.modules.get("IPython")
    ip = shell.get_ipython() if shell is not None and hasattr(shell, "get_ipython") else None
    if ip is not None and getattr(ip, "kernel", None) is not None:
        from IPython.display import display  # noqa: PLC0415

        display(report)  # HTML in Jupyter, the same text elsewhere
    else:
        print(report.text())


def main(argv: list[str] | None = None, prog: str = "backprop-check") -> int:
    """The terminal check on a saved notebook (python check.py, or the backprop-check command)."""
    _kit_grader()
    from grader.selfcheck.terminal import main as terminal_main  # noqa: PLC0415

    return terminal_main(argv, prog)


if __name__ == "__main__":
    sys.exit(main())
