"""The student kit as a student uses it: installed from dist/student.zip alone into fresh virtual environments.

- at the lowest versions its requirements allow, and at the versions the project is tested with;
- with the POSIX-only modules blocked and sys.platform set to win32 and darwin;
- inside a real Jupyter kernel (nbclient), where a cell calls check() on the skeleton, a half-done notebook and
  the solution; the in-notebook and the terminal check agree test by test, and the skeleton's report is short.
The environments reuse pip's cache; the first run downloads the lowest versions once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from packaging.version import Version

from grader import paths
from grader.bundles import student_kit

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]  # the kit's check grades a notebook

MAX_SKELETON_LINES = 40  # the budget for the untouched skeleton's report
PIP_SECONDS = 600
RESULT = "RESULT "  # the probes' machine-readable line: test name -> passed
# Not the kit's own requirements, but theirs: a scipy old enough for the lowest numpy (scikit-learn needs scipy).
LOWEST_INDIRECT = {"scipy": "1.10.1"}
POSIX_ONLY = ("fcntl", "resource", "termios", "tty", "pty", "grp", "pwd", "syslog")

PROBE = r'''
import json, os, sys, traceback
import nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
os.chdir(sys.argv[2])
ns = sys.modules["__main__"].__dict__
for cell in nb.cells:
    if cell.cell_type == "code":
        try:
            exec(compile(cell.source, "<cell>", "exec"), ns)
        except Exception:
            pass  # like "run all" going on past a failing cell
from backprop_check import run_check
report = run_check()
print("RESULT " + json.dumps({t.name: t.passed for t in report.tests}))
print(report.text())
'''

FAKE_PLATFORM = r'''
# Pretend to be {platform}. The libraries a notebook uses are loaded first, as this machine's: on the real
# platform they work, and what is tested is the kit's own code. Then the POSIX-only modules are gone.
import subprocess, select, signal, sys
import matplotlib
matplotlib.use("Agg")
import numpy, sklearn.model_selection, sklearn.inspection, matplotlib.pyplot, pytest, nbformat
for name in {blocked!r}:
    sys.modules.pop(name, None)

class _Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: not on {platform})", name=name)
        return None

sys.meta_path.insert(0, _Blocked())
if "{platform}" == "win32":
    for attr in ("setitimer", "SIGALRM", "ITIMER_REAL"):
        if hasattr(signal, attr):
            delattr(signal, attr)
    if hasattr(select, "poll"):
        del select.poll
sys.platform = "{platform}"
'''


def _bin(venv: Path, name: str) -> Path:
    return venv / "bin" / name


def unpack(zip_path: Path, into: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(into)
    return into / student_kit.TOP


def make_env(venv: Path, kit_dir: Path, constraints: dict[str, str], extra: tuple[str, ...] = ()) -> Path:
    """A fresh venv with the kit's wheel installed, every version fixed by `constraints`."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pins = venv / "constraints.txt"
    pins.write_text("".join(f"{name}=={version}\n" for name, version in constraints.items()))
    wheel = next(kit_dir.glob("*.whl"))
    subprocess.run([str(_bin(venv, "python")), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    "--no-compile", "-c", str(pins), str(wheel), *extra], check=True, timeout=PIP_SECONDS)
    return venv


def declared_minimums(kit_dir: Path) -> dict[str, str]:
    """name -> lowest version, read from the wheel's own Requires-Dist lines (name>=version)."""
    wheel = next(kit_dir.glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        text = archive.read(meta).decode()
    found = dict(re.findall(r"^Requires-Dist: ([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)", text, re.M))
    assert {"numpy", "scikit-learn", "pytest"} <= set(found), text
    return found


def project_pins() -> dict[str, str]:
    pins = {}
    for raw in (paths.ROOT / "constraints.txt").read_text().splitlines():
        line = raw.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[name.strip()] = version.strip()
    return pins


@pytest.fixture(scope="module")
def kit_dir(student_zip, tmp_path_factory) -> Path:
    return unpack(student_zip, tmp_path_factory.mktemp("kit"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A student's folder: the data, a half-done notebook and the solution, none of the kit's code."""
    folder = tmp_path_factory.mktemp("student")
    shutil.copy(paths.PUBLIC_DATA, folder / paths.DATA_NAME)
    shutil.copy(paths.SKELETON, folder / "skeleton.ipynb")
    shutil.copy(paths.SOLUTION, folder / "solution.ipynb")
    nbformat.write(half_done(), folder / "half.ipynb")
    return folder


def half_done() -> nbformat.NotebookNode:
    """Problem 1 solved, Problem 2 untouched: the solution's cells up to Problem 2, the skeleton's after."""
    solution = nbformat.read(paths.SOLUTION, as_version=4)
    skeleton = nbformat.read(paths.SKELETON, as_version=4)
    assert len(solution.cells) == len(skeleton.cells)
    cut = next(i for i, c in enumerate(skeleton.cells) if c.source.startswith("## Problem 2"))
    skeleton.cells[:cut] = solution.cells[:cut]
    return skeleton


@pytest.fixture(scope="module")
def current_env(kit_dir, tmp_path_factory) -> Path:
    return make_env(tmp_path_factory.mktemp("venv") / "current", kit_dir, project_pins(), extra=("ipykernel",))


def probe(venv: Path, notebook: Path, workdir: Path, env: dict | None = None) -> tuple[dict[str, bool], str]:
    script = workdir / "probe.py"
    script.write_text(PROBE)
    proc = subprocess.run([str(_bin(venv, "python")), str(script), str(notebook), str(workdir)], cwd=workdir,
                          capture_output=True, text=True, timeout=300, env=env)
    return parse(proc.stdout, proc.stderr)


def parse(out: str, err: str = "") -> tuple[dict[str, bool], str]:
    line = next((text for text in out.splitlines() if text.startswith(RESULT)), None)
    assert line is not None, out + err
    return json.loads(line[len(RESULT):]), out


def terminal(venv: Path, notebook: Path, workdir: Path, env: dict | None = None) -> tuple[dict[str, bool], str, int]:
    """`backprop-check NOTEBOOK --list` as installed; returns PASS/FAIL per test, the output and the exit code."""
    proc = subprocess.run([str(_bin(venv, "backprop-check")), str(notebook), "--list"], cwd=workdir,
                          capture_output=True, text=True, timeout=300, env=env)
    return {name: verdict == "PASS" for verdict, name in re.findall(r"^(PASS|FAIL)  (.+)$", proc.stdout, re.M)}, \
        proc.stdout + proc.stderr, proc.returncode


def test_at_the_lowest_supported_versions_the_check_passes_the_solution(kit_dir, workdir, tmp_path):
    lowest = {**declared_minimums(kit_dir), **LOWEST_INDIRECT}
    venv = make_env(tmp_path / "lowest", kit_dir, lowest)
    versions = subprocess.run([str(_bin(venv, "python")), "-c", "import numpy, sklearn; print(numpy.__version__, "
                               "sklearn.__version__)"], capture_output=True, text=True, check=True).stdout.split()
    assert [Version(v) for v in versions] == [Version(lowest["numpy"]), Version(lowest["scikit-learn"])]
    inside, out = probe(venv, workdir / "solution.ipynb", workdir)
    assert inside and all(inside.values()), out
    outside, out, code = terminal(venv, workdir / "solution.ipynb", workdir)
    assert code == 0 and outside == inside, out
    skeleton, out = probe(venv, workdir / "skeleton.ipynb", workdir)
    assert set(skeleton) == set(inside) and not any(skeleton.values()), out


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_without_posix_modules_both_checks_work_and_agree(platform, current_env, workdir, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(FAKE_PLATFORM.format(platform=platform, blocked=POSIX_ONLY))
    env = {**os.environ, "PYTHONPATH": str(site)}
    blocked = subprocess.run([str(_bin(current_env, "python")), "-c", "import sys\ntry:\n import fcntl\nexcept "
                              "ImportError:\n print(sys.platform, 'blocked')"], env=env, capture_output=True, text=True)
    assert blocked.stdout.strip() == f"{platform} blocked", blocked.stderr
    inside, out = probe(current_env, workdir / "solution.ipynb", workdir, env)
    assert inside and all(inside.values()), out
    outside, out, code = terminal(current_env, workdir / "solution.ipynb", workdir, env)
    assert code == 0 and outside == inside, out
    assert out.startswith(f"note: no sandbox on this system ({platform})") and "Traceback" not in out, out
    if platform == "win32":  # a notebook with failures too, once
        half, out = probe(current_env, workdir / "half.ipynb", workdir, env)
        half_outside, out2, code = terminal(current_env, workdir / "half.ipynb", workdir, env)
        assert code == 1 and half == half_outside and any(half.values()) and not all(half.values()), out + out2


def run_in_kernel(notebook: Path, workdir: Path) -> tuple[list[str], dict[str, bool], str]:
    """Execute the notebook in a real kernel of the venv, with two cells added: check(), and the results as JSON."""
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("from backprop_check import check\ncheck()"))
    nb.cells.append(nbformat.v4.new_code_cell(
        "import json\nfrom backprop_check import run_check\n"
        "print('RESULT ' + json.dumps({t.name: t.passed for t in run_check().tests}))"))
    client = NotebookClient(nb, kernel_name="kit", timeout=300, allow_errors=True,
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()
    shown = [o for o in nb.cells[-2].outputs if o.output_type in ("display_data", "execute_result", "stream")]
    assert len(shown) == 1 and shown[0].output_type == "display_data", nb.cells[-2].outputs
    assert "<table>" in shown[0].data["text/html"]
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    results, _ = parse(printed, str(nb.cells[-1].outputs))
    return shown[0].data["text/plain"].splitlines(), results, printed


def test_in_a_real_kernel_check_reports_each_notebook_and_agrees_with_the_terminal(current_env, workdir, tmp_path,
                                                                                  monkeypatch):
    kernels = tmp_path / "jupyter"
    spec = kernels / "kernels" / "kit"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(_bin(current_env, "python")), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "kit", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(kernels))
    seen = {}
    for name in ("skeleton", "half", "solution"):
        lines, inside, _ = run_in_kernel(workdir / f"{name}.ipynb", workdir)
        outside, out, code = terminal(current_env, workdir / f"{name}.ipynb", workdir)
        assert inside == outside, f"{name}: the in-notebook and terminal checks disagree\n{lines}\n{out}"
        assert code == (0 if name == "solution" else 1), out
        seen[name] = (lines, inside)
    lines, results = seen["skeleton"]
    assert len(lines) <= MAX_SKELETON_LINES and not any(results.values()), "\n".join(lines)
    assert "  not implemented yet: softmax" in lines and "Traceback" not in "\n".join(lines)
    assert any(text.startswith("total") and " 0 / " in text for text in lines), lines
    lines, results = seen["half"]
    assert results["softmax: values match an independent computation"] and not results[
        "forward: Z1 = X W1 + b1"], lines
    lines, results = seen["solution"]
    assert all(results.values()) and "Every public test passes." in lines
