"""The pytest plugin behind grading: points and area markers, fixtures, and one TestResult per test.

The grading suite (grader/backprop/suite) runs in the trusted grader process; the plugin hands it the sandboxed
`student`, the rubric and the data, and turns every outcome, including the student's own errors, into a
scored TestResult with a message for the student.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from grader.grading import assignment, secret
from grader.errors import ConfigError, StudentError, StudentTimeout, WorkerDied
from grader.grading.results import TestResult, TrainedModel
from grader.grading.rubric import Rubric
from grader.sandbox.inside.protocol import Kind

if TYPE_CHECKING:
    from grader.sandbox.student import SuiteStudent

MAX_RESTARTS = 3  # a submission whose process keeps dying stops being restarted
_current: "GradingPlugin | None" = None


def record_model(model: TrainedModel) -> None:
    """Called by the accuracy tests: keep the grader-trained model for the feedback pictures."""
    if _current is not None:
        _current.model = model


def record_note(text: str) -> None:
    """Called by the suite: a note for the top of the results (said once, not in every test)."""
    if _current is not None and text not in _current.notes:
        _current.notes.append(text)


def input_salt(rubric: Rubric, submission_sha256: str) -> int | None:
    """What real grading draws every test's inputs with: the rubric's secret and the submission's content hash, so
    inputs recorded from one submission are no use in another, and one file grades the same every time."""
    if rubric.secret is None:
        return None
    return secret.input_salt(rubric.secret, submission_sha256)


MARKERS = ("points(n): default points of a grading test (the rubric may override)",
           "area(id): the rubric area a grading test belongs to",
           "public: students may run this test with the self-check")


def register_markers(config: pytest.Config) -> None:
    """The grading suite's markers, so `--strict-markers` accepts them wherever a suite module is imported."""
    for line in MARKERS:
        config.addinivalue_line("markers", line)


def test_name(item: pytest.Item) -> str:
    """"<area>: <first docstring line>", the stable name gradebook columns and the rubric use."""
    area = item.get_closest_marker("area")
    doc = (getattr(item, "function", None).__doc__ or "").strip().splitlines()
    if area is None or not doc:
        raise ConfigError(f"grading test {item.nodeid} needs an area marker and a docstring")
    suffix = f" [{item.callspec.id}]" if hasattr(item, "callspec") else ""
    return f"{area.args[0]}: {doc[0].rstrip('.')}{suffix}"


def _describe_failure(exc: BaseException) -> dict[str, str]:
    """Message, expected, actual, hint and traceback for the student, from whatever the test raised."""
    if isinstance(exc, StudentError) and exc.exc_type == "NotImplementedError":
        return {"message": "not implemented yet: your code raises NotImplementedError; fill in the TODO and "
                           "delete the `raise NotImplementedError` line", "traceback": exc.traceback}
    if isinstance(exc, StudentError) and exc.kind == Kind.RAISED:
        return {"message": f"your code raised {exc}", "traceback": exc.traceback}
    if isinstance(exc, StudentError):
        return {"message": str(exc), "traceback": exc.traceback}
    if isinstance(exc, WorkerDied):
        return {"message": f"the notebook's process stopped during this test: {exc}"}
    if isinstance(exc, AssertionError) or hasattr(exc, "expected"):
        return {"message": str(getattr(exc, "message", "") or exc).split("\nassert ")[0],
                "expected": str(getattr(exc, "expected", "") or ""), "actual": str(getattr(exc, "actual", "") or ""),
                "hint": str(getattr(exc, "hint", "") or "")}
    return {"message": f"the grader hit an internal error in this test ({type(exc).__name__}: {exc}); "
                       "this is not your fault, tell your TA"}


class GradingPlugin:
    """Registered, with this module for its fixtures, by grader.grading.grade.run_suite; collects `results` and `model`."""

    def __init__(self, student: SuiteStudent, rubric: Rubric, *, public_only: bool = False,
                 public_data: dict | None = None, hidden_data: dict | None = None) -> None:
        self.student, self.rubric, self.public_only = student, rubric, public_only
        self.public_data, self.hidden_data = public_data, hidden_data
        self.results: list[TestResult] = []
        self.model: TrainedModel | None = None
        self.restarts = 0
        self.notes: list[str] = []
        self._names: dict[str, pytest.Item] = {}

    def pytest_configure(self, config: pytest.Config) -> None:
        global _current
        _current = self
        assignment.load(self.rubric.assignment).set_input_salt(
            input_salt(self.rubric, self.student.submission.sha256) if self.hidden_data is not None else None)
        register_markers(config)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        global _current
        _current = None
        assignment.load(self.rubric.assignment).set_input_salt(None)

    def _is_public(self, name: str, item: pytest.Item) -> bool:
        if self.rubric.public is not None:
            return name in self.rubric.public
        return item.get_closest_marker("public") is not None

    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        self._names = {test_name(item): item for item in items}
        unknown = sorted(set(self.rubric.points) - set(self._names))
        if unknown:
            raise ConfigError(f"{self.rubric.source}: [points] names no such test: {', '.join(unknown)}")
        keep = [i for n, i in self._names.items() if not self.public_only or self._is_public(n, i)]
        order = {area: k for k, area in enumerate(self.rubric.areas)}
        keep.sort(key=lambda i: order.get(i.get_closest_marker("area").args[0], len(order)))
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep

    def revive_student(self) -> None:
        """Past the grading's deadline every test left fails at once, as timed out, so the results are written in
        time. Otherwise a test that killed the student's process must not sink the next ones: restart it (a few
        times)."""
        if self.student.remaining() <= 0:
            raise StudentTimeout(f"not run: the grading time limit of {self.rubric.limits.grading_seconds:g} s was "
                                 "used up before this test")
        if not self.student.alive and self.restarts < MAX_RESTARTS:
            self.restarts += 1
            self.student.restart()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
        outcome = yield
        report = outcome.get_result()
        if report.skipped or (report.when != "call" and not report.failed) or report.when == "teardown":
            return
        name = test_name(item)
        marker = item.get_closest_marker("points")
        top = self.rubric.points.get(name, float(marker.args[0]) if marker else 0.0)
        detail = _describe_failure(call.excinfo.value) if report.failed and call.excinfo else {}
        self.results.append(TestResult(
            name=name, area=item.get_closest_marker("area").args[0], score=0.0 if report.failed else top,
            max_score=top, passed=not report.failed, public=self._is_public(name, item), **detail))


def _active() -> GradingPlugin:
    if _current is None:
        raise ConfigError("the grading suite runs only through grader.grading.grade (python -m grader grade)")
    return _current


# Fixtures the grading suite uses, registered with this module: they read the plugin of the running grade.
@pytest.fixture(scope="session")
def student() -> SuiteStudent:
    return _active().student


@pytest.fixture(scope="session")
def rubric() -> Rubric:
    return _active().rubric


@pytest.fixture(scope="session")
def public_data() -> dict:
    return _active().public_data


@pytest.fixture(scope="session")
def hidden_data() -> dict:
    data = _active().hidden_data
    if data is None:
        pytest.skip("the hidden test set is not available in this run")
    return data


@pytest.fixture(autouse=True)
def _revive_student() -> Iterator[None]:
    _active().revive_student()
    yield
