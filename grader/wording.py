"""Words the grader says in more than one place, spelled once, so the pages, the terminal and the LMS files agree.

Only what several modules print lives here; a message said in one place stays beside the code that says it.
"""

from __future__ import annotations

NOT_GRADED = "not graded yet"  # a student of the roster without a grade: gradebook rows, LMS notes, grade pages
TIMED_OUT = "hit its time limit"  # a notebook cell stopped at its time limit
LMS_HEADING = "## Grades for the LMS"  # the summary's section on the LMS files, written or not


def points(x: float) -> str:
    """Points as people write them: 3, 2.5, 0.25 (no trailing .0)."""
    return f"{x:g}"


def cell_failure(status: str, error: str) -> str:
    """What a notebook cell did wrong, after "Cell [n]": it hit its time limit, or raised `error`."""
    return TIMED_OUT if status == "timeout" else f"raised {error}"
