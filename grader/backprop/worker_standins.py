"""The stand-ins the worker computes itself, in the student's process: the forward pass, the SGD step and the mean
binary cross-entropy, whose formulas the assignment's own text states. The engine ships this file into the sandbox
beside its worker (WORKER_STANDINS in grader/backprop/__init__.py), which loads it by path before any student code
runs, as the table LOCAL: a stand-in's name -> function(model, *args, **options).

They run once per mini-batch in train, so a round trip to the grader for each would make train many times slower.
The backward pass and the activations are the work being graded: those always go back to the grader
(grader/backprop/standins.py). Standard library and numpy only: nothing of the grader is importable in there.
"""

from __future__ import annotations

from typing import Any

import numpy as np

PARAMS = ("W1", "b1", "W2", "b2")


def _layers(model: Any, X: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Z1, A1 and Z2 of the model's own weights (float64, biases as rows)."""
    W1, b1, W2, b2 = (np.asarray(getattr(model, p), dtype=float) for p in PARAMS)
    Z1 = np.asarray(X, dtype=float) @ W1 + b1.reshape(1, -1)
    A1 = np.maximum(Z1, 0.0)
    return Z1, A1, A1 @ W2.reshape(-1, 1) + b2.reshape(1, -1)


def _dtype(model: Any) -> np.dtype:
    W1 = np.asarray(model.W1)
    return W1.dtype if W1.dtype.kind == "f" else np.dtype(float)


def forward_pass(model: Any, X: Any, *args: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
    """Z1 = X W1 + b1, A1 = max(Z1, 0), Z2 = A1 W2 + b2, A2 = 1 / (1 + e^-Z2); Z2 and A2 of shape (n, 1)."""
    Z1, A1, Z2 = _layers(model, X)
    return tuple(v.astype(_dtype(model)) for v in (Z1, A1, Z2, np.exp(-np.logaddexp(0.0, -Z2))))


def update_weights(model: Any, *grads: Any, learning_rate: float, **kwargs: Any) -> None:
    """W <- W - learning_rate * dW for each parameter, keeping its shape and dtype."""
    for name, grad in zip(PARAMS, grads):
        value = np.asarray(getattr(model, name))
        step = np.asarray(grad, dtype=float).reshape(value.shape)
        setattr(model, name, (value - learning_rate * step).astype(value.dtype))


def mean_bce(model: Any, X: Any, y: Any) -> float:
    """mean(log(1 + e^z) - y z) of the model's logits z."""
    z = _layers(model, X)[2].ravel()
    return float(np.mean(np.logaddexp(0.0, z) - np.ravel(np.asarray(y, dtype=float)) * z))


LOCAL = {"forward": forward_pass, "update": update_weights, "mean_bce": mean_bce}
