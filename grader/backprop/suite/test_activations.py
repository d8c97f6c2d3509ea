"""activations: relu and sigmoid values, and sigmoid's stability at ±1000."""

from __future__ import annotations


import numpy as np
import pytest

from grader.backprop import checks, hints, oracle
from grader.grading import expect

pytestmark = pytest.mark.area("activations")

LARGE = np.array([-1000.0, -800.0, 0.0, 800.0, 1000.0])


def inputs(seed: int) -> np.ndarray:
    return 4.0 * checks.input_rng(seed).normal(size=(3, 4))


@pytest.mark.points(2)
@pytest.mark.public
def test_activations_relu(student):
    """relu matches max(0, x)"""
    x = inputs(301)
    got, what = expect.call_array(student, "relu", x)
    expect.close(got, np.maximum(x, 0.0), what)


@pytest.mark.points(2)
@pytest.mark.public
def test_activations_sigmoid(student):
    """sigmoid matches 1 / (1 + exp(-x))"""
    x = inputs(302)
    got, what = expect.call_array(student, "sigmoid", x)
    expect.close(got, 1.0 / (1.0 + np.exp(-x)), what)


@pytest.mark.points(1)
@pytest.mark.public
def test_activations_sigmoid_stable(student):
    """sigmoid is stable at ±1000"""
    checks.check_stable(student, "sigmoid", LARGE, oracle.sigmoid(LARGE), hints.UNSTABLE_SIGMOID)
