"""The grading suite against real submissions: the solution, the skeleton, single-bug and hostile variants.

Every submission is graded once, through grade_submission and the sandbox, in a module-scoped fixture that grades
two at a time in child processes (pytest runs in-process, so each grading gets a process of its own).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from grader import paths
from grader.backprop import hints
from grader.grading.grade import grade_submission
from grader.grading.results import GradeReport
from grader.grading.rubric import AREAS, Rubric, load_rubric
from tests.variants import HOSTILE, VARIANTS, Variant, write_variant

pytestmark = pytest.mark.slow

REQUEST_SECONDS = 3.0  # short, so the variant that hangs costs seconds
OTHER_API = '''\
# %%
import numpy as np


def relu(x):
    return np.maximum(0, x)


def init_params(hidden=8, seed=0):
    rng = np.random.default_rng(seed)
    return {"W1": rng.normal(size=(2, hidden)), "W2": rng.normal(size=(hidden, 1))}


def forward(params, X):
    return 1 / (1 + np.exp(-(relu(X @ params["W1"]) @ params["W2"])))
'''


def fast_rubric() -> Rubric:
    rubric = load_rubric()
    return dataclasses.replace(rubric, limits=dataclasses.replace(rubric.limits, request_seconds=REQUEST_SECONDS))


def grade(path: Path) -> GradeReport:
    return grade_submission(path, rubric=fast_rubric())


def grade_all(paths_by_name: dict[str, Path]) -> dict[str, GradeReport | Exception]:
    """Grade two at a time in child processes; a grading that raised is kept as its exception."""
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {name: pool.submit(grade, path) for name, path in paths_by_name.items()}
        return {name: future.exception() or future.result() for name, future in futures.items()}


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, GradeReport | Exception]:
    folder = tmp_path_factory.mktemp("submissions")
    (folder / "other_api.py").write_text(OTHER_API, encoding="utf-8")
    submissions = {"solution": paths.SOLUTION, "solution_again": paths.SOLUTION, "skeleton": paths.SKELETON,
                   "other_api": folder / "other_api.py"}
    submissions.update({variant.name: write_variant(variant, folder) for variant in (*VARIANTS, *HOSTILE)})
    submissions["bad_hyperparameters_again"] = submissions["bad_hyperparameters"]
    return grade_all(submissions)


def report_of(reports: dict[str, GradeReport | Exception], name: str) -> GradeReport:
    """The report of one submission; re-raises what grading it raised."""
    report = reports[name]
    if isinstance(report, Exception):
        raise report
    return report


def lost_areas(report: GradeReport) -> set[str]:
    return {area for area, (got, top) in report.area_scores().items() if got < top}


def failures(report: GradeReport) -> str:
    return "\n".join(f"{t.name}: {t.message} | hint: {t.hint}" for t in report.tests if not t.passed)


@pytest.mark.sandbox
def test_the_solution_scores_100_with_no_message_and_no_hint(reports):
    report = report_of(reports, "solution")
    assert (report.status, report.score, report.max_score) == ("graded", 100.0, 100.0), failures(report)
    assert {t.area for t in report.tests} == set(AREAS)
    assert all(t.passed and not t.hint and not t.message for t in report.tests)
    assert report.model is not None and report.model.attempts_used == 1


@pytest.mark.sandbox
def test_the_untouched_skeleton_scores_0(reports):
    report = report_of(reports, "skeleton")
    assert (report.status, report.score, report.max_score) == ("graded", 0.0, 100.0)
    assert all(t.message for t in report.tests)


@pytest.mark.sandbox
@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_a_single_bug_loses_points_in_exactly_its_areas(reports, variant: Variant):
    report = report_of(reports, variant.name)
    assert report.status == "graded"
    assert lost_areas(report) == set(variant.areas), failures(report)
    if variant.message:
        assert any(variant.message in t.message for t in report.tests if not t.passed), failures(report)


@pytest.mark.sandbox
@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_a_single_bug_gets_its_own_hint_in_its_area(reports, variant: Variant):
    failed = [t for t in report_of(reports, variant.name).tests if not t.passed and t.area == variant.home]
    assert failed
    if variant.hint:
        assert any(variant.hint in t.hint for t in failed), failures(report_of(reports, variant.name))
        assert all(variant.hint in t.hint or not t.hint for t in failed), failures(report_of(reports, variant.name))
    else:
        assert all(not t.hint for t in failed), failures(report_of(reports, variant.name))


@pytest.mark.sandbox
@pytest.mark.parametrize("variant", HOSTILE, ids=[v.name for v in HOSTILE])
def test_a_hostile_function_fails_only_its_own_test_with_a_message(reports, variant: Variant):
    report = report_of(reports, variant.name)
    failed = [t for t in report.tests if not t.passed]
    assert len(failed) == 1 and failed[0].area == variant.home, failures(report)
    assert variant.message in failed[0].message
    assert report.score == 100.0 - failed[0].max_score


def test_the_variants_cover_every_rubric_area_and_every_listed_mistake():
    assert {v.home for v in VARIANTS} == set(AREAS)
    listed = {hints.EXTRA_SIGMOID_PRIME, hints.SUM_NOT_MEAN, hints.FLIPPED_SIGN, hints.DERIVATIVE_OF_ACTIVATION,
              hints.UNSTABLE_SIGMOID, hints.UNSTABLE_SOFTMAX, hints.ZERO_INIT, hints.SYMMETRIC_INIT,
              hints.READS_GLOBALS, hints.LOGIT_THRESHOLD, hints.UNSTABLE_LOSS, hints.ADDS_GRADIENT}
    assert listed <= {v.hint for v in VARIANTS}
    assert any("transpose" in v.hint for v in VARIANTS)


@pytest.mark.sandbox
def test_a_notebook_written_against_another_api_scores_low_and_names_what_is_missing(reports):
    report = report_of(reports, "other_api")
    assert report.status == "graded" and report.score <= 10, failures(report)
    messages = " ".join(t.message for t in report.tests)
    for name in ("TwoLayerPerceptron", "HYPERPARAMETERS", "softmax", "sigmoid", "relu_derivative"):
        assert f"`{name}`" in messages
    assert "internal error" not in messages


@pytest.mark.sandbox
@pytest.mark.parametrize("name", ["solution", "bad_hyperparameters"])
def test_grading_the_same_submission_twice_gives_identical_results(reports, name):
    first, second = report_of(reports, name), report_of(reports, f"{name}_again")
    assert first.tests == second.tests
    assert first.score == second.score
    assert first.model.history == second.model.history
    assert all((first.model.params[k] == second.model.params[k]).all() for k in first.model.params)
