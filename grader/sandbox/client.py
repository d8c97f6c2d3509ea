"""The sandboxed transport: a submission's cells run in a worker process, then the suite calls into it with data only.

    with open_submission("backprop.ipynb", limits, data_files={"xordata.pkl": path}) as student:
        z = student.call("relu", x)
        model = student.new("TwoLayerPerceptron", 2, 8)
        Z1, A1, Z2, A2 = model.call("forward_pass", X)

`student` is a grader.sandbox.student.Student over a `Sandbox`: the cells start running at once in a background
thread and the first request (or `notebook`) waits for them; a process that dies is restarted and the cells replayed;
every request is bounded by its own limit and the grading's deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from grader.errors import ProtocolError, StudentTimeout, WorkerDied
from grader.sandbox.inside.protocol import Op
from grader.notebook.extract import Cell, Submission, read_submission
from grader.sandbox.limits import Limits
from grader.sandbox.process import WorkerProcess
from grader.sandbox.replies import cell_outcome, not_run
from grader.sandbox.outcomes import CellOutcome, CellStatus, NotebookRun
from grader.sandbox.bwrap import NOT_ISOLATED, available_mode
from grader.sandbox.student import Answer, Remote, Student

__all__ = ["MAX_REPLAYS", "Remote", "Sandbox", "Student", "open_submission", "sandboxed"]

MAX_REPLAYS = 3  # a notebook whose process keeps dying is not restarted forever


class Sandbox:
    """A submission's worker process, as a Student's transport: the cells, restarts and replays, the deadlines."""

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
        self._worker: WorkerProcess | None = None
        self._skip: set[int] = set()
        self._notes: list[str] = [] if self.isolated else [NOT_ISOLATED]
        self._notebook: NotebookRun | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._closing = False

    # ---- life cycle -----------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker and run the cells in the background; returns at once."""
        self._begin()

    def _begin(self) -> threading.Thread:
        self._thread = threading.Thread(target=self._background, name="notebook-cells", daemon=True)
        self._thread.start()
        return self._thread

    def wait_ready(self) -> NotebookRun:
        """Block until every cell has run (or timed out); re-raises a failure to start the sandbox."""
        (self._thread or self._begin()).join()
        if self._error is not None:
            raise self._error
        if self._notebook is None:  # the thread sets one or the other; never both unset once it has ended
            raise WorkerDied("the notebook's cells did not run")
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
        self.generation += 1  # the Student forgets the stand-ins it installed on the lost objects
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
        if outcomes and outcomes[-1].status == CellStatus.TIMEOUT and time.monotonic() >= deadline:
            timed_out = not self._closing  # the last cell was cut by the notebook's limit, not only its own
        return NotebookRun(tuple(outcomes), seconds=time.monotonic() - start, timed_out=timed_out,
                           notes=tuple(self._notes))

    def _cell(self, cell: Cell, deadline: float) -> CellOutcome:
        """Run one cell. If it hangs past the grace period or kills the process, it joins the skip list."""
        if not cell.source.strip():
            return CellOutcome(cell.index, CellStatus.OK)
        seconds = max(0.05, min(self.limits.cell_seconds, deadline - time.monotonic()))
        started, worker = time.monotonic(), self._worker
        if worker is None:
            raise WorkerDied("the notebook's process is not running")
        try:
            reply, _ = worker.request({"op": Op.CELL, "index": cell.index, "source": cell.source}, [], seconds)
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
            if self._worker is not None:
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

    # ---- requests (the Transport's) ------------------------------------------------------------------------

    def exchange(self, msg: dict[str, Any], blobs: list[bytes], label: str, timeout: float | None,
                 answer: Answer) -> tuple[dict[str, Any], list[bytes], float]:
        """One request within its limit (`timeout`, or the limits' request_seconds) and the grading's deadline."""
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
            reply, out = worker.request(msg, blobs, seconds, answer)
        except TimeoutError:
            raise StudentTimeout(f"{label} did not finish within {seconds:g} s, so its process was stopped") from None
        except WorkerDied as e:
            raise WorkerDied(f"{e} (while running {label})") from None
        return reply, out, seconds

    def malformed(self, reason: str) -> None:
        if self._worker is not None:
            self._worker.kill(reason)

    def remaining(self) -> float:
        """Seconds left before the grading's deadline (infinite without one)."""
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def _cells_deadline(self, start: float) -> float:
        return min(start + self.limits.notebook_seconds, start + self.remaining())


def sandboxed(submission: str | Path | Submission, limits: Limits | None = None, *, sandbox: str = "auto",
              data_files: Mapping[str, Path] | None = None, run_cells: bool = True, seed: int | None = None,
              deadline: float | None = None, standins_file: Path | None = None) -> Student:
    """A Student over a Sandbox, not started yet (start() runs the cells in the background)."""
    return Student(Sandbox(submission, limits, sandbox=sandbox, data_files=data_files, run_cells=run_cells,
                           seed=seed, deadline=deadline, standins_file=standins_file))


@contextmanager
def open_submission(path_or_submission: str | Path | Submission, limits: Limits | None = None, *,
                    sandbox: str = "auto", data_files: Mapping[str, Path] | None = None, run_cells: bool = True,
                    seed: int | None = None, deadline: float | None = None,
                    standins_file: Path | None = None) -> Iterator[Student]:
    """Start the submission in a sandbox (cells run in the background) and kill its whole process tree at the end."""
    student = sandboxed(path_or_submission, limits, sandbox=sandbox, data_files=data_files, run_cells=run_cells,
                        seed=seed, deadline=deadline, standins_file=standins_file)
    student.start()
    try:
        yield student
    finally:
        student.close()
