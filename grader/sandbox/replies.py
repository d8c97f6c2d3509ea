"""Turn the worker's replies, which are untrusted data, into typed errors and CellOutcomes for the grading suite.
Every field of every reply is type- and range-checked in one place, `checked` (called where replies arrive, in
process.py), and every string is clipped and made valid text: a reply is never trusted to be well-formed."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from grader.notebook import clean
from grader.sandbox.inside import protocol
from grader.errors import MissingName, ProtocolError, StudentError, StudentTimeout, Unsendable
from grader.sandbox.inside.protocol import Kind, Op
from grader.notebook.extract import Cell
from grader.sandbox.outcomes import CellOutcome, CellStatus

TEXT_LIMIT = 20000


def raise_for(reply: dict[str, Any], label: str, seconds: float, op: str) -> None:
    """Turn a failure reply into the typed error the grading suite expects."""
    if reply.get("ok") is True:
        return
    kind, message, tb = reply.get("kind"), text(reply.get("message")), text(reply.get("traceback"))
    if kind == Kind.TIMEOUT:
        raise StudentTimeout(f"{label} did not finish within {seconds:g} s", traceback=tb)
    if kind == Kind.RAISED:
        raise StudentError(message or "an exception", kind=Kind.RAISED, exc_type=text(reply.get("exc_type"))[:200],
                           traceback=tb)
    if kind == Kind.MISSING:
        raise MissingName(message or f"{label} is not defined", name=label.strip("`"))
    if kind == Kind.UNSENDABLE:
        type_name, where = text(reply.get("type_name"))[:200], text(reply.get("where"))[:200]
        place = "" if where in ("", "the result") else f" (at {where.replace('the result', 'result', 1)})"
        verb = "is" if op == Op.GET else "returned"
        raise Unsendable(f"{label} {verb} an object of type {type_name}{place}, which is not plain data "
                         "(arrays, numbers, strings, lists, tuples, dicts)", type_name=type_name)
    if kind == Kind.TOO_LARGE:
        size = reply.get("size")
        size = size if type(size) is int else 0
        raise Unsendable(f"{label} returned {size / 2**20:.0f} MiB of data, more than the grader accepts",
                         type_name="too large")
    raise ProtocolError(f"the worker could not handle {label}: {message or kind!r}")


def encode(value: Any, blobs: list[bytes]) -> Any:
    try:
        return protocol.encode_value(value, blobs, "an argument")
    except protocol.NotPlainData as e:
        raise TypeError(f"only plain data can be sent to the notebook: {e}") from None


# the grader's answer to a stand-in's call: (name, args, kwargs, attributes, options) -> (value, attributes to set)
StandinAnswer = Callable[[str, list[Any], dict[str, Any], dict[str, Any], dict[str, Any]],
                         "tuple[Any, dict[str, Any]]"]


def allowed_standins(msg: dict[str, Any], installed: dict[int, set[str]]) -> frozenset[str]:
    """The stand-ins a request may call back: the functions it isolates and those put on the object it calls. The
    student's code cannot have the grader compute anything else for it (its own backward_prop, say)."""
    if msg.get("op") != Op.CALL:
        return frozenset()
    # a request's handle is an int or absent (absent: nothing installed)
    return frozenset([*msg.get("isolate", ()), *installed.get(msg.get("handle"), ())])  # type: ignore[arg-type]


def answer_callback(handler: StandinAnswer | None, allowed: frozenset[str], reply: dict[str, Any],
                    blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    """The answer frame to a stand-in's callback: the handler's value, or a refusal the stand-in raises in the
    student's process. Its arguments are data only, decoded like any reply; whatever they do to the handler, it
    is a refusal, never a failure of the grader."""
    name = text(reply.get("name"))[:100]
    if handler is None or name not in allowed:
        return {"op": Op.ANSWER, "error": f"the grader's own {name} is not available here"}, []
    try:
        args, kwargs, attributes, options = protocol.decode_value(reply.get("args"), blobs)
        value, updates = handler(name, list(args), dict(kwargs), dict(attributes), dict(options))
        out: list[bytes] = []
        encoded = protocol.encode_value([value, updates], out, "the answer")
        if sum(len(b) for b in out) > protocol.MAX_MESSAGE_BYTES // 2:  # the worker could not take it in
            raise ValueError("the answer would be larger than the channel carries")
        return {"op": Op.ANSWER, "value": encoded}, out
    except Exception as e:  # noqa: BLE001 - arguments from the student's code: refused, with the reason
        return {"op": Op.ANSWER, "error": f"the grader's own {name} could not take these arguments "
                                         f"({type(e).__name__}: {str(e)[:300]})"}, []


def call_message(msg: dict[str, Any], isolate: Sequence[str]) -> dict[str, Any]:
    """A call request, with the notebook functions the worker replaces by the grader's own while it runs."""
    return {**msg, "isolate": [str(n) for n in isolate]} if isolate else msg


def text(value: Any) -> str:
    """A reply's string field, clipped, and valid UTF-8 (a lone surrogate printed by a student becomes U+FFFD)."""
    return clean.valid_text(value[:TEXT_LIMIT]) if type(value) is str else ""


def cell_outcome(index: int, reply: dict[str, Any]) -> CellOutcome:
    reply = checked(reply)
    ended = {Kind.RAISED.value: CellStatus.ERROR, Kind.TIMEOUT.value: CellStatus.TIMEOUT}
    status = ended.get(str(reply.get("kind")), CellStatus.OK if reply.get("ok") is True else CellStatus.ERROR)
    return CellOutcome(index=index, status=status, seconds=reply.get("seconds", 0.0),
                       error_type=text(reply.get("exc_type"))[:200], message=text(reply.get("message"))[:2000],
                       traceback=text(reply.get("traceback")), stdout=text(reply.get("stdout")),
                       stderr=text(reply.get("stderr")))


def not_run(cell: Cell, why: str) -> CellOutcome:
    return CellOutcome(cell.index, CellStatus.TIMEOUT if "time limit" in why else CellStatus.ERROR, message=why)


# ---- every reply's fields, checked once where replies enter (process.WorkerProcess._receive) -----------------

KINDS = frozenset(k.value for k in Kind)  # plain strings: an Enum member hashes by its name
MAX_SECONDS = 1e7  # no cell or request runs longer than this; a larger claim is a forgery
MAX_ID = 2**62


def _text_field(value: Any) -> str | None:
    return text(value) if type(value) is str else None


def _number(low: float, high: float) -> Callable[[Any], float | None]:
    def check(value: Any) -> float | None:
        if type(value) is int and low <= value <= high:  # compared as ints: 10**400 never becomes a float
            return float(value)
        if type(value) is float and math.isfinite(value) and low <= value <= high:
            return value
        return None
    return check


def _whole(low: int, high: int) -> Callable[[Any], int | None]:
    return lambda value: value if type(value) is int and low <= value <= high else None


FIELDS: dict[str, Callable[[Any], Any]] = {
    "ok": lambda v: v if type(v) is bool else None,
    "kind": lambda v: v if type(v) is str and v in KINDS else None,
    "op": lambda v: v if v in (Op.READY, Op.CALLBACK) else None,
    "name": _text_field,  # a callback's stand-in
    "args": clean.clean_tree,  # a callback's arguments, decoded like a value
    "id": _whole(0, MAX_ID), "pid": _whole(0, MAX_ID), "handle": _whole(0, MAX_ID), "size": _whole(0, 2**63),
    "seconds": _number(0.0, MAX_SECONDS),
    "message": _text_field, "traceback": _text_field, "exc_type": _text_field, "type_name": _text_field,
    "where": _text_field, "type": _text_field, "stdout": _text_field, "stderr": _text_field,
    "value": clean.clean_tree,  # decode_value checks its structure; here its strings become valid text
}


def checked(reply: dict[str, Any]) -> dict[str, Any]:
    """The reply with only known fields, each of the right type and range (others dropped, so they read as absent),
    and every string valid text. The one place a reply's fields are validated."""
    out = {}
    for name, check in FIELDS.items():
        if name in reply:
            try:
                value = check(reply[name])
            except clean.TooDeep:
                raise ProtocolError("the worker sent a value nested too deeply") from None
            if value is not None:
                out[name] = value
    return out
