"""activations: relu and sigmoid values, and sigmoid's stability at ±1000."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from grader import checks, hints, oracle

pytestmark = pytest.mark.area("activations")

LARGE = np.array([-1000.0, -800.0, 0.0, 800.0, 1000.0])


def inputs(seed: int) -> np.ndarray:
    return 4.0 * checks.input_rng(seed).normal(size=(3, 4))


@pytest.mark.points(2)
@pytest.mark.public
def test_activations_relu(student):
    """relu matches max(0, x)"""
    x = inputs(301)
    what = f"relu(x) for x of shape {x.shape}"
    got = checks.as_array(student.call("relu", x), what, x.shape)
    checks.close(got, np.maximum(x, 0.0), what)


@pytest.mark.points(2)
@pytest.mark.public
def test_activations_sigmoid(student):
    """sigmoid matches 1 / (1 + exp(-x))"""
    x = inputs(302)
    what = f"sigmoid(x) for x of shape {x.shape}"
    got = checks.as_array(student.call("sigmoid", x), what, x.shape)
    checks.close(got, 1.0 / (1.0 + np.exp(-x)), what)


@pytest.mark.points(1)
@pytest.mark.public
def test_activations_sigmoid_stable(student):
    """sigmoid is stable at ±1000"""
    what = f"sigmoid(x) for x = {LARGE.tolist()}"
    raw = student.call("sigmoid", LARGE)
    hint = partial(hints.unstable_hint, raw, "sigmoid")
    stderr = checks.call_stderr(student)
    got = checks.as_array(raw, what, LARGE.shape, hint=hint)
    checks.close(got, oracle.sigmoid(LARGE), what, hint=hint)
    checks.no_overflow(stderr, what, hints.UNSTABLE_SIGMOID)
