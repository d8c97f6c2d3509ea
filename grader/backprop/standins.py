"""The grader's answers to the stand-ins it puts in a submission's place while it tests something that calls them
(grader/sandbox/inside/standins.py): the activations and their derivatives, softmax, and the backward pass.

This runs in the grader's process: the reference computations never enter the student's. Everything that comes
in is the student's data (arguments, the model's weights), turned into float arrays of bounded size; an answer
keeps the float dtype of what it was given and the shapes of the model's own parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from grader.backprop import oracle
from grader.backprop.checks import MAX_HIDDEN

MAX_ENTRIES = 10**7  # the largest array a stand-in computes with: the channel's message cap bounds it too
MAX_ROWS_TIMES_HIDDEN = 10**7  # a batch's hidden activations: n * H floats, so the grader's memory stays bounded


def _floats(value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf" or arr.size > MAX_ENTRIES:
        raise ValueError(f"expected a numeric array of at most {MAX_ENTRIES} entries, got {arr.dtype} {arr.shape}")
    return arr if arr.dtype.kind == "f" else arr.astype(float)


def _like(value: np.ndarray, template: np.ndarray) -> np.ndarray:
    return value.astype(template.dtype)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return _like(oracle.sigmoid(x), x)


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda x: _like(np.maximum(x, 0.0), x),
    "relu_derivative": lambda x: _like((x > 0).astype(float), x),
    "sigmoid": _sigmoid,
    "sigmoid_derivative": lambda x: _like(oracle.sigmoid(x) * (1.0 - oracle.sigmoid(x)), x),
    "softmax": lambda a: _like(oracle.softmax(a), a),
}


def weights(attributes: dict) -> tuple[oracle.Params, dict[str, np.ndarray]]:
    """The model's W1, b1, W2, b2 in the grader's shapes (float64), and as the model holds them."""
    held = {name: _floats(attributes[name]) for name in oracle.PARAMS}
    shape = held["W1"].shape
    if len(shape) != 2 or shape[0] != 2 or not 1 <= shape[1] <= MAX_HIDDEN:
        raise ValueError(f"expected W1 of shape (2, H) with H at most {MAX_HIDDEN}, got {shape}")
    hidden = shape[1]
    if held["b1"].size != hidden or held["W2"].size != hidden or held["b2"].size != 1:
        raise ValueError(f"b1, W2 and b2 do not fit W1 of shape {shape}")
    params = {"W1": held["W1"].astype(float), "b1": held["b1"].astype(float).reshape(hidden),
              "W2": held["W2"].astype(float).reshape(hidden, 1), "b2": held["b2"].astype(float).reshape(1)}
    return params, held


def backward(params: oracle.Params, X: np.ndarray, y: np.ndarray) -> oracle.Params:
    """The gradients of the batch's mean cross-entropy, by the chain rule (checked against finite differences of
    oracle.mean_bce in tests/test_standins.py)."""
    fwd = oracle.forward(params, X)
    dZ2 = (fwd["A2"] - y.reshape(-1, 1)) / max(len(X), 1)
    dZ1 = (dZ2 @ params["W2"].T) * (fwd["Z1"] > 0)
    return {"W1": X.T @ dZ1, "b1": dZ1.sum(axis=0), "W2": fwd["A1"].T @ dZ2, "b2": dZ2.sum(axis=0)}


def _backward(args: list, attributes: dict, options: dict) -> tuple[Any, dict]:
    params, held = weights(attributes)
    if len(args) != 2:
        raise TypeError(f"expected X and y, got {len(args)} arguments")
    X, y = _floats(args[0]).astype(float), _floats(args[1]).astype(float)
    if X.ndim != 2 or X.shape[1] != 2 or y.size != len(X) or len(X) * len(params["b1"]) > MAX_ROWS_TIMES_HIDDEN:
        raise ValueError(f"expected X of shape (n, 2) and n labels, with n * H at most {MAX_ROWS_TIMES_HIDDEN}; "
                         f"got X {X.shape}, y {y.shape}, H = {len(params['b1'])}")
    grads = backward(params, X, y)
    return tuple(_like(grads[p].reshape(held[p].shape), held["W1"]) for p in oracle.PARAMS), {}


METHODS = {"backward": _backward}


def answer(name: str, args: list, kwargs: dict, attributes: dict, options: dict) -> tuple[Any, dict]:
    """A stand-in's value and the attributes to set on its object; raises for a call it cannot take."""
    if name in ACTIVATIONS:
        if len(args) != 1 or kwargs:
            raise TypeError(f"{name} takes one array")
        return ACTIVATIONS[name](_floats(args[0])), {}
    if name in METHODS:
        return METHODS[name](args, attributes, options)
    raise LookupError(f"no stand-in named {name}")
