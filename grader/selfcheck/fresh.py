"""The terminal check where there is no sandbox: a fresh subprocess runs the saved notebook from top to bottom in
its own __main__, as Jupyter's "Restart and run all" would, then the in-process check on what it defined.

The subprocess starts in an empty folder holding only the public data, like the sandbox does.
Usage (started by grader/selfcheck/terminal.py's run_fresh): python -m grader.selfcheck.fresh NOTEBOOK [--list]
"""

from __future__ import annotations

import builtins
import os
import sys
import types
from pathlib import Path


def _prepare() -> types.ModuleType:
    """A fresh __main__ for the notebook, with what a notebook expects of its kernel stubbed out."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    builtins.display = lambda *args, **kwargs: None
    builtins.get_ipython = lambda: None
    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = module
    sys.argv[:] = [str(Path.cwd() / "notebook")]
    return module


def child(argv: list[str]) -> int:
    from grader.notebook.extract import read_submission  # noqa: PLC0415
    from grader.sandbox.replies import cell_outcome  # noqa: PLC0415
    from grader.selfcheck import check_namespace  # noqa: PLC0415
    from grader.selfcheck.local import OUTPUT_CHARS, LocalWorker  # noqa: PLC0415
    from grader.selfcheck.terminal import cell_notes, show  # noqa: PLC0415

    from grader.errors import SubmissionError  # noqa: PLC0415

    path, listing = Path(argv[0]), "--list" in argv[1:]
    try:
        submission = read_submission(path)
    except SubmissionError as exc:
        print(f"check: {path.name}: could not be checked: {exc}", file=sys.stderr)
        return 2
    module = _prepare()
    worker = LocalWorker(OUTPUT_CHARS, namespace=module.__dict__)
    cells = [cell_outcome(c.index, worker.run_cell({"index": c.index, "source": c.source, "seconds": 0}))
             for c in submission.cells if c.source.strip()]
    report = check_namespace(module.__dict__, notebook=path.name, notes=cell_notes(cells),
                             sources=[c.source for c in submission.cells])
    return show(report, listing)


if __name__ == "__main__":
    sys.exit(child(sys.argv[1:]))
