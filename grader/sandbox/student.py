"""The grading suite's handle on a submission, whichever way its requests travel.

`Student` and `Remote` turn the suite's calls into data-only requests and the replies into values or typed errors;
a `Transport` carries each request: the sandboxed worker process (grader/sandbox/client.py, with its restarts and
deadlines) or a namespace in this very process (grader/selfcheck/local.py, the in-notebook self-check). The suite
itself sees only `SuiteStudent` and `SuiteRemote`, what it uses of the two.

This module imports nothing platform-bound (no fcntl): the in-notebook check runs on every system.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from grader.errors import ProtocolError, WorkerDied
from grader.sandbox.inside import protocol
from grader.sandbox.inside.protocol import Op
from grader.sandbox.replies import StandinAnswer, allowed_standins, answer_callback, call_message, encode, raise_for, text

if TYPE_CHECKING:
    from grader.notebook.extract import Submission
    from grader.sandbox.outcomes import NotebookRun

# answers a stand-in's callback frame (replies.answer_callback, bound to the request's handler and permissions)
Answer = Callable[[dict[str, Any], list[bytes]], "tuple[dict[str, Any], list[bytes]]"]


class Transport(Protocol):
    """Carries one request to the submission's code and its reply back, and owns that code's life cycle."""

    generation: int  # changes when the objects behind handles were lost (a restarted process)
    restarts: int
    mode: str  # "bwrap", "none" or "in-process"
    isolated: bool

    @property
    def alive(self) -> bool: ...

    @property
    def submission(self) -> Submission | None: ...

    @property
    def confinement(self) -> str: ...

    def exchange(self, msg: dict[str, Any], blobs: list[bytes], label: str, timeout: float | None,
                 answer: Answer) -> tuple[dict[str, Any], list[bytes], float]:
        """The reply to one request, its blobs, and the seconds it was given; StudentTimeout or WorkerDied when the
        transport itself failed (a reply that reports the student's error is returned, not raised)."""
        ...

    def malformed(self, reason: str) -> None:
        """A reply's value did not decode: the code behind it is no longer trusted."""

    def start(self) -> None: ...

    def wait_ready(self) -> NotebookRun: ...

    def restart(self) -> None: ...

    def close(self) -> None: ...

    def remaining(self) -> float: ...


class SuiteRemote(Protocol):
    """What the grading suite uses of an object that lives with the submission's code (a TwoLayerPerceptron)."""

    handle: int
    type_name: str

    def call(self, method: str, *args: Any, _timeout: float | None = None, _isolate: Sequence[str] = (),
             **kwargs: Any) -> Any: ...

    def get(self, attr: str) -> Any: ...

    def set(self, attr: str, value: Any) -> None: ...

    def stub(self, method: str, value: Any) -> None: ...

    def spy(self, method: str) -> None: ...

    def calls(self, method: str) -> list[Any]: ...

    def use_grader_method(self, method: str, grader_method: str, attributes: Sequence[str] = (), arguments: int = 0,
                          **options: float) -> None: ...


class SuiteStudent(Protocol):
    """What the grading suite, its plugin and the checks use of a submission (the `student` fixture)."""

    standin_answer: StandinAnswer | None
    last_stdout: str
    last_stderr: str

    @property
    def submission(self) -> Submission: ...

    @property
    def alive(self) -> bool: ...

    def call(self, name: str, *args: Any, _timeout: float | None = None, _isolate: Sequence[str] = (),
             **kwargs: Any) -> Any: ...

    def new(self, name: str, *args: Any, _timeout: float | None = None, **kwargs: Any) -> SuiteRemote: ...

    def new_bare(self, name: str, _timeout: float | None = None, **attributes: Any) -> SuiteRemote: ...

    def get(self, name: str) -> Any: ...

    def seed(self, value: int) -> None: ...

    def restart(self) -> None: ...

    def remaining(self) -> float: ...


class Remote:
    """A handle to an object that lives with the submission's code (for example a TwoLayerPerceptron)."""

    def __init__(self, student: Student, handle: int, type_name: str, generation: int) -> None:
        self._student, self.handle, self.type_name, self._generation = student, handle, type_name, generation

    def _check(self) -> None:
        if self._generation != self._student.generation:
            raise WorkerDied(f"this {self.type_name} object was lost when the notebook's process was restarted")

    def call(self, method: str, *args: Any, _timeout: float | None = None, _isolate: Sequence[str] = (),
             **kwargs: Any) -> Any:
        """The method's result; `_isolate` names notebook functions the grader's own replace during the call."""
        self._check()
        msg = call_message({"op": Op.CALL, "handle": self.handle, "name": method}, _isolate)
        return self._student._invoke(msg, args, kwargs, f"{self.type_name}.{method}", _timeout)

    def get(self, attr: str) -> Any:
        self._check()
        return self._student._invoke({"op": Op.GET, "handle": self.handle, "name": attr}, None, None,
                                     f"{self.type_name}.{attr}", None)

    def set(self, attr: str, value: Any) -> None:
        self._set(attr, value, f"setting {self.type_name}.{attr}", as_method=False)

    def stub(self, method: str, value: Any) -> None:
        """Make `method` return `value` whatever it is called with (the grader's own answer), so a test of another
        method that calls it does not depend on it."""
        self._set(method, value, f"replacing {self.type_name}.{method}", as_method=True)

    def spy(self, method: str) -> None:
        """Watch `method` from now on: each call's first argument (its rows, its first row) is recorded."""
        self._instrument(Op.SPY, method, f"watching {self.type_name}.{method}")

    def calls(self, method: str) -> list[Any]:
        """The calls of a watched method, in order: [rows of the first argument, its first row's first entries]."""
        label = f"the calls of {self.type_name}.{method}"
        value: list[Any] = self._student._decode(*self._instrument(Op.SPIED, method, label), label)
        return value

    def use_grader_method(self, method: str, grader_method: str, attributes: Sequence[str] = (), arguments: int = 0,
                          **options: float) -> None:
        """Replace `method` by a stand-in (grader/sandbox/inside/standins.py): one the worker computes, or one the
        grader answers (`Student.standin_answer`) from the call's first `arguments` arguments, the object's
        `attributes` and `options`; so a test of another method that calls it does not depend on the student's."""
        self._instrument(Op.GRADER_METHOD, method, f"replacing {self.type_name}.{method}", method=grader_method,
                         attributes=list(attributes), arguments=arguments, options=options)
        self._student.installed_standins.setdefault(self.handle, set()).add(grader_method)

    def _set(self, name: str, value: Any, label: str, *, as_method: bool) -> None:
        self._check()
        blobs: list[bytes] = []
        msg = {"op": Op.SET, "handle": self.handle, "name": name, "value": encode(value, blobs)}
        self._student._send({**msg, "as_method": True} if as_method else msg, blobs, label, None)

    def _instrument(self, op: str, name: str, label: str, **extra: Any) -> tuple[dict[str, Any], list[bytes]]:
        self._check()
        return self._student._send({"op": op, "handle": self.handle, "name": name, **extra}, [], label, None)

    def __repr__(self) -> str:
        return f"<Remote {self.type_name} #{self.handle}>"


class Student:
    """A submission's code behind a transport: requests go out as data, replies come back as values or typed errors.
    Start it with start() (or open_submission / local_student), end it with close()."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.last_stdout = self.last_stderr = ""
        self.standin_answer: StandinAnswer | None = None  # answers the stand-ins' calls (Remote.use_grader_method)
        self._standins: dict[int, set[str]] = {}
        self._standins_generation = transport.generation

    # ---- life cycle: the transport's ----------------------------------------------------------------------

    def start(self) -> Student:
        """Start the submission (the sandbox runs its cells in the background); returns at once."""
        self.transport.start()
        return self

    def wait_ready(self) -> NotebookRun:
        """Block until every cell has run (or timed out); re-raises a failure to start the sandbox."""
        return self.transport.wait_ready()

    @property
    def notebook(self) -> NotebookRun:
        return self.transport.wait_ready()

    @property
    def submission(self) -> Submission:
        found = self.transport.submission
        if found is None:
            raise AttributeError(f"a {self.mode} student has no saved submission")
        return found

    @property
    def confinement(self) -> str:
        """What bounds memory, CPU and processes for this submission's sandbox, in words (once it has started)."""
        return self.transport.confinement

    @property
    def alive(self) -> bool:
        return self.transport.alive

    @property
    def generation(self) -> int:
        return self.transport.generation

    @property
    def restarts(self) -> int:
        return self.transport.restarts

    @property
    def mode(self) -> str:
        return self.transport.mode

    @property
    def isolated(self) -> bool:
        return self.transport.isolated

    @property
    def installed_standins(self) -> dict[int, set[str]]:
        """handle -> the stand-ins use_grader_method put on it; forgotten with the objects when they are lost."""
        if self._standins_generation != self.transport.generation:
            self._standins, self._standins_generation = {}, self.transport.generation
        return self._standins

    def restart(self) -> None:
        """A fresh process that re-runs the cells (skipping those that killed the last one); handles are lost."""
        self.transport.restart()

    def close(self) -> None:
        self.transport.close()

    def remaining(self) -> float:
        """Seconds left before the grading's deadline (infinite without one)."""
        return self.transport.remaining()

    # ---- requests -----------------------------------------------------------------------------------------

    def call(self, name: str, *args: Any, _timeout: float | None = None, _isolate: Sequence[str] = (),
             **kwargs: Any) -> Any:
        """The notebook function's result; `_isolate` as for Remote.call."""
        return self._invoke(call_message({"op": Op.CALL, "name": name}, _isolate), args, kwargs, f"`{name}`", _timeout)

    def new(self, name: str, *args: Any, _timeout: float | None = None, **kwargs: Any) -> Remote:
        return self._remote(self._invoke({"op": Op.NEW, "name": name}, args, kwargs, f"`{name}`", _timeout, raw=True))

    def new_bare(self, name: str, _timeout: float | None = None, **attributes: Any) -> Remote:
        """An instance of class `name` made without running its __init__, with `attributes` set on it."""
        msg = {"op": Op.NEW, "name": name, "bare": True}
        return self._remote(self._invoke(msg, (), attributes, f"`{name}`", _timeout, raw=True))

    def get(self, name: str) -> Any:
        """The value of a notebook global, if it is plain data."""
        return self._invoke({"op": Op.GET, "name": name}, None, None, f"`{name}`", None)

    def defined(self) -> dict[str, str]:
        value = self._decode(*self._send({"op": Op.DEFINED}, [], "listing the notebook's names", None), "defined")
        if type(value) is not dict or not all(type(k) is str and type(v) is str for k, v in value.items()):
            raise ProtocolError("the worker's list of names is malformed")
        return value

    def seed(self, value: int) -> None:
        self._send({"op": Op.SEED, "value": int(value)}, [], "seeding", None)

    def _remote(self, reply: dict[str, Any]) -> Remote:
        handle, type_name = reply.get("handle"), reply.get("type")
        if type(handle) is not int or type(type_name) is not str:
            raise ProtocolError("the worker's answer to `new` has no valid handle")
        return Remote(self, handle, type_name[:200], self.generation)

    def _invoke(self, msg: dict[str, Any], args: Any, kwargs: Any, label: str, timeout: float | None, raw: bool = False) -> Any:
        blobs: list[bytes] = []
        if args is not None:
            msg = {**msg, "args": encode(list(args), blobs), "kwargs": encode(dict(kwargs), blobs)}
        reply, out = self._send(msg, blobs, label, timeout)
        return reply if raw else self._decode(reply, out, label)

    def _send(self, msg: dict[str, Any], blobs: list[bytes], label: str, timeout: float | None) -> tuple[dict[str, Any], list[bytes]]:
        answer = partial(answer_callback, self.standin_answer, allowed_standins(msg, self.installed_standins))
        reply, out, seconds = self.transport.exchange(msg, blobs, label, timeout, answer)
        self.last_stdout, self.last_stderr = text(reply.get("stdout")), text(reply.get("stderr"))
        raise_for(reply, label, seconds, msg.get("op", ""))
        return reply, out

    def _decode(self, reply: dict[str, Any], out: list[bytes], label: str) -> Any:
        try:
            return protocol.decode_value(reply.get("value"), out)
        except protocol.ChannelError as e:
            self.transport.malformed(f"it sent a malformed result ({e})")
            raise ProtocolError(f"the result of {label} is malformed: {e}") from None
