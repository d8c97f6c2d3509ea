"""Stand-ins for a student's functions and methods, answered by the grader: a test of forward_pass runs it with
the grader's relu and sigmoid in place of the notebook's, a test of train runs the student's loop with the grader's
forward_pass, backward_prop and update_weights. A bug in one function then costs points in its own area only.

The backward pass and the activations are not computed here, so the student's code can neither read nor call
them: each call sends its arguments back to the grader (the worker's `ask`) and returns the grader's answer, and
the grader answers only the stand-ins the running request's test put in place. Standard library and numpy only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

PARAMS = ("W1", "b1", "W2", "b2")

# ask(name, args, kwargs, attributes, options) -> (value, attributes to set); raises when it cannot be answered
Ask = Callable[[str, tuple, dict, dict, dict], "tuple[Any, dict]"]


def function(ask: Ask, name: str) -> Callable[..., Any]:
    """A notebook function whose value the grader computes."""
    def standin(*args: Any, **kwargs: Any) -> Any:
        return ask(name, args, kwargs, {}, {})[0]
    standin.__name__ = standin.__qualname__ = name
    return standin


def method(ask: Ask, name: str, attributes: Sequence[str], options: dict, arguments: int) -> Callable[..., Any]:
    """A method whose value the grader computes from its first `arguments` arguments and the object's `attributes`
    (its weights); the attributes the grader sends back (an update's new weights) are set on the object."""
    def standin(self: Any, *args: Any, **kwargs: Any) -> Any:
        value, updates = ask(name, args[:arguments], {}, {a: getattr(self, a) for a in attributes}, options)
        for attribute, new in updates.items():
            setattr(self, attribute, new)
        return value
    standin.__name__ = standin.__qualname__ = name
    return standin


# --- computed here: stand-ins whose formulas the assignment's own text states, called once per mini-batch, so a
# round trip to the grader for each would make train many times slower. The backward pass and the activations
# are the work being graded: those always go back to the grader.

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
