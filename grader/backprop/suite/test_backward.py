"""backward: dW1, db1, dW2 and db2, each against centered finite differences of the grader's own mean BCE.

The grader sets the weights, passes its own forward values Z1, A1, Z2, A2 to backward_prop, and differentiates
its own loss, so neither the student's forward_pass nor cross_entropy_loss takes part.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from grader.backprop import checks, hints, oracle
from grader.grading import expect

pytestmark = pytest.mark.area("backward")

HIDDEN, N = 5, 8
SEED = 801
GRADIENTS = ("dW1", "db1", "dW2", "db2")


def case() -> tuple[oracle.Params, np.ndarray, np.ndarray]:
    """Weights, X and y with every hidden pre-activation away from relu's kink (redrawn until so)."""
    rng = checks.input_rng(SEED)
    while True:
        params, X = oracle.random_params(rng, 2, HIDDEN), rng.normal(size=(N, 2))
        if oracle.away_from_kink(params, X):
            return params, X, rng.integers(0, 2, size=N)


def check_gradient(student, conventions, name: str) -> None:
    expect.charged_once(partial(attempt_gradient, student, conventions, name, True),
                        partial(attempt_gradient, student, conventions, name, False))


def attempt_gradient(student, conventions, name: str, isolated: bool) -> None:
    """One gradient against finite differences; when `isolated`, what backward_prop may call (the activations and
    their derivatives, its own forward_pass) is the grader's own during the call."""
    params, X, y = case()
    model = checks.new_model(student, seed=SEED, hidden_dim=HIDDEN, params=params)
    if isolated:
        checks.use_standin_methods(model, "forward_pass")
    fwd = oracle.forward(params, X)
    what = (f"backward_prop(X, y, Z1, A1, Z2, A2) for a batch of {N}, y of shape {conventions.labels} and "
            f"hidden_dim={HIDDEN}")
    answer = model.call("backward_prop", X, conventions.y(y), fwd["Z1"], fwd["A1"], fwd["Z2"], fwd["A2"],
                        _isolate=checks.standins_except() if isolated else ())
    grads = expect.unpack(answer, what, GRADIENTS)
    param = name[1:]
    expected = oracle.bce_grad(params, X, y, param)
    raw = grads[name]
    hint = conventions.mixed or partial(hints.gradient_hint, raw, expected, name, n=N,
                                        extra_factor=hints.half_mse_grad(params, X, y, param))
    shape, also = checks.param_shapes(2, HIDDEN)[param]
    got = expect.as_array(raw, f"{what}: {name}", shape, also=also, hint=hint)
    expect.close(got, expected, f"{name} (against finite differences of the mean cross-entropy)",
                 oracle.GRAD_TOL, hint=hint)


@pytest.mark.points(5)
@pytest.mark.public
def test_backward_dw1(student, conventions):
    """dW1 matches finite differences"""
    check_gradient(student, conventions, "dW1")


@pytest.mark.points(5)
@pytest.mark.public
def test_backward_db1(student, conventions):
    """db1 matches finite differences"""
    check_gradient(student, conventions, "db1")


@pytest.mark.points(5)
@pytest.mark.public
def test_backward_dw2(student, conventions):
    """dW2 matches finite differences"""
    check_gradient(student, conventions, "dW2")


@pytest.mark.points(5)
@pytest.mark.public
def test_backward_db2(student, conventions):
    """db2 matches finite differences"""
    check_gradient(student, conventions, "db2")
