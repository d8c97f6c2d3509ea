"""Shared fixtures for the package's own tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from hypothesis import HealthCheck, settings  # noqa: E402

from grader import paths  # noqa: E402

pytest_plugins = ["tests.spawn_check"]  # a test that starts a sandbox or a browser must carry the marker that says so

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


# ---- what this host can do: each probed once per session, when the first test that needs it runs ----

@pytest.fixture(scope="session")
def bwrap_problem() -> str:
    """Why bubblewrap cannot create a sandbox here, or "" when it can (starts bubblewrap once)."""
    from grader.sandbox import bwrap

    return bwrap.probe_bwrap()


@pytest.fixture(scope="session")
def needs_bwrap(bwrap_problem: str) -> None:
    if bwrap_problem:
        pytest.skip(f"bubblewrap unusable here: {bwrap_problem}")


@pytest.fixture(scope="session")
def needs_cgroups() -> None:
    """Control groups the sandbox can make here (one is made and removed again)."""
    from grader.sandbox import cgroup
    from grader.sandbox.limits import Limits

    groups = cgroup.confine(Limits())
    cgroup.release(groups)
    if "cgroup" not in groups.memory + groups.cpu + groups.processes:
        pytest.skip("no control groups can be made here")


@pytest.fixture(scope="session")
def needs_user_namespaces() -> None:
    """unshare(1) can make a user namespace here (what a worker host without them is simulated from)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("needs unshare (util-linux)")
    done = subprocess.run([unshare, "--user", "--map-root-user", "true"], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        pytest.skip(f"user namespaces unusable here: {done.stderr.strip() or f'exit code {done.returncode}'}")


@pytest.fixture(scope="session")
def shellcheck() -> str:
    found = shutil.which("shellcheck") or shutil.which("shellcheck", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("shellcheck is not installed (pip install -e .[test] brings it)")
    return found


@pytest.fixture(scope="session")
def make_tool() -> str:
    found = shutil.which("make")
    if found is None:
        pytest.skip("make is not installed")
    return found


BROWSER_MISSING = ("not installed: `make test` installs Debian's chromium and chromium-driver "
                   "(tests/tools/ensure_chromium.sh) when run as root where apt-get exists")


def _chromium_path() -> str | None:
    if os.path.exists("/usr/bin/chromium"):
        return "/usr/bin/chromium"
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Headless chromium's path, for rendering pages; without it the test skips."""
    found = _chromium_path()
    if found is None:
        pytest.skip(f"chromium is {BROWSER_MISSING}; the page was not rendered in a browser")
    return found


@pytest.fixture(scope="session")
def chromium_and_driver() -> tuple[str, str]:
    """Chromium and its chromedriver, for driving an app. As root where apt-get exists `make test` installs them, so
    there their absence fails instead of skipping quietly."""
    found = _chromium_path()
    driver = "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else shutil.which("chromedriver")
    if found and driver:
        return found, driver
    why = f"chromium and chromium-driver are {BROWSER_MISSING}"
    if os.geteuid() == 0 and shutil.which("apt-get"):
        pytest.fail(why + "; this is root, so they should be here: see ensure_chromium's message above")
    pytest.skip(why + "; the app was not tested in a browser")


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
