"""The assignment's own checks, on the generic ones of grader/grading/expect.py: the parameters' documented shapes
and their accepted equivalents (biases (1, H) for (H,)), the model built and given the grader's weights in the
shapes and dtype of the student's own initialisation, the stand-ins, and each test's seeded inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from grader.backprop import hints, oracle
from grader.errors import StudentError
from grader.grading.expect import Mismatch, as_array, call_stderr, close, finite, no_overflow
from grader.sandbox.inside.protocol import Kind

if TYPE_CHECKING:
    from grader.sandbox.student import SuiteRemote, SuiteStudent

MAX_HIDDEN = 4096  # the widest hidden layer the grader computes with, so its own memory stays bounded
_input_salt: int | None = None  # set by the plugin when grading for real; None keeps the public, fixed seeds


def set_input_salt(salt: int | None) -> None:
    global _input_salt
    _input_salt = salt


def input_rng(seed: int) -> np.random.Generator:
    """The generator for one test's inputs. The self-check uses the fixed seed, so a student can reproduce a failure;
    real grading mixes in a secret, so answers recorded from the public tests are no use there."""
    return np.random.default_rng(seed if _input_salt is None else [seed, _input_salt])


def bias_shapes(size: int) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """The documented shape of a bias of `size` entries, and its accepted equivalent (1, size)."""
    return (size,), ((1, size),)


def param_shapes(input_dim: int, hidden_dim: int) -> dict[str, tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]]:
    """For W1, b1, W2, b2: (documented shape, accepted equivalents)."""
    return {"W1": ((input_dim, hidden_dim), ()), "b1": bias_shapes(hidden_dim),
            "W2": ((hidden_dim, 1), ()), "b2": bias_shapes(1)}


def as_params(values: dict[str, Any], what: str, input_dim: int, hidden_dim: int) -> oracle.Params:
    """W1, b1, W2, b2 in their documented shapes, each checked for shape and finiteness."""
    out = {}
    for name, (shape, also) in param_shapes(input_dim, hidden_dim).items():
        out[name] = as_array(values[name], f"{what}: {name}", shape, also=also).astype(float)
        finite(out[name], f"{what}: {name}")
    return out


MODEL_DEFAULTS = dict(learning_rate=0.5, batch_size=32, epochs=1, tol=0.0)  # the grader's own, for unit tests

def new_model(student: SuiteStudent, *, seed: int, hidden_dim: int, params: oracle.Params | None = None,
              **hyperparameters: Any) -> SuiteRemote:
    """TwoLayerPerceptron(2, hidden_dim=..., ...) built after seeding the worker; `params` then replace its weights,
    in the shapes and dtype its own initialisation gave them."""
    student.seed(seed)
    settings = {**MODEL_DEFAULTS, "hidden_dim": hidden_dim, **hyperparameters}
    try:
        model = student.new("TwoLayerPerceptron", 2, **settings)
    except StudentError as exc:
        if exc.kind != Kind.RAISED or params is None:
            raise
        # the constructor is graded in `init`; tests that set their own weights still test their method
        model = student.new_bare("TwoLayerPerceptron", input_dim=2, **settings)
    if params:
        install_params(model, params)
    return model


def own_layout(model: SuiteRemote, names: Sequence[str] = oracle.PARAMS) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """The shape and float dtype of each of the model's own parameters that is a float array (others are left out)."""
    out = {}
    for name in names:
        try:
            value = model.get(name)
        except StudentError:  # not set, or not plain data: the grader's own layout is used
            continue
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            out[name] = (value.shape, value.dtype)
    return out


def in_layout(values: oracle.Params, layout: dict[str, tuple[tuple[int, ...], np.dtype]]) -> oracle.Params:
    """The grader's values reshaped and cast to the layout where sizes agree; as they are elsewhere."""
    out = {}
    for name, value in values.items():
        shape, dtype = layout.get(name, (value.shape, value.dtype))
        out[name] = value.reshape(shape).astype(dtype) if math.prod(shape) == value.size else value
    return out


def install_params(model: SuiteRemote, params: oracle.Params) -> oracle.Params:
    """Set the model's weights to `params` in the layout of its own (2-D biases, float32 stay so); returns them as
    set, so exact checks compare with the values the student's code really got."""
    sent = in_layout(params, own_layout(model, tuple(params)))
    for name, value in sent.items():
        model.set(name, value)
    return sent


def isolate_forward(model: SuiteRemote, params: oracle.Params, X: np.ndarray) -> None:
    """Make the model's forward_pass return the grader's own Z1, A1, Z2, A2 for X, so a test of a method that calls
    it (the loss, predict) does not lose points for a bug in forward_pass, which `forward` grades."""
    values = oracle.forward(params, X)
    model.stub("forward_pass", tuple(values[k] for k in ("Z1", "A1", "Z2", "A2")))


STANDIN_FUNCTIONS = ("relu", "relu_derivative", "sigmoid", "sigmoid_derivative", "softmax")  # the grader answers

def standins_except(*tested: str) -> tuple[str, ...]:
    """The notebook functions the grader replaces by its own while it tests others that may call them."""
    return tuple(name for name in STANDIN_FUNCTIONS if name not in tested)


def use_standin_methods(model: SuiteRemote, *methods: str, learning_rate: float | None = None) -> None:
    """The model's forward_pass, backward_prop, update_weights or cross_entropy_loss replaced by the grader's
    stand-ins, for a test of a method that calls them: backward_prop's gradients are answered by the grader
    (grader/backprop/standins.py) from X, y and the model's own weights; the others, whose formulas the
    assignment states, the worker computes from this assignment's file (grader/backprop/worker_standins.py)."""
    names = {"forward_pass": "forward", "backward_prop": "backward", "update_weights": "update",
             "cross_entropy_loss": "mean_bce"}
    if "update_weights" in methods and learning_rate is None:
        raise ValueError("use_standin_methods: the stand-in update_weights needs the model's learning_rate")
    for method in methods:
        options = {"learning_rate": float(learning_rate)} if method == "update_weights" and learning_rate is not None \
            else {}
        model.use_grader_method(method, names[method], oracle.PARAMS, 2 if method == "backward_prop" else 0,
                                **options)


def get_params(model: SuiteRemote, what: str, hidden_dim: int | None = None, input_dim: int = 2) -> oracle.Params:
    """The model's W1, b1, W2, b2, fetched from the student's process and checked against the declared hidden_dim
    (None: W1's own width), which may not exceed MAX_HIDDEN, before the grader computes anything with them."""
    values = {name: model.get(name) for name in oracle.PARAMS}
    if hidden_dim is None:
        W1 = values["W1"]
        hidden_dim = W1.shape[1] if isinstance(W1, np.ndarray) and W1.ndim == 2 else 1
    if hidden_dim > MAX_HIDDEN:
        raise Mismatch(f"{what}: a hidden layer of {hidden_dim} units is wider than the grader accepts "
                       f"({MAX_HIDDEN})", expected=f"at most {MAX_HIDDEN} hidden units", actual=f"{hidden_dim}")
    return as_params(values, what, input_dim, hidden_dim)


def check_stable(student: SuiteStudent, name: str, large: np.ndarray, expected: np.ndarray, hint_text: str) -> None:
    """`name` at logits of +-1000: the right values, and no overflow on the way there."""
    what = f"{name}(x) for x = {large.tolist()}"
    raw = student.call(name, large)
    stderr = call_stderr(student)
    hint = partial(hints.unstable_hint, raw, name)
    got = as_array(raw, what, large.shape, hint=hint)
    close(got, expected, what, hint=hint)
    no_overflow(stderr, what, hint_text)

