"""`python -m grader grade`: results.json in Gradescope's shape, exit codes, and unreadable submissions."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from grader import paths
from grader.cli import main
from grader.grading.rubric import AREAS

pytestmark = pytest.mark.slow


def grade(path, out, *extra) -> tuple[int, dict, str]:
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(path), "--out", str(out), *extra],
                          capture_output=True, text=True, cwd=paths.ROOT, timeout=300)
    results = out / "results.json"
    return proc.returncode, json.loads(results.read_text()) if results.exists() else {}, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def solution_results(tmp_path_factory):
    return grade(paths.SOLUTION, tmp_path_factory.mktemp("solution"))


@pytest.mark.sandbox
def test_the_solution_is_graded_with_exit_code_0_and_full_marks(solution_results):
    code, results, output = solution_results
    assert code == 0, output
    assert results["score"] == 100 and sum(t["max_score"] for t in results["tests"]) == 100
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] for t in results["tests"])


@pytest.mark.sandbox
def test_results_json_has_the_gradescope_fields(solution_results):
    _, results, _ = solution_results
    assert {"score", "execution_time", "output", "tests", "extra_data"} <= results.keys()
    for test in results["tests"]:
        assert {"name", "score", "max_score", "status", "output", "visibility"} <= test.keys()
        assert test["name"].split(":")[0] in AREAS
        assert test["visibility"] in ("visible", "after_published")
    extra = results["extra_data"]
    assert extra["sandbox"] in ("bwrap", "none") and len(extra["sha256"]) == 64 and extra["grader_version"]


@pytest.mark.sandbox
def test_hidden_tests_are_published_only_after_grades_are(solution_results):
    _, results, _ = solution_results
    hidden = [t for t in results["tests"] if t["visibility"] == "after_published"]
    assert any("hidden test set" in t["name"] for t in hidden)


@pytest.mark.sandbox
def test_the_terminal_summary_has_one_line_per_area_and_the_total(solution_results):
    _, _, output = solution_results
    for area in AREAS:
        assert any(line.split()[1:2] == [area] for line in output.splitlines()), area
    assert "total" in output and "100 / 100" in output


@pytest.mark.parametrize("content, says", [
    (b"{not json", "not a Jupyter notebook"),
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "not a Jupyter notebook"),
], ids=["invalid-json", "empty-file", "png"])
@pytest.mark.sandbox
def test_an_unreadable_submission_still_gets_a_zero_results_json_and_exit_0(tmp_path, content, says):
    bad = tmp_path / "broken.ipynb"
    bad.write_bytes(content)
    code, results, output = grade(bad, tmp_path / "out")
    assert code == 0, output
    assert results["score"] == 0 and results["tests"] == []
    assert says in results["output"] and results["extra_data"]["status"] == "error"


def test_a_grader_that_cannot_work_exits_non_zero(tmp_path, capsys):
    rubric = tmp_path / "rubric.toml"
    rubric.write_text('[limits]\nmemory_mb = "a lot"\n')
    assert main(["grade", str(paths.SOLUTION), "--out", str(tmp_path / "out"), "--rubric", str(rubric)]) == 2
    assert "memory_mb" in capsys.readouterr().err
    assert not (tmp_path / "out" / "results.json").exists()


def test_help_explains_the_command():
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "--out" in proc.stdout and "--sandbox" in proc.stdout and "Exit code" in proc.stdout
