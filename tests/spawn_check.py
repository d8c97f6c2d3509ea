"""A test that starts a sandbox (or grades a notebook) must be marked `sandbox`, and one that starts chromium
`browser`: `make test-unit` leaves them out by those markers, so a missing one would make it slow again.

Every process the test session starts (forked children's included) is noted through Python's audit hook, against
the test running at the time; a test that started such a process without the marker fails at teardown, naming it.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pytest

from grader import paths

SANDBOX_CODE = str(paths.ROOT / "grader" / "sandbox") + os.sep  # the launcher and the worker
GRADING_VERBS = {"grade", "grade-all", "check"}
GRADING_MODULES = {"grader.batch.worker", "grader.batch.forkserver", "grader.bundles.gradescope_run"}

_fd, _name = tempfile.mkstemp(prefix="spawn-check-", suffix=".jsonl")
os.close(_fd)  # appended to by name, from this process and its forked children
_log = Path(_name)
_running = {"test": ""}


def needs_marker(argv: list[str]) -> str:
    """The marker a test that starts this command must carry, or ""."""
    if any(SANDBOX_CODE in a for a in argv) or os.path.basename(argv[0]) == "bwrap":
        return "sandbox"
    if "chrom" in os.path.basename(argv[0]):
        return "browser"
    if "--help" in argv or "-h" in argv:
        return ""
    if os.path.basename(argv[0]) == "make" and "-n" not in argv and GRADING_VERBS & set(argv[1:]):
        return "sandbox"
    for i, arg in enumerate(argv[:-1]):
        if arg == "-m" and (argv[i + 1] in GRADING_MODULES or
                            argv[i + 1] == "grader" and GRADING_VERBS & set(argv[i + 2:i + 3])):
            return "sandbox"
    return ""


def _audit(event: str, args: tuple) -> None:
    if event != "subprocess.Popen" or not _running["test"]:
        return
    try:
        argv = [os.fsdecode(a) for a in ([args[1]] if isinstance(args[1], (str, bytes)) else args[1])]
        marker = needs_marker(argv)
    except Exception:  # an audit hook must never break the spawn it watches
        return
    if marker:
        with open(_log, "a", encoding="utf-8") as f:  # one short append: whole lines even from forked children
            f.write(json.dumps({"test": _running["test"], "marker": marker, "argv": argv[:6]}) + "\n")


sys.addaudithook(_audit)


def _started(nodeid: str) -> list[dict]:
    try:
        lines = _log.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [r for r in map(json.loads, lines) if r["test"] == nodeid]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    _running["test"] = item.nodeid
    try:
        yield
    finally:
        _running["test"] = ""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if call.when != "teardown" or not report.passed:
        return
    marks = {m.name for m in item.iter_markers()}
    unmarked = [r for r in _started(item.nodeid) if r["marker"] not in marks]
    if unmarked:
        report.outcome = "failed"
        report.longrepr = (f"{item.nodeid} started {unmarked[0]['argv']} but is not marked "
                           f"`{unmarked[0]['marker']}` (pytest.mark.{unmarked[0]['marker']}): `make test-unit` "
                           "would run it")


def pytest_unconfigure(config: pytest.Config) -> None:
    _log.unlink(missing_ok=True)
