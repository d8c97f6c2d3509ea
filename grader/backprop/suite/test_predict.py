"""predict: for weights the grader sets, labels equal (probability > 0.5) as 0/1 ints of shape (n,); accuracy agrees."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from grader.backprop import checks, hints, oracle
from grader.grading import expect

pytestmark = pytest.mark.area("predict")

HIDDEN, N = 5, 40
SEED = 1001
WEIGHT_SCALE = 0.5  # small weights keep many logits in (0, 0.5], where thresholding the logit gives other labels
MAX_DRAWS = 1000


def case(student) -> tuple[object, oracle.Params, np.ndarray, np.ndarray]:
    rng = checks.input_rng(SEED)
    for _ in range(MAX_DRAWS):  # redrawn until thresholding the logit and the probability give different labels
        params = oracle.random_params(rng, 2, HIDDEN, scale=WEIGHT_SCALE)
        X, y = rng.normal(size=(N, 2)), rng.integers(0, 2, size=N)
        z = oracle.forward(params, X)["Z2"].ravel()
        if np.any((z > 0) & (z <= 0.5)) and np.any(z > 0.5) and np.any(z < 0):
            model = checks.new_model(student, seed=SEED, hidden_dim=HIDDEN, params=params)
            checks.isolate_forward(model, params, X)
            return model, params, X, y
    raise RuntimeError("no separating predict case found: change WEIGHT_SCALE")


@pytest.mark.points(3)
@pytest.mark.public
def test_predict_labels(student):
    """labels equal (probability > 0.5) as 0/1 ints of shape (n,)"""
    expect.charged_once(partial(check_labels, student, True), partial(check_labels, student, False))


def check_labels(student, isolated: bool) -> None:
    """When `isolated`, the activations predict may call are the grader's own."""
    model, params, X, _ = case(student)
    what = f"predict(X) for X of shape {X.shape}"
    raw = model.call("predict", X, _isolate=checks.standins_except() if isolated else ())
    expected = oracle.predict(params, X)
    hint = partial(hints.predict_hint, raw, oracle.forward(params, X)["Z2"].ravel(), expected)
    got = expect.as_array(raw, what, (N,), also=((N, 1),), integer=True, hint=hint)
    expect.equal(got, expected, what, hint=hint)


@pytest.mark.points(2)
@pytest.mark.public
def test_predict_accuracy(student, conventions):
    """accuracy agrees with an independent count"""
    expect.charged_once(partial(check_accuracy, student, conventions, True),
                        partial(check_accuracy, student, conventions, False))


def check_accuracy(student, conventions, isolated: bool) -> None:
    model, params, X, y = case(student)
    what = f"accuracy(X, y) for X of shape {X.shape}"
    isolate = checks.standins_except() if isolated else ()
    got = expect.as_float(model.call("accuracy", X, conventions.y(y), _isolate=isolate), what)
    expect.close(got, oracle.accuracy(params, X, y), what)
