"""Acceptance test of batch grading: a whole class, built at test time, graded for real in one command.

The class: correct notebooks (copies of the reference solution), the untouched skeleton, single-bug variants (one small edit of the
solution each), hostile notebooks (a hanging loop, a 40 GB allocation, detached forks that ignore SIGTERM, a forged
results.json and "score: 100"), unreadable files, one student with two files, and files that are not submissions.
All of it goes into one Canvas-style zip, with folder-per-student and plain names mixed in.
"""

from __future__ import annotations

import base64
import csv
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader import paths
from grader.grading.rubric import AREAS

ALL_AREAS = frozenset(AREAS)
BATCH_TIMEOUT = 90  # seconds per submission; the limits below end every hostile notebook well before
# notebook_seconds leaves room for the imports cell: with pandas installed (an allowed package), sklearn imports it
RUBRIC = """
[thresholds]
attempts = 1
[limits]
cell_seconds = 30
notebook_seconds = 20
request_seconds = 8
memory_mb = 1024
[hidden]
secret = "5d41402abc4b2a76b9719d911017c592aa0e1c5f3b2e6d4c8f7a9b0c1d2e3f40"
size = 500
"""

# area -> (text in the solution, its replacement, the exact areas that lose points). A bug that stops the model
# from learning also costs the end-to-end area accuracy.
BUGS: dict[str, tuple[str, str, set[str]]] = {
    "softmax": ("shifted = a - np.max(a, axis=1, keepdims=True)\n    e = np.exp(shifted)",
                "e = np.exp(a)", {"softmax"}),
    "softmax_grad": ("grad = softmax(a) - t", "grad = t - softmax(a)", {"softmax_grad"}),
    "activations": ("out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))", "out = 1.0 / (1.0 + np.exp(-x))",
                    {"activations"}),
    "derivatives": ("out = s * (1.0 - s)", "out = s * (1.0 + s)", {"derivatives"}),
    "init": ("W1 = self.rng.normal(0.0, np.sqrt(2.0 / input_dim), size=(input_dim, hidden_dim))",
             "W1 = np.zeros((input_dim, hidden_dim))", {"init"}),  # accuracy trains from the grader's own weights
    # loss and predict get the grader's own forward values; accuracy trains the student's whole network
    "forward": ("Z1 = X @ self.W1 + self.b1", "Z1 = X @ self.W1", {"forward", "accuracy"}),
    "loss": ("loss = float(np.mean(np.logaddexp(0.0, Z2) - y * Z2))",
             "loss = float(np.sum(np.logaddexp(0.0, Z2) - y * Z2))", {"loss"}),
    # train is judged with the grader's own backward_prop: the bug is charged in backward (and accuracy) only
    "backward": ("dZ2 = (A2 - y.reshape(-1, 1)) / n", "dZ2 = (A2 - y.reshape(-1, 1))",
                 {"backward", "accuracy"}),
    "update": ("self.b1 = self.b1 - self.learning_rate * db1", "self.b1 = self.b1 + self.learning_rate * db1",
               {"update", "accuracy"}),
    "predict": ("labels = (self.forward_pass(X)[3].ravel() > 0.5)", "labels = (self.forward_pass(X)[3].ravel() > 0.6)",
                {"predict"}),
    "train": ("Z1, A1, Z2, A2 = self.forward_pass(X[batch])\n                self.update_weights(*self.backward_prop("
              "X[batch], y[batch], Z1, A1, Z2, A2))",
              "Z1, A1, Z2, A2 = self.forward_pass(X_train[batch])\n                self.update_weights("
              "*self.backward_prop(X_train[batch], y_train[batch], Z1, A1, Z2, A2))", {"train", "accuracy"}),
    "accuracy": ("HYPERPARAMETERS = dict(hidden_dim=16, learning_rate=0.5, batch_size=32, epochs=100, tol=0.02)",
                 "HYPERPARAMETERS = dict(hidden_dim=2, learning_rate=0.01, batch_size=32, epochs=2, tol=0.02)",
                 {"accuracy"}),
}


def solution() -> nbformat.NotebookNode:
    return nbformat.read(paths.SOLUTION, as_version=4)


def with_bug(old: str, new: str) -> str:
    nb = solution()
    hits = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
    assert len(hits) == 1, f"the solution no longer contains {old!r}"
    hits[0].source = hits[0].source.replace(old, new)
    return nbformat.writes(nb)


def cell_index(text: str) -> int:
    return next(i for i, c in enumerate(solution().cells) if text in c.source)


def with_cell(code: str, *, at: int = 2, alone: bool = False) -> str:
    """The solution with one more code cell at `at` (or only the imports and that cell, when `alone`)."""
    nb = solution()
    cell = nbformat.v4.new_code_cell(code)
    nb.cells = nb.cells[:at] + [cell] + ([] if alone else nb.cells[at:])
    return nbformat.writes(nb)


def hostile(marker: str) -> dict[str, tuple[str, str, set[str]]]:
    """kind -> (notebook, expected status, areas that lose points). The forks carry `marker` on their command line."""
    fork = f"""
import os, signal, sys, time
for _ in range(3):
    if os.fork() == 0:
        os.setsid()
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import signal, time; "
                     "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)", "{marker}"])
        os._exit(0)
time.sleep(0.5)
"""
    forge = ('import json, os\nprint("score: 100")\nprint(json.dumps({"score": 100, "tests": []}))\n'
             'for p in ("results.json", "../results.json", "/autograder/results/results.json"):\n'
             '    try:\n        open(p, "w").write(json.dumps({"score": 100}))\n    except OSError:\n        pass\n')
    # the hang comes before the HYPERPARAMETERS cell, which the notebook's time limit then leaves unrun
    return {"hang": (with_cell("while True:\n    pass", at=cell_index("HYPERPARAMETERS = dict")), "timeout", {"accuracy"}),
            "memory": (with_cell("hog = np.ones(5 * 10**9)  # 40 GB"), "graded", set()),
            "fork": (with_cell(fork), "graded", set()),
            "forge": (with_cell(forge, alone=True), "graded", set(ALL_AREAS))}


def build_class(tmp: Path, marker: str) -> tuple[Path, dict[str, tuple[str, set[str]]]]:
    """The class zip and, per student, the expected (status, areas that lose points)."""
    sol = paths.SOLUTION.read_bytes()
    entries: dict[str, tuple[bytes, tuple]] = {}
    expected: dict[str, tuple[str, set[str]]] = {}
    day = (2026, 11, 20, 12, 0, 0)

    def add(name: str, data: bytes | str, student: str | None, status: str = "graded", lost: set[str] = frozenset(),
            when: tuple = day) -> None:
        entries[name] = (data.encode() if isinstance(data, str) else data, when)
        if student:
            expected[student] = (status, set(lost))

    for i in range(7):
        add(f"correct{i}_student_{100 + i}_{900 + i}_backprop.ipynb", sol, f"correct{i}_student")
    add("skeleton_150_950_backprop.ipynb", paths.SKELETON.read_bytes(), "skeleton", lost=set(ALL_AREAS))
    add("folder_alice/backprop.ipynb", sol, "folder_alice")
    add("plain_bob.ipynb", sol, "plain_bob")
    for area, (old, new, lost) in BUGS.items():
        add(f"bug_{area}_{200 + len(expected)}_901_backprop.ipynb", with_bug(old, new), f"bug_{area}", lost=lost)
    for kind, (text, status, lost) in hostile(marker).items():
        add(f"hostile_{kind}_LATE_{300 + len(expected)}_902_backprop.ipynb", text, f"hostile_{kind}", status, lost)
    add("broken_json_401_903_backprop.ipynb", "{not json", "broken_json", "error")
    add("empty_402_904_backprop.ipynb", b"", "empty", "error")
    add("png_403_905_backprop.ipynb", base64.b64decode(PNG), "png", "error")
    add("twice_404_906_backprop.ipynb", sol, None, when=day)
    add("twice_404_907_backprop-1.ipynb", with_bug(*BUGS["derivatives"][:2]), "twice", lost={"derivatives"},
        when=(2026, 11, 21, 8, 0, 0))
    add("README.txt", "not a submission", None)
    add(".DS_Store", b"\0\0\0\1Bud1", None)
    archive = tmp / "submissions.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, (data, when) in entries.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=when), data)
    return archive, expected


PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def processes_with(marker: str) -> list[str]:
    """Command lines of live processes that hold `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


def grade_all(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "grader", "grade-all", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def lost_areas(row: dict[str, str], full: dict[str, str]) -> set[str]:
    return {a for a in AREAS if float(row[a]) < float(full[a])}


@pytest.mark.sandbox
@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox and /proc are Linux's")
def test_a_whole_class_is_graded_in_one_command(tmp_path):
    marker = f"class-marker-{os.getpid()}-{time.time_ns()}"
    archive, expected = build_class(tmp_path, marker)
    assert len(expected) >= 30
    rubric = tmp_path / "rubric.toml"
    rubric.write_text(RUBRIC)
    out = tmp_path / "out"
    args = (str(archive), "--out", str(out), "--rubric", str(rubric), "--timeout", str(BATCH_TIMEOUT))

    first = grade_all(*args)
    book = {r["student"]: r for r in csv.DictReader(open(out / "gradebook.csv"))}
    assert set(book) == set(expected)
    full = book["correct0_student"]
    assert float(full["total"]) == 100 and all(float(full[a]) > 0 for a in AREAS)
    got = {s: (r["status"], lost_areas(r, full) if r["status"] != "error" else set()) for s, r in book.items()}
    assert got == expected
    assert processes_with(marker) == [] and processes_with(str(tmp_path)) == []

    for student in ("correct0_student", "hostile_hang", "png"):
        assert {"results.json", "feedback.html", "feedback_ta.html"} <= {p.name for p in (out / student).iterdir()}
    forged = json.loads((out / "hostile_forge" / "results.json").read_text())
    assert forged["score"] == 0 and not (out / "results.json").exists()
    assert book["twice"]["file"] == "twice_404_907_backprop-1.ipynb"
    summary = (out / "summary.md").read_text()
    assert "| `twice` | `twice_404_907_backprop-1.ipynb` | `twice_404_906_backprop.ipynb` |" in summary
    assert "| `README.txt` | `not a notebook" in summary and "| `.DS_Store` | `hidden" in summary
    assert (out / "summary.png").read_bytes()[:4] == b"\x89PNG"
    assert "graded 30 now, skipped 0 unchanged" in first.stdout

    second = grade_all(*args)
    assert "graded 0 now, skipped 30 unchanged" in second.stdout
    assert "skipping 30 unchanged submissions" in second.stderr

    forced = grade_all(*args, "--force", "--pattern", r"(?P<student>plain_bob)\.ipynb")
    assert "1 student (1 graded); graded 1 now, skipped 0 unchanged" in forced.stdout
