"""softmax: values against an independent computation; rows sum to 1; stable at ±1000."""

from __future__ import annotations


import numpy as np
import pytest

from grader.backprop import checks, hints, oracle
from grader.grading import expect

pytestmark = pytest.mark.area("softmax")

LARGE = np.array([[1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -999.0], [1000.0, 999.0, 1000.0]])


def logits(seed: int, shape: tuple[int, int]) -> np.ndarray:
    return 3.0 * checks.input_rng(seed).normal(size=shape)


@pytest.mark.points(2)
@pytest.mark.public
def test_softmax_values(student):
    """values match an independent computation"""
    a = logits(101, (4, 3))
    got, what = expect.call_array(student, "softmax", a, "a")
    expect.close(got, oracle.softmax(a), what)


@pytest.mark.points(1)
@pytest.mark.public
def test_softmax_rows_sum_to_one(student):
    """every row sums to 1"""
    a = logits(102, (6, 5))
    got, what = expect.call_array(student, "softmax", a, "a")
    expect.close(got.sum(axis=1), np.ones(len(a)), f"the row sums of {what}")


@pytest.mark.points(2)
@pytest.mark.public
def test_softmax_stable(student):
    """stable for logits as large as ±1000"""
    checks.check_stable(student, "softmax", LARGE, oracle.softmax(LARGE), hints.UNSTABLE_SOFTMAX)
