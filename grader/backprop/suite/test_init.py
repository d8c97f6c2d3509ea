"""init: shapes; finite values; random, so two models differ; not symmetric, since zero weights cannot learn."""

from __future__ import annotations

import numpy as np
import pytest

from grader.backprop import checks, hints, oracle
from grader.grading import expect

pytestmark = pytest.mark.area("init")

HIDDEN = 6
SEED = 501


def initial_params(model, input_dim: int, hidden_dim: int) -> oracle.Params:
    """What initialize_parameters(input_dim, hidden_dim) returns, checked for shapes and finiteness."""
    what = f"initialize_parameters({input_dim}, {hidden_dim})"
    values = expect.unpack(model.call("initialize_parameters", input_dim, hidden_dim), what, oracle.PARAMS)
    return checks.as_params(values, what, input_dim, hidden_dim)


@pytest.mark.points(2)
@pytest.mark.public
def test_init_shapes(student):
    """W1, b1, W2, b2 have the documented shapes and finite values"""
    model = checks.new_model(student, seed=SEED, hidden_dim=HIDDEN)
    checks.get_params(model, f"TwoLayerPerceptron(2, hidden_dim={HIDDEN})", HIDDEN)
    initial_params(model, 3, 7)


@pytest.mark.points(1)
@pytest.mark.public
def test_init_random(student):
    """two models start with different random weights"""
    first = checks.new_model(student, seed=SEED, hidden_dim=HIDDEN)
    second = student.new("TwoLayerPerceptron", 2, **{**checks.MODEL_DEFAULTS, "hidden_dim": HIDDEN})
    what = f"TwoLayerPerceptron(2, hidden_dim={HIDDEN})"
    a, b = checks.get_params(first, what, HIDDEN), checks.get_params(second, what, HIDDEN)
    if np.array_equal(a["W1"], b["W1"]) and np.array_equal(a["W2"], b["W2"]):
        raise expect.Mismatch(f"two models of {what}: expected different random weights, got the same W1 and W2 "
                              f"(W1 starts {expect.show(a['W1'])})", expected="different weights",
                              actual="identical weights", hint=hints.init_hint(a["W1"], a["W2"]) or hints.NOT_RANDOM)


@pytest.mark.points(2)
@pytest.mark.public
def test_init_not_symmetric(student):
    """hidden units start different from each other (not zero, not symmetric)"""
    model = checks.new_model(student, seed=SEED + 1, hidden_dim=HIDDEN)
    params = initial_params(model, 2, HIDDEN)
    hint = hints.init_hint(params["W1"], params["W2"])
    if hint:
        raise expect.Mismatch(f"initialize_parameters(2, {HIDDEN}): expected a W1 whose columns all differ, got "
                              f"W1 = {expect.show(params['W1'])}", expected="columns of W1 that all differ",
                              actual=expect.show(params["W1"]), hint=hint)
