"""The grader's oracle, checks and hints on their own, and the inputs the grading suite chose (fast, no sandbox)."""

from __future__ import annotations

import importlib
from types import ModuleType

import numpy as np
import pytest
from sklearn.metrics import log_loss

from grader.backprop import checks, hints, oracle
from grader.grading import expect

def suite(name: str) -> ModuleType:
    """A grading-suite module, imported inside a test (importing it here would collect its tests too)."""
    return importlib.import_module(f"grader.backprop.suite.{name}")


def params(seed: int = 0, hidden: int = 5, scale: float = 1.0) -> oracle.Params:
    return oracle.random_params(np.random.default_rng(seed), 2, hidden, scale)


def test_rel_error_is_scaled_by_the_arrays_and_floored_at_zero():
    assert expect.rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert expect.rel_error(np.array([1.0, 0.0]), np.array([1.0, 1e-12])) < 1e-11
    assert expect.rel_error(np.array([2.0]), np.array([1.0])) == pytest.approx(1 / 3)


def test_numerical_grad_matches_a_known_gradient_and_leaves_its_input_alone():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    before = x.copy()
    grad = oracle.numerical_grad(lambda v: float(np.sum(v ** 3)), x)
    assert expect.rel_error(grad, 3 * before ** 2) < oracle.GRAD_TOL
    assert np.array_equal(x, before)


def test_mean_bce_agrees_with_sklearn_and_stays_finite_when_saturated():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 2)), rng.integers(0, 2, size=30)
    p = params(1)
    assert oracle.mean_bce(p, X, y) == pytest.approx(log_loss(y, oracle.forward(p, X)["A2"].ravel()), rel=1e-9)
    assert np.isfinite(oracle.mean_bce(params(1, scale=500.0), X, y))


def test_sigmoid_is_exact_at_the_extremes_without_warnings():
    with np.errstate(over="raise", invalid="raise"):
        assert oracle.sigmoid(np.array([-1000.0, 0.0, 1000.0])).tolist() == [0.0, 0.5, 1.0]


def test_the_backward_case_keeps_finite_differences_away_from_relu_kink():
    p, X, _ = suite("test_backward").case()
    assert oracle.away_from_kink(p, X)
    derivatives_suite = suite("test_derivatives")
    assert np.min(np.abs(derivatives_suite.inputs(401))) >= derivatives_suite.KINK_GAP


def test_the_predict_case_separates_thresholding_the_logit_from_the_probability():
    predict_suite = suite("test_predict")
    rng = np.random.default_rng(predict_suite.SEED)
    p = oracle.random_params(rng, 2, predict_suite.HIDDEN, scale=predict_suite.WEIGHT_SCALE)
    X = rng.normal(size=(predict_suite.N, 2))
    z = oracle.forward(p, X)["Z2"].ravel()
    assert np.any((z > 0) & (z <= 0.5)) and np.any(z > 0.5) and np.any(z < 0)


def test_the_saturated_loss_case_rounds_some_probabilities_to_exactly_0_or_1():
    loss_suite = suite("test_loss")
    rng = np.random.default_rng(loss_suite.SATURATED_SEED)
    p = oracle.random_params(rng, 2, loss_suite.HIDDEN, scale=loss_suite.SATURATING_SCALE)
    a2 = oracle.forward(p, rng.normal(size=(loss_suite.N, 2)))["A2"]
    assert np.any(a2 == 1.0) and np.any(a2 == 0.0)


@pytest.mark.parametrize("make, hint", [
    (lambda g: 8 * g, hints.SUM_NOT_MEAN),
    (lambda g: -g, hints.FLIPPED_SIGN),
    (lambda g: g.T.copy(), "the transpose of"),
    (lambda g: g + 0.1, ""),
    (lambda g: g, ""),
])
def test_gradient_hints_name_only_the_mistake_the_answer_matches(make, hint):
    expected = np.random.default_rng(2).normal(size=(2, 5))
    got = hints.gradient_hint(make(expected), expected, "dW1", n=8)
    assert (hint in got) if hint else got == ""


def test_the_extra_sigmoid_prime_factor_is_recognised_from_the_gradient_of_half_mse():
    rng = np.random.default_rng(3)
    p, X, y = params(3), rng.normal(size=(8, 2)), rng.integers(0, 2, size=8)
    extra = hints.half_mse_grad(p, X, y, "W2")
    assert hints.gradient_hint(extra, oracle.bce_grad(p, X, y, "W2"), "dW2", n=8, extra_factor=extra) \
        == hints.EXTRA_SIGMOID_PRIME


def test_init_predict_and_derivative_hints():
    assert hints.init_hint(np.zeros((2, 4)), np.zeros((4, 1))) == hints.ZERO_INIT
    assert hints.init_hint(np.full((2, 4), 0.5), np.full((4, 1), 0.5)) == hints.SYMMETRIC_INIT
    assert hints.init_hint(np.arange(8.0).reshape(2, 4), np.ones((4, 1))) == ""
    z = np.array([-1.0, 0.3, 0.7])
    assert hints.predict_hint(np.array([0, 0, 1]), z, np.array([0, 1, 1])) == hints.LOGIT_THRESHOLD
    x = np.array([0.5, -2.0])
    assert hints.sigmoid_derivative_hint(x * (1 - x), x) == hints.DERIVATIVE_OF_ACTIVATION


def test_as_array_accepts_the_equivalent_bias_shape_and_says_what_came_back_otherwise():
    shape, also = checks.bias_shapes(3)
    assert expect.as_array(np.ones((1, 3)), "b1", shape, also=also).shape == (3,)
    with pytest.raises(expect.Mismatch, match=r"softmax\(a\): expected an array of shape \(4, 3\), got a tuple of "
                                              r"length 2"):
        expect.as_array((1, 2), "softmax(a)", (4, 3))
    with pytest.raises(expect.Mismatch, match="expected an int array of shape .*, got an array of dtype float64"):
        expect.as_array(np.zeros(3), "predict(X)", (3,), integer=True)


def test_close_reports_expected_actual_error_and_tolerance():
    with pytest.raises(expect.Mismatch) as info:
        expect.close(np.full(4, 1 / 3), np.array([0.09, 0.24, 0.67, 0.0]), "softmax(a)")
    assert str(info.value) == ("softmax(a): expected [0.09 0.24 0.67 0], got [0.333 0.333 0.333 0.333] "
                               "(max relative error 0.34, tolerance 1e-06)")


def test_as_float_takes_a_0d_array_but_not_an_array_of_one():
    assert expect.as_float(np.array(0.5), "loss") == 0.5
    with pytest.raises(expect.Mismatch, match="expected a float, got an array of shape"):
        expect.as_float(np.array([0.5]), "loss")
