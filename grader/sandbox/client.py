"""The grading suite's handle on a submission: run its cells in the sandbox, then call into it with data only.

    with open_submission("backprop.ipynb", limits, data_files={"xordata.pkl": path}) as student:
        z = student.call("relu", x)
        model = student.new("TwoLayerPerceptron", 2, 8)
        Z1, A1, Z2, A2 = model.call("forward_pass", X)

The cells start running at once in a background thread; the first request (or `notebook`) waits for them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from grader.sandbox.inside import protocol
from grader.errors import ProtocolError, StudentTimeout, WorkerDied
from grader.sandbox.inside.protocol import Op
from grader.notebook.extract import Cell, Submission, read_submission
from grader.sandbox.limits import Limits
from grader.sandbox.process import WorkerProcess
from grader.sandbox.replies import (StandinAnswer, allowed_standins, answer_callback, call_message, cell_outcome,
                                    encode, not_run, raise_for, text)
from grader.sandbox.outcomes import CellOutcome, CellStatus, NotebookRun
from grader.sandbox.bwrap import NOT_ISOLATED, available_mode

MAX_REPLAYS = 3  # a notebook whose process keeps dying is not restarted forever


class Remote:
    """A handle to an object that lives in the worker (for example a TwoLayerPerceptron)."""

    def __init__(self, student: "Student", handle: int, type_name: str, generation: int) -> None:
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
        self._check()
        blobs: list[bytes] = []
        msg = {"op": Op.SET, "handle": self.handle, "name": attr, "value": encode(value, blobs)}
        self._student._send(msg, blobs, f"setting {self.type_name}.{attr}", None)

    def stub(self, method: str, value: Any) -> None:
        """Make `method` return `value` whatever it is called with (the grader's own answer), so a test of another
        method that calls it does not depend on it."""
        self._check()
        blobs: list[bytes] = []
        msg = {"op": Op.SET, "handle": self.handle, "name": method, "value": encode(value, blobs), "as_method": True}
        self._student._send(msg, blobs, f"replacing {self.type_name}.{method}", None)

    def spy(self, method: str) -> None:
        """Watch `method` from now on: each call's first argument (its rows, its first row) is recorded."""
        self._instrument(Op.SPY, method, f"watching {self.type_name}.{method}")

    def calls(self, method: str) -> list:
        """The calls of a watched method, in order: [rows of the first argument, its first row's first entries]."""
        label = f"the calls of {self.type_name}.{method}"
        return self._student._decode(*self._instrument(Op.SPIED, method, label), label)

    def use_grader_method(self, method: str, grader_method: str, attributes: Sequence[str] = (), arguments: int = 0,
                          **options: float) -> None:
        """Replace `method` by a stand-in (grader/sandbox/inside/standins.py): one the worker computes, or one the
        grader answers (`Student.standin_answer`) from the call's first `arguments` arguments, the object's
        `attributes` and `options`; so a test of another method that calls it does not depend on the student's."""
        self._instrument(Op.GRADER_METHOD, method, f"replacing {self.type_name}.{method}", method=grader_method,
                         attributes=list(attributes), arguments=arguments, options=options)
        self._student.installed_standins.setdefault(self.handle, set()).add(grader_method)

    def _instrument(self, op: str, name: str, label: str, **extra: Any) -> tuple[dict, list[bytes]]:
        self._check()
        return self._student._send({"op": op, "handle": self.handle, "name": name, **extra}, [], label, None)

    def __repr__(self) -> str:
        return f"<Remote {self.type_name} #{self.handle}>"


class Student:
    """A submission running in a worker. Start it with start() (or open_submission), end it with close()."""

    def __init__(self, submission: str | Path | Submission, limits: Limits | None = None, *, sandbox: str = "auto",
                 data_files: Mapping[str, Path] | None = None, run_cells: bool = True, seed: int | None = None,
                 deadline: float | None = None, standins_file: Path | None = None) -> None:
        self.standins_file = standins_file  # the assignment's stand-ins the worker computes itself (its WORKER_STANDINS)
        self.deadline = deadline  # time.monotonic() past which nothing more runs (the whole grading's limit)
        self.submission = submission if isinstance(submission, Submission) else read_submission(submission)
        self.limits = limits or Limits()
        self.mode = available_mode(sandbox)
        self.isolated = self.mode == "bwrap"
        self.run_cells, self.seed_value = run_cells, seed
        self.files = {self.submission.path.name: self.submission.path, **{k: Path(v) for k, v in (data_files or {}).items()}}
        self.generation = 0
        self.restarts = 0
        self._replays = 0
        self.output_bytes_dropped = 0
        self.last_stdout = self.last_stderr = ""
        self._worker: WorkerProcess | None = None
        self._skip: set[int] = set()
        self._notes: list[str] = [] if self.isolated else [NOT_ISOLATED]
        self._notebook: NotebookRun | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._closing = False
        self.standin_answer: StandinAnswer | None = None  # answers the stand-ins' calls (Remote.use_grader_method)
        self.installed_standins: dict[int, set[str]] = {}  # handle -> the stand-ins use_grader_method put on it

    # ---- life cycle -----------------------------------------------------------------------------------------

    def start(self) -> "Student":
        """Start the worker and run the cells in the background; returns at once."""
        self._thread = threading.Thread(target=self._background, name="notebook-cells", daemon=True)
        self._thread.start()
        return self

    def wait_ready(self) -> NotebookRun:
        """Block until every cell has run (or timed out); re-raises a failure to start the sandbox."""
        if self._thread is None:
            self.start()
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._notebook

    @property
    def notebook(self) -> NotebookRun:
        return self.wait_ready()

    @property
    def confinement(self) -> str:
        """What bounds memory, CPU and processes for this submission's sandbox, in words (once it has started)."""
        self.wait_ready()
        return self._worker.plan.confinement.summary if self._worker is not None else ""

    @property
    def alive(self) -> bool:
        return self._worker is not None and self._worker.alive

    def restart(self) -> None:
        """A fresh worker that re-runs the cells (skipping those that killed the last one); handles are lost."""
        self.wait_ready()
        self.restarts += 1
        self._spawn()
        if self.run_cells:
            self._replay(list(self.submission.cells), self._cells_deadline(time.monotonic()))

    def close(self) -> None:
        """Kill the worker's whole tree, also one the background thread may be starting right now."""
        self._closing = True
        if self._worker is not None:
            self._retire(self._worker)
        if self._thread is not None:
            self._thread.join(30)
        if self._worker is not None:
            self._retire(self._worker)

    def raw_output(self) -> dict[str, str]:
        """The first bytes the process wrote to its real stdout/stderr (os.write, child processes)."""
        w = self._worker
        return {"stdout": w.output.text("stdout"), "stderr": w.output.text("stderr")} if w else {}

    def _retire(self, worker: WorkerProcess) -> None:
        if worker.retired:
            return
        worker.stop() if worker.alive else worker.kill()
        self.output_bytes_dropped += worker.output.dropped

    def _spawn(self) -> None:
        if self._worker is not None:
            self._retire(self._worker)
        if self._closing:
            raise WorkerDied("the submission was closed")
        self.generation += 1
        self.installed_standins.clear()
        self._worker = WorkerProcess(self.mode, self.limits, self.files, seed=self.seed_value,
                                     standins_file=self.standins_file)
        self._notes += [n for n in self._worker.plan.notes if n not in self._notes]
        if self._closing:  # close() ran while this one was starting
            self._retire(self._worker)
            raise WorkerDied("the submission was closed")
        self._worker.wait_ready()

    # ---- the cells ------------------------------------------------------------------------------------------

    def _background(self) -> None:
        try:
            self._spawn()
            self._notebook = self._run_notebook() if self.run_cells else NotebookRun((), notes=tuple(self._notes))
        except BaseException as e:  # handed to the main thread by wait_ready()
            self._error = e
            if self._worker is not None:
                self._worker.kill()

    def _run_notebook(self) -> NotebookRun:
        start = time.monotonic()
        deadline = self._cells_deadline(start)
        cells, outcomes, timed_out = list(self.submission.cells), [], False
        for pos, cell in enumerate(cells):
            if time.monotonic() >= deadline or self._closing:
                timed_out = not self._closing
                outcomes += [not_run(c, f"not run: the notebook's time limit of {self.limits.notebook_seconds:g} s "
                                         "was used up") for c in cells[pos:]]
                break
            if self._worker is None or not self._worker.alive:
                outcomes += [not_run(c, "not run: the notebook's process died too many times") for c in cells[pos:]]
                break
            outcome = self._cell(cell, deadline)
            outcomes.append(outcome)
            if outcome.index in self._skip and not self._closing:
                self._recover(cells[:pos], deadline)
        if outcomes and outcomes[-1].status == "timeout" and time.monotonic() >= deadline:
            timed_out = not self._closing  # the last cell was cut by the notebook's limit, not only its own
        return NotebookRun(tuple(outcomes), seconds=time.monotonic() - start, timed_out=timed_out,
                           notes=tuple(self._notes))

    def _cell(self, cell: Cell, deadline: float) -> CellOutcome:
        """Run one cell. If it hangs past the grace period or kills the process, it joins the skip list."""
        if not cell.source.strip():
            return CellOutcome(cell.index, CellStatus.OK)
        seconds = max(0.05, min(self.limits.cell_seconds, deadline - time.monotonic()))
        started = time.monotonic()
        try:
            reply, _ = self._worker.request({"op": Op.CELL, "index": cell.index, "source": cell.source}, [], seconds)
        except TimeoutError:
            self._skip.add(cell.index)
            return CellOutcome(cell.index, CellStatus.TIMEOUT, time.monotonic() - started, "TimeoutError",
                               f"the cell ran past its time limit of {seconds:g} s and ignored the interrupt; "
                               "its process was stopped and the cells before it were run again")
        except (WorkerDied, ProtocolError) as e:
            self._skip.add(cell.index)
            return CellOutcome(cell.index, CellStatus.ERROR, time.monotonic() - started, type(e).__name__, str(e))
        return cell_outcome(cell.index, reply)

    def _recover(self, cells: list[Cell], deadline: float) -> None:
        """After a cell killed or hung the worker: a fresh one re-runs `cells` (minus skipped ones)."""
        if self._replays >= MAX_REPLAYS:
            self._notes.append(f"the notebook's process died {self._replays + 1} times; the remaining cells were "
                               "not run")
            self._worker.kill("it died too many times")
            return
        self._replays += 1
        self.restarts += 1
        self._notes.append(f"the notebook's process was restarted after cell {max(self._skip)}; the cells before "
                           "it were run again")
        self._spawn()
        self._replay(cells, deadline)

    def _replay(self, cells: list[Cell], deadline: float) -> None:
        for cell in cells:
            if cell.index in self._skip or not cell.source.strip():
                continue
            self._cell(cell, deadline)
            if cell.index in self._skip:  # it stopped the fresh process too
                self._notes.append(f"cell {cell.index} stopped the process again when it was re-run; it was skipped")
                self._recover(cells, deadline)
                return

    # ---- requests -------------------------------------------------------------------------------------------

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

    def _remote(self, reply: dict) -> Remote:
        handle, type_name = reply.get("handle"), reply.get("type")
        if type(handle) is not int or type(type_name) is not str:
            raise ProtocolError("the worker's answer to `new` has no valid handle")
        return Remote(self, handle, type_name[:200], self.generation)

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

    def _invoke(self, msg: dict, args: Any, kwargs: Any, label: str, timeout: float | None, raw: bool = False) -> Any:
        blobs: list[bytes] = []
        if args is not None:
            msg = {**msg, "args": encode(list(args), blobs), "kwargs": encode(dict(kwargs), blobs)}
        reply, out = self._send(msg, blobs, label, timeout)
        return reply if raw else self._decode(reply, out, label)

    def _send(self, msg: dict, blobs: list[bytes], label: str, timeout: float | None) -> tuple[dict, list[bytes]]:
        self.wait_ready()
        worker = self._worker
        if worker is None or not worker.alive:
            raise WorkerDied(worker.exit_reason() if worker else "the notebook's process is not running")
        seconds, left = float(timeout if timeout is not None else self.limits.request_seconds), self.remaining()
        if left <= 0:
            raise StudentTimeout(f"{label} was not run: the grading time limit of {self.limits.grading_seconds:g} s "
                                 "was used up")
        seconds = min(seconds, left)
        try:
            answer = partial(answer_callback, self.standin_answer, allowed_standins(msg, self.installed_standins))
            reply, out = worker.request(msg, blobs, seconds, answer)
        except TimeoutError:
            raise StudentTimeout(f"{label} did not finish within {seconds:g} s, so its process was stopped") from None
        except WorkerDied as e:
            raise WorkerDied(f"{e} (while running {label})") from None
        self.last_stdout, self.last_stderr = text(reply.get("stdout")), text(reply.get("stderr"))
        raise_for(reply, label, seconds, msg.get("op", ""))
        return reply, out

    def remaining(self) -> float:
        """Seconds left before the grading's deadline (infinite without one)."""
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def _cells_deadline(self, start: float) -> float:
        return min(start + self.limits.notebook_seconds, start + self.remaining())

    def _decode(self, reply: dict, out: list[bytes], label: str) -> Any:
        try:
            return protocol.decode_value(reply.get("value"), out)
        except protocol.ChannelError as e:
            self._worker.kill(f"it sent a malformed result ({e})")
            raise ProtocolError(f"the result of {label} is malformed: {e}") from None


@contextmanager
def open_submission(path_or_submission: str | Path | Submission, limits: Limits | None = None, *,
                    sandbox: str = "auto", data_files: Mapping[str, Path] | None = None, run_cells: bool = True,
                    seed: int | None = None, deadline: float | None = None,
                    standins_file: Path | None = None) -> Iterator[Student]:
    """Start the submission in a sandbox (cells run in the background) and kill its whole process tree at the end."""
    student = Student(path_or_submission, limits, sandbox=sandbox, data_files=data_files, run_cells=run_cells,
                      seed=seed, deadline=deadline, standins_file=standins_file)
    student.start()
    try:
        yield student
    finally:
        student.close()
