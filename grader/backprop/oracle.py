"""The grader's own computations: the answers students are checked against, written independently of them.

Everything here is float64 numpy run in the trusted grader process. Gradients are checked against centered finite
differences of the grader's own loss, never against a student's loss or forward pass.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

GRAD_TOL = 1e-6  # relative error allowed between an analytic gradient and centered finite differences
EXACT_TOL = 1e-9  # relative error allowed where the arithmetic is exact up to rounding (one SGD step)
FD_STEP = 1e-5  # step h of the centered difference (f(x+h) - f(x-h)) / 2h; truncation error ~ h^2
KINK_MARGIN = 1e-3  # inputs of relu are kept this far from 0, where finite differences cross the kink

PARAMS = ("W1", "b1", "W2", "b2")
Params = dict[str, np.ndarray]


def numerical_grad(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = FD_STEP) -> np.ndarray:
    """Centered finite differences of the scalar f at x; every perturbed entry is restored before the next."""
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        plus = f(x)
        x[idx] = old - h
        minus = f(x)
        x[idx] = old
        grad[idx] = (plus - minus) / (2 * h)
    return grad


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-x)) without overflow: exp is only ever taken of -|x|."""
    x = np.asarray(x, dtype=float)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def log_softmax(a: np.ndarray) -> np.ndarray:
    """ln softmax(a) row by row, by log-sum-exp."""
    a = np.asarray(a, dtype=float)
    m = a.max(axis=1, keepdims=True)
    return a - m - np.log(np.exp(a - m).sum(axis=1, keepdims=True))


def softmax(a: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(a))


def softmax_cross_entropy(a: np.ndarray, t: np.ndarray) -> float:
    """E = -sum_n sum_k t_nk ln y_nk."""
    return float(-np.sum(t * log_softmax(a)))


def forward(params: Params, X: np.ndarray) -> dict[str, np.ndarray]:
    """Z1 = X W1 + b1, A1 = relu(Z1), Z2 = A1 W2 + b2, A2 = sigmoid(Z2); Z2 and A2 are (n, 1)."""
    Z1 = X @ params["W1"] + params["b1"].reshape(1, -1)
    A1 = np.maximum(Z1, 0.0)
    Z2 = A1 @ params["W2"] + params["b2"].reshape(1, -1)
    return {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": sigmoid(Z2)}


def mean_bce(params: Params, X: np.ndarray, y: np.ndarray) -> float:
    """Mean binary cross-entropy of sigmoid(Z2) against y, from the logits: mean(log(1 + e^z) - y z)."""
    z = forward(params, X)["Z2"].ravel()
    return float(np.mean(np.logaddexp(0.0, z) - np.ravel(y) * z))


def predict(params: Params, X: np.ndarray) -> np.ndarray:
    """1 where the predicted probability is above 0.5, as int64 of shape (n,)."""
    return (forward(params, X)["A2"].ravel() > 0.5).astype(np.int64)


def accuracy(params: Params, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(predict(params, X) == np.ravel(y)))


def bce_grad(params: Params, X: np.ndarray, y: np.ndarray, name: str) -> np.ndarray:
    """d mean_bce / d params[name], by centered finite differences of the grader's own loss."""
    def loss_at(value: np.ndarray) -> float:
        return mean_bce({**params, name: value}, X, y)
    return numerical_grad(loss_at, params[name])


def random_params(rng: np.random.Generator, input_dim: int, hidden_dim: int, scale: float = 1.0) -> Params:
    """Gaussian weights and biases, all nonzero, for setting a model to a known state."""
    return {"W1": scale * rng.normal(size=(input_dim, hidden_dim)), "b1": 0.5 * scale * rng.normal(size=hidden_dim),
            "W2": scale * rng.normal(size=(hidden_dim, 1)), "b2": 0.5 * scale * rng.normal(size=1)}


def away_from_kink(params: Params, X: np.ndarray) -> bool:
    """True when no hidden pre-activation is within KINK_MARGIN of relu's kink, so finite differences are valid."""
    return bool(np.min(np.abs(forward(params, X)["Z1"])) > KINK_MARGIN)


def starting_params(rng: np.random.Generator, input_dim: int, hidden_dim: int) -> Params:
    """A good place to start training from (He-scaled weights, zero biases), set by the grader in train tests."""
    return {"W1": rng.normal(0.0, np.sqrt(2.0 / input_dim), size=(input_dim, hidden_dim)), "b1": np.zeros(hidden_dim),
            "W2": rng.normal(0.0, np.sqrt(1.0 / hidden_dim), size=(hidden_dim, 1)), "b2": np.zeros(1)}
