"""derivatives: relu_derivative and sigmoid_derivative against finite differences, away from relu's kink."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from grader.backprop import checks, hints, oracle
from grader.grading import expect

pytestmark = pytest.mark.area("derivatives")

KINK_GAP = 0.1  # inputs of relu_derivative keep this distance from 0, where relu has no derivative


def inputs(seed: int) -> np.ndarray:
    """A (3, 4) array of pre-activations of either sign, none within KINK_GAP of 0."""
    rng = checks.input_rng(seed)
    return rng.uniform(KINK_GAP, 4.0, size=(3, 4)) * rng.choice([-1.0, 1.0], size=(3, 4))


def elementwise_derivative(f, x: np.ndarray) -> np.ndarray:
    """f'(x) entry by entry: the finite-difference gradient of sum(f(x))."""
    return oracle.numerical_grad(lambda v: float(np.sum(f(v))), x)


@pytest.mark.points(2)
@pytest.mark.public
def test_derivatives_relu(student):
    """relu_derivative matches finite differences away from the kink"""
    expect.charged_once(partial(attempt_relu, student, True), partial(attempt_relu, student, False))


def attempt_relu(student, isolated: bool) -> None:
    """When `isolated`, the functions relu_derivative may call (relu among them) are the grader's own."""
    x = inputs(401)
    got, what = expect.call_array(student, "relu_derivative", x,
                                  isolate=checks.standins_except("relu_derivative") if isolated else ())
    expect.close(got, elementwise_derivative(lambda v: np.maximum(v, 0.0), x), what, oracle.GRAD_TOL)


@pytest.mark.points(3)
@pytest.mark.public
def test_derivatives_sigmoid(student):
    """sigmoid_derivative matches finite differences at the pre-activation"""
    expect.charged_once(partial(attempt_sigmoid, student, True), partial(attempt_sigmoid, student, False))


def attempt_sigmoid(student, isolated: bool) -> None:
    """When `isolated`, the functions sigmoid_derivative may call (sigmoid among them) are the grader's own."""
    x = inputs(402)
    what = f"sigmoid_derivative(x) for x of shape {x.shape}"
    raw = student.call("sigmoid_derivative", x,
                       _isolate=checks.standins_except("sigmoid_derivative") if isolated else ())
    hint = partial(hints.sigmoid_derivative_hint, raw, x)
    got = expect.as_array(raw, what, x.shape, hint=hint)
    expect.close(got, elementwise_derivative(oracle.sigmoid, x), what, oracle.GRAD_TOL, hint=hint)
