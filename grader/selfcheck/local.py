"""The in-process transport: the grading suite's `Student` over a namespace in this very process (the in-notebook
check's).

Every request goes through the worker's own handlers (grader/sandbox/inside/worker.py) and crosses the same
data-only encoding both ways, so the public suite sees the values, errors and messages it sees when it grades a
sandboxed notebook. Nothing is isolated: this is for a student checking their own code in their own kernel.
"""

from __future__ import annotations

import random
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from grader.sandbox.inside import protocol
from grader.sandbox.inside.protocol import Kind, Op
from grader.sandbox.inside.worker import Capture, Worker, answered, describe, dispatch
from grader.sandbox.outcomes import NotebookRun
from grader.sandbox.replies import answer_callback
from grader.sandbox.student import Answer, Student

OUTPUT_CHARS = 65536  # what one call may print before the rest is only counted
NO_LIMIT = 0.0  # in-process calls have no timer: the student stops their own kernel


def _refuse(callback: dict[str, Any], blobs: list[bytes]) -> tuple[dict[str, Any], list[bytes]]:
    """Outside a request (a cell run by fresh.py) no stand-in is answered."""
    return answer_callback(None, frozenset(), callback, blobs)


class LocalWorker(Worker):
    """The worker's request handlers bound to an existing namespace, without the sandbox's SIGALRM timer."""

    def __init__(self, output_bytes: int, namespace: dict[str, Any] | None = None,
                 standins_file: str | None = None) -> None:
        super().__init__(output_bytes, namespace, standins_file=standins_file)
        self.answer: Answer = _refuse  # answers the running request's stand-ins (set by LocalTransport.exchange)

    def ask(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], attributes: dict[str, Any], options: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """A stand-in's call, through the data-only encoding both ways, as over the sandbox's channel."""
        blobs: list[bytes] = []
        payload = protocol.encode_value([list(args), kwargs, attributes, options], blobs, "the arguments")
        callback, callback_blobs = _cross({"op": Op.CALLBACK, "name": name, "args": payload}, blobs)
        return answered(name, *_cross(*self.answer(callback, callback_blobs)))

    def captured(self, fn: Callable[[], dict[str, Any]], seconds: float) -> dict[str, Any]:
        out, err = Capture(self.output_bytes, 1), Capture(self.output_bytes, 2)
        saved = sys.stdout, sys.stderr, warnings.showwarning
        sys.stdout, sys.stderr = out, err
        warnings.showwarning = _to_stderr  # a kernel (or pytest) may record warnings elsewhere; the suite reads stderr
        try:
            reply = fn()
        except KeyboardInterrupt:  # the kernel's stop button stops the check too
            raise
        except BaseException as e:  # noqa: BLE001 - the student's error is a test result, as in the sandbox
            reply = {"ok": False, "kind": Kind.RAISED, **describe(e)}
        finally:
            sys.stdout, sys.stderr, warnings.showwarning = saved
        return {**reply, "stdout": out.text(), "stderr": err.text()}


def _to_stderr(message: Any, category: type, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    """Python's own way of showing a warning, as in the sandbox's fresh process: written to (captured) stderr."""
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


class _Seeds:
    """The random state a check changes (the worker's seed op patches numpy), put back when the check ends."""

    def __init__(self, namespace: dict[str, Any]) -> None:
        self.python, self.legacy, self.default_rng = random.getstate(), np.random.get_state(), np.random.default_rng
        self.names = [k for k, v in namespace.items() if v is np.random.default_rng]
        self.namespace = namespace

    def restore(self) -> None:
        random.setstate(self.python)
        np.random.set_state(self.legacy)
        np.random.default_rng = self.default_rng
        for name in self.names:
            self.namespace[name] = self.default_rng


class LocalTransport:
    """A Student's transport to code that lives in `namespace` (a kernel's __main__ globals): no process, no timer,
    nothing to restart; close() puts back the random state the check changed."""

    generation = 0  # the objects are never lost
    restarts = 0
    mode = "in-process"
    isolated = False
    alive = True
    submission = None  # the kernel's code, not a saved file
    confinement = ""

    def __init__(self, namespace: dict[str, Any], standins_file: Path | None = None) -> None:
        self.namespace = namespace
        self.worker = LocalWorker(OUTPUT_CHARS, namespace=namespace, standins_file=str(standins_file or "") or None)
        self._seeds = _Seeds(namespace)

    def exchange(self, msg: dict[str, Any], blobs: list[bytes], label: str, timeout: float | None,
                 answer: Answer) -> tuple[dict[str, Any], list[bytes], float]:
        """One request through the data-only encoding, both ways, as if over the sandbox's pipe."""
        request, request_blobs = _cross({**msg, "seconds": NO_LIMIT}, blobs)
        self.worker.answer = answer
        try:
            reply, out = _cross(*dispatch(self.worker, request, request_blobs))
        finally:
            self.worker.answer = _refuse
        return reply, out, NO_LIMIT

    def malformed(self, reason: str) -> None:
        """Nothing to stop: the notebook's code runs in the student's own kernel."""

    def start(self) -> None:
        """Nothing to start: the notebook's cells already ran in this process."""

    def wait_ready(self) -> NotebookRun:
        """No cells run here: the kernel ran them before the check."""
        return NotebookRun(())

    def restart(self) -> None:
        """Nothing to restart: the notebook's process is this one."""

    def close(self) -> None:
        """Put back the random state and numpy's default_rng, so the notebook goes on as before the check."""
        self._seeds.restore()
        self.worker.handles.clear()

    def remaining(self) -> float:
        return float("inf")


def local_student(namespace: dict[str, Any], standins_file: Path | None = None) -> Student:
    """The grading suite's `student` for the code defined in `namespace`, in this process; `standins_file` is the
    assignment's WORKER_STANDINS, the stand-ins the worker computes itself."""
    return Student(LocalTransport(namespace, standins_file))


def _cross(message: dict[str, Any], blobs: list[Any]) -> tuple[dict[str, Any], list[Any]]:
    """Pack and unpack one message: only what survives the sandbox's wire format gets through."""
    frame = protocol.pack(message, blobs)
    return protocol.unpack(memoryview(frame)[8:], max_json=protocol.MAX_MESSAGE_BYTES)
