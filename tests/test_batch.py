"""Batch grading (grader/batch/): class input, the process pool, the gradebook, the summaries, reruns.

These tests use a fake grading worker (a short script) so they run in seconds; tests/test_batch_class.py grades
a real class end to end.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from grader.batch.grade_all import BatchOptions, grade_class
from grader.course.book import Row, State, gradebook_csv, row_from_json, row_from_report, row_to_json
from grader.batch.inputs import BatchInputError, discover, extract_zip, open_class, wrapper_depth
from grader.batch.progress import Progress, clock
from grader.batch.pool import Job, run_jobs
from grader.batch.summary import histogram, summary_markdown, summary_png
from grader.grading.results import GradeReport
from grader.grading.results import TestResult as Result
from tests.waiting import wait_until

AREAS = ("softmax", "backward")
FAKE_WORKER = textwrap.dedent('''
    """A stand-in for grader.batch.worker: the submission's text says what to do."""
    import argparse, os, subprocess, sys, time
    from pathlib import Path
    from grader.course.book import row_from_report, row_to_json
    from grader.files import write_text
    from grader.report.text import write_results_json
    from grader.grading.results import GradeReport, TestResult

    p = argparse.ArgumentParser()
    p.add_argument("path", type=Path)
    for name in ("--student", "--file", "--key", "--out", "--row", "--rubric", "--sandbox", "--grading-seconds"):
        p.add_argument(name)
    a = p.parse_args()
    text = a.path.read_text(errors="replace")
    if "sleep" in text:
        time.sleep(120)
    if "crash" in text:
        os._exit(3)
    if "detach" in text:  # a grandchild that leaves our session and ignores SIGTERM
        code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"
        subprocess.Popen([sys.executable, "-c", code, text.split()[-1]], start_new_session=True)
    bug = "bug" in text
    tests = (TestResult("softmax: values", "softmax", 5, 5, True),
             TestResult("backward: dW1", "backward", 0 if bug else 20, 20, not bug))
    report = GradeReport(a.student, a.path.name, "fake", "graded", sum(t.score for t in tests), 25, tests)
    write_results_json(report, a.out)
    write_text(Path(a.row), row_to_json(row_from_report(report, file=a.file, key=a.key)))
''')


def report(student: str, failed: tuple[str, ...] = (), status: str = "graded") -> GradeReport:
    tests = tuple(Result(name, name.split(":")[0], 0 if name in failed else pts, pts, name not in failed)
                  for name, pts in (("softmax: values", 5), ("backward: dW1", 20)))
    return GradeReport(student, f"{student}.ipynb", "ab" * 32, status, sum(t.score for t in tests), 25, tests)


def make_zip(path: Path, entries: dict[str, bytes], times: dict[str, tuple] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=(times or {}).get(name, (2026, 11, 20, 12, 0, 0)))
            zf.writestr(info, data)
    return path


# ---- class input: zips and names ------------------------------------------------------------------------------

def test_zip_entries_that_escape_or_are_links_are_skipped(tmp_path):
    archive = make_zip(tmp_path / "c.zip", {"ok/a.ipynb": b"{}", "../evil.ipynb": b"x", "/abs.ipynb": b"x",
                                            "a/../../b.ipynb": b"x", "C:/win.ipynb": b"x"})
    with zipfile.ZipFile(archive, "a") as zf:
        link = zipfile.ZipInfo("link.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    skipped = extract_zip(archive, tmp_path / "x")
    assert sorted(p.relative_to(tmp_path / "x").as_posix() for p in (tmp_path / "x").rglob("*") if p.is_file()) \
        == ["ok/a.ipynb"]
    assert {s.file for s in skipped} == {"../evil.ipynb", "/abs.ipynb", "a/../../b.ipynb", "C:/win.ipynb",
                                        "link.ipynb"}
    assert not (tmp_path / "evil.ipynb").exists()


def test_zip_bombs_and_huge_archives_are_refused(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.ipynb", b"\0" * (4 << 20))
        zf.writestr("b.ipynb", b"\0" * (4 << 20))
    with pytest.raises(BatchInputError, match="zip bomb"):
        extract_zip(bomb, tmp_path / "x", max_total=6 << 20)
    skipped = extract_zip(bomb, tmp_path / "y", max_entry=1 << 20)
    assert [s.reason for s in skipped] == ["larger than 1048576 bytes"] * 2 and not list((tmp_path / "y").iterdir())
    with pytest.raises(BatchInputError, match="entries"):
        extract_zip(bomb, tmp_path / "z", max_entries=1)


def test_open_class_refuses_what_is_neither_folder_nor_zip(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    data = make_zip(tmp_path / "good.zip", {"a.ipynb": b"{}" * 100}).read_bytes()
    (tmp_path / "torn.zip").write_bytes(data[:40] + data[-22:])  # the end record survives, the directory does not
    for source in (tmp_path / "missing", tmp_path / "notes.txt", tmp_path / "torn.zip"):
        with pytest.raises(BatchInputError, match=source.name):
            open_class(source, tmp_path / "w")


def test_a_canvas_zip_resolves_late_and_resubmitted_files_to_the_newest(tmp_path):
    old, new = (2026, 11, 20, 12, 0, 0), (2026, 11, 21, 9, 30, 0)
    archive = make_zip(tmp_path / "submissions.zip", {
        "smith_john_LATE_111_901_backprop.ipynb": b"new", "smith_john_111_900_backprop.ipynb": b"old",
        "lee_ann_222_902_backprop.ipynb": b"a", "lee_ann_222_903_backprop-1.ipynb": b"b",
        "lee_ann_222_904_backprop-2.ipynb": b"c", "__MACOSX/._lee_ann_222_902_backprop.ipynb": b"junk",
        ".DS_Store": b"junk", "README.txt": b"junk",
    }, times={"smith_john_LATE_111_901_backprop.ipynb": new, "smith_john_111_900_backprop.ipynb": old})
    root, zip_skips = open_class(archive, tmp_path / "x")
    roster = discover(root, skipped=zip_skips)
    files = {f.student: f for f in roster.files}
    assert set(files) == {"smith_john", "lee_ann"}
    assert files["smith_john"].file == "smith_john_LATE_111_901_backprop.ipynb" and files["smith_john"].late
    assert files["smith_john"].superseded == ("smith_john_111_900_backprop.ipynb",)
    assert files["lee_ann"].file == "lee_ann_222_904_backprop-2.ipynb"  # same time: highest resubmission wins
    assert files["lee_ann"].superseded == ("lee_ann_222_903_backprop-1.ipynb", "lee_ann_222_902_backprop.ipynb")
    assert {s.file for s in roster.skipped} == {".DS_Store", "README.txt",
                                                "__MACOSX/._lee_ann_222_902_backprop.ipynb"}


def test_folders_per_student_plain_names_and_a_wrapper_folder(tmp_path):
    for rel in ("export/alice/backprop.ipynb", "export/alice/helper.py", "export/bob/hw/backprop.ipynb",
                "export/carol.ipynb", "export/notes.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}")
    roster = discover(tmp_path)
    assert {f.student: f.file for f in roster.files} == {
        "alice": "export/alice/backprop.ipynb", "bob": "export/bob/hw/backprop.ipynb", "carol": "export/carol.ipynb"}
    assert [s.file for s in roster.skipped] == ["export/notes.md"]


def test_wrapper_depth_keeps_every_file_below_it():
    assert wrapper_depth(["w/a.ipynb", "w/b.ipynb"]) == 1
    assert wrapper_depth(["w/v/a/x.ipynb", "w/v/b/x.ipynb"]) == 2
    assert wrapper_depth(["a.ipynb", "w/b.ipynb"]) == 0 and wrapper_depth([]) == 0


def test_a_custom_pattern_skips_files_it_does_not_match(tmp_path):
    for name in ("hw3-alice.ipynb", "bob.ipynb"):
        (tmp_path / name).write_text("{}")
    from grader.batch.names import compile_patterns
    roster = discover(tmp_path, compile_patterns([r"hw3-(?P<student>\w+)\.ipynb"]))
    assert [f.student for f in roster.files] == ["alice"]
    assert [(s.file, s.reason) for s in roster.skipped] == [("bob.ipynb", "its name does not match a submission "
                                                                          "pattern")]


# ---- progress, gradebook, summaries ---------------------------------------------------------------------------

class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_progress_prints_plain_lines_when_not_a_terminal():
    out, now = io.StringIO(), FakeClock()
    bar = Progress(30, stream=out, tty=False, now=now)
    bar.start()
    now.t += 4.0
    for _ in range(12):
        bar.advance("alice: graded")
    assert out.getvalue().splitlines()[-1] == "[12/30] alice: graded" and "\r" not in out.getvalue()
    assert bar.line() == "graded 12/30  3.0/s  ETA 0:06"


def test_progress_redraws_one_line_on_a_terminal():
    out, now = io.StringIO(), FakeClock()
    bar = Progress(4, stream=out, tty=True, now=now)
    now.t += 2.0
    bar.advance("bob: graded")
    assert out.getvalue().endswith("\r\x1b[Kbob: graded\n[######..................] graded 1/4  0.5/s  ETA 0:06")
    assert clock(3725) == "1:02:05"


def test_gradebook_has_one_column_per_area_and_defuses_formulas():
    rows = [row_from_report(report("bob", failed=("backward: dW1",)), file="=HYPERLINK(1).ipynb", key="k"),
            Row("alice", "alice.ipynb", "cd" * 32, "timeout", 0, 0, reason="stopped")]
    table = list(csv.reader(io.StringIO(gradebook_csv(rows, AREAS))))
    assert table == [["student", "file", "total", "softmax", "backward", "status", "sha256"],
                     ["alice", "alice.ipynb", "0", "0", "0", "timeout", "cd" * 32],
                     ["bob", "'=HYPERLINK(1).ipynb", "5", "5", "0", "graded", "ab" * 32]]


def test_state_keeps_the_latest_row_and_survives_a_torn_line(tmp_path):
    state = State(tmp_path / "state.jsonl")
    first = row_from_report(report("alice"), file="a.ipynb", key="1")
    state.append(first)
    state.append(row_from_report(report("alice", failed=("softmax: values",)), file="a.ipynb", key="2"))
    with open(state.path, "a") as f:
        f.write('{"student": "bob", "sta')
    rows = state.load()
    assert list(rows) == ["alice"] and rows["alice"].key == "2" and rows["alice"].failed == ("softmax: values",)
    assert row_from_json(row_to_json(first)) == first


def test_summary_counts_failures_per_test_and_area_and_lists_problems(tmp_path):
    rows = [row_from_report(report(s, failed=f), file=f"{s}.ipynb", key="k")
            for s, f in (("a", ()), ("b", ("backward: dW1",)), ("c", ("backward: dW1", "softmax: values")))]
    rows.append(Row("d", "d.ipynb", "", "error", 0, 0, reason="not a notebook | bad"))
    roster = discover(tmp_path)
    text = summary_markdown(rows, AREAS, roster)
    assert "4 students: 3 graded, 1 could not be graded, 0 timed out." in text
    assert "| backward: dW1 | 2 | 67% |" in text and "| softmax: values | 1 | 33% |" in text
    assert "| backward | 2 | 67% |" in text and "| `d` | `d.ipynb` | error | `not a notebook \\| bad` |" in text
    assert histogram([0, 25, 12.5, 24], 25) == [("0-2.5", 1)] + [(f"{x:g}-{x + 2.5:g}", 0) for x in
                                                                 (2.5, 5, 7.5, 10)] + [("12.5-15", 1)] + \
        [(f"{x:g}-{x + 2.5:g}", 0) for x in (15, 17.5, 20)] + [("22.5-25", 2)]
    png = summary_png(rows, AREAS, tmp_path / "s.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---- the process pool -----------------------------------------------------------------------------------------

def processes_with(marker: str) -> list[int]:
    """Pids of live processes whose command line holds `marker` (zombies have an empty command line)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups and /proc are Linux's")
def test_the_pool_kills_timeouts_and_detached_grandchildren(tmp_path):
    marker = f"batch-marker-{os.getpid()}-{time.time_ns()}"
    detach = ("import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import signal, time; "
              "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)', sys.argv[1]], "
              "start_new_session=True)")
    jobs = [Job("hang", tmp_path / "hang.log", argv=(sys.executable, "-c", "import time; time.sleep(300)", marker)),
            Job("crash", tmp_path / "crash.log", argv=(sys.executable, "-c", "import os; os._exit(7)")),
            Job("detach", tmp_path / "detach.log", argv=(sys.executable, "-c", detach, marker))]
    done = []
    started = time.monotonic()
    run_jobs(jobs, workers=3, timeout=2.0, on_done=done.append, cwd=tmp_path)
    ends = {d.job.name: (d.exit_code, d.timed_out) for d in done}
    assert ends == {"hang": (-signal.SIGKILL, True), "crash": (7, False), "detach": (0, False)}
    assert time.monotonic() - started < 150  # a hang guard: neither the hang nor the grandchild (300 s) was awaited
    assert processes_with(marker) == []


def _sleep_forever() -> int:
    time.sleep(300)
    return 0


def _raise() -> int:
    print("about to fail")
    raise RuntimeError("a bug in the grader")


def _detach(marker: str) -> int:
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"
    subprocess.Popen([sys.executable, "-c", code, marker], start_new_session=True)
    return 5


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork, process groups and /proc are Linux's")
def test_forked_children_end_in_their_own_process_whatever_they_do(tmp_path):
    marker = f"fork-marker-{os.getpid()}-{time.time_ns()}"
    jobs = [Job("hang", tmp_path / "hang.log", target=_sleep_forever),
            Job("bug", tmp_path / "bug.log", target=_raise),
            Job("detach", tmp_path / "detach.log", target=lambda: _detach(marker))]
    done = []
    run_jobs(jobs, workers=3, timeout=2.0, on_done=done.append, cwd=tmp_path)
    ends = {d.job.name: (d.exit_code, d.timed_out) for d in done}
    assert ends == {"hang": (-signal.SIGKILL, True), "bug": (70, False), "detach": (5, False)}
    assert "RuntimeError: a bug in the grader" in (tmp_path / "bug.log").read_text()
    assert processes_with(marker) == []


# ---- whole batches with a fake worker -------------------------------------------------------------------------

@pytest.fixture
def fake_class(tmp_path):
    worker = tmp_path / "fake_worker.py"
    worker.write_text(FAKE_WORKER)
    folder = tmp_path / "class"
    folder.mkdir()
    for student, text in {"alice": "ok", "bob": "bug", "carol": "sleep", "dave": "crash",
                          "erin": f"detach marker-{tmp_path.name}"}.items():
        (folder / f"{student}.ipynb").write_text(text)
    (folder / "README.txt").write_text("not a submission")
    return folder, (sys.executable, str(worker))


@pytest.mark.slow
def test_a_batch_gives_every_student_a_row_and_a_rerun_skips_them(fake_class, tmp_path):
    folder, worker = fake_class
    opts = BatchOptions(folder, tmp_path / "out", jobs=2, timeout=3, kill_margin=0, worker=worker, rubric=None)
    first = grade_class(opts, stream=io.StringIO())
    book = {r["student"]: r for r in csv.DictReader(open(tmp_path / "out" / "gradebook.csv"))}
    assert {s: (r["status"], r["total"], r["backward"]) for s, r in book.items()} == {
        "alice": ("graded", "25", "20"), "bob": ("graded", "5", "0"), "carol": ("timeout", "0", "0"),
        "dave": ("error", "0", "0"), "erin": ("graded", "25", "20")}
    assert (first.graded, first.reused) == (5, 0) and processes_with(f"marker-{tmp_path.name}") == []
    assert {p.name for p in (tmp_path / "out" / "carol").iterdir()} == {"results.json", "feedback.html",
                                                                         "feedback_ta.html"}
    assert "| `README.txt` | `not a notebook" in (tmp_path / "out" / "summary.md").read_text()
    (folder / "bob.ipynb").write_text("ok now")
    log = io.StringIO()
    second = grade_class(opts, stream=log)
    assert (second.graded, second.reused) == (2, 3)  # bob changed; dave's grader crash is retried
    assert "skipping 3 unchanged submissions" in log.getvalue()
    forced = grade_class(BatchOptions(folder, tmp_path / "out", jobs=2, timeout=3, kill_margin=0, worker=worker,
                                      force=True),
                         stream=io.StringIO())
    assert (forced.graded, forced.reused) == (5, 0)


@pytest.mark.slow
def test_rows_graded_under_another_deadline_are_graded_again(fake_class, tmp_path):
    folder, worker = fake_class
    for name in ("carol", "dave", "erin"):  # the quick ones are enough here
        (folder / f"{name}.ipynb").unlink()
    short = BatchOptions(folder, tmp_path / "out", jobs=2, timeout=30, worker=worker)
    assert grade_class(short, stream=io.StringIO()).graded == 2
    assert grade_class(short, stream=io.StringIO()).reused == 2
    usual = grade_class(BatchOptions(folder, tmp_path / "out", jobs=2, worker=worker), stream=io.StringIO())
    assert (usual.graded, usual.reused) == (2, 0)


@pytest.mark.slow
def test_an_output_folder_inside_the_class_folder_is_not_read_as_submissions(fake_class, tmp_path):
    folder, worker = fake_class
    for name in ("carol", "dave", "erin"):
        (folder / f"{name}.ipynb").unlink()
    (folder / "gradebook.csv.ipynb").write_text("ok")  # a student whose name is one of the batch's own files
    opts = BatchOptions(folder, folder / "graded", jobs=2, worker=worker)
    grade_class(opts, stream=io.StringIO())
    log = io.StringIO()
    again = grade_class(opts, stream=log)
    assert (again.students, again.reused) == (3, 3) and "graded/" not in log.getvalue()
    assert (folder / "graded" / "gradebook.csv_" / "results.json").exists()
    assert (folder / "graded" / "gradebook.csv").is_file()


@pytest.mark.slow
def test_a_changed_rubric_regrades_everything(fake_class, tmp_path):
    folder, worker = fake_class
    for name in ("carol", "dave", "erin"):
        (folder / f"{name}.ipynb").unlink()
    rubric = tmp_path / "rubric.toml"
    rubric.write_text("[thresholds]\nattempts = 2\n")
    opts = BatchOptions(folder, tmp_path / "out", jobs=2, worker=worker, rubric=rubric)
    assert grade_class(opts, stream=io.StringIO()).graded == 2
    assert grade_class(opts, stream=io.StringIO()).reused == 2
    rubric.write_text("[thresholds]\nattempts = 3\n")
    assert grade_class(opts, stream=io.StringIO()).graded == 2


DRIVER = textwrap.dedent('''
    import functools, sys
    import grader.batch.grade_all
    from grader.cli import main
    grader.batch.grade_all.BatchOptions = functools.partial(grader.batch.grade_all.BatchOptions, worker=tuple(sys.argv[1:3]))
    sys.exit(main(sys.argv[3:]))
''')


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_batch_keeps_its_finished_rows(fake_class, tmp_path, signum):
    folder, worker = fake_class
    for i in range(6):
        (folder / f"zed{i}.ipynb").write_text("sleep")
    out = tmp_path / "out"
    cmd = [sys.executable, "-c", DRIVER, *worker, "grade-all", str(folder), "--out", str(out), "--jobs", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # interrupted once alice's row is in, while the zeds are still to come (carol and the zeds never finish)
    wait_until(lambda: proc.poll() is not None or ((out / "gradebook.csv").exists() and "alice" in recorded(out)),
               120, "the batch to record alice's row")
    assert proc.poll() is None, proc.communicate()[1]
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr
    status = {r["student"]: r["status"] for r in csv.DictReader(open(out / "gradebook.csv"))}
    assert status["alice"] == "graded" and {status[f"zed{i}"] for i in range(6)} == {"pending"}
    assert "Interrupted" in (out / "summary.md").read_text() and "run the same command again" in stderr
    assert processes_with(str(folder)) == [] and processes_with(f"marker-{tmp_path.name}") == []


def recorded(out: Path) -> set[str]:
    """The students whose rows a running batch has recorded so far (a line being written is not one yet)."""
    try:
        lines = (out / ".batch" / "state.jsonl").read_text().splitlines()
    except OSError:
        return set()
    students = set()
    for line in lines:
        try:
            students.add(json.loads(line)["student"])
        except (ValueError, KeyError, TypeError):
            continue
    return students


def test_the_pool_wakes_when_a_child_exits_not_at_the_end_of_its_wait():
    from types import SimpleNamespace

    from grader.batch import pool

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    try:
        started = time.monotonic()
        pool._wait_for_an_exit([SimpleNamespace(proc=child)], 60.0)
        waited = time.monotonic() - started
        assert child.poll() is not None  # it returned because the child ended...
        assert waited < 30.0  # ...not because the 60 s ran out
    finally:
        child.kill()
        child.wait()


def test_the_drained_hook_runs_once_when_every_job_has_started_and_its_process_is_spared(tmp_path):
    jobs = [Job(f"j{i}", tmp_path / f"j{i}.log", argv=(sys.executable, "-c", "import time; time.sleep(0.3)"))
            for i in range(3)]
    done, calls, extra = [], [], []

    def drained() -> int:
        calls.append(len(done))  # how many jobs had ended by then
        extra.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]))
        return extra[-1].pid

    try:
        run_jobs(jobs, workers=2, timeout=20.0, on_done=done.append, cwd=tmp_path, on_drained=drained)
        assert len(calls) == 1 and calls[0] >= 1  # with 3 jobs on 2 workers, only after one had ended
        assert len(done) == 3 and extra[0].poll() is None  # the sweep of leftovers did not kill it
    finally:
        for proc in extra:
            proc.kill()
            proc.wait()
