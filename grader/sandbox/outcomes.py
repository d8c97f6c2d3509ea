"""What running a notebook's cells in the sandbox gave: one CellOutcome per code cell, in a NotebookRun."""

from __future__ import annotations

from dataclasses import dataclass

from grader.sandbox.inside.protocol import Word


class CellStatus(Word):
    """How one code cell's run ended."""

    OK = "ok"
    ERROR = "error"  # it raised, or called sys.exit
    TIMEOUT = "timeout"  # it hit the per-cell limit


@dataclass(frozen=True)
class CellOutcome:
    """What happened when one code cell ran in the sandbox.

    index: the cell's position among all cells of the notebook (0-based), as Jupyter shows it.
    status: "ok", "error" (it raised, or called sys.exit), or "timeout" (it hit the per-cell limit).
    """

    index: int
    status: str
    seconds: float = 0.0
    error_type: str = ""
    message: str = ""
    traceback: str = ""
    stdout: str = ""
    stderr: str = ""


@dataclass(frozen=True)
class NotebookRun:
    """The run of all cells: one outcome per executed code cell, in order, plus notes for the report."""

    cells: tuple[CellOutcome, ...]
    seconds: float = 0.0
    timed_out: bool = False
    notes: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[CellOutcome, ...]:
        return tuple(c for c in self.cells if c.status != CellStatus.OK)
