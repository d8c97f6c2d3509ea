"""Fixtures of the grading suite that belong to the assignment: the submission's label convention, found once, and
the grader's answers to the stand-ins its tests put in the submission's place."""

from __future__ import annotations

import pytest

from grader.backprop import standins
from grader.backprop.conventions import Conventions, detect
from grader.grading.plugin import record_note


@pytest.fixture(scope="session", autouse=True)
def standin_answers(student) -> None:
    """The stand-ins' calls (activations, forward and backward pass, update, loss) are answered by the grader."""
    student.standin_answer = standins.answer


@pytest.fixture(scope="session")
def conventions(student) -> Conventions:
    """(n,) or (n, 1) labels, as the submission's backward_prop and cross_entropy_loss agree; a note if they mix."""
    found = detect(student)
    if found.mixed:
        record_note(found.mixed)
    return found
