"""The sandbox's `Student` interface over a namespace in this very process: what the in-notebook check calls.

Every request goes through the worker's own handlers (grader/sandbox/inside/worker.py) and crosses the same
data-only encoding both ways, so the public suite sees the values, errors and messages it sees when it grades a
sandboxed notebook. Nothing is isolated: this is for a student checking their own code in their own kernel.
"""

from __future__ import annotations

import random
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from grader.errors import ProtocolError
from grader.sandbox.inside import protocol
from grader.sandbox.inside.protocol import Kind, Op
from grader.sandbox.inside.worker import Capture, Worker, answered, describe, dispatch
from grader.sandbox.replies import (StandinAnswer, allowed_standins, answer_callback, call_message, encode,
                                    raise_for, text)

OUTPUT_CHARS = 65536  # what one call may print before the rest is only counted
NO_LIMIT = 0.0  # in-process calls have no timer: the student stops their own kernel


class LocalWorker(Worker):
    """The worker's request handlers bound to an existing namespace, without the sandbox's SIGALRM timer."""

    standin_answer: StandinAnswer | None = None
    allowed: frozenset[str] = frozenset()  # the stand-ins the running request may call (replies.allowed_standins)

    def ask(self, name: str, args: tuple, kwargs: dict, attributes: dict, options: dict) -> tuple[Any, dict]:
        """A stand-in's call, through the data-only encoding both ways, as over the sandbox's channel."""
        blobs: list[bytes] = []
        payload = protocol.encode_value([list(args), kwargs, attributes, options], blobs, "the arguments")
        callback, callback_blobs = _cross({"op": Op.CALLBACK, "name": name, "args": payload}, blobs)
        answer = answer_callback(self.standin_answer, self.allowed, callback, callback_blobs)
        return answered(name, *_cross(*answer))

    def captured(self, fn: Callable[[], dict], seconds: float) -> dict:
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

    def __init__(self, namespace: dict) -> None:
        self.python, self.legacy, self.default_rng = random.getstate(), np.random.get_state(), np.random.default_rng
        self.names = [k for k, v in namespace.items() if v is np.random.default_rng]
        self.namespace = namespace

    def restore(self) -> None:
        random.setstate(self.python)
        np.random.set_state(self.legacy)
        np.random.default_rng = self.default_rng
        for name in self.names:
            self.namespace[name] = self.default_rng


class LocalRemote:
    """A handle to an object the notebook's code made (a TwoLayerPerceptron), like the sandbox's Remote."""

    def __init__(self, student: "LocalStudent", handle: int, type_name: str) -> None:
        self._student, self.handle, self.type_name = student, handle, type_name

    def call(self, method: str, *args: Any, _timeout: float | None = None, _isolate: Sequence[str] = (),
             **kwargs: Any) -> Any:
        msg = call_message({"op": Op.CALL, "handle": self.handle, "name": method}, _isolate)
        return self._student._invoke(msg, args, kwargs, f"{self.type_name}.{method}")

    def get(self, attr: str) -> Any:
        msg = {"op": Op.GET, "handle": self.handle, "name": attr}
        return self._student._invoke(msg, None, None, f"{self.type_name}.{attr}")

    def set(self, attr: str, value: Any) -> None:
        self._student._set(self.handle, attr, value, f"setting {self.type_name}.{attr}", as_method=False)

    def stub(self, method: str, value: Any) -> None:
        """Make `method` return the grader's `value`, as the sandbox's Remote.stub does."""
        self._student._set(self.handle, method, value, f"replacing {self.type_name}.{method}", as_method=True)

    def spy(self, method: str) -> None:
        """Watch `method` from now on, as the sandbox's Remote.spy does."""
        self._instrument(Op.SPY, method, f"watching {self.type_name}.{method}")

    def calls(self, method: str) -> list:
        """The calls of a watched method, in order, as the sandbox's Remote.calls gives them."""
        label = f"the calls of {self.type_name}.{method}"
        return self._student._decode(*self._instrument(Op.SPIED, method, label), label)

    def use_grader_method(self, method: str, grader_method: str, attributes: Sequence[str] = (), arguments: int = 0,
                          **options: float) -> None:
        """Replace `method` by a stand-in the grader answers, as the sandbox's Remote does."""
        self._instrument(Op.GRADER_METHOD, method, f"replacing {self.type_name}.{method}", method=grader_method,
                         attributes=list(attributes), arguments=arguments, options=options)
        self._student.installed_standins.setdefault(self.handle, set()).add(grader_method)

    def _instrument(self, op: str, name: str, label: str, **extra: Any) -> tuple[dict, list]:
        return self._student._send({"op": op, "handle": self.handle, "name": name, **extra}, [], label)

    def __repr__(self) -> str:
        return f"<LocalRemote {self.type_name} #{self.handle}>"


class LocalStudent:
    """The grading suite's `student` for code that lives in `namespace` (a kernel's __main__ globals)."""

    isolated = False
    mode = "in-process"
    alive = True
    restarts = 0

    def __init__(self, namespace: dict, standins_file: Path | None = None) -> None:
        self.namespace = namespace
        self._worker = LocalWorker(OUTPUT_CHARS, namespace=namespace, standins_file=str(standins_file or "") or None)
        self._seeds = _Seeds(namespace)
        self.last_stdout = self.last_stderr = ""
        self.installed_standins: dict[int, set[str]] = {}  # handle -> the stand-ins use_grader_method put on it

    def close(self) -> None:
        """Put back the random state and numpy's default_rng, so the notebook goes on as before the check."""
        self._seeds.restore()
        self._worker.handles.clear()

    def restart(self) -> None:
        """Nothing to restart: the notebook's process is this one."""

    @property
    def standin_answer(self) -> StandinAnswer | None:
        """What answers the stand-ins' calls, as the sandbox's Student.standin_answer."""
        return self._worker.standin_answer

    @standin_answer.setter
    def standin_answer(self, handler: StandinAnswer | None) -> None:
        self._worker.standin_answer = handler

    def call(self, name: str, *args: Any, _timeout: float | None = None, _isolate: Sequence[str] = (),
             **kwargs: Any) -> Any:
        return self._invoke(call_message({"op": Op.CALL, "name": name}, _isolate), args, kwargs, f"`{name}`")

    def new(self, name: str, *args: Any, _timeout: float | None = None, **kwargs: Any) -> LocalRemote:
        return self._remote(self._invoke({"op": Op.NEW, "name": name}, args, kwargs, f"`{name}`", raw=True))

    def new_bare(self, name: str, _timeout: float | None = None, **attributes: Any) -> LocalRemote:
        msg = {"op": Op.NEW, "name": name, "bare": True}
        return self._remote(self._invoke(msg, (), attributes, f"`{name}`", raw=True))

    def get(self, name: str) -> Any:
        return self._invoke({"op": Op.GET, "name": name}, None, None, f"`{name}`")

    def defined(self) -> dict[str, str]:
        return self._decode(*self._send({"op": Op.DEFINED}, [], "listing the notebook's names"), "defined")

    def seed(self, value: int) -> None:
        self._send({"op": Op.SEED, "value": int(value)}, [], "seeding")

    def _remote(self, reply: dict) -> LocalRemote:
        handle, type_name = reply.get("handle"), reply.get("type")
        if type(handle) is not int or type(type_name) is not str:
            raise ProtocolError("the answer to `new` has no valid handle")
        return LocalRemote(self, handle, type_name[:200])

    def _set(self, handle: int, name: str, value: Any, label: str, *, as_method: bool) -> None:
        blobs: list[bytes] = []
        msg = {"op": Op.SET, "handle": handle, "name": name, "value": encode(value, blobs), "as_method": as_method}
        self._send(msg, blobs, label)

    def _invoke(self, msg: dict, args: Any, kwargs: Any, label: str, raw: bool = False) -> Any:
        blobs: list[bytes] = []
        if args is not None:
            msg = {**msg, "args": encode(list(args), blobs), "kwargs": encode(dict(kwargs), blobs)}
        reply, out = self._send(msg, blobs, label)
        return reply if raw else self._decode(reply, out, label)

    def _send(self, msg: dict, blobs: list[bytes], label: str) -> tuple[dict, list]:
        """One request through the data-only encoding, both ways, as if over the sandbox's pipe."""
        request, request_blobs = _cross({**msg, "seconds": NO_LIMIT}, blobs)
        self._worker.allowed = allowed_standins(msg, self.installed_standins)
        reply, out = _cross(*dispatch(self._worker, request, request_blobs))
        self.last_stdout, self.last_stderr = text(reply.get("stdout")), text(reply.get("stderr"))
        raise_for(reply, label, NO_LIMIT, msg.get("op", ""))
        return reply, out

    def _decode(self, reply: dict, out: list, label: str) -> Any:
        try:
            return protocol.decode_value(reply.get("value"), out)
        except protocol.ChannelError as e:
            raise ProtocolError(f"the result of {label} is malformed: {e}") from None


def _cross(message: dict, blobs: list) -> tuple[dict, list]:
    """Pack and unpack one message: only what survives the sandbox's wire format gets through."""
    frame = protocol.pack(message, blobs)
    return protocol.unpack(memoryview(frame)[8:], max_json=protocol.MAX_MESSAGE_BYTES)
