"""One submission cannot take more than its own bounds: memory for all its processes together, one core, and a
process count that other sandboxes do not use up. Run through the real sandbox, with the control groups this
machine allows, with them forced off (the fallback), and as an unprivileged user."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader import paths
from grader.sandbox import cgroup
from grader.sandbox.client import open_submission
from grader.sandbox.layout import traversable
from grader.sandbox.limits import MIB, Limits

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("needs_bwrap")]
needs_groups = pytest.mark.usefixtures("needs_cgroups")
SMALL = Limits(cell_seconds=20, notebook_seconds=60, request_seconds=20, memory_bytes=512 * MIB, max_processes=16)

# Four children, each touching 200 MB: each fits the per-process limit; together they are over 512 MB.
HOG = '''
import os, time
def hog(n=4, mb=200):
    kids, failed = [], ""
    for _ in range(n):
        try:
            pid = os.fork()
        except OSError as e:
            failed = e.strerror
            break
        if pid == 0:
            try:
                block = bytearray(mb * 2**20)
                for i in range(0, len(block), 4096):
                    block[i] = 1
                time.sleep(3)
            except MemoryError:
                os._exit(3)  # the per-process limit: not what this measures
            os._exit(0)
        kids.append(pid)
    return [os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) for p in kids], failed
'''
BUSY = '''
import os, time
def busy(n=4, seconds=3.0):
    for _ in range(n):
        if os.fork() == 0:
            os.setsid()
            end = time.time() + seconds
            while time.time() < end:
                pass
            os._exit(0)
    time.sleep(seconds)
    return True
'''


def script(tmp_path: Path, source: str) -> Path:
    path = tmp_path / "sub.py"
    path.write_text(source)
    return path


def no_groups(limits: Limits) -> cgroup.Confinement:
    """What confine() gives on a machine without control groups."""
    return cgroup._describe(limits, [], {})


@needs_groups
def test_memory_is_bounded_for_all_the_sandboxs_processes_together(tmp_path):
    with open_submission(script(tmp_path, HOG), SMALL, sandbox="bwrap") as student:
        assert "512 MB for all its processes together (cgroup" in student.confinement
        codes, _ = student.call("hog")
    assert -9 in codes and 3 not in codes  # each child fits its own limit; together they met the sandbox's


def test_without_control_groups_few_enough_processes_keep_memory_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(cgroup, "confine", no_groups)
    with open_submission(script(tmp_path, HOG), SMALL, sandbox="bwrap") as student:
        assert f"at most {cgroup.FALLBACK_PROCESSES} processes" in student.confinement
        codes, failed = student.call("hog")
    assert len(codes) <= cgroup.FALLBACK_PROCESSES - 2 and "resource" in failed.lower()


@needs_groups
def test_a_sandbox_gets_at_most_one_core_however_many_processes_it_runs(tmp_path):
    with open_submission(script(tmp_path, BUSY), SMALL, sandbox="bwrap") as student:
        student.call("busy", 1, 0.1)  # warm
        groups = student.transport._worker.plan.confinement
        assert one_core_quota(groups), groups
        started = time.monotonic()  # the wall clock's window holds the CPU count's: a busy machine only lowers share
        used = cgroup.cpu_seconds(groups)
        student.call("busy")
        cpu = cgroup.cpu_seconds(groups) - used
        share = cpu / (time.monotonic() - started)
    assert share < 1.2  # four busy processes, one core's worth of CPU time


def one_core_quota(groups: cgroup.Confinement) -> bool:
    """The sandbox's CPU group allows one core: cgroup v1's quota per period, or v2's cpu.max."""
    for d in map(Path, groups.dirs):
        if (d / "cpu.cfs_quota_us").exists():
            return int((d / "cpu.cfs_quota_us").read_text()) == int((d / "cpu.cfs_period_us").read_text())
        if (d / "cpu.max").exists():
            quota, period = (d / "cpu.max").read_text().split()
            return quota == period
    return False


def test_other_sandboxes_processes_do_not_use_up_a_sandboxs_process_limit(tmp_path):
    sleeper = "import os, time\ndef spawn(n):\n    for _ in range(n):\n        if os.fork() == 0:\n" \
              "            time.sleep(30)\n            os._exit(0)\n    return n\n"
    limits = Limits(cell_seconds=20, request_seconds=20, max_processes=12)
    with open_submission(script(tmp_path, sleeper), limits, sandbox="bwrap") as crowd, \
            open_submission(script(tmp_path, HOG), limits, sandbox="bwrap") as honest:
        assert crowd.call("spawn", 9) == 9
        codes, failed = honest.call("hog", 3, 10)
    assert codes == [0, 0, 0] and not failed


UNPRIVILEGED = '''
import sys, tempfile
from pathlib import Path
from grader.sandbox.client import open_submission
from grader.sandbox.layout import traversable
from grader.sandbox.limits import Limits
path = Path(tempfile.mkdtemp()) / "sub.py"
path.write_text(sys.argv[1])
limits = Limits(cell_seconds=20, request_seconds=20, memory_bytes=512 << 20, max_processes=16)
with open_submission(path, limits, sandbox="bwrap") as crowd, open_submission(path, limits, sandbox="bwrap") as me:
    print(crowd.call("spawn", 20), file=sys.stderr)  # as many as its own limit allows
    print(me.confinement)
    print(me.call("hog", 2, 10))
'''


def interpreter_for_anyone() -> str | None:
    """This Python, or the system's of the same version, if a user without privileges can run it."""
    for exe in (os.path.realpath(sys.executable), f"/usr/bin/python{sys.version_info[0]}.{sys.version_info[1]}"):
        if os.path.exists(exe) and traversable(exe):
            return exe
    return None


@pytest.fixture(scope="session")
def anyone_python() -> str:
    """An interpreter a user without privileges can run, and root's means to become that user."""
    found = interpreter_for_anyone()
    if os.geteuid() != 0 or not shutil.which("setpriv") or not found:
        pytest.skip("needs root to become another user, and an interpreter that user can run")
    return found


def test_an_unprivileged_grader_falls_back_and_says_so(tmp_path, anyone_python):
    source = HOG + "\ndef spawn(n):\n    for i in range(n):\n        try:\n            pid = os.fork()\n" \
                   "        except OSError:\n            return i\n        if pid == 0:\n            time.sleep(20)\n" \
                   "            os._exit(0)\n    return n\n"
    env = {**os.environ, "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    os.chmod(tmp_path, 0o777)
    where = [str(paths.ROOT), *(p for p in sys.path if p.endswith("site-packages"))]  # this checkout, its packages
    prelude = f"import sys\nsys.path[:0] = {where!r}\n"
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", anyone_python,
                           "-c", prelude + UNPRIVILEGED, source], capture_output=True, text=True, cwd=tmp_path,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    confinement, result = proc.stdout.strip().splitlines()[-2:]
    assert "no memory cgroup here" in confinement and "user namespace" in confinement
    assert result == "([0, 0], '')"  # 20 processes of the same user in another sandbox take nothing from this one
