"""Run the public part of the assignment's grading suite against a student and collect its TestResults.

The same suite and plugin as grading (grader/grading/grade.py), with the public tests only, the public data and
the fixed public seeds; only the pytest options differ, so that nothing touches a notebook kernel's own streams.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from grader.errors import ConfigError, GraderError
from grader.grading import assignment
from grader.grading.results import TestResult
from grader.grading.rubric import Rubric, load_rubric

if TYPE_CHECKING:
    from grader.sandbox.student import SuiteStudent

# no cache, no fd capture, no faulthandler: a kernel's streams stay as they are; no forced gc.collect() passes,
# which take most of a second in a notebook that holds many objects
PYTEST_ARGS = ("-q", "-s", "-p", "no:cacheprovider", "-p", "no:warnings", "-p", "no:faulthandler",
               "-p", "no:unraisableexception", "-p", "no:threadexception", "-o", "addopts=",
               "-o", "console_output_style=classic")


def suite_paths(suite: Path, areas: Sequence[str], rubric: Rubric) -> list[str]:
    """The suite modules of the areas asked for (the whole suite when none is): one module per area."""
    if not areas:
        return [str(suite)]
    known = [a for a in rubric.areas if (suite / f"test_{a}.py").exists()]
    unknown = [a for a in areas if a not in known]
    if unknown:
        raise ConfigError(f"no public tests for {', '.join(map(repr, unknown))}; the areas are: {', '.join(known)}")
    return [str(suite / f"test_{a}.py") for a in areas]


def run_public_suite(student: SuiteStudent, areas: Sequence[str] = (), rubric: Rubric | None = None) -> list[TestResult]:
    """The results of the public tests of `areas` (every area when empty), in the rubric's order."""
    import grader.grading.plugin as plugin_module  # noqa: PLC0415
    from grader.grading.pytest_run import INTERRUPTED, run_pytest  # noqa: PLC0415

    rubric = rubric or load_rubric()
    task = assignment.load(rubric.assignment)
    plugin = plugin_module.GradingPlugin(student, rubric, public_only=True, public_data=task.public_data(),
                                         hidden_data=None)
    suite = task.SUITE_DIR
    run = run_pytest(suite_paths(suite, areas, rubric), str(suite), plugins=[plugin, plugin_module],
                     args=PYTEST_ARGS)
    if run.code == INTERRUPTED:
        raise KeyboardInterrupt
    if not run.ran:
        raise GraderError(f"the public tests could not run (pytest exit code {run.code}):\n{run.tail()}")
    return list(plugin.results)
