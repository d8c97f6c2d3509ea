"""The fields of a change the page posts, read strictly by their JSON type: a version or an id is a whole number
(not 3.0, "3" or true), a flag is true or false (not "false"), a text is a string (not null). A wrong one is a
Problem, 400, with a sentence that names the field, what it must be and what came instead."""

from __future__ import annotations

import math
from http import HTTPStatus

from grader.handgrade.store import Refused

MAX_ID = 2**53  # the largest whole number a browser's JSON keeps exactly


class Problem(Exception):
    """A request the app refuses: HTTP status and a sentence for the TA."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def kind(value: object) -> str:
    """The JSON name of a value's type, for a refusal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return {int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}.get(type(value), "?")


def bad(what: str, wanted: str, value: object) -> Problem:
    return Problem(HTTPStatus.BAD_REQUEST, f"{what} must be {wanted}, not {kind(value)}")


def text(body: dict, name: str, default: str | None = None) -> str:
    """A JSON string field; missing is `default` (refused when there is none)."""
    value = body.get(name, default)
    if not isinstance(value, str):
        raise bad(name, "text", value)
    return value


def whole(body: dict, name: str, *, optional: bool = False) -> int | None:
    """A JSON whole number field, 0 to 2**53 (null allowed only if optional); 3.0, "3" and true are refused."""
    value = body.get(name)
    if value is None and optional:
        return None
    if type(value) is not int or not 0 <= value <= MAX_ID:
        raise bad(name, "a whole number from 0" + (" (or null)" if optional else ""), value)
    return value


def flag(body: dict, name: str) -> bool:
    value = body.get(name)
    if not isinstance(value, bool):
        raise bad(name, "true or false", value)
    return value


def number(value: object, what: str) -> float | None:
    """A JSON number or numeric text; None for null or blank text. Refused otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Refused(f"{what} must be a number, not {kind(value)}")
    try:
        number = float(value.strip().replace(",", ".") if isinstance(value, str) else value)  # 7,5 is 7.5 too
    except (ValueError, OverflowError):
        raise Refused(f"{what} {str(value)[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise Refused(f"{what} must be a finite number")
    return number
