"""The grader's own versions of what a tested method may call, swapped into the student's process for one test.

A test of forward_pass runs it with the grader's relu and sigmoid, a test of train runs the student's loop with
the grader's forward_pass, backward_prop and update_weights: a bug in one function then costs points in its own
area only. Each stand-in keeps the float dtype of its input (or of the model's parameters) and the shapes of the
model's own parameters. Standard library and numpy only: this file is bound into the sandbox next to worker.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PARAMS = ("W1", "b1", "W2", "b2")


def _floats(x: Any) -> np.ndarray:
    """x as an array of its own float dtype, or float64."""
    arr = np.asarray(x)
    return arr if arr.dtype.kind == "f" else arr.astype(float)


def relu(x: Any) -> np.ndarray:
    x = _floats(x)
    return np.maximum(x, 0).astype(x.dtype)


def relu_derivative(x: Any) -> np.ndarray:
    x = _floats(x)
    return (x > 0).astype(x.dtype)


def sigmoid(x: Any) -> np.ndarray:
    """1 / (1 + e^-x), with exp only ever taken of -|x|."""
    x = _floats(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


def sigmoid_derivative(x: Any) -> np.ndarray:
    s = sigmoid(x)
    return s * (1 - s)


def softmax(a: Any) -> np.ndarray:
    """Along the last axis, shifted by the row's maximum."""
    a = _floats(a)
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


FUNCTIONS = {"relu": relu, "relu_derivative": relu_derivative, "sigmoid": sigmoid,
             "sigmoid_derivative": sigmoid_derivative, "softmax": softmax}


def _weights(model: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The model's W1, b1, W2, b2 as float64, biases as rows."""
    W1, b1, W2, b2 = (np.asarray(getattr(model, p), dtype=float) for p in PARAMS)
    return W1, b1.reshape(1, -1), W2.reshape(-1, 1), b2.reshape(1, -1)


def _logits(model: Any, X: Any) -> tuple[np.ndarray, np.ndarray]:
    W1, b1, W2, b2 = _weights(model)
    Z1 = np.asarray(X, dtype=float) @ W1 + b1
    return Z1, np.maximum(Z1, 0.0) @ W2 + b2


def _dtype(model: Any) -> np.dtype:
    W1 = np.asarray(model.W1)
    return W1.dtype if W1.dtype.kind == "f" else np.dtype(float)


def forward_pass(model: Any, X: Any, *args: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
    """Z1, A1, Z2, A2 of the model's own weights, Z2 and A2 of shape (n, 1)."""
    Z1, Z2 = _logits(model, X)
    dtype = _dtype(model)
    return tuple(v.astype(dtype) for v in (Z1, np.maximum(Z1, 0.0), Z2, sigmoid(Z2)))


def backward_prop(model: Any, X: Any, y: Any, *args: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
    """dW1, db1, dW2, db2 of the batch's mean cross-entropy at the model's own weights, recomputed from X (the
    Z1, A1, Z2, A2 passed in may come from the student's forward pass), in the shapes of the parameters."""
    X = np.asarray(X, dtype=float)
    _, _, W2, _ = _weights(model)
    Z1, Z2 = _logits(model, X)
    dZ2 = (sigmoid(Z2) - np.asarray(y, dtype=float).reshape(-1, 1)) / max(len(X), 1)
    dZ1 = (dZ2 @ W2.T) * (Z1 > 0)
    grads = (X.T @ dZ1, dZ1.sum(axis=0), np.maximum(Z1, 0.0).T @ dZ2, dZ2.sum(axis=0))
    dtype = _dtype(model)
    return tuple(g.reshape(np.shape(getattr(model, p))).astype(dtype) for g, p in zip(grads, PARAMS))


def update_weights(model: Any, *grads: Any, learning_rate: float, **kwargs: Any) -> None:
    """One SGD step of each parameter, keeping its shape and dtype (a bias gradient of another but equal size, say
    (1, H) for (H,), is reshaped to the parameter's)."""
    for name, grad in zip(PARAMS, grads):
        value = np.asarray(getattr(model, name))
        step = np.asarray(grad, dtype=float).reshape(value.shape)
        setattr(model, name, (value - learning_rate * step).astype(value.dtype))


def mean_bce(model: Any, X: Any, y: Any) -> float:
    """The mean binary cross-entropy of the model's own weights, from the logits: mean(log(1 + e^z) - y z)."""
    z = _logits(model, X)[1].ravel()
    return float(np.mean(np.logaddexp(0.0, z) - np.ravel(np.asarray(y, dtype=float)) * z))


METHODS = {"mean_bce": mean_bce, "forward": forward_pass, "backward": backward_prop, "update": update_weights}
OPTIONS = {"learning_rate"}  # what a test may bind into a stand-in method, as numbers only
