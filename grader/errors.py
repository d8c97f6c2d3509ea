"""Typed errors of the grader core. Only the CLI boundary turns them into a message and an exit code."""

from __future__ import annotations


class GraderError(Exception):
    """Base class: something the grader reports instead of a score."""


class SubmissionError(GraderError):
    """The submission file cannot be read as a notebook or script. The message is one line a student can act on."""


class ConfigError(GraderError):
    """The rubric or another configuration file holds a bad value. The message names the file and the place."""


class SandboxError(GraderError):
    """The sandbox could not be started (for example, bubblewrap cannot create namespaces on this host)."""


class WorkerDied(GraderError):
    """The submission's process ended or was killed (time limit, memory limit, os._exit, a signal)."""


class ProtocolError(GraderError):
    """The submission's process sent something that is not a well-formed message of the data-only protocol."""


class StudentError(GraderError):
    """The student's code raised, or its result could not be accepted.

    `kind` is one of "raised", "timeout", "unsendable", "missing"; `exc_type` and `traceback` describe the
    student's exception where there was one (the traceback is trimmed to the student's own code).
    """

    def __init__(self, message: str, *, kind: str = "raised", exc_type: str = "", traceback: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.exc_type = exc_type
        self.traceback = traceback


class StudentTimeout(StudentError):
    """A call into the student's code ran past its time limit."""

    def __init__(self, message: str, *, traceback: str = "") -> None:
        super().__init__(message, kind="timeout", exc_type="TimeoutError", traceback=traceback)


class Unsendable(StudentError):
    """The student's code returned a value that is not plain data (arrays, numbers, strings, containers)."""

    def __init__(self, message: str, *, type_name: str = "") -> None:
        super().__init__(message, kind="unsendable", exc_type=type_name)
        self.type_name = type_name


class MissingName(StudentError):
    """The notebook does not define a name the grader needs (a function, class, method or attribute)."""

    def __init__(self, message: str, *, name: str = "") -> None:
        super().__init__(message, kind="missing", exc_type="NameError")
        self.name = name
