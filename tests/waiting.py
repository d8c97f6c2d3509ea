"""Waiting for something to happen in another process or thread, instead of sleeping and hoping it has."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float, what: str | Callable[[], str],
               interval: float = 0.05) -> T:
    """Poll predicate() until it is true and return its value; fail the test, saying `what` was awaited, once
    `timeout` seconds have passed (a hang guard: set it far above any realistic wait)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:g} s waiting for {what() if callable(what) else what}")
        time.sleep(interval)
