"""softmax_grad: the value of softmax_cross_entropy, and its gradient against centered finite differences of E."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from grader.backprop import checks, hints, oracle
from grader.grading import expect

pytestmark = pytest.mark.area("softmax_grad")

N, K = 5, 3


def case(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits a (N, K) and one-hot targets t (N, K)."""
    rng = checks.input_rng(seed)
    return 2.0 * rng.normal(size=(N, K)), np.eye(K)[rng.integers(0, K, size=N)]


@pytest.mark.points(4)
@pytest.mark.public
def test_softmax_grad_loss_value(student):
    """softmax_cross_entropy matches an independent computation"""
    expect.charged_once(partial(attempt_loss_value, student, True), partial(attempt_loss_value, student, False))


def attempt_loss_value(student, isolated: bool) -> None:
    """When `isolated`, the notebook's softmax (which `softmax` grades) is the grader's own during the call."""
    a, t = case(201)
    what = f"softmax_cross_entropy(a, t) for a, t of shape {a.shape}"
    raw = student.call("softmax_cross_entropy", a, t, _isolate=checks.standins_except() if isolated else ())
    expected = oracle.softmax_cross_entropy(a, t)
    hint = partial(hints.first_match, raw, [(np.asarray(expected / N), hints.E_MEAN)])
    expect.close(expect.as_float(raw, what), expected, what, hint=hint)


@pytest.mark.points(6)
@pytest.mark.public
def test_softmax_grad_gradient(student):
    """softmax_cross_entropy_grad matches centered finite differences of E"""
    expect.charged_once(partial(attempt_gradient, student, True), partial(attempt_gradient, student, False))


def attempt_gradient(student, isolated: bool) -> None:
    """When `isolated`, the notebook's softmax is the grader's own during the call."""
    a, t = case(202)
    what = f"softmax_cross_entropy_grad(a, t) for a, t of shape {a.shape}"
    raw = student.call("softmax_cross_entropy_grad", a, t, _isolate=checks.standins_except() if isolated else ())
    expected = oracle.numerical_grad(lambda v: oracle.softmax_cross_entropy(v, t), a)
    hint = partial(hints.gradient_hint, raw, expected, "gradient", n=N, of_mean=False)
    got = expect.as_array(raw, what, a.shape, hint=hint)
    expect.close(got, expected, what, oracle.GRAD_TOL, hint=hint)
