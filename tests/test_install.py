"""A non-editable install (the package's wheel in site-packages) grades from the project's folder, and outside
any project refuses with a message instead of grading against data that is not there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import paths

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]  # it runs `python -m grader grade`, which the spawn audit counts


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The package's own wheel, built from a copy of the checkout and unpacked as pip would into site-packages."""
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(paths.ROOT / name, source / name)
    shutil.copytree(paths.ROOT / "grader", source / "grader", ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path_factory.mktemp("wheels")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(source)], check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("backprop_grader-*.whl")
    target = tmp_path_factory.mktemp("site-packages")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def run(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != paths.ROOT_VARIABLE}
    env["PYTHONPATH"] = str(site)  # ahead of the checkout's editable install
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_wheel_carries_the_templates_and_the_sandbox_files(site):
    package = site / "grader"
    assert (package / "report" / "templates" / "feedback.html.j2").is_file()
    assert (package / "sandbox" / "inside" / "worker.py").is_file()
    assert not (site / "data").exists() and not (site / "rubric.toml").exists()


def test_outside_a_project_the_installed_grader_refuses_and_writes_no_grade(site, tmp_path):
    done = run(site, tmp_path, "-m", "grader", "grade", str(paths.SOLUTION), "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no project folder found" in done.stderr and paths.ROOT_VARIABLE in done.stderr
    assert not (tmp_path / "out").exists()


def test_inside_a_project_folder_the_installed_grader_grades_the_solution(site, tmp_path):
    project = tmp_path / "course"
    for name in ("data", "solution", "assignment"):
        shutil.copytree(paths.ROOT / name, project / name)
    shutil.copy(paths.RUBRIC, project / "rubric.toml")
    where = run(site, project / "solution", "-c", "import grader; print(grader.__file__)")
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout + where.stderr
    done = run(site, project / "solution", "-m", "grader", "grade", "backprop.ipynb", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    assert results["score"] == 100 and (tmp_path / "out" / "feedback.html").is_file()
