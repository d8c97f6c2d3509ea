"""The student self-check: the public tests, run on a notebook's functions, summarised for the student.

In: the live namespace of a notebook's kernel (check from inside the notebook), or a saved notebook run top to
bottom (the terminal check: sandboxed on Linux, a plain subprocess elsewhere). Out: a CheckReport, printed as a
compact per-area table with the first failures (plain text, or HTML in Jupyter).
"""

from __future__ import annotations

from collections.abc import Sequence

from grader.selfcheck.summary import CheckReport


def check_namespace(namespace: dict, areas: Sequence[str] = (), *, notebook: str = "this notebook",
                    notes: Sequence[str] = (), sources: Sequence[str] | None = None) -> CheckReport:
    """Run the public tests of `areas` (all when empty) on the code defined in `namespace`, in this process."""
    from grader.selfcheck.imports import import_notes, kernel_sources  # noqa: PLC0415
    from grader.grading import assignment  # noqa: PLC0415
    from grader.grading.rubric import load_rubric  # noqa: PLC0415
    from grader.selfcheck.local import local_student  # noqa: PLC0415
    from grader.selfcheck.run import run_public_suite  # noqa: PLC0415

    rubric = load_rubric()
    student = local_student(namespace, assignment.worker_standins(assignment.load(rubric.assignment)))
    try:
        tests = run_public_suite(student, areas, rubric)
    finally:
        student.close()
    found = import_notes(kernel_sources(namespace) if sources is None else sources)
    return CheckReport(notebook, tuple(tests), (*found, *notes), tuple(areas))
