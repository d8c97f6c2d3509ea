"""What goes back to Canvas: the feedback re-upload zip, the gradebook import and the roster (grader/batch/)."""

from __future__ import annotations

import csv
import io
import re
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest
from hypothesis import given, strategies as st

from grader.course import canvas_feedback
from grader.course.canvas_roster import match, read_roster
from grader.batch.grade_all import BatchOptions, grade_class
from grader.batch.names import safe_id
from grader.cli import main
from grader.errors import ConfigError
from tests.test_batch import FAKE_WORKER

# the worker of tests/test_batch.py, which also writes the feedback pages a real grade writes
FAKE_WITH_PAGES = FAKE_WORKER + "from grader.report.feedback import write_feedback\nwrite_feedback(report, a.out)\n"


def canvas_reads(name: str) -> tuple[str, str] | None:
    """(user id, attachment id) as Canvas's re-upload reads a file name, or None when it ignores the file.

    Written from canvas-lms's Assignment#infer_comment_context_from_filename: the base name split on "_", the first
    two parts of digits only; ignored when the last part starts with "link" or the name with "._"."""
    base = PurePosixPath(name).name
    parts = base.split("_")
    digits = [p for p in parts if re.fullmatch(r"[0-9]+", p)][:2]
    if len(digits) < 2 or parts[-1].startswith("link") or base.startswith("._"):
        return None
    return digits[0], digits[1]


# ---- the naming rule -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("student", ["doejane", "doe_jane", "12345", "link", "o-brien", "anna.b", "x_1_2_y"])
def test_a_page_name_gives_canvas_back_the_ids_of_the_download(student):
    name = canvas_feedback.reupload_name(student, "4711", "90210")
    assert canvas_reads(name) == ("4711", "90210") and name.endswith(".html")


@pytest.mark.fuzz
@given(raw=st.text(min_size=1, max_size=60), user_id=st.integers(1, 10**15), attachment_id=st.integers(1, 10**15))
def test_any_student_id_the_batch_can_make_is_read_back_by_canvas(raw, user_id, attachment_id):
    name = canvas_feedback.reupload_name(safe_id(raw), str(user_id), str(attachment_id))
    assert canvas_reads(name) == (str(user_id), str(attachment_id))
    assert "/" not in name and "\\" not in name and not name.startswith(".")


def test_a_name_without_both_ids_is_refused():
    with pytest.raises(ValueError, match="user id and attachment id"):
        canvas_feedback.reupload_name("doejane", "4711", "")


# ---- the roster: a Canvas gradebook export --------------------------------------------------------------------------

EXPORT = """Student,ID,SIS User ID,SIS Login ID,Section,Backprop (4242)
    Points Possible,,,,,120
"Doe, Jane",1001,S-1,jdoe@uni.example,Lab A,
"Ng, Bob",1002,S-2,bng,Lab B,
"Lee, Ann",1003,S-3,alee,Lab A,
"Lee, Ann",1004,S-4,alee2,Lab B,
"Student, Test",9999,,,Lab A,
"""


def test_the_roster_reads_a_gradebook_export_and_skips_points_possible_and_the_test_student(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("\ufeff" + EXPORT)  # Canvas writes a byte order mark
    people = read_roster(path)
    assert [(p.name, p.id, p.sis_user_id, p.sis_login_id, p.section) for p in people][:2] == [
        ("Doe, Jane", "1001", "S-1", "jdoe@uni.example", "Lab A"), ("Ng, Bob", "1002", "S-2", "bng", "Lab B")]
    assert len(people) == 4


def test_students_are_matched_by_user_id_login_sis_id_or_name_and_never_by_a_guess(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(EXPORT)
    found = match({"doejane-x": "1001", "jdoe": "", "bng": "", "s-2": "", "NgBob": "", "leeann": "", "zed": "",
                   "gone": "777"}, read_roster(path))
    assert {s: p.id for s, p in found.people.items()} == {
        "doejane-x": "1001", "jdoe": "1001", "bng": "1002", "s-2": "1002", "NgBob": "1002"}
    assert "Lee, Ann" in found.unmatched["leeann"] and "several" in found.unmatched["leeann"]
    assert set(found.unmatched) == {"leeann", "zed", "gone"} and "777" in found.unmatched["gone"]


@pytest.mark.parametrize("text", ["name,score\nann,3\n", ""])
def test_a_file_that_is_not_a_gradebook_export_is_refused_saying_what_it_needs(tmp_path, text):
    path = tmp_path / "export.csv"
    path.write_text(text)
    with pytest.raises(ConfigError, match="not a Canvas gradebook export.*Student, ID"):
        read_roster(path)


# ---- a whole class, graded by a fake worker, then merged -----------------------------------------------------------

DOWNLOAD = {"doejane_1001_5001_backprop.ipynb": "ok", "ngbob_LATE_1002_5002_backprop-1.ipynb": "bug",
            "anon_7ar9n_5003_backprop.ipynb": "ok"}


@pytest.fixture
def canvas_class(tmp_path):
    worker = tmp_path / "fake_worker.py"
    worker.write_text(FAKE_WITH_PAGES)
    folder = tmp_path / "class"
    (folder / "alee").mkdir(parents=True)
    (folder / "alee" / "backprop.ipynb").write_text("ok")  # a folder per student: no ids in the name
    (folder / "zed.ipynb").write_text("ok")  # nobody in the roster
    for name, text in DOWNLOAD.items():
        (folder / name).write_text(text)
    export = tmp_path / "export.csv"
    export.write_text(EXPORT.replace('"Lee, Ann",1004,S-4,alee2,Lab B,\n', ""))
    out = tmp_path / "out"
    grade_class(BatchOptions(folder, out, jobs=2, timeout=20, worker=(sys.executable, str(worker)),
                             canvas_roster=export), stream=io.StringIO())
    return out, export


def zip_pages(out: Path) -> dict[tuple[str, str], bytes]:
    with zipfile.ZipFile(out / canvas_feedback.FILE) as zf:
        return {canvas_reads(name): zf.read(name) for name in zf.namelist()}


@pytest.mark.slow
def test_the_zip_holds_each_canvas_students_page_under_the_ids_of_their_download(canvas_class):
    out, _ = canvas_class
    pages = zip_pages(out)
    assert None not in pages
    expected = {}
    for name in DOWNLOAD:
        parts = [p for p in name.split("_") if p.isdigit()]
        if len(parts) == 2:  # the anonymous download has no user id
            student = "doejane" if name.startswith("doe") else "ngbob"
            expected[(parts[0], parts[1])] = (out / student / "feedback.html").read_bytes()
    assert pages == expected
    assert b'id="grade"' in pages[("1001", "5001")]  # the page with its grade section, as the student sees it


@pytest.mark.slow
def test_students_canvas_cannot_match_are_listed_with_the_reason(canvas_class):
    out, _ = canvas_class
    summary = (out / "summary.md").read_text()
    section = summary[summary.index("### Not matched in Canvas"):]
    rows = {line.split(" | ")[0].strip("| "): line for line in section.splitlines() if line.startswith("| ")}
    assert "anonymous grading" in rows["anon_7ar9n"] and "no Canvas user id and attachment id" in rows["alee"]
    assert "no name, login or SIS id in the roster fits it" in rows["zed"]
    assert "doejane" not in rows and "ngbob" not in rows
    possible = list(csv.reader(open(out / "canvas_import.csv", newline="")))[1][5]
    assert possible == "45" and f"Points Possible to {possible} first" in summary  # 25 automatic + 2 x 10 by hand


@pytest.mark.slow
def test_the_import_takes_names_sis_ids_and_sections_from_the_roster(canvas_class):
    out, _ = canvas_class
    rows = list(csv.reader(open(out / "canvas_import.csv", newline="")))
    body = {r[1]: r for r in rows[2:]}
    assert body["1003"] == ["Lee, Ann", "1003", "S-3", "alee", "Lab A", "25"]  # matched by its folder's name
    assert body["1001"][:5] == ["Doe, Jane", "1001", "S-1", "jdoe@uni.example", "Lab A"]
    assert body["1002"][5] == "5"
    assert {r[0] for r in rows[2:]} == {"Doe, Jane", "Ng, Bob", "Lee, Ann", "zed", "anon_7ar9n"}


@pytest.mark.slow
def test_merging_hand_grades_refreshes_the_zip_and_reuses_the_roster(canvas_class):
    out, _ = canvas_class
    hand = list(csv.DictReader(open(out / "hand_grades.csv", newline="")))
    for row in hand:
        if row["student"] == "doejane" and row["item"] == "derivation":
            row.update(points="7", comment="the chain rule, step by step")
    with open(out / "hand_grades.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, list(hand[0]))
        writer.writeheader()
        writer.writerows(hand)
    assert main(["merge-hand-grades", "--out", str(out)]) == 0
    merged = (out / canvas_feedback.FILE).read_bytes()
    assert main(["merge-hand-grades", "--out", str(out)]) == 0
    assert (out / canvas_feedback.FILE).read_bytes() == merged, "the same grades give the same zip, byte for byte"
    page = zip_pages(out)[("1001", "5001")]
    assert b"the chain rule, step by step" in page and page == (out / "doejane" / "feedback.html").read_bytes()
    rows = {r[1]: r for r in csv.reader(open(out / "canvas_import.csv", newline=""))}
    assert rows["1001"][0] == "Doe, Jane" and rows["1001"][5] == "32"  # the roster kept in .batch/ is read again


def test_a_bad_roster_stops_the_batch_before_anything_is_graded(tmp_path):
    bad = tmp_path / "export.csv"
    bad.write_text("name,score\n")
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "alice.ipynb").write_text("ok")
    with pytest.raises(ConfigError, match="not a Canvas gradebook export"):
        grade_class(BatchOptions(tmp_path / "class", tmp_path / "out", canvas_roster=bad), stream=io.StringIO())
    assert not (tmp_path / "out" / "gradebook.csv").exists()
