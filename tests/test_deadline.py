"""One deadline for a whole grading: `grade`, `grade-all` and the Gradescope bundle apply [limits] grading_seconds
alike, so a slow submission keeps the same points whichever way it is graded."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
from hypothesis import given, strategies as st

from grader import paths
from grader.batch import grade_all
from grader.batch.worker import GradeTask, parse_args
from grader.bundles import gradescope, gradescope_run
from grader.errors import ConfigError
from grader.grading.rubric import load_rubric, with_grading_seconds
from grader.sandbox.limits import Limits
from tests.variants import apply, v

seconds = st.floats(min_value=1.0, max_value=10_000.0, allow_nan=False)


@given(notebook=seconds, request=seconds, grading=seconds)
def test_a_batch_never_stops_a_child_before_the_gradings_own_deadline(notebook, request, grading):
    limits = Limits(notebook_seconds=notebook, request_seconds=request, grading_seconds=grading)
    assert grade_all.batch_timeout(limits) >= grading + 30  # room to start and to write what was graded


def test_the_batchs_timeout_travels_to_each_child_as_its_grading_deadline(tmp_path):
    task = GradeTask(tmp_path / "a.ipynb", "alice", "a.ipynb", "k", tmp_path / "alice", tmp_path / "row.json",
                     None, "none", 42.5)
    assert parse_args(task.argv()) == task
    assert "--grading-seconds" not in GradeTask(tmp_path / "a.ipynb", "a", "a", "k", tmp_path, tmp_path).argv()


def test_a_timeout_replaces_only_the_deadline_and_a_bad_one_is_refused():
    rubric = load_rubric()
    changed = with_grading_seconds(rubric, 30)
    assert changed.limits.grading_seconds == 30
    assert changed.limits.request_seconds == rubric.limits.request_seconds and with_grading_seconds(rubric, None) is rubric
    for bad in (0, -5, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="--timeout"):
            with_grading_seconds(rubric, bad)


def test_gradescope_grades_under_the_rubrics_own_limits_when_its_timeout_holds_the_deadline():
    limits = load_rubric().limits
    margin = gradescope_run.STARTUP_SECONDS + gradescope_run.WATCHDOG_MARGIN
    assert limits.grading_seconds + margin <= gradescope_run.DEFAULT_TIMEOUT  # the defaults fit Gradescope's default
    assert gradescope_run.fit_limits(limits, gradescope_run.DEFAULT_TIMEOUT) == (limits, 1.0)
    assert gradescope_run.fit_limits(limits, limits.grading_seconds + margin) == (limits, 1.0)


def test_a_timeout_too_short_for_the_deadline_scales_every_limit_and_the_build_says_so(capsys):
    limits = Limits(grading_seconds=500, notebook_seconds=300)
    margin = gradescope_run.STARTUP_SECONDS + gradescope_run.WATCHDOG_MARGIN
    scaled, factor = gradescope_run.fit_limits(limits, 300)
    assert factor == pytest.approx((300 - margin) / 500)
    assert scaled.grading_seconds + margin == pytest.approx(300)
    assert scaled.notebook_seconds == pytest.approx(300 * factor) and scaled.memory_bytes == limits.memory_bytes
    gradescope.warn_if_scaled(limits, 300)
    warning = capsys.readouterr().err
    assert "scaled by" in warning and f"--timeout {int(500 + margin)}" in warning
    gradescope.warn_if_scaled(limits, 500 + margin)
    assert capsys.readouterr().err == ""


# --- the same slow submission, graded both ways ---------------------------------------------------------------------

SLOW_RUBRIC = """
[limits]
cell_seconds = 20
notebook_seconds = 40
request_seconds = 3
grading_seconds = 150
"""
# train never returns: each of its calls runs to the request limit; the deadline is far enough that a loaded
# machine still reaches every test, so both ways must give exactly the same points
HANG = v("train_hangs", 'history = {"train_loss": [], "val_loss": []}',
         'history = {"train_loss": [], "val_loss": []}\n        while True:\n            pass', "train accuracy")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=paths.ROOT,
                          timeout=600, stdin=subprocess.DEVNULL)


@pytest.mark.sandbox
@pytest.mark.slow
def test_a_slow_submission_scores_the_same_from_grade_and_grade_all(tmp_path):
    import nbformat

    rubric = tmp_path / "rubric.toml"
    rubric.write_text(SLOW_RUBRIC)
    folder = tmp_path / "class"
    folder.mkdir()
    nbformat.write(apply(HANG, nbformat.read(paths.SOLUTION, as_version=4)), folder / "slow.ipynb")

    single = _cli("grade", str(folder / "slow.ipynb"), "--out", str(tmp_path / "one"), "--rubric", str(rubric))
    assert single.returncode == 0, single.stderr
    batch = _cli("grade-all", str(folder), "--out", str(tmp_path / "all"), "--rubric", str(rubric), "--jobs", "1")
    assert batch.returncode == 0, batch.stderr

    one = json.loads((tmp_path / "one" / "results.json").read_text())
    many = json.loads((tmp_path / "all" / "slow" / "results.json").read_text())
    row = next(csv.DictReader(open(tmp_path / "all" / "gradebook.csv", encoding="utf-8")))
    assert row["status"] == "graded" and float(row["total"]) == one["score"] == many["score"]
    assert {t["name"]: t["score"] for t in one["tests"]} == {t["name"]: t["score"] for t in many["tests"]}
    lost = {t["name"].split(":")[0] for t in one["tests"] if t["score"] < t["max_score"]}
    assert lost == {"train", "accuracy"} and one["score"] == 80  # the other areas are graded before train
