"""forward: Z1, A1, Z2 and A2 for weights the grader sets, against the formulas written out here."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from grader.backprop import checks, oracle
from grader.grading import expect

pytestmark = pytest.mark.area("forward")

HIDDEN, N = 5, 7
SEED = 601
OUTPUTS = ("Z1", "A1", "Z2", "A2")


def written_out(params: oracle.Params, X: np.ndarray) -> dict[str, np.ndarray]:
    """The forward pass, as the assignment states it (the weights here are small, so exp cannot overflow)."""
    Z1 = X @ params["W1"] + params["b1"]
    A1 = np.maximum(Z1, 0.0)
    Z2 = A1 @ params["W2"] + params["b2"]
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": 1.0 / (1.0 + np.exp(-Z2))}


def run_forward(student, name: str, isolated: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The student's and the grader's value of one output of forward_pass(X), for weights the grader set; when
    `isolated`, the notebook's relu and sigmoid are the grader's own during the call (`activations` grades them)."""
    rng = checks.input_rng(SEED)
    params = oracle.random_params(rng, 2, HIDDEN)
    X = rng.normal(size=(N, 2))
    model = checks.new_model(student, seed=SEED, hidden_dim=HIDDEN, params=params)
    what = f"forward_pass(X) for X of shape {X.shape} and hidden_dim={HIDDEN}"
    isolate = checks.standins_except() if isolated else ()
    values = expect.unpack(model.call("forward_pass", X, _isolate=isolate), what, OUTPUTS)
    expected = written_out(params, X)[name]
    return expect.as_array(values[name], f"{what}: {name}", expected.shape), expected


def check_output(student, name: str, formula: str) -> None:
    def attempt(isolated: bool) -> None:
        got, expected = run_forward(student, name, isolated)
        expect.close(got, expected, f"forward_pass: {name} = {formula}")
    expect.charged_once(partial(attempt, True), partial(attempt, False))


@pytest.mark.points(2)
@pytest.mark.public
def test_forward_z1(student):
    """Z1 = X W1 + b1"""
    check_output(student, "Z1", "X W1 + b1")


@pytest.mark.points(2)
@pytest.mark.public
def test_forward_a1(student):
    """A1 = relu(Z1)"""
    check_output(student, "A1", "relu(Z1)")


@pytest.mark.points(3)
@pytest.mark.public
def test_forward_z2(student):
    """Z2 = A1 W2 + b2, of shape (n, 1)"""
    check_output(student, "Z2", "A1 W2 + b2")


@pytest.mark.points(3)
@pytest.mark.public
def test_forward_a2(student):
    """A2 = sigmoid(Z2), of shape (n, 1)"""
    check_output(student, "A2", "sigmoid(Z2)")
