"""Shared fixtures for the package's own tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from hypothesis import HealthCheck, settings  # noqa: E402

from grader import paths  # noqa: E402

# `make test`: a fixed seed and few examples, so runs are fast and repeatable; `make fuzz`: the full search.
settings.register_profile("ci", max_examples=25, derandomize=True, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("fuzz", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_configure(config: pytest.Config) -> None:
    # tests import grading-suite modules directly, and those apply the grading plugin's markers
    from grader.grading.plugin import register_markers

    register_markers(config)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A working directory holding the public data under the name the notebook opens."""
    shutil.copy(paths.PUBLIC_DATA, tmp_path / paths.DATA_NAME)
    return tmp_path


@pytest.fixture
def in_data_dir(data_dir: Path):
    """Run the test with the data directory as the current directory."""
    old = os.getcwd()
    os.chdir(data_dir)
    try:
        yield data_dir
    finally:
        os.chdir(old)


@pytest.fixture(scope="session")
def student_zip(tmp_path_factory) -> Path:
    """The student zip, built once per test session by the command `make release` runs (tests/test_student_kit.py
    checks that it is the same command), into a temporary folder rather than the checkout's dist/."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("dist") / "student.zip"
    subprocess.run([sys.executable, "-m", "grader", "student-zip", "--out", str(out)], cwd=paths.ROOT, check=True,
                   timeout=600, capture_output=True)
    return out
