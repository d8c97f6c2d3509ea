"""The Gradescope bundle: what `make gradescope` puts in the zip, and run_autograder on real submissions.

The end-to-end tests unpack the zip into a temporary folder standing in for /autograder (GRADER_AUTOGRADER_ROOT),
and run its run_autograder with this venv's Python (GRADER_PYTHON) instead of the venv setup.sh would create.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from grader import paths
from grader.bundles import gradescope_run
from grader.errors import ConfigError
from grader.grading.rubric import load_rubric
from tests.schema_check import assert_gradescope_results

SOLUTION_BUG = ("grad = softmax(a) - t", "grad = softmax(a) + t")  # one bug, in softmax_cross_entropy_grad only


def build(out: Path, *args: str) -> subprocess.CompletedProcess:
    """The command `make gradescope` runs, with its output folder moved."""
    return subprocess.run([sys.executable, "-m", "grader", "gradescope", "--out", str(out), *args],
                          capture_output=True, text=True, cwd=paths.ROOT, timeout=120)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist") / "autograder.zip"
    done = build(out)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def source(bundle, tmp_path_factory) -> Path:
    """The bundle unpacked, as Gradescope unpacks it into /autograder/source."""
    folder = tmp_path_factory.mktemp("source")
    with zipfile.ZipFile(bundle) as zf:
        zf.extractall(folder)
    return folder


def pins(text: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-Za-z0-9_.\-]+)==(\S+)", text, flags=re.M))


# --- the zip -------------------------------------------------------------------------------------------------------

def test_the_bundle_holds_the_grader_rubric_and_public_data_and_nothing_secret_to_students(bundle):
    names = zipfile.ZipFile(bundle).namelist()
    assert {"setup.sh", "run_autograder", "rubric.toml", "constraints.txt", "gradescope.json",
            f"data/{paths.DATA_NAME}", "grader/__init__.py", "grader/grading/grade.py", "grader/sandbox/inside/worker.py",
            "grader/bundles/gradescope_run.py"} <= set(names)
    assert any(n.startswith("grader/backprop/suite/test_") for n in names)
    assert not [n for n in names if n.endswith(".ipynb") or n.startswith(("tests/", "solution/", "assignment/"))]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    zf = zipfile.ZipFile(bundle)
    assert zf.read("rubric.toml") == paths.RUBRIC.read_bytes()
    assert zf.read(f"data/{paths.DATA_NAME}") == paths.PUBLIC_DATA.read_bytes()


def test_the_scripts_are_executable_and_the_rubric_is_readable_by_root_only(bundle):
    modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zipfile.ZipFile(bundle).infolist()}
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert modes["rubric.toml"] == 0o600
    assert modes["grader/grading/grade.py"] == 0o644


def test_the_same_sources_give_the_same_zip_and_the_timeout_is_kept(bundle, tmp_path):
    again = build(tmp_path / "again.zip")
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.zip").read_bytes() == bundle.read_bytes()
    assert json.loads(zipfile.ZipFile(bundle).read("gradescope.json"))["timeout_seconds"] == 600
    shorter = build(tmp_path / "short.zip", "--timeout", "300")
    assert shorter.returncode == 0, shorter.stderr
    assert json.loads(zipfile.ZipFile(tmp_path / "short.zip").read("gradescope.json"))["timeout_seconds"] == 300


def test_make_gradescope_runs_this_command_and_passes_the_instructors_timeout(make_tool):
    # --no-print-directory: under `make test` this is a nested make, which would add "Leaving directory" lines
    dry = subprocess.run([make_tool, "-n", "--no-print-directory", "gradescope", "TIMEOUT=900"], capture_output=True,
                         text=True, cwd=paths.ROOT)
    assert dry.stdout.splitlines()[-1].endswith("-m grader gradescope --out dist/autograder.zip --timeout 900")


def test_a_timeout_gradescope_cannot_use_is_refused_with_a_message(tmp_path):
    done = build(tmp_path / "x.zip", "--timeout", "5")
    assert done.returncode == 2 and "--timeout" in done.stderr and "got 5" in done.stderr
    assert not (tmp_path / "x.zip").exists()


@pytest.mark.parametrize("script", ["setup.sh", "run_autograder"])
def test_the_scripts_pass_bash_n_and_shellcheck(source, script, shellcheck):
    subprocess.run(["bash", "-n", str(source / script)], check=True)
    done = subprocess.run([shellcheck, "--shell=bash", str(source / script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_setup_installs_exactly_the_projects_pinned_versions(source):
    bundled, own = pins((source / "constraints.txt").read_text()), pins((paths.ROOT / "constraints.txt").read_text())
    assert bundled == own
    project = tomllib.loads((paths.ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    runtime = {re.split(r"[<>=;\[ ]", d, maxsplit=1)[0].lower() for d in project}
    assert runtime <= {name.lower() for name in bundled}, "every runtime dependency needs a pin"
    installs = [line for line in (source / "setup.sh").read_text().splitlines() if "pip install" in line]
    assert installs and all('--constraint "$SOURCE/constraints.txt"' in line for line in installs)


# --- finding the submission, fitting the time limit ----------------------------------------------------------------

def make_files(folder: Path, *names: str) -> Path:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("x")
    return folder


@pytest.mark.parametrize("names, chosen", [
    (["backprop.ipynb"], "backprop.ipynb"),
    (["work/hw.ipynb", "helper.py", "notes.pdf"], "work/hw.ipynb"),
    (["hw.py"], "hw.py"),
    (["hw.ipynb", ".ipynb_checkpoints/hw-checkpoint.ipynb", "__MACOSX/._hw.ipynb", ".hidden.ipynb"], "hw.ipynb"),
])
def test_the_one_notebook_is_found_and_leftovers_are_ignored(tmp_path, names, chosen):
    found = gradescope_run.find_submission(make_files(tmp_path, *names))
    assert found.problem == "" and found.path == tmp_path / chosen


@pytest.mark.parametrize("names, says", [
    ([], "received: no files at all"),
    (["report.pdf", "data.csv"], "received: data.csv, report.pdf"),
    (["a.ipynb", "sub/b.ipynb"], "holds 2 .ipynb files (a.ipynb, sub/b.ipynb)"),
    (["a.py", "b.py"], "holds 2 .py files (a.py, b.py)"),
])
def test_no_notebook_or_several_say_what_was_found(tmp_path, names, says):
    found = gradescope_run.find_submission(make_files(tmp_path, *names))
    assert found.path is None and says in found.problem


def test_the_time_limit_comes_from_the_environment_then_the_bundle_then_the_default(tmp_path):
    (tmp_path / "source").mkdir()
    env = {gradescope_run.ROOT_ENV: str(tmp_path)}
    assert gradescope_run.load_settings(env).timeout_seconds == gradescope_run.DEFAULT_TIMEOUT
    (tmp_path / "source" / "gradescope.json").write_text('{"timeout_seconds": 420}')
    assert gradescope_run.load_settings(env).timeout_seconds == 420
    assert gradescope_run.load_settings({**env, gradescope_run.TIMEOUT_ENV: "900"}).timeout_seconds == 900
    with pytest.raises(ConfigError, match="GRADER_TIMEOUT_SECONDS.*got 'soon'"):
        gradescope_run.load_settings({**env, gradescope_run.TIMEOUT_ENV: "soon"})


# --- the safety nets -----------------------------------------------------------------------------------------------

def gradescope_root(tmp_path: Path, *submitted: str) -> Path:
    make_files(tmp_path / "submission", *submitted)
    (tmp_path / "source").mkdir(exist_ok=True)
    return tmp_path


def test_an_internal_error_still_writes_results_saying_it_is_not_the_students_fault(tmp_path, capsys):
    def broken_grader(*args, **kwargs):
        raise RuntimeError("the grading suite is missing 731")

    root = gradescope_root(tmp_path, "backprop.ipynb")
    code = gradescope_run.run_once({gradescope_run.ROOT_ENV: str(root)}, grade=broken_grader)
    results = assert_gradescope_results(root / "results" / "results.json")
    assert code == 0 and results["score"] == 0
    assert "not your fault" in results["output"] and "RuntimeError" not in results["output"]
    assert results["extra_data"]["status"] == "grader-failed"
    assert "RuntimeError: the grading suite is missing 731" == results["extra_data"]["reason"]
    assert "broken_grader" in results["extra_data"]["detail"] and "RuntimeError" in capsys.readouterr().out


def test_the_watchdog_writes_an_out_of_time_result_before_gradescope_kills_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(gradescope_run, "WATCHDOG_MARGIN", 0.0)
    release, grading, exits = threading.Event(), threading.Event(), []

    def slow_grader(*args, **kwargs):
        grading.set()
        release.wait(120)  # a hang guard: only the watchdog's exit lets it go
        grading.clear()
        raise AssertionError("the watchdog should have answered first")

    def exit_process(code):
        exits.append((code, grading.is_set()))  # the grading had not ended when the watchdog answered
        release.set()

    root = gradescope_root(tmp_path, "backprop.ipynb")
    env = {gradescope_run.ROOT_ENV: str(root), gradescope_run.TIMEOUT_ENV: "0.5"}
    assert gradescope_run.run_once(env, grade=slow_grader, exit_process=exit_process) == 0
    assert exits == [(0, True)]
    results = assert_gradescope_results(root / "results" / "results.json")
    assert results["extra_data"]["status"] == "timeout" and "time limit of 0.5 s" in results["output"]


def test_run_autograder_writes_results_even_when_python_cannot_start(source, tmp_path):
    root = gradescope_root(tmp_path, "backprop.ipynb")
    env = {**os.environ, "GRADER_AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": "/bin/false"}
    done = subprocess.run(["bash", str(source / "run_autograder")], env=env, capture_output=True, text=True)
    results = assert_gradescope_results(root / "results" / "results.json")
    assert done.returncode == 0 and results["score"] == 0 and "not your fault" in results["output"]
    assert "exited with code 1" in results["extra_data"]["reason"]


# --- run_autograder on real submissions ----------------------------------------------------------------------------

def single_bug_notebook(folder: Path) -> None:
    nb = nbformat.read(paths.SOLUTION, as_version=4)
    cells = [c for c in nb.cells if SOLUTION_BUG[0] in c.source]
    assert len(cells) == 1, "the solution changed: pick another single bug"
    cells[0].source = cells[0].source.replace(*SOLUTION_BUG)
    nbformat.write(nb, folder / "backprop.ipynb")


def submit(case: str, folder: Path) -> None:
    folder.mkdir(parents=True)
    if case == "solution":
        shutil.copy(paths.SOLUTION, folder / "backprop.ipynb")
    elif case == "skeleton":
        shutil.copy(paths.SKELETON, folder / "backprop.ipynb")
    elif case == "single-bug":
        single_bug_notebook(folder)
    elif case == "two-notebooks":
        shutil.copy(paths.SOLUTION, folder / "backprop.ipynb")
        shutil.copy(paths.SKELETON, folder / "backprop (1).ipynb")
    elif case == "unreadable":
        (folder / "backprop.ipynb").write_text('{"cells": [ this is not JSON')


def run_autograder(source: Path, root: Path, **extra_env: str) -> tuple[dict, str]:
    """As Gradescope does: run_autograder copied to ROOT, the bundle in ROOT/source, as root."""
    (root / "source").symlink_to(source, target_is_directory=True)
    shutil.copy(source / "run_autograder", root / "run_autograder")
    env = {**os.environ, "GRADER_AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": sys.executable, **extra_env}
    env.pop("BACKPROP_GRADER_ROOT", None)
    done = subprocess.run(["bash", str(root / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=600, cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    results = assert_gradescope_results(root / "results" / "results.json")
    return results, done.stdout + done.stderr


def lost_areas(results: dict) -> set[str]:
    return {a for a, s in results["extra_data"]["areas"].items() if s["score"] < s["max_score"]}


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.parametrize("case", ["solution", "skeleton", "single-bug", "empty", "two-notebooks", "unreadable"])
def test_run_autograder_grades_each_kind_of_submission(source, tmp_path, case):
    submit(case, tmp_path / "submission")
    results, printed = run_autograder(source, tmp_path)
    rubric = load_rubric(paths.RUBRIC)
    visible = results["output"] + "".join(t["output"] + t["name"] for t in results["tests"])
    assert str(rubric.hidden_seed) not in visible + printed and rubric.secret not in visible + printed
    if case in ("empty", "two-notebooks", "unreadable"):
        assert results["score"] == 0 and results["tests"] == [] and results["extra_data"]["status"] == "error"
        said = {"empty": "received: no files at all",
                "two-notebooks": "holds 2 .ipynb files (backprop (1).ipynb, backprop.ipynb)",
                "unreadable": "backprop.ipynb"}[case]
        assert said in results["output"]
        return
    assert results["output"].startswith("Submission file: backprop.ipynb\n\nTime limits: whole notebook 300 s")
    assert results["extra_data"]["bundle"] == str(tmp_path / "source")
    assert Path(results["extra_data"]["grader_package"]).resolve() == source / "grader"  # the bundle's, not ours
    assert {t["visibility"] for t in results["tests"]} <= {"visible", "after_published"}
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    if case == "solution":
        assert (results["score"], failed) == (100, [])
        # what the notebook's unprivileged uid may not read: the hidden seed and the hidden tests' code
        assert (source / "rubric.toml").stat().st_mode & 0o777 == 0o600
        assert (source / "grader" / "backprop" / "suite").stat().st_mode & 0o777 == 0o700
    elif case == "skeleton":
        assert results["score"] == 0 and len(failed) == len(results["tests"])
    else:
        assert lost_areas(results) == {"softmax_grad"} and len(failed) == 1
        assert results["score"] == 100 - failed[0]["max_score"]


@pytest.mark.sandbox
@pytest.mark.slow
def test_a_shorter_gradescope_timeout_scales_the_limits_and_the_solution_still_scores_100(source, tmp_path):
    submit("solution", tmp_path / "submission")
    results, _ = run_autograder(source, tmp_path, GRADER_TIMEOUT_SECONDS="200")
    factor = results["extra_data"]["time_limit_factor"]
    assert 0.2 < factor < 0.5 and results["score"] == 100
    notebook_limit = float(re.search(r"whole notebook ([\d.]+) s", results["output"]).group(1))
    assert notebook_limit == pytest.approx(300 * factor, rel=1e-2)
    assert f"scaled by {factor:.2f} to fit the autograder's 200 s" in results["output"]


@pytest.mark.sandbox
def test_setup_sh_self_check_passes_on_the_bundle_and_fails_without_its_data(source, tmp_path):
    env = {**os.environ, "GRADER_AUTOGRADER_ROOT": str(tmp_path), "BACKPROP_GRADER_ROOT": str(source),
           "PYTHONPATH": str(source)}
    (tmp_path / "source").symlink_to(source, target_is_directory=True)
    check = [sys.executable, "-m", "grader.bundles.gradescope_run", "--check"]
    done = subprocess.run(check, env=env, capture_output=True, text=True, cwd="/")
    assert done.returncode == 0, done.stderr
    assert "time limit 600 s" in done.stdout and "sandbox: " in done.stdout
    broken = tmp_path / "broken"
    shutil.copytree(source, broken, ignore=shutil.ignore_patterns(paths.DATA_NAME))
    env.update(BACKPROP_GRADER_ROOT=str(broken), PYTHONPATH=str(broken))
    assert subprocess.run(check, env=env, capture_output=True, text=True, cwd="/").returncode != 0


# ---- what students see first: the top-level output ------------------------------------------------------------------

class _Page(HTMLParser):
    """Tags and text of the HTML a Markdown renderer makes of the output."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.cells: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "td":
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.cells.append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def rendered(markdown: str) -> _Page:
    import mistune  # nbconvert's Markdown renderer, standing in for Gradescope's

    page = _Page()
    page.feed(mistune.html(markdown))
    return page


@pytest.fixture(scope="module")
def single_bug_results(tmp_path_factory):
    from grader.grading.grade import grade_submission
    from grader.report.text import results_json

    folder = tmp_path_factory.mktemp("single-bug")
    single_bug_notebook(folder)
    report = grade_submission(folder / "backprop.ipynb", rubric=load_rubric(paths.RUBRIC))
    return report, json.loads(results_json(report))


@pytest.mark.sandbox
def test_while_hidden_tests_exist_the_output_shows_the_public_points_per_area_and_never_the_total(single_bug_results):
    report, results = single_bug_results
    assert results["output_format"] == "md"
    page = rendered(results["output"])
    text = " ".join(" ".join(page.text).split())
    visible = [t for t in results["tests"] if t["visibility"] == "visible"]
    hidden = [t for t in results["tests"] if t["visibility"] != "visible"]
    assert hidden and visible
    got, top = sum(t["score"] for t in visible), sum(t["max_score"] for t in visible)
    assert f"Public tests: {got:g} / {top:g}" in text
    assert f"{report.score:g} / {report.max_score:g}" not in text and "/ 100" not in text
    for t in hidden:
        assert t["name"].split(": ", 1)[1] not in text, t["name"]
    area_rows = {}  # area -> (public points, of), read from the rendered table's cells
    cells = iter(page.cells)
    for area, got_cell, top_cell in zip(cells, cells, cells):
        area_rows[area] = (float(got_cell), float(top_cell))
    for area in {t["tags"][0] for t in visible}:
        mine = [t for t in visible if t["tags"][0] == area]
        assert area_rows[area] == (sum(t["score"] for t in mine), sum(t["max_score"] for t in mine)), area
    lost = [t["name"] for t in visible if t["score"] < t["max_score"]]
    assert lost == ["softmax_grad: softmax_cross_entropy_grad matches centered finite differences of E"]
    assert lost[0] in text and "table" in page.tags


def _report(tests, **kw):
    from grader.grading.results import GradeReport

    return GradeReport("s", "s.ipynb", "ab" * 32, "graded", sum(t.score for t in tests),
                       sum(t.max_score for t in tests), tuple(tests), **kw)


def test_hints_are_shown_for_public_failures_only_and_hostile_text_stays_text():
    from grader.grading.results import TestResult
    from grader.sandbox.outcomes import CellOutcome, NotebookRun
    from grader.report.text import results_dict

    tests = [TestResult("backward: dW1 matches", "backward", 0, 6, False, hint="PUBLIC-HINT", public=True),
             TestResult("backward: db2 matches", "backward", 4, 4, True, public=True),
             TestResult("accuracy: hidden set", "accuracy", 0, 10, False, hint="HIDDEN-HINT", message="HIDDEN-MSG")]
    hostile = "[click](http://evil.example) <script>alert(1)</script> ![x](data:,x) | a | b | `tick` **bold**"
    run = NotebookRun((CellOutcome(3, "error", error_type="ValueError", message=hostile),))
    report = _report(tests, notes=(hostile,), notebook=run)
    output = results_dict(report)["output"]
    page = rendered(output)
    text = " ".join(page.text)
    assert "PUBLIC-HINT" in text and "HIDDEN-HINT" not in output and "HIDDEN-MSG" not in output
    assert "hidden set" not in output and "Public tests: 4 / 10" in text and "/ 20" not in text
    assert not {"a", "img", "script", "code", "em"} & set(page.tags)
    assert page.tags.count("strong") == 3  # the score, "What to look at" and the failed test's name: nothing else
    assert text.count("<script>alert(1)</script>") == 2 and text.count("[click](http://evil.example)") == 2
    assert page.cells[:3] == ["backward", "4", "10"] and len(page.cells) == 3  # no row from the hostile pipes


def test_without_hidden_tests_the_output_gives_the_total_and_every_area():
    from grader.grading.results import TestResult
    from grader.report.text import results_dict

    tests = [TestResult("softmax: sums to one", "softmax", 5, 5, True, public=True),
             TestResult("loss: matches log_loss", "loss", 0, 10, False, hint="mean, not sum", public=True)]
    text = " ".join(rendered(results_dict(_report(tests))["output"]).text)
    assert "Score: 5 / 15" in text and "mean, not sum" in text and "Hidden tests" not in text
