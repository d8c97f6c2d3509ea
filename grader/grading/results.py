"""Frozen dataclasses of a grade, from grading to the report. What a notebook's run gave (`NotebookRun`) is the
sandbox's own type, and a hand-graded answer (`ManualItem`) the notebook reader's."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grader.notebook.manual import ManualItem
from grader.sandbox.inside.protocol import Word
from grader.sandbox.outcomes import NotebookRun


class Status(Word):
    """A grade's status: graded, could not be graded (score 0, with the reason), or the notebook ran out of time."""

    GRADED = "graded"
    ERROR = "error"
    TIMEOUT = "timeout"


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
    status: str  # a Status
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
