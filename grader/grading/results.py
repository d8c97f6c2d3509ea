"""Frozen dataclasses that carry results between the stages: execute -> check -> report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
        return tuple(c for c in self.cells if c.status != "ok")


@dataclass(frozen=True)
class TestResult:
    """One graded test. `name` starts with the rubric area id, e.g. "backward: dW1 matches finite differences"."""

    name: str
    area: str
    score: float
    max_score: float
    passed: bool
    message: str = ""
    hint: str = ""
    expected: str = ""
    actual: str = ""
    traceback: str = ""
    public: bool = False

    @property
    def visibility(self) -> str:
        """Gradescope visibility: public tests show at once, hidden ones after grades are published."""
        return "visible" if self.public else "after_published"


@dataclass(frozen=True)
class ManualItem:
    """A hand-graded part of the notebook (a Markdown cell marked manual), collected for TAs.

    found: how the answer was found: "metadata" (its marked cell), "prompt" or "heading" (the cell lost its
    marking; found by the prompt's first line or under its heading), or "missing". note: why, when missing.
    """

    id: str
    title: str
    text: str
    cell_index: int = -1
    found: str = "metadata"
    note: str = ""

    @property
    def missing(self) -> bool:
        return self.found == "missing"


@dataclass(frozen=True)
class FunctionCode:
    """The student's own code of a function that an area with lost points calls, for the feedback page.

    name: "relu" or "Class.method"; cell_index: the notebook cell that (last) defines it."""

    area: str
    name: str
    code: str
    cell_index: int


@dataclass(frozen=True)
class TrainedModel:
    """The model the grader trained with the student's code, for the pictures in the feedback."""

    params: dict[str, Any]
    history: dict[str, list[float]]
    attempts_used: int = 1
    train_accuracy: float | None = None
    hidden_accuracy: float | None = None


@dataclass(frozen=True)
class GradeReport:
    """The grade of one submission. status is "graded", "error" (could not be graded) or "timeout"."""

    student: str
    submission: str
    sha256: str
    status: str
    score: float
    max_score: float
    tests: tuple[TestResult, ...] = ()
    reason: str = ""
    notebook: NotebookRun | None = None
    manual: tuple[ManualItem, ...] = ()
    sandbox_mode: str = ""
    grader_version: str = ""
    execution_time: float = 0.0
    notes: tuple[str, ...] = ()
    model: TrainedModel | None = field(default=None, compare=False)
    confinement: str = ""  # what bounded memory, CPU and processes for this sandbox, in words
    code: tuple[FunctionCode, ...] = ()  # the student's code of the functions of each area that lost points

    def area_scores(self) -> dict[str, tuple[float, float]]:
        """Score and maximum per rubric area, in the order the areas first appear."""
        out: dict[str, tuple[float, float]] = {}
        for t in self.tests:
            got, top = out.get(t.area, (0.0, 0.0))
            out[t.area] = (got + t.score, top + t.max_score)
        return out
