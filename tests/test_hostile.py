"""Hostile submissions, run through the real sandbox: each ends with a clear recorded outcome, leaves no process
behind, and cannot forge a result or stop the grader."""

from __future__ import annotations

import os
import resource
import sys
import time
import uuid
from pathlib import Path

import pytest

from grader import paths
from grader.sandbox.client import open_submission
from grader.errors import ProtocolError, StudentError, StudentTimeout, Unsendable, WorkerDied
from grader.sandbox.limits import Limits

pytestmark = pytest.mark.sandbox
FAST = Limits(cell_seconds=2.0, notebook_seconds=60.0, request_seconds=2.0, cpu_seconds=60)


@pytest.fixture(params=["bwrap", "none"])
def mode(request) -> str:
    """Both sandbox modes, for a test that takes `mode`; bwrap only where bubblewrap works."""
    if request.param == "bwrap":
        request.getfixturevalue("needs_bwrap")
    return request.param


def script(tmp_path: Path, *cells: str) -> Path:
    """A .py submission whose `# %%` cells are the given sources (cell i has index i)."""
    path = tmp_path / "hostile.py"
    path.write_text("".join(f"# %%\n{c.strip()}\n" for c in cells))
    return path


def with_marker(marker: str) -> set[int]:
    """Host pids whose command line holds the marker (the hostile processes)."""
    found = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.add(int(name))
                with open(f"/proc/{name}/stat", "rb") as f:
                    if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                        found.discard(int(name))
            except OSError:
                continue
    return found


def wait_for(condition, seconds: float) -> bool:
    """Poll until condition() holds or the deadline passes; returns whether it held."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def statuses(student) -> list[str]:
    return [c.status for c in student.notebook.cells]


def test_endless_loop_at_top_level_times_out_and_the_notebook_goes_on(tmp_path, mode):
    sub = script(tmp_path, "def before():\n    return 1", "while True:\n    pass", "def after():\n    return before() + 1")
    with open_submission(sub, FAST, sandbox=mode) as student:
        assert statuses(student) == ["ok", "timeout", "ok"]
        assert student.notebook.cells[1].seconds < FAST.cell_seconds + 1
        assert student.call("after") == 2
        assert student.restarts == 0  # the cooperative interrupt was enough


@pytest.mark.usefixtures("needs_bwrap")
def test_a_loop_that_swallows_the_interrupt_is_killed_and_earlier_definitions_stay(tmp_path):
    stubborn = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass"
    sub = script(tmp_path, "x = 41", stubborn, "def after():\n    return x + 1")
    with open_submission(sub, FAST, sandbox="bwrap") as student:
        cell = student.notebook.cells[1]
        assert cell.status == "timeout" and "ignored the interrupt" in cell.message
        assert statuses(student) == ["ok", "timeout", "ok"]
        assert student.call("after") == 42
        assert student.restarts == 1


def test_an_endless_loop_in_a_called_function_times_out_and_the_worker_survives(tmp_path, mode):
    sub = script(tmp_path, "def spin():\n    while True:\n        pass\n\ndef ok():\n    return 'fine'")
    with open_submission(sub, FAST, sandbox=mode) as student:
        with pytest.raises(StudentTimeout) as info:
            student.call("spin", _timeout=0.5)
        assert "in spin" in info.value.traceback and "Cell [0], line" in info.value.traceback
        assert student.alive and student.call("ok") == "fine"


@pytest.mark.usefixtures("needs_bwrap")
def test_a_called_function_that_swallows_the_interrupt_is_killed_and_can_be_restarted(tmp_path):
    sub = script(tmp_path, "def spin():\n    while True:\n        try:\n            while True:\n                pass\n"
                           "        except BaseException:\n            pass\n\ndef ok():\n    return 'fine'")
    with open_submission(sub, FAST, sandbox="bwrap") as student:
        with pytest.raises(StudentTimeout):
            student.call("spin", _timeout=0.5)
        assert not student.alive
        with pytest.raises(WorkerDied, match="did not answer in time"):
            student.call("ok")
        student.restart()
        assert student.call("ok") == "fine"


def test_a_40_gb_allocation_fails_fast_with_memory_error(tmp_path, mode):
    sub = script(tmp_path, "import numpy as np\nbig = np.ones(40 * 10**9 // 8)", "raw = bytearray(40 * 10**9)",
                 "def grab():\n    return np.zeros((40 * 10**9 // 8,)).sum()")
    with open_submission(sub, FAST, sandbox=mode) as student:
        cells = student.notebook.cells
        assert [c.error_type for c in cells] == ["MemoryError", "MemoryError", ""]
        assert all(c.seconds < 2 for c in cells)
        with pytest.raises(StudentError) as info:
            student.call("grab")
        assert info.value.exc_type == "MemoryError" and student.alive


SPAWN = """
import os, signal, sys
def spawn(marker):
    for _ in range(20):
        if os.fork() == 0:
            os.setsid()
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if os.fork() == 0:  # a grandchild, orphaned when its parent exits below
                os.execv(sys.executable, [sys.executable, "-S", "-c",
                         "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)", marker])
            os.execv(sys.executable, [sys.executable, "-S", "-c",
                     "import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(0.3); os._exit(0)", marker])
    return os.getpid()
"""


HANG = "def hang():\n    while True:\n        try:\n            while True:\n                pass\n        except BaseException:\n            pass"


def test_twenty_setsid_children_ignoring_sigterm_leave_nothing_behind(tmp_path, mode):
    marker = f"hostile-{uuid.uuid4().hex}"
    sub = script(tmp_path, SPAWN, f"spawn({marker!r})", HANG)
    with open_submission(sub, Limits(cell_seconds=10, max_processes=128), sandbox=mode) as student:
        assert statuses(student) == ["ok", "ok", "ok"]
        student.call("spawn", marker)  # 20 more, while a request is served
        assert wait_for(lambda: len(with_marker(marker)) >= 20, 60)  # they exist (orphaned grandchildren at least)
        with pytest.raises(StudentTimeout):
            student.call("hang", _timeout=0.3)  # the grader kills the sandbox: the tree kill alone must do it
        assert not student.alive
        assert with_marker(marker) == set()
    assert with_marker(marker) == set()


def test_os_exit_in_a_cell_is_recorded_and_later_cells_still_run(tmp_path, mode):
    sub = script(tmp_path, "a = 1", "import os\nos._exit(0)", "def after():\n    return a + 1")
    with open_submission(sub, FAST, sandbox=mode) as student:
        cell = student.notebook.cells[1]
        assert cell.status == "error" and "exited with code 0" in cell.message and "os._exit" in cell.message
        assert statuses(student) == ["ok", "error", "ok"]
        assert student.call("after") == 2


def test_sys_exit_in_a_cell_is_an_error_and_execution_goes_on(tmp_path, mode):
    sub = script(tmp_path, "import sys\nsys.exit()", "raise SystemExit(3)", "def after():\n    return 3")
    with open_submission(sub, FAST, sandbox=mode) as student:
        assert statuses(student) == ["error", "error", "ok"]
        assert [c.error_type for c in student.notebook.cells[:2]] == ["SystemExit", "SystemExit"]
        assert student.restarts == 0 and student.call("after") == 3


def test_killing_the_parent_process_does_not_touch_the_grader(tmp_path, mode):
    kill = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nimport time\ntime.sleep(0.5)"
    sub = script(tmp_path, "a = 5", kill, "def after():\n    return a")
    with open_submission(sub, FAST, sandbox=mode) as student:
        cell = student.notebook.cells[1]
        # bwrap: the parent is the namespace's init, which ignores the signal; none: a guard process dies, and
        # the worker with it (PR_SET_PDEATHSIG), so the cells before are run again in a fresh one
        if mode == "bwrap":
            assert cell.status == "ok"
        else:
            assert cell.status == "error" and "killed by signal 9" in cell.message
        assert student.call("after") == 5
    assert os.getpid() > 0 and open(f"/proc/{os.getpid()}/stat").read()  # still here


FAKE = """
import json, os, sys
sys.path.append(os.path.dirname(os.path.abspath(__name__)))
fake = {"id": 1, "ok": True, "value": 1000, "score": 100, "max_score": 100, "status": "graded"}
print(json.dumps(fake))
print("score: 100/100  (all tests passed)")
os.write(1, b'\\x20\\x00\\x00\\x00\\x00\\x00\\x00\\x00' + json.dumps(fake).encode())

def answer():
    print(json.dumps({"id": 2, "ok": True, "value": 1000}))
    return 1

def forge():
    # write a well-formed reply frame to every pipe this process holds: one of them is the grader's channel
    import glob, struct
    body = json.dumps({"id": 10**6, "ok": True, "value": 1000}).encode()
    frame = struct.pack("<QI", 4 + len(body), len(body)) + body
    for fd in glob.glob("/proc/self/fd/*"):
        try:
            if "pipe" in os.readlink(fd) and int(fd.rsplit("/", 1)[1]) > 2:
                os.write(int(fd.rsplit("/", 1)[1]), frame)
        except OSError:
            pass
    return 1
"""


def test_text_that_looks_like_a_grader_result_is_never_parsed(tmp_path, mode):
    with open_submission(script(tmp_path, FAKE), FAST, sandbox=mode) as student:
        assert "score: 100/100" in student.notebook.cells[0].stdout
        assert student.call("answer") == 1
        with pytest.raises(ProtocolError):
            student.call("forge")  # an unsolicited frame on the channel is refused, not taken as a result
        assert not student.alive


@pytest.mark.usefixtures("needs_bwrap")
def test_writes_outside_the_scratch_directory_fail_or_stay_in_the_sandbox(tmp_path):
    host_marker = Path(f"/tmp/hostile-write-{uuid.uuid4().hex}")
    targets = [str(host_marker), "/etc/hostile", f"{sys.base_prefix}/hostile", "/usr/hostile", "/hostile",
               str(paths.ROOT / "solution" / "hostile"), str(Path.home() / "hostile"), "/dev/hostile", "written"]
    code = f"""
import os
def attempt(targets):
    out = {{}}
    for t in targets:
        try:
            with open(t, "w") as f:
                f.write("pwned")
            out[t] = "written"
        except OSError as e:
            out[t] = e.strerror
    return out
result = attempt({targets!r})
"""
    with open_submission(script(tmp_path, code), FAST, sandbox="bwrap") as student:
        result = student.get("result")
    written = {t for t, r in result.items() if r == "written"}
    assert written == {str(host_marker), "written"}  # the private /tmp and the scratch directory only
    assert not host_marker.exists()
    assert not (paths.ROOT / "solution" / "hostile").exists() and not Path("/etc/hostile").exists()


WALK = """
import os
def walk():
    found = []
    for root, dirs, files in os.walk("/"):
        if root == "/proc":
            dirs[:] = []
        for name in dirs + files:
            full = os.path.join(root, name)
            if name in ("rubric.toml", "test_hostile.py", "backprop_grader") or full.endswith(
                    ("solution/backprop.ipynb", "grader/backprop/suite", "grader/grading/plugin.py", "data/xordata.pkl")):
                found.append(full)
    return found

def exists(paths):
    return any(os.path.exists(p) for p in paths)

def importable():
    try:
        import grader
        return str(getattr(grader, "__file__", grader))
    except ImportError as e:
        return "ImportError"
"""


@pytest.mark.usefixtures("needs_bwrap")
@pytest.mark.slow
def test_walking_the_filesystem_finds_no_solution_tests_or_rubric(tmp_path):
    with open_submission(script(tmp_path, WALK), FAST, sandbox="bwrap") as student:
        assert student.call("walk", _timeout=120) == []
        assert student.call("importable") == "ImportError"
        assert student.call("exists", [str(paths.ROOT / "solution"), str(paths.RUBRIC), "/work"]) is False


def test_an_object_whose_reduce_runs_a_command_comes_back_as_a_described_failure(tmp_path, mode):
    host_marker = Path(f"/tmp/hostile-reduce-{uuid.uuid4().hex}")
    code = f"""
import os, numpy as np
class Boom:
    def __reduce__(self):
        return (os.system, ("touch {host_marker}",))
def boom():
    return Boom()
def nested():
    return [1, {{"w": Boom()}}]
def object_array():
    return np.array([Boom(), 1], dtype=object)
"""
    with open_submission(script(tmp_path, code), FAST, sandbox=mode) as student:
        with pytest.raises(Unsendable, match="`boom` returned an object of type Boom, which is not plain data"):
            student.call("boom")
        with pytest.raises(Unsendable, match=r"type Boom \(at result\[1\]\['w'\]\)"):
            student.call("nested")
        with pytest.raises(Unsendable, match="dtype object"):
            student.call("object_array")
        assert student.alive
    assert not host_marker.exists()


def test_printing_200_mb_is_capped_and_does_not_fill_the_graders_memory(tmp_path, mode):
    code = ["print('x' * 200_000_000)",
            "import os\nfor _ in range(200):\n    os.write(1, b'y' * (1 << 20))",
            "import subprocess\nsubprocess.run(['head', '-c', '200000000', '/dev/zero'])",
            "def ok():\n    return 'fine'"]
    limits = Limits(cell_seconds=20, output_bytes=10_000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open_submission(script(tmp_path, *code), limits, sandbox=mode) as student:
        first = student.notebook.cells[0]
        assert statuses(student) == ["ok"] * 4
        assert len(first.stdout) < 10_100 and "[... 199990001 bytes dropped]" in first.stdout
        assert student.call("ok") == "fine"
    assert student.transport.output_bytes_dropped > 390_000_000  # the raw pipe was drained, then dropped
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mib < 100


@pytest.mark.usefixtures("needs_bwrap")
def test_a_fork_bomb_is_stopped_by_the_process_limit(tmp_path):
    code = "import os\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            import time\n" \
           "            time.sleep(60)\n        n += 1\nexcept OSError as e:\n    err = e.strerror"
    with open_submission(script(tmp_path, code), Limits(cell_seconds=5, max_processes=30), sandbox="bwrap") as student:
        assert student.get("n") < 30 and "resource" in student.get("err").lower()


@pytest.mark.usefixtures("needs_bwrap")
def test_burning_cpu_past_the_cpu_limit_kills_only_the_worker(tmp_path):
    sub = script(tmp_path, "x = 1", "while True:\n    pass", "def after():\n    return x")
    limits = Limits(cell_seconds=20, cpu_seconds=1)
    with open_submission(sub, limits, sandbox="bwrap") as student:
        cell = student.notebook.cells[1]
        assert cell.status == "error" and "SIGXCPU" in cell.message and "CPU time limit of 1 s" in cell.message
        assert student.call("after") == 1


GRADER = """
import sys, time
from grader.sandbox.client import sandboxed
from grader.sandbox.limits import Limits
student = sandboxed(sys.argv[1], Limits(cell_seconds=10, max_processes=128), sandbox="bwrap").start()
student.call("spawn", sys.argv[2])
print("spawned", flush=True)
time.sleep(600)
"""


@pytest.mark.usefixtures("needs_bwrap")
def test_when_the_grader_itself_is_killed_the_sandbox_dies_with_it(tmp_path):
    import signal
    import subprocess

    marker = f"hostile-{uuid.uuid4().hex}"
    sub = script(tmp_path, SPAWN)
    grader = subprocess.Popen([sys.executable, "-c", GRADER, str(sub), marker], stdout=subprocess.PIPE, text=True,
                              cwd=paths.ROOT)
    try:
        assert grader.stdout.readline().strip() == "spawned"
        assert wait_for(lambda: len(with_marker(marker)) >= 20, 60)  # a loaded machine starts them slowly
    finally:
        grader.send_signal(signal.SIGKILL)
        grader.wait()
    assert wait_for(lambda: with_marker(marker) == set(), 30)


def test_a_child_forked_in_a_cell_never_answers_for_the_worker(tmp_path, mode):
    sub = script(tmp_path, "import os\npid = os.fork()", "def who():\n    return 'worker'")
    with open_submission(sub, FAST, sandbox=mode) as student:
        assert statuses(student) == ["ok", "ok"]
        assert [student.call("who") for _ in range(20)] == ["worker"] * 20


def test_a_result_larger_than_the_message_limit_is_refused_by_the_worker(tmp_path, bwrap_problem):
    from grader.sandbox.process import WorkerProcess
    from grader.sandbox.replies import raise_for

    worker = WorkerProcess("bwrap" if not bwrap_problem else "none", FAST, {}, max_message_bytes=1 << 20)
    try:
        worker.wait_ready()
        worker.request({"op": "cell", "index": 0, "source": "import numpy as np\nbig = np.ones(10**6)"}, [], 5)
        reply, _ = worker.request({"op": "get", "name": "big"}, [], 5)
        with pytest.raises(Unsendable, match="`big` returned 8 MiB of data, more than the grader accepts"):
            raise_for(reply, "`big`", 5, "get")
        assert worker.alive
    finally:
        worker.stop()
