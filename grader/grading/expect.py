"""Checks that turn a value from the student's process into a verdict with a message a student can act on.

Every check either returns the value in its canonical form (an array of the expected shape, a float) or raises
Mismatch saying what was expected and what came back. float32 passes for float64, with tolerances that follow the
precision of the dtype returned. Nothing here knows an assignment: its own checks (grader/backprop/checks.py) build
on these.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import math

import numpy as np

from grader.errors import StudentError, StudentTimeout

if TYPE_CHECKING:
    from grader.sandbox.student import SuiteStudent

VALUE_TOL = 1e-6  # relative error allowed for a value computed by a closed formula (softmax, forward, loss)
REL_FLOOR = 1e-8  # the epsilon floor of rel_error, so an all-zero answer compared with zero is not 0/0
SHOWN_ENTRIES = 6  # how many entries of an array a message shows

SHOWN_DIGITS = 3  # significant digits of a number in a message, unless more are needed to see a difference

FLOAT_EPSILONS = 100  # a tolerance is never tighter than this many machine epsilons of the dtype returned

Hint = str | Callable[[], str]


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
    err = rel_error(actual, expected)
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


def close(actual: np.ndarray | float, expected: np.ndarray | float, what: str, tol: float = VALUE_TOL,
          hint: Hint = "") -> None:
    """Values within relative error `tol` (rel_error), or the precision of the float dtype returned if that
    is coarser; the message shows enough digits to see the difference. The hint is only computed on failure."""
    finite(actual, what, hint)
    err, tol = rel_error(actual, expected), tolerance_for(actual, tol)
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


OVERFLOW_WARNING = "RuntimeWarning: overflow"

def call_array(student: SuiteStudent, name: str, x: np.ndarray, arg: str = "x", hint: Hint = "",
               isolate: Sequence[str] = ()) -> tuple[np.ndarray, str]:
    """Call the student's one-argument `name` on x (with the notebook functions `isolate` the grader's own);
    returns the result, checked to be an array shaped like x, and the words that describe the call in messages."""
    what = f"{name}({arg}) for {arg} of shape {x.shape}"
    return as_array(student.call(name, x, _isolate=isolate), what, x.shape, hint=hint), what


def call_stderr(student: SuiteStudent) -> str:
    """What the student's last call wrote to stderr (numpy's warnings among it); read it right after the call."""
    return student.last_stderr or ""


def no_overflow(stderr: str, what: str, hint: str) -> None:
    """A right value reached through an overflow (numpy warned) still fails the stability check."""
    if OVERFLOW_WARNING in stderr:
        raise Mismatch(f"{what}: expected no overflow, got numpy's warning 'overflow encountered'",
                       expected="no overflow warning", actual="RuntimeWarning: overflow", hint=hint)


def rel_error(actual: np.ndarray, expected: np.ndarray, floor: float = REL_FLOOR) -> float:
    """max |a - e| / max(floor, max(|a| + |e|)): one number for the whole array, scaled by its size."""
    a, e = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    return float(np.max(np.abs(a - e)) / max(floor, float(np.max(np.abs(a) + np.abs(e)))))
