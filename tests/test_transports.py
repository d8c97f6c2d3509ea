"""One Student, two transports: the same notebook seen through the sandbox and through this very process (the
in-notebook self-check) gives the same values, the same typed errors and the same messages, request by request.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox.client import open_submission
from grader.sandbox.student import Remote, Student
from grader.backprop import WORKER_STANDINS
from grader.selfcheck.local import local_student

CELLS = (
    "import sys\nimport numpy as np\nmade = []",
    "def double(x):\n    return 2 * x\n\n"
    "def twice_double(x):\n    return double(double(x))\n\n"
    "def boom():\n    raise ValueError('bad input')\n\n"
    "def gives_function():\n    return lambda: 1\n\n"
    "def shout():\n    print('to stdout')\n    print('to stderr', file=sys.stderr)\n    return 1\n\n"
    "def overflows():\n    return np.exp(np.array([1000.0]))\n\n"
    "def draw():\n    return np.random.default_rng().normal(size=3)\n\n"
    "def first_of_last_box():\n    return made[-1].first(np.ones((2, 2)))",
    "class Box:\n"
    "    def __init__(self, n):\n        self.n, self.items = n, np.arange(n)\n        made.append(self)\n\n"
    "    def total(self, k=1):\n        return int(self.items.sum()) * k\n\n"
    "    def first(self, X):\n        return X[0]",
    "values = [1, 2.5, 'text', (None, True)]",
)


def answer(name, args, kwargs, attributes, options):
    """The grader's side of a stand-in: says which stand-in it answered, and from what."""
    return {"answered": name, "args": [np.asarray(a).tolist() for a in args]}, {}


def plain(value):
    """A value in a form == compares exactly: arrays by dtype, shape and entries, handles by type and number."""
    if isinstance(value, np.ndarray):
        return ("array", str(value.dtype), value.shape, value.tolist())
    if isinstance(value, Remote):
        return ("remote", value.type_name, value.handle)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [plain(v) for v in value])
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return (type(value).__name__, value)


def requests(student: Student) -> list:
    """Every kind of request the suite makes, with its outcome: a value, or an error's type, message and the
    student's exception type; and what each call printed."""
    student.standin_answer = answer
    box: list[Remote] = []
    steps = {
        "call": lambda: student.call("double", np.arange(3.0)),
        "call kwargs": lambda: student.call("double", x=np.arange(2, dtype=np.int32)),
        "get": lambda: student.get("values"),
        "raises": lambda: student.call("boom"),
        "missing": lambda: student.get("nope"),
        "not callable": lambda: student.call("values"),
        "returns a function": lambda: student.call("gives_function"),
        "gets a function": lambda: student.get("double"),
        "sends an object": lambda: student.call("double", object()),
        "prints": lambda: (student.call("shout"), student.last_stdout, student.last_stderr),
        "overflow warning": lambda: (student.call("overflows"), "RuntimeWarning: overflow" in student.last_stderr),
        "isolated": lambda: student.call("twice_double", np.arange(2.0), _isolate=["double"]),
        "seeded": lambda: (student.seed(3), student.call("draw")),
        "new": lambda: box.append(student.new("Box", 3)) or box[0],
        "method": lambda: box[0].call("total", k=2),
        "attribute": lambda: box[0].get("n"),
        "set": lambda: (box[0].set("n", 5), box[0].get("n")),
        "no such method": lambda: box[0].call("nope"),
        "stub": lambda: (box[0].stub("total", 7), box[0].call("total", k=3)),
        "spy": lambda: (box[0].spy("first"), box[0].call("first", np.ones((4, 2))), box[0].calls("first")),
        "grader method": lambda: (box[0].use_grader_method("first", "first", arguments=1),
                                  box[0].call("first", np.eye(2))),
        "refused stand-in": lambda: student.call("first_of_last_box"),
        "constructor raises": lambda: student.new("Box", "three"),
        "bare": lambda: student.new_bare("Box", n=2, items=np.arange(2)).call("total"),
        "defined": lambda: student.defined(),
    }
    seen = []
    for what, step in steps.items():
        try:
            outcome = ("value", plain(step()))
        except Exception as e:  # noqa: BLE001 - the outcome being compared
            outcome = ("error", type(e).__name__, str(e), getattr(e, "exc_type", ""))
        seen.append((what, outcome, student.last_stdout, student.last_stderr))
    return seen


def write_script(tmp_path: Path) -> Path:
    path = tmp_path / "transports.py"
    path.write_text("".join(f"# %%\n{cell}\n" for cell in CELLS))
    return path


@pytest.mark.sandbox
def test_the_sandbox_and_this_process_answer_every_request_alike(tmp_path):
    with open_submission(write_script(tmp_path), standins_file=WORKER_STANDINS) as sandboxed:
        assert [c.status for c in sandboxed.notebook.cells] == ["ok"] * len(CELLS)
        through_sandbox = requests(sandboxed)
    namespace: dict = {"__name__": "__main__"}
    local = local_student(namespace, WORKER_STANDINS)
    for index, source in enumerate(CELLS):  # as the terminal check's fresh run does (cells named "Cell [i]")
        local.transport.worker.run_cell({"index": index, "source": source, "seconds": 0})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")  # as in the sandbox's fresh interpreter, not pytest's own filters
            in_process = requests(local)
    finally:
        local.close()
    for sandbox_step, local_step in zip(through_sandbox, in_process):
        assert sandbox_step == local_step
    assert len(through_sandbox) == len(in_process)
    outcomes = {what: outcome for what, outcome, *_ in in_process}  # and each kind of request did what it should
    assert outcomes["raises"][:2] == ("error", "StudentError") and "bad input" in outcomes["raises"][2]
    assert outcomes["missing"][1] == "MissingName" and outcomes["returns a function"][1] == "Unsendable"
    assert outcomes["sends an object"][1] == "TypeError"
    inner = {"answered": ("str", "double"), "args": ("list", [("list", [("float", 0.0), ("float", 1.0)])])}
    assert outcomes["isolated"] == ("value", {"answered": ("str", "double"), "args": ("list", [inner])})
    assert outcomes["refused stand-in"][3] == "StandinRefused"
    assert outcomes["overflow warning"][1][1][1] == ("bool", True)
    assert outcomes["stub"][1][1][1] == ("int", 7)


def test_a_local_student_has_no_process_to_lose():
    student = local_student({"x": 1})
    assert (student.mode, student.isolated, student.alive, student.restarts) == ("in-process", False, True, 0)
    student.restart()  # nothing to restart: the handles and values are the same afterwards
    assert student.get("x") == 1 and student.remaining() == float("inf")
    with pytest.raises(AttributeError, match="no saved submission"):
        _ = student.submission
