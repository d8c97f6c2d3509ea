"""Turn the worker's replies, which are untrusted data, into typed errors and CellOutcomes for the grading suite.
Every field is type-checked and clipped: a reply is never trusted to be well-formed."""

from __future__ import annotations

from typing import Any

from grader.sandbox.inside import protocol
from grader.errors import MissingName, ProtocolError, StudentError, StudentTimeout, Unsendable
from grader.notebook.extract import Cell
from grader.grading.results import CellOutcome

TEXT_LIMIT = 20000


def raise_for(reply: dict, label: str, seconds: float, op: str) -> None:
    """Turn a failure reply into the typed error the grading suite expects."""
    if reply.get("ok") is True:
        return
    kind, message, tb = reply.get("kind"), text(reply.get("message")), text(reply.get("traceback"))
    if kind == "timeout":
        raise StudentTimeout(f"{label} did not finish within {seconds:g} s", traceback=tb)
    if kind == "raised":
        raise StudentError(message or "an exception", kind="raised", exc_type=text(reply.get("exc_type"))[:200],
                           traceback=tb)
    if kind == "missing":
        raise MissingName(message or f"{label} is not defined", name=label.strip("`"))
    if kind == "unsendable":
        type_name, where = text(reply.get("type_name"))[:200], text(reply.get("where"))[:200]
        place = "" if where in ("", "the result") else f" (at {where.replace('the result', 'result', 1)})"
        verb = "is" if op == "get" else "returned"
        raise Unsendable(f"{label} {verb} an object of type {type_name}{place}, which is not plain data "
                         "(arrays, numbers, strings, lists, tuples, dicts)", type_name=type_name)
    if kind == "too_large":
        size = reply.get("size") if type(reply.get("size")) is int else 0
        raise Unsendable(f"{label} returned {size / 2**20:.0f} MiB of data, more than the grader accepts",
                         type_name="too large")
    raise ProtocolError(f"the worker could not handle {label}: {message or kind!r}")


def encode(value: Any, blobs: list[bytes]) -> Any:
    try:
        return protocol.encode_value(value, blobs, "an argument")
    except protocol.NotPlainData as e:
        raise TypeError(f"only plain data can be sent to the notebook: {e}") from None


def text(value: Any) -> str:
    """A reply's string field, clipped, and valid UTF-8 (a lone surrogate printed by a student becomes "?")."""
    return value[:TEXT_LIMIT].encode("utf-8", "replace").decode("utf-8") if type(value) is str else ""


def cell_outcome(index: int, reply: dict) -> CellOutcome:
    status = {"raised": "error", "timeout": "timeout"}.get(reply.get("kind"), "ok" if reply.get("ok") is True else "error")
    seconds = reply.get("seconds")
    return CellOutcome(index=index, status=status, seconds=float(seconds) if type(seconds) in (int, float) else 0.0,
                       error_type=text(reply.get("exc_type"))[:200], message=text(reply.get("message"))[:2000],
                       traceback=text(reply.get("traceback")), stdout=text(reply.get("stdout")),
                       stderr=text(reply.get("stderr")))


def not_run(cell: Cell, why: str) -> CellOutcome:
    return CellOutcome(cell.index, "timeout" if "time limit" in why else "error", message=why)
