"""Hints for common mistakes, recognised from what the student's code actually returned.

Each detector takes the student's raw answer and the grader's own alternatives (the right answer, or the answer
a known mistake would give) and returns a hint, or "" when the answer matches no known mistake. A hint is only
given when the answer matches the mistaken formula, so a hint never guesses.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grader.backprop import oracle
from grader.grading import expect

MATCH_TOL = 1e-4  # an answer within this relative error of a mistaken formula is taken to be that mistake

EXTRA_SIGMOID_PRIME = ("Your gradients are those of the loss with an extra factor σ'(z2) in the output delta. "
                       "With a sigmoid output and the cross-entropy loss that factor cancels: the output delta is "
                       "∂L/∂z2 = (a2 − y) / n, with no sigmoid_derivative.")
SUM_NOT_MEAN = ("Your gradient is n times too large: it is the gradient of the sum of the losses over the batch. "
                "backward_prop returns the gradient of the mean, so divide by the batch size n.")
E_MEAN = "Your E is N times too small: it sums over the samples and the classes, so do not divide by N."
MEAN_NOT_SUM = ("Your gradient is N times too small: E sums over the samples, so its gradient is softmax(a) − t "
                "without dividing by N.")
FLIPPED_SIGN = ("Your gradient has the wrong sign: it is minus the true gradient. The error at the output is "
                "prediction − target (y − t, or a2 − y), not target − prediction.")
TRANSPOSED = ("Your {name} has the shape {got}, the transpose of {want}: a weight gradient has the shape of its "
              "weight (for example dW1 = Xᵀ · dZ1).")
DERIVATIVE_OF_ACTIVATION = ("sigmoid_derivative(x) takes the pre-activation x, but yours computes x·(1 − x), the "
                            "formula in terms of the activation s = σ(x). Compute s = sigmoid(x) first, then "
                            "s·(1 − s).")
UNSTABLE_SIGMOID = ("sigmoid overflows for large |x|: exp(1000) is inf in float64. Never exponentiate a large "
                    "positive number: for x < 0 use exp(x) / (1 + exp(x)), for x ≥ 0 use 1 / (1 + exp(−x)).")
UNSTABLE_SOFTMAX = ("softmax overflows for large logits: exp(1000) is inf in float64, and inf / inf is nan. "
                    "Subtract each row's maximum first: softmax(a − c) = softmax(a) for any c per row.")
UNSTABLE_LOSS = ("Your loss is not finite when the predictions saturate: sigmoid(z) rounds to exactly 0 or 1 for "
                 "large |z|, and log(0) = −inf. Compute the loss from the logits with np.logaddexp(0, z) − y·z, "
                 "or clip the probabilities away from 0 and 1 before the log.")
LOSS_SUM = "Your loss is n times too large: cross_entropy_loss returns the mean over the samples, not the sum."
ZERO_INIT = ("Your weights start at zero. Every hidden unit then computes the same thing and gets the same gradient, "
             "so they stay identical and the network cannot learn XOR. Draw the weights at random.")
SYMMETRIC_INIT = ("Some hidden units start with identical weights (equal columns of W1). They get identical "
                  "gradients and stay identical, so the network cannot use them. Draw each weight at random.")
NOT_RANDOM = ("Two models you construct one after the other start with the same weights: the initialisation "
              "uses a fixed seed or fixed values. Draw them from a random generator that is not reseeded per model.")
ADDS_GRADIENT = ("update_weights adds the gradient; gradient descent subtracts it: W ← W − learning_rate · dW.")
NO_LEARNING_RATE = "update_weights ignores the learning rate: the step is W ← W − learning_rate · dW."
NOT_STORED = ("update_weights did not change the model's parameters: assign the new values to self.W1, self.b1, "
              "self.W2 and self.b2 (a plain `W1 = ...` only makes a local variable).")
LOGIT_THRESHOLD = ("predict thresholds the logit z2 at 0.5 instead of the probability σ(z2): use A2 > 0.5 "
                   "(equivalently Z2 > 0).")
FLIPPED_LABELS = "predict returns the opposite class: 1 where the probability is above 0.5, else 0."
READS_GLOBALS = ("train learned the notebook's own data rather than the data it was given: it reads notebook "
                 "globals (such as X_train, y_train) instead of its arguments X, y, X_val, y_val.")


def _numeric(value: Any) -> np.ndarray | None:
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return value.astype(float)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return np.asarray(float(value))
    return None


def matches(actual: Any, candidate: np.ndarray) -> bool:
    """True when the answer equals the candidate (in any shape of the same size) within MATCH_TOL."""
    got = _numeric(actual)
    want = np.asarray(candidate, dtype=float)
    if got is None or got.size != want.size or not np.all(np.isfinite(got)):
        return False
    return expect.rel_error(got.reshape(want.shape), want) <= MATCH_TOL


def first_match(actual: Any, candidates: list[tuple[np.ndarray | None, str]]) -> str:
    for candidate, hint in candidates:
        if candidate is not None and matches(actual, candidate):
            return hint
    return ""


def transposed(actual: Any, expected: np.ndarray, name: str) -> str:
    """The transposed-shape hint when a 2-D answer has the transposed shape of a non-square expected array."""
    got = _numeric(actual)
    if got is None or expected.ndim != 2 or got.shape == expected.shape or got.shape != expected.T.shape:
        return ""
    return TRANSPOSED.format(name=name, got=got.shape, want=expected.shape)


def gradient_hint(actual: Any, expected: np.ndarray, name: str, *, n: int, of_mean: bool = True,
                  extra_factor: np.ndarray | None = None) -> str:
    """Transposed shape, sum instead of mean (or the reverse), flipped sign, or the extra σ'(z2) factor."""
    scale_hint = (n * expected, SUM_NOT_MEAN) if of_mean else (expected / n, MEAN_NOT_SUM)
    return transposed(actual, expected, name) or first_match(
        actual, [scale_hint, (-expected, FLIPPED_SIGN), (extra_factor, EXTRA_SIGMOID_PRIME)])


def half_mse_grad(params: oracle.Params, X: np.ndarray, y: np.ndarray, name: str) -> np.ndarray:
    """The gradient a backward pass with an extra σ'(z2) factor computes: that of mean ½(a2 − y)²."""
    def loss_at(value: np.ndarray) -> float:
        a2 = oracle.forward({**params, name: value}, X)["A2"].ravel()
        return float(np.mean(0.5 * (a2 - np.ravel(y)) ** 2))
    return oracle.numerical_grad(loss_at, params[name])


def sigmoid_derivative_hint(actual: Any, x: np.ndarray) -> str:
    return first_match(actual, [(x * (1.0 - x), DERIVATIVE_OF_ACTIVATION)])


def unstable_hint(actual: Any, function: str) -> str:
    """The overflow hint when the answer at ±1000 is not finite (or could not be read as numbers)."""
    got = _numeric(actual)
    if got is not None and np.all(np.isfinite(got)):
        return ""
    return UNSTABLE_SIGMOID if function == "sigmoid" else UNSTABLE_SOFTMAX


def loss_hint(actual: Any, expected: float, n: int) -> str:
    got = _numeric(actual)
    if got is not None and not np.all(np.isfinite(got)):
        return UNSTABLE_LOSS
    return first_match(actual, [(np.asarray(n * expected), LOSS_SUM)])


def init_hint(W1: np.ndarray, W2: np.ndarray) -> str:
    """Zero weights, or hidden units with identical incoming weights."""
    if not np.any(W1) and not np.any(W2):
        return ZERO_INIT
    columns = W1.T
    for i in range(len(columns)):
        for j in range(i + 1, len(columns)):
            if np.array_equal(columns[i], columns[j]):
                return ZERO_INIT if not np.any(W1) else SYMMETRIC_INIT
    return ""


def update_hint(actual: Any, before: np.ndarray, grad: np.ndarray, learning_rate: float) -> str:
    return first_match(actual, [(before + learning_rate * grad, ADDS_GRADIENT), (before - grad, NO_LEARNING_RATE),
                                (before, NOT_STORED)])


def predict_hint(actual: Any, logits: np.ndarray, expected: np.ndarray) -> str:
    return first_match(actual, [((logits > 0.5).astype(float), LOGIT_THRESHOLD), (1.0 - expected, FLIPPED_LABELS)])
NO_SGD = ("train did not learn the data it was given. It must run mini-batch SGD: every epoch, shuffle the data, "
          "and for each mini-batch of self.batch_size rows call forward_pass, backward_prop and update_weights.")
FULL_BATCH = ("train takes one step per epoch on the whole data set (full-batch gradient descent). Mini-batch SGD "
              "takes one step per batch of self.batch_size rows: ceil(n / batch_size) steps make an epoch.")
BATCH_COUNT = ("Each epoch splits the n rows into ceil(n / batch_size) mini-batches of self.batch_size rows (the last "
               "one may be smaller) and calls backward_prop and update_weights once for each.")
NO_SHUFFLE = ("train visits the mini-batches in the same order every epoch. Draw a new permutation of the rows at "
              "the start of each epoch, for example order = rng.permutation(n), and slice the batches from it.")
