"""The sandbox and the client API, on real submissions run through the real sandbox."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from grader import paths
from grader.sandbox import bwrap as sandbox
from grader.sandbox.client import Sandbox, open_submission, sandboxed
from grader.errors import MissingName, SandboxError, StudentError, Unsendable, WorkerDied
from grader.sandbox.limits import Limits

HERE = Path(__file__).parent / "submissions"
FAST = Limits(cell_seconds=5.0, notebook_seconds=60.0, request_seconds=5.0)
DATA = {paths.DATA_NAME: paths.PUBLIC_DATA}


def script(tmp_path: Path, *cells: str, name: str = "sub.py") -> Path:
    path = tmp_path / name
    path.write_text("".join(f"# %%\n{c.strip()}\n" for c in cells))
    return path


@pytest.mark.sandbox
def test_available_mode_resolves_and_validates(bwrap_problem):
    assert sandbox.available_mode("none") == "none"
    assert sandbox.available_mode("auto") == ("none" if bwrap_problem else "bwrap")
    with pytest.raises(SandboxError, match="unknown sandbox mode 'docker'"):
        sandbox.available_mode("docker")


@pytest.mark.sandbox
def test_an_unusable_bwrap_is_a_clear_error_and_auto_falls_back_loudly(monkeypatch, capsys):
    monkeypatch.setattr(sandbox, "bwrap_binary", lambda: "/bin/false")
    monkeypatch.setattr(sandbox, "_probe_result", {})
    monkeypatch.setattr(sandbox, "_warned", False)
    with pytest.raises(SandboxError, match="bubblewrap cannot create a sandbox here: exit code 1"):
        sandbox.available_mode("bwrap")
    assert sandbox.available_mode("auto") == "none"
    assert "WITHOUT a sandbox" in capsys.readouterr().err


PROBE = """
import os, resource, socket
def probe():
    try:
        socket.create_connection(("127.0.0.1", PORT), timeout=1)  # the test's own listener on the host
        network = "reachable"
    except OSError as e:
        network = e.strerror or str(e)
    try:
        import grader
        importable = True
    except ImportError:
        importable = False
    caps = [l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0]
    limits = {n: resource.getrlimit(getattr(resource, "RLIMIT_" + n))[1] for n in ("AS", "CPU", "FSIZE", "NOFILE")}
    return {"uid": os.getuid(), "pid": os.getpid(), "network": network, "grader": importable, "caps": caps,
            "cwd": sorted(os.listdir(".")), "root": sorted(os.listdir("/")), "limits": limits,
            "env": sorted(os.environ), "checkout": os.path.exists(CHECKOUT), "data": open("xordata.pkl", "rb").read(2).hex()}
"""


@pytest.mark.sandbox
@pytest.mark.usefixtures("needs_bwrap")
def test_the_worker_is_unprivileged_isolated_and_limited(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_TEST_SECRET", "do-not-leak")
    listener = socket.create_server(("127.0.0.1", 0))  # reachable from the host, so only isolation can hide it
    port = listener.getsockname()[1]
    sub = script(tmp_path, f"CHECKOUT = {str(paths.ROOT)!r}\nPORT = {port}", PROBE)
    with listener, open_submission(sub, FAST, sandbox="bwrap", data_files=DATA) as student:
        assert student.mode == "bwrap" and student.isolated
        got = student.call("probe")
    if os.geteuid() == 0:
        assert got["uid"] >= sandbox.UID_BASE
    assert got["pid"] < 10 and got["caps"] == "0000000000000000"
    assert got["network"] in ("Connection refused", "Network is unreachable")  # a listener on the host is out of reach
    assert got["grader"] is False and got["checkout"] is False
    assert got["cwd"] == sorted(["sub.py", "xordata.pkl"]) and got["data"] == paths.PUBLIC_DATA.read_bytes()[:2].hex()
    assert "work" not in got["root"] and "GRADER_TEST_SECRET" not in got["env"]
    assert got["limits"] == {"AS": FAST.memory_bytes, "CPU": FAST.cpu_seconds + 1, "FSIZE": FAST.file_bytes,
                             "NOFILE": FAST.open_files}


@pytest.mark.sandbox
@pytest.mark.usefixtures("needs_bwrap")
def test_every_call_reports_an_overflow_even_if_the_notebook_silenced_warnings(tmp_path):
    sub = script(tmp_path, "import numpy as np, warnings\nwarnings.filterwarnings('ignore')\nnp.seterr(all='ignore')",
                 "def sigmoid(x):\n    return 1 / (1 + np.exp(-x))\nsigmoid(np.array([-1000.0]))")
    with open_submission(sub, FAST, sandbox="bwrap") as student:
        for _ in range(2):  # a warning is normally shown once per line: the second call must report it too
            student.call("sigmoid", np.array([-1000.0, 1000.0]))
            assert "RuntimeWarning: overflow" in student.last_stderr


@pytest.mark.sandbox
def test_mode_none_runs_but_says_it_is_not_isolated(tmp_path):
    with open_submission(script(tmp_path, "x = 2"), FAST, sandbox="none") as student:
        assert (student.mode, student.isolated) == ("none", False)
        assert student.get("x") == 2
        assert any("WITHOUT a sandbox" in n for n in student.notebook.notes)



@pytest.mark.sandbox
@pytest.mark.parametrize("mode", ["none", "auto"])
def test_the_worker_never_writes_bytecode_into_the_checkout(tmp_path, mode):
    """-I makes Python ignore PYTHONDONTWRITEBYTECODE, so the worker must say -B itself: as root, in mode none, it
    would otherwise write grader/sandbox/inside/__pycache__ files owned by root into the checkout."""
    sub = script(tmp_path, "import sys\nflag = int(sys.dont_write_bytecode)")
    with open_submission(sub, FAST, sandbox=mode) as student:
        assert student.get("flag") == 1

@pytest.fixture(scope="module")
def small():
    """The small correct submission, started once for the API tests below."""
    with open_submission(HERE / "small.py", FAST, sandbox="auto") as student:
        yield student


@pytest.mark.sandbox
def test_calls_constructors_methods_and_attributes_round_trip(small):
    assert np.array_equal(small.call("relu", np.array([-1.0, 0.5])), [0.0, 0.5])
    model = small.new("TwoLayerPerceptron", 2, hidden_dim=4)
    Z1, A1, Z2, A2 = model.call("forward_pass", np.ones((5, 2)))
    assert (Z1.shape, A1.shape, Z2.shape, A2.shape) == ((5, 4), (5, 4), (5, 1), (5, 1))
    model.set("W1", np.zeros((2, 4)))
    assert np.array_equal(model.get("W1"), np.zeros((2, 4)))
    assert model.call("shapes") == ((2, 4), {"b1": (4,)})
    assert model.call("predict", np.zeros((3, 2))).dtype.kind == "i"
    assert small.get("HYPERPARAMETERS") == {"hidden_dim": 8, "learning_rate": 0.5, "batch_size": 32, "epochs": 50,
                                            "tol": 0.05}
    assert small.defined() == {"np": "module", "relu": "function", "sigmoid": "function", "HYPERPARAMETERS": "data",
                               "TwoLayerPerceptron": "class"}


@pytest.mark.sandbox
def test_failures_are_typed_and_tracebacks_point_at_cells(small):
    with pytest.raises(MissingName, match="the notebook does not define `softmax`"):
        small.call("softmax", np.ones((2, 2)))
    model = small.new("TwoLayerPerceptron", 2, 4)
    with pytest.raises(MissingName, match="TwoLayerPerceptron has no method `train`"):
        model.call("train", np.ones((2, 2)), np.ones(2))
    with pytest.raises(MissingName, match="TwoLayerPerceptron has no attribute `W3`"):
        model.get("W3")
    with pytest.raises(MissingName, match="`HYPERPARAMETERS` is not callable"):
        small.call("HYPERPARAMETERS")
    with pytest.raises(StudentError) as info:
        model.call("forward_pass", np.ones((5, 3)))
    err = info.value
    assert err.kind == "raised" and err.exc_type == "ValueError" and str(err).startswith("ValueError: matmul")
    assert "Cell [3], line 11, in forward_pass" in err.traceback and "worker.py" not in err.traceback
    with pytest.raises(TypeError, match="only plain data"):
        small.call("relu", object())


@pytest.mark.sandbox
def test_cells_follow_jupyter_semantics(tmp_path):
    cells = ["import numpy as np\nprint('a' * 50)\nprint('b' * 50)", "x = 1\nraise ValueError('bad value')",
             "def broken(:\n    pass", "import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.show()\n"
             "display(plt.gcf())\nbackend = plt.get_backend()", "y = x + 1"]
    with open_submission(script(tmp_path, *cells), Limits(output_bytes=60), sandbox="auto") as student:
        run = student.notebook
        assert [c.status for c in run.cells] == ["ok", "error", "error", "ok", "ok"]
        assert run.cells[0].stdout == "a" * 50 + "\n" + "b" * 9 + "\n[... 42 bytes dropped]"
        assert run.cells[1].message == "ValueError: bad value" and "Cell [1], line 2" in run.cells[1].traceback
        assert run.cells[2].error_type == "SyntaxError" and "Cell [2], line 1" in run.cells[2].traceback
        assert student.get("backend").lower() == "agg" and student.get("y") == 2
        assert "UserWarning" not in run.cells[3].stderr


@pytest.mark.sandbox
def test_seeding_makes_unseeded_numpy_and_random_reproducible(tmp_path):
    code = ("import random\nimport numpy as np\nfrom numpy.random import default_rng\n"
            "def draw():\n    return (np.random.default_rng().random(3), default_rng().random(2), np.random.rand(2),"
            " random.random())")
    sub = script(tmp_path, code)
    students = [sandboxed(sub, FAST).start() for _ in range(3)]
    try:
        for student, seed in zip(students, (7, 7, 8)):
            student.seed(seed)
        a, b, c = (s.call("draw") for s in students)
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
        assert not np.array_equal(a[0], c[0]) and a[3] != c[3]
        assert not np.array_equal(a[0][:2], a[1])  # successive unseeded generators differ
    finally:
        for student in students:
            student.close()


@pytest.mark.sandbox
def test_start_returns_at_once_and_the_cells_run_in_the_background(tmp_path, monkeypatch):
    gate, spawn = threading.Event(), Sandbox._spawn

    def gated_spawn(self):  # the worker may start only once the test has seen start() return
        if not gate.wait(120):  # a hang guard: start() did not return
            raise AssertionError("start() waited for the worker")
        spawn(self)

    monkeypatch.setattr(Sandbox, "_spawn", gated_spawn)
    student = sandboxed(script(tmp_path, "import time\ntime.sleep(1.5)", "done = True"), FAST)
    student.start()
    gate.set()  # reached only because start() returned with no worker started and no cell run
    started = time.monotonic()
    try:
        assert [c.status for c in student.wait_ready().cells] == ["ok", "ok"]
        assert time.monotonic() - started >= 1.5 and student.get("done") is True
    finally:
        student.close()
    assert not student.alive


@pytest.mark.sandbox
def test_the_notebook_time_limit_stops_the_remaining_cells(tmp_path):
    sub = script(tmp_path, "import time\ntime.sleep(0.8)", "time.sleep(5)", "late = 1")
    with open_submission(sub, Limits(cell_seconds=5, notebook_seconds=1.5), sandbox="auto") as student:
        run = student.notebook
        assert run.timed_out and [c.status for c in run.cells] == ["ok", "timeout", "timeout"]
        assert "not run" in run.cells[2].message
        with pytest.raises(MissingName):
            student.get("late")


@pytest.mark.sandbox
def test_handles_do_not_survive_a_restart(tmp_path):
    with open_submission(HERE / "small.py", FAST) as student:
        model = student.new("TwoLayerPerceptron", 2, 4)
        student.restart()
        with pytest.raises(WorkerDied, match="lost when the notebook's process was restarted"):
            model.get("W1")
        assert student.call("relu", 2.0) == 2.0


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:IPython is needed")
def test_the_same_submission_as_ipynb_py_and_with_magics_gives_the_same_namespace(tmp_path):
    import nbformat
    from nbconvert.exporters import PythonExporter

    nb = nbformat.read(paths.SOLUTION, as_version=4)
    (tmp_path / "as_py.py").write_text(PythonExporter().from_notebook_node(nb)[0])
    code = [c for c in nb.cells if c.cell_type == "code"]
    code[0].source = "%matplotlib inline\n!pip install numpy scikit-learn\n%load_ext autoreload\n" + code[0].source
    code[-1].source = "%%time\n" + code[-1].source
    nb.cells.insert(0, nbformat.v4.new_code_cell("%config InlineBackend.figure_format = 'retina'\n!ls -la"))
    nbformat.write(nb, tmp_path / "magics.ipynb")
    variants = [paths.SOLUTION, tmp_path / "as_py.py", tmp_path / "magics.ipynb"]
    students = [sandboxed(v, Limits(), data_files=DATA).start() for v in variants]  # three run side by side
    try:
        names = [s.defined() for s in students]
        assert names[0] == names[1] == names[2] and names[0]["TwoLayerPerceptron"] == "class"
        hyper = [s.get("HYPERPARAMETERS") for s in students]
        assert hyper[0] == hyper[1] == hyper[2]
        assert all(c.status == "ok" for s in students for c in s.notebook.cells)
        assert any("skipped shell line `!pip install numpy scikit-learn`" in n for n in students[2].submission.notes)
    finally:
        for s in students:
            s.close()


AS_USER = """
import ctypes, json, os, sys
cfg = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
def check(r, what):
    if r != 0:
        raise OSError(ctypes.get_errno(), what)
check(libc.unshare(0x20000), "unshare")
check(libc.mount(b"none", b"/", None, 0x4000 | (1 << 18), None), "private")
check(libc.mount(cfg["prefix"].encode(), cfg["stage"].encode(), None, 0x1000 | 0x4000, None), "stage")
check(libc.mount(b"tmpfs", cfg["hidden"].encode(), b"tmpfs", 0, b"mode=755"), "hide")
os.makedirs(cfg["prefix"])
check(libc.mount(cfg["stage"].encode(), cfg["prefix"].encode(), None, 0x1000 | 0x4000, None), "unstage")
os.setgroups([]); os.setresgid(cfg["uid"], cfg["uid"], cfg["uid"]); os.setresuid(cfg["uid"], cfg["uid"], cfg["uid"])
os.chdir(cfg["cwd"])
os.execve(cfg["python"], [cfg["python"], "-c", cfg["code"], cfg["mode"]], {"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
"""
AS_USER_CODE = """
import os, sys
from grader.sandbox.client import open_submission
with open_submission("tests/submissions/small.py", sandbox=sys.argv[1]) as student:
    print(student.mode, student.isolated, student.call("relu", 2.0), os.getuid())
"""


def _hidden_ancestor(path: str) -> str:
    """The top-most ancestor of path that other users cannot traverse ("" if there is none)."""
    for parent in reversed(Path(path).parents):
        if not os.stat(parent).st_mode & 0o001:
            return str(parent)
    return ""


@pytest.mark.sandbox
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start a grader as another user")
@pytest.mark.parametrize("mode", ["auto", "none"])
def test_a_grader_running_as_an_ordinary_user_works_in_both_modes(tmp_path, mode, bwrap_problem):
    """The non-root path: no staging, bubblewrap started directly as the grader's own uid. The interpreter is
    made reachable for that user in a private mount namespace, as an installation outside /root would be."""
    import json
    import subprocess
    import sys

    prefix = os.path.realpath(sys.base_prefix)
    stage = tmp_path / "stage"
    stage.mkdir()
    uid = sandbox.UID_BASE - 1
    cfg = {"prefix": prefix, "stage": str(stage), "hidden": _hidden_ancestor(prefix), "uid": uid,
           "cwd": str(paths.ROOT), "python": sys.executable, "code": AS_USER_CODE, "mode": mode}
    if not cfg["hidden"]:
        cfg["hidden"] = str(tmp_path / "unused")
        os.mkdir(cfg["hidden"])
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", AS_USER, json.dumps(cfg)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got_mode, isolated, relu, seen_uid = proc.stdout.split()
    expected = "bwrap" if mode == "auto" and not bwrap_problem else "none"
    assert (got_mode, isolated, relu, int(seen_uid)) == (expected, str(expected == "bwrap"), "2.0", uid)


@pytest.mark.sandbox
def test_cells_do_not_inherit_the_workers_future_imports_and_argv_is_clean(tmp_path):
    code = "import sys\ndef f(x: int) -> int:\n    return x\nhint = f.__annotations__['x'].__name__\nargs = sys.argv[1:]"
    with open_submission(script(tmp_path, code), FAST) as student:
        assert student.get("hint") == "int" and student.get("args") == []
        with pytest.raises(Unsendable, match="`f` is an object of type function, which is not plain data"):
            student.get("f")


@pytest.mark.sandbox
def test_a_sandbox_that_fails_to_start_is_a_sandbox_error_not_a_student_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "bwrap_binary", lambda: "/bin/false")
    student = sandboxed(script(tmp_path, "x = 1"), FAST, sandbox="none")
    student.transport.mode = "bwrap"  # chosen while bubblewrap worked; it broke before the worker started
    with pytest.raises(SandboxError, match="the sandbox did not start: the notebook's process exited with code 1"):
        student.wait_ready()
    student.close()


@pytest.mark.sandbox
@pytest.mark.parametrize("cell_seconds, notebook_seconds, whole_notebook", [(5.0, 1.5, True), (1.0, 30.0, False)],
                         ids=["notebook-limit", "cell-limit"])
def test_a_hang_in_the_last_cell_counts_as_a_notebook_timeout_only_when_it_used_up_the_notebook(
        tmp_path, cell_seconds, notebook_seconds, whole_notebook):
    sub = script(tmp_path, "x = 1", "while True:\n    pass")
    limits = Limits(cell_seconds=cell_seconds, notebook_seconds=notebook_seconds, request_seconds=5.0)
    with open_submission(sub, limits) as student:
        run = student.notebook
        assert [c.status for c in run.cells] == ["ok", "timeout"] and run.timed_out is whole_notebook
        assert student.get("x") == 1


@pytest.mark.sandbox
def test_a_cell_of_imports_collects_less_often_and_a_notebooks_own_settings_stand(tmp_path):
    from grader.sandbox.inside.worker import IMPORTS_GC_THRESHOLD

    sub = script(tmp_path, """
import gc, sys
open("probe_mod.py", "w").write("import gc\\nDURING = gc.get_threshold()[0], gc.isenabled()\\n")
open("setter_mod.py", "w").write("import gc\\ngc.set_threshold(5000, 10, 10)\\n")
default = gc.get_threshold()
""", """
# the notebook's first cell: imports only
import probe_mod
import fractions
""", """
during, after = probe_mod.DURING, gc.get_threshold()
del sys.modules["probe_mod"]
import probe_mod
mixed = probe_mod.DURING
gc.disable()
""", """
import fractions
""", """
kept_off = not gc.isenabled()
gc.enable()
""", """
import setter_mod  # a module that sets its own threshold while it loads
""", """
kept_threshold = gc.get_threshold()
""")
    with open_submission(sub, FAST, sandbox="auto") as student:
        default = tuple(student.get("default"))
        assert tuple(student.get("during")) == (IMPORTS_GC_THRESHOLD, True)
        assert tuple(student.get("after")) == default  # reset once the cell is done
        assert tuple(student.get("mixed")) == (default[0], True)  # a cell that also computes is as usual
        assert student.get("kept_off") is True  # the notebook turned it off: it stays off
        assert tuple(student.get("kept_threshold")) == (5000, 10, 10)  # set during an imports cell: it stays


def test_only_short_cells_of_plain_imports_count_as_an_imports_cell():
    from grader.sandbox.inside.worker import imports_only

    assert imports_only('"""Setup."""\nimport numpy as np\nfrom math import pi  # a comment\npass\n')
    assert not imports_only("import numpy as np\nx = 1\n")
    assert not imports_only("")
    assert not imports_only("import (\n")
    assert not imports_only("x = (" * 5000 + "1" + ")" * 5000)  # far too deep for the parser: not an error here
    assert not imports_only("import os\n" * 5000)  # over the length looked at
