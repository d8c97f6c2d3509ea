"""Fixtures of the grading suite that belong to the assignment: the submission's label convention, found once."""

from __future__ import annotations

import pytest

from grader.backprop.conventions import Conventions, detect
from grader.grading.plugin import record_note


@pytest.fixture(scope="session")
def conventions(student) -> Conventions:
    """(n,) or (n, 1) labels, as the submission's backward_prop and cross_entropy_loss agree; a note if they mix."""
    found = detect(student)
    if found.mixed:
        record_note(found.mixed)
    return found
