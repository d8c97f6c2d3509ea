"""Checks that turn a value from the student's process into a verdict with a message a student can act on.

Every check either returns the value in its canonical form (an array of the documented shape, a float) or
raises Mismatch saying what was expected and what came back. The contract's equivalent forms are accepted:
biases (1, H) for (H,), predictions (n, 1) for (n,) and bool for int, a 0-d array for a float, float32 for
float64 (tolerances then follow the precision of the dtype returned). Models get the grader's weights in the shapes
and dtype of the student's own initialisation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import math

import numpy as np

from grader.backprop import hints, oracle
from grader.errors import StudentError, StudentTimeout

SHOWN_ENTRIES = 6  # how many entries of an array a message shows
MAX_HIDDEN = 4096  # the widest hidden layer the grader computes with, so its own memory stays bounded
SHOWN_DIGITS = 3  # significant digits of a number in a message, unless more are needed to see a difference
FLOAT_EPSILONS = 100  # a tolerance is never tighter than this many machine epsilons of the dtype returned
Hint = str | Callable[[], str]
_input_salt: int | None = None  # set by the plugin when grading for real; None keeps the public, fixed seeds


def set_input_salt(salt: int | None) -> None:
    global _input_salt
    _input_salt = salt


def input_rng(seed: int) -> np.random.Generator:
    """The generator for one test's inputs. The self-check uses the fixed seed, so a student can reproduce a failure;
    real grading mixes in a secret, so answers recorded from the public tests are no use there."""
    return np.random.default_rng(seed if _input_salt is None else [seed, _input_salt])


class Mismatch(AssertionError):
    """A wrong answer: the plugin shows message, expected, actual and hint to the student."""

    def __init__(self, message: str, *, expected: str = "", actual: str = "", hint: str = "") -> None:
        super().__init__(message)
        self.message, self.expected, self.actual, self.hint = message, expected, actual, hint


def describe(value: Any) -> str:
    """What a value is, in words: "an array of shape (4, 3)", "a tuple of length 2", "None"."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return f"the bool {value}"
    if isinstance(value, int) and abs(value) > 10**15:
        return f"an integer with {len(str(abs(value)))} digits"  # too large for a float
    if isinstance(value, (int, float)):
        return f"the number {value:.6g}"
    if isinstance(value, np.ndarray):
        kind = {"b": "a bool array", "c": "a complex array"}.get(value.dtype.kind, "an array")
        return f"{kind} of shape {value.shape}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of length {len(value)}"
    if isinstance(value, dict):
        return f"a dict with keys {sorted(map(str, value))}"
    return f"a {type(value).__name__}"


def show(value: Any, digits: int = SHOWN_DIGITS) -> str:
    """A short deterministic rendering of numbers: "[0.09 0.24 0.67 ...]"."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        return describe(value)
    flat = arr.ravel()
    text = " ".join(f"{v:.{digits}g}" for v in flat[:SHOWN_ENTRIES].tolist())
    if arr.ndim == 0:
        return text
    return f"[{text}{' ...' if flat.size > SHOWN_ENTRIES else ''}]"


def show_shaped(value: Any, digits: int = SHOWN_DIGITS) -> str:
    """show() plus the array's shape and a dtype other than float64, for the expected/actual excerpts."""
    arr = np.asarray(value)
    if not arr.ndim or arr.dtype.kind not in "biuf":
        return show(value, digits)
    dtype = f", {arr.dtype}" if arr.dtype.kind == "f" and arr.dtype != np.float64 else ""
    return f"{show(value, digits)}, shape {arr.shape}{dtype}"


def digits_to_differ(actual: Any, expected: Any) -> int:
    """Enough significant digits for two values that differ by a small relative error to look different."""
    err = oracle.rel_error(actual, expected)
    if not np.isfinite(err) or err <= 0:
        return SHOWN_DIGITS
    return int(min(17, max(SHOWN_DIGITS, math.ceil(-math.log10(err)) + 2)))


def tolerance_for(value: Any, tol: float) -> float:
    """tol, loosened to FLOAT_EPSILONS machine epsilons of the value's float dtype (float32: about 1.2e-5)."""
    dtype = getattr(value, "dtype", None)
    if dtype is None or dtype.kind != "f":
        return tol
    return max(tol, FLOAT_EPSILONS * float(np.finfo(dtype).eps))


def _resolve(hint: Hint) -> str:
    return hint() if callable(hint) else hint


def shape_text(shapes: Sequence[tuple[int, ...]]) -> str:
    return " or ".join(str(s) for s in shapes)


def as_array(value: Any, what: str, shape: tuple[int, ...], *, also: Sequence[tuple[int, ...]] = (),
             integer: bool = False, hint: Hint = "") -> np.ndarray:
    """The value as an array of `shape` (its own float dtype or float64, or int64 when `integer`, which accepts
    bools too); `also` lists accepted equivalents."""
    wanted = shape_text([shape, *also])
    kind_ok = isinstance(value, np.ndarray) and value.dtype.kind in ("biu" if integer else "biuf")
    if not kind_ok or (value.shape != shape and value.shape not in also):
        kind = "an int array" if integer else "an array"
        got = describe(value)
        if isinstance(value, np.ndarray) and value.shape in (shape, *also):
            got = f"an array of dtype {value.dtype}"
        raise Mismatch(f"{what}: expected {kind} of shape {wanted}, got {got}",
                       expected=f"{kind} of shape {wanted}", actual=got, hint=_resolve(hint))
    if integer:
        return value.reshape(shape).astype(np.int64)
    return value.reshape(shape).astype(value.dtype if value.dtype.kind == "f" else float)


def as_float(value: Any, what: str) -> float:
    """A Python int or float, or a 0-d numeric array, as a float."""
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        return float(value)
    if isinstance(value, float) or (isinstance(value, int) and not isinstance(value, bool) and abs(value) <= 10**300):
        return float(value)
    raise Mismatch(f"{what}: expected a float, got {describe(value)}", expected="a float", actual=describe(value))


def unpack(value: Any, what: str, names: Sequence[str]) -> dict[str, Any]:
    """A returned tuple (or list) of len(names) values, by name."""
    if not isinstance(value, (tuple, list)) or len(value) != len(names):
        wanted = f"a tuple ({', '.join(names)})"
        raise Mismatch(f"{what}: expected {wanted}, got {describe(value)}", expected=wanted, actual=describe(value))
    return dict(zip(names, value))


def finite(value: np.ndarray | float, what: str, hint: Hint = "") -> None:
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)):
        bad = "nan" if np.isnan(arr).any() else "inf"
        raise Mismatch(f"{what}: expected finite values, got {bad} ({show(arr)})", expected="finite values",
                       actual=show(arr), hint=_resolve(hint))


def close(actual: np.ndarray | float, expected: np.ndarray | float, what: str, tol: float = oracle.VALUE_TOL,
          hint: Hint = "") -> None:
    """Values within relative error `tol` (oracle.rel_error), or the precision of the float dtype returned if that
    is coarser; the message shows enough digits to see the difference. The hint is only computed on failure."""
    finite(actual, what, hint)
    err, tol = oracle.rel_error(actual, expected), tolerance_for(actual, tol)
    if err > tol:
        digits = digits_to_differ(actual, expected)
        raise Mismatch(f"{what}: expected {show(expected, digits)}, got {show(actual, digits)} "
                       f"(max relative error {err:.2g}, tolerance {tol:g})",
                       expected=show_shaped(expected, digits), actual=show_shaped(actual, digits),
                       hint=_resolve(hint))


def equal(actual: np.ndarray, expected: np.ndarray, what: str, hint: Hint = "") -> None:
    """Exactly equal labels; the message counts the entries that differ."""
    wrong = int(np.sum(actual != expected))
    if wrong:
        raise Mismatch(f"{what}: {wrong} of {expected.size} entries differ: expected {show(expected)}, "
                       f"got {show(actual)}", expected=show_shaped(expected), actual=show_shaped(actual),
                       hint=_resolve(hint))


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


def new_model(student: Any, *, seed: int, hidden_dim: int, params: oracle.Params | None = None,
              **hyperparameters: Any) -> Any:
    """TwoLayerPerceptron(2, hidden_dim=..., ...) built after seeding the worker; `params` then replace its weights,
    in the shapes and dtype its own initialisation gave them."""
    student.seed(seed)
    settings = {**MODEL_DEFAULTS, "hidden_dim": hidden_dim, **hyperparameters}
    try:
        model = student.new("TwoLayerPerceptron", 2, **settings)
    except StudentError as exc:
        if exc.kind != "raised" or params is None:
            raise
        # the constructor is graded in `init`; tests that set their own weights still test their method
        model = student.new_bare("TwoLayerPerceptron", input_dim=2, **settings)
    if params:
        install_params(model, params)
    return model


def own_layout(model: Any, names: Sequence[str] = oracle.PARAMS) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
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


def install_params(model: Any, params: oracle.Params) -> oracle.Params:
    """Set the model's weights to `params` in the layout of its own (2-D biases, float32 stay so); returns them as
    set, so exact checks compare with the values the student's code really got."""
    sent = in_layout(params, own_layout(model, tuple(params)))
    for name, value in sent.items():
        model.set(name, value)
    return sent


def isolate_forward(model: Any, params: oracle.Params, X: np.ndarray) -> None:
    """Make the model's forward_pass return the grader's own Z1, A1, Z2, A2 for X, so a test of a method that calls
    it (the loss, predict) does not lose points for a bug in forward_pass, which `forward` grades."""
    values = oracle.forward(params, X)
    model.stub("forward_pass", tuple(values[k] for k in ("Z1", "A1", "Z2", "A2")))


STANDIN_FUNCTIONS = ("relu", "relu_derivative", "sigmoid", "sigmoid_derivative", "softmax")  # the grader answers


def standins_except(*tested: str) -> tuple[str, ...]:
    """The notebook functions the grader replaces by its own while it tests others that may call them."""
    return tuple(name for name in STANDIN_FUNCTIONS if name not in tested)


class Skip(Exception):
    """An attempt of charged_once that does not apply to this submission (it would repeat another)."""


def charged_once(*attempts: Callable[[], None]) -> None:
    """Run a check's attempts in order until one passes: first with the grader's own versions of what the tested
    code calls (a bug there is charged in its own area), then in ways the contract also allows, such as the
    student's own functions or layout. When all fail, the failure reported is the first of the best rank (_rank):
    a wrong answer, else the student's own error, else a stand-in's refusal. A time limit or a dead process ends it
    at once: running the same code again would only spend the time again."""
    failures: list[Exception] = []
    for attempt in attempts:
        try:
            attempt()
            return
        except StudentTimeout:
            raise
        except Skip:
            continue
        except (Mismatch, StudentError) as exc:
            failures.append(exc)
    if not failures:
        raise RuntimeError("charged_once: every attempt was skipped; the first one must always run")
    raise min(failures, key=_rank)


def _rank(failure: Exception) -> int:
    """Which failure charged_once reports: a wrong answer, then the student's own error, then a stand-in's refusal
    (the student's code called a grader stand-in in a way of its own; its own attempt says more)."""
    if isinstance(failure, Mismatch):
        return 0
    return 2 if getattr(failure, "exc_type", "") == "StandinRefused" else 1


def use_standin_methods(model: Any, *methods: str, learning_rate: float | None = None) -> None:
    """The model's forward_pass, backward_prop, update_weights or cross_entropy_loss replaced by the grader's
    stand-ins, for a test of a method that calls them: backward_prop's gradients are answered by the grader
    (grader/backprop/standins.py) from X, y and the model's own weights; the others, whose formulas the
    assignment states, the worker computes (grader/sandbox/inside/standins.py)."""
    names = {"forward_pass": "forward", "backward_prop": "backward", "update_weights": "update",
             "cross_entropy_loss": "mean_bce"}
    if "update_weights" in methods and learning_rate is None:
        raise ValueError("use_standin_methods: the stand-in update_weights needs the model's learning_rate")
    for method in methods:
        options = {"learning_rate": learning_rate} if method == "update_weights" else {}
        model.use_grader_method(method, names[method], oracle.PARAMS, 2 if method == "backward_prop" else 0,
                                **options)


def get_params(model: Any, what: str, hidden_dim: int | None = None, input_dim: int = 2) -> oracle.Params:
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


OVERFLOW_WARNING = "RuntimeWarning: overflow"


def call_array(student: Any, name: str, x: np.ndarray, arg: str = "x", hint: Hint = "",
               isolate: Sequence[str] = ()) -> tuple[np.ndarray, str]:
    """Call the student's one-argument `name` on x (with the notebook functions `isolate` the grader's own);
    returns the result, checked to be an array shaped like x, and the words that describe the call in messages."""
    what = f"{name}({arg}) for {arg} of shape {x.shape}"
    return as_array(student.call(name, x, _isolate=isolate), what, x.shape, hint=hint), what


def check_stable(student: Any, name: str, large: np.ndarray, expected: np.ndarray, hint_text: str) -> None:
    """`name` at logits of +-1000: the right values, and no overflow on the way there."""
    what = f"{name}(x) for x = {large.tolist()}"
    raw = student.call(name, large)
    stderr = call_stderr(student)
    hint = partial(hints.unstable_hint, raw, name)
    got = as_array(raw, what, large.shape, hint=hint)
    close(got, expected, what, hint=hint)
    no_overflow(stderr, what, hint_text)


def call_stderr(student: Any) -> str:
    """What the student's last call wrote to stderr (numpy's warnings among it); read it right after the call."""
    return str(getattr(student, "last_stderr", "") or "")


def no_overflow(stderr: str, what: str, hint: str) -> None:
    """A right value reached through an overflow (numpy warned) still fails the stability check."""
    if OVERFLOW_WARNING in stderr:
        raise Mismatch(f"{what}: expected no overflow, got numpy's warning 'overflow encountered'",
                       expected="no overflow warning", actual="RuntimeWarning: overflow", hint=hint)
