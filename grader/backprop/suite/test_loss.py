"""loss: mean binary cross-entropy against sklearn.metrics.log_loss; finite on saturated outputs."""

from __future__ import annotations

from functools import partial

import math

import numpy as np
import pytest
from sklearn.metrics import log_loss

from grader.backprop import checks, hints, oracle
from grader.grading import expect

pytestmark = pytest.mark.area("loss")

HIDDEN, N = 5, 20
SATURATING_SCALE = 200.0  # weights this large push most logits past ±37, where sigmoid rounds to exactly 0 or 1
COIN_FLIP = math.log(2.0)  # the loss of predicting 0.5 everywhere
SATURATED_SEED = 708
MAX_DRAWS = 1000  # inputs are redrawn until they have the property a test needs


def student_loss(student, conventions, params: oracle.Params, X: np.ndarray, y: np.ndarray,
                 what: str, isolated: bool = True) -> tuple[float, object]:
    """The loss with the grader's forward values and, when `isolated`, the grader's activations."""
    model = checks.new_model(student, seed=701, hidden_dim=HIDDEN, params=params)
    checks.isolate_forward(model, params, X)
    raw = model.call("cross_entropy_loss", X, conventions.y(y), _isolate=checks.standins_except() if isolated else ())
    return expect.as_float(raw, what), raw


@pytest.mark.points(6)
@pytest.mark.public
def test_loss_matches_log_loss(student, conventions):
    """matches sklearn.metrics.log_loss"""
    expect.charged_once(partial(check_log_loss, student, conventions, True),
                        partial(check_log_loss, student, conventions, False))


def check_log_loss(student, conventions, isolated: bool) -> None:
    rng = checks.input_rng(702)
    params, X, y = oracle.random_params(rng, 2, HIDDEN), rng.normal(size=(N, 2)), rng.integers(0, 2, size=N)
    what = f"cross_entropy_loss(X, y) for X of shape {X.shape}"
    got, raw = student_loss(student, conventions, params, X, y, what, isolated)
    expected = log_loss(y, oracle.forward(params, X)["A2"].ravel(), labels=[0, 1])
    expect.close(got, expected, what, hint=conventions.mixed or partial(hints.loss_hint, raw, expected, N))


def saturated_case() -> tuple[oracle.Params, np.ndarray]:
    """Huge weights and points, redrawn until some probabilities round to exactly 1.0 and some to exactly 0.0."""
    rng = checks.input_rng(SATURATED_SEED)
    for _ in range(MAX_DRAWS):
        params, X = oracle.random_params(rng, 2, HIDDEN, scale=SATURATING_SCALE), rng.normal(size=(N, 2))
        a2 = oracle.forward(params, X)["A2"]
        if np.any(a2 == 1.0) and np.any(a2 == 0.0):
            return params, X
    raise RuntimeError("no saturated case found: raise SATURATING_SCALE")


@pytest.mark.points(4)
@pytest.mark.public
def test_loss_finite_when_saturated(student, conventions):
    """finite on saturated outputs"""
    expect.charged_once(partial(check_saturated, student, conventions, True),
                        partial(check_saturated, student, conventions, False))


def check_saturated(student, conventions, isolated: bool) -> None:
    params, X = saturated_case()
    right = oracle.predict(params, X)
    for y, verdict in ((right, "right"), (1 - right, "wrong")):
        what = f"cross_entropy_loss(X, y) when every prediction is saturated and {verdict}"
        got, raw = student_loss(student, conventions, params, X, y, what, isolated)
        expect.finite(got, what, hint=partial(hints.loss_hint, raw, 0.0, N))
        if (got < COIN_FLIP) != (verdict == "right"):
            relation = "below" if verdict == "right" else "above"
            raise expect.Mismatch(f"{what}: expected a loss {relation} ln 2 = {COIN_FLIP:.3g} (the loss of always "
                                  f"predicting 0.5), got {got:.6g}", expected=f"{relation} {COIN_FLIP:.3g}",
                                  actual=f"{got:.6g}")
