"""Acceptance test of the course loop: a class of Canvas-named files, graded once for real, then taken to the LMS.

The class: three correct solutions written independently, a byte-identical copy of one, a disguised copy of another,
a notebook whose derivation cell lost its marking, one whose derivation was deleted, single-bug variants of the
reference (one of them marked LATE by Canvas), and the untouched skeleton. It checks the Canvas import file, the late
penalty, the hand grades merge, the similarity report, and that regrading one student changes only that row.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from grader import paths
from tests import solutions
from tests.test_batch_class import BUGS

pytestmark = pytest.mark.sandbox  # every test reads the class graded once by the module's fixture
RUBRIC = """
[thresholds]
attempts = 1
[limits]
cell_seconds = 30
notebook_seconds = 30
request_seconds = 8
memory_mb = 1024
[hidden]
secret = "c0ffee0123456789abcdef0123456789c0ffee0123456789abcdef0123456789"
size = 500
[manual]
derivation = 10
report = 10
[late]
policy = "per_started_day"
due = 2026-11-20T23:59:00
penalty = 10
cap = 30
[lms]
assignment = "Backprop (4242)"
[similarity]
threshold = 0.6
"""
ON_TIME = (2026, 11, 20, 12, 0, 0)
LATE_TIME = (2026, 11, 22, 8, 0, 0)  # 32 hours after the due time: two days begun, 20 points
INDEPENDENT = ("refsol", "annalt", "benalt")


def nb_text(nb) -> str:
    return nbformat.writes(nb)


def reference(edit=None) -> str:
    nb = nbformat.read(paths.SOLUTION, as_version=4)
    if edit:
        edit(nb)
    return nb_text(nb)


def derivation_at(nb) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("grader", {}).get("id") == "derivation")


def lost_marking(nb) -> None:
    cell = nb.cells[derivation_at(nb)]
    cell.metadata = {}
    cell.source = cell.source.replace("_Write your answer here._", "With $y = \\mathrm{softmax}(a)$, "
                                      "$\\partial E / \\partial a_{nk} = y_{nk} - t_{nk}$.")


def deleted_derivation(nb) -> None:
    del nb.cells[derivation_at(nb)]


def with_bug(old: str, new: str) -> str:
    def edit(nb):
        hits = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
        assert len(hits) == 1
        hits[0].source = hits[0].source.replace(old, new)
    return reference(edit)


def class_files() -> dict[str, tuple[str, str, tuple]]:
    """Canvas file name -> (student id the batch derives, notebook text, zip entry time)."""
    ben = nb_text(solutions.fill(solutions.STUDENT_B))
    files = {
        "refsol_1001_5001_backprop.ipynb": ("refsol", reference(), ON_TIME),
        "annalt_1002_5002_backprop.ipynb": ("annalt", nb_text(solutions.fill(solutions.STUDENT_A)), ON_TIME),
        "benalt_1003_5003_backprop.ipynb": ("benalt", ben, ON_TIME),
        "evedup_1004_5004_backprop.ipynb": ("evedup", ben, ON_TIME),
        "catcopy_1005_5005_backprop.ipynb": ("catcopy", nb_text(solutions.edited(solutions.STUDENT_A)), ON_TIME),
        "danlost_1006_5006_backprop.ipynb": ("danlost", reference(lost_marking), ON_TIME),
        "gilgone_1007_5007_backprop.ipynb": ("gilgone", reference(deleted_derivation), ON_TIME),
        "skeleton_1008_5008_backprop.ipynb": ("skeleton", paths.SKELETON.read_text(), ON_TIME),
    }
    for n, (area, (old, new, _)) in enumerate(BUGS.items()):
        late = area == "update"
        name = f"bug{area.replace('_', '')}{'_LATE' if late else ''}_{2000 + n}_{6000 + n}_backprop.ipynb"
        files[name] = (f"bug{area.replace('_', '')}", with_bug(old, new), LATE_TIME if late else ON_TIME)
    for n, (_area, (old, new, _)) in enumerate(list(BUGS.items())[:10]):  # second variants: the bug elsewhere too
        nb_source = with_bug(old, new).replace("hidden_dim=16, learning_rate=0.5", "hidden_dim=20, learning_rate=0.5")
        files[f"twin{n}_{3000 + n}_{7000 + n}_backprop.ipynb"] = (f"twin{n}", nb_source, ON_TIME)
    return files


def write_zip(path: Path, files: dict[str, tuple[str, str, tuple]]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, (_, text, when) in files.items():
            zf.writestr(zipfile.ZipInfo(f"submissions/{name}", date_time=when), text)
    return path


def grader_cli(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, timeout=1200,
                          stdin=subprocess.DEVNULL)
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    return done


def table(path: Path) -> list[list[str]]:
    return list(csv.reader(open(path, newline="")))


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("course")
    files = class_files()
    assert len(files) >= 30
    rubric = tmp / "rubric.toml"
    rubric.write_text(RUBRIC)
    archive = write_zip(tmp / "submissions.zip", files)
    out = tmp / "out"
    grader_cli("grade-all", str(archive), "--out", str(out), "--rubric", str(rubric), "--timeout", "120")
    return tmp, out, rubric, files


def canvas_rows(out: Path) -> dict[str, list[str]]:
    return {row[0]: row for row in table(out / "canvas_import.csv")[2:]}


@pytest.mark.slow
def test_the_canvas_import_file_is_in_canvas_format(course):
    _, out, _, files = course
    rows = table(out / "canvas_import.csv")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Backprop (4242)"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "120"]  # 100 automatic + 2 x 10 by hand
    ids = {student: name.split("_")[-3] for name, (student, _, _) in files.items()}
    assert {r[0]: r[1] for r in rows[2:]} == ids and len(rows) == 2 + len(files)
    canvas = canvas_rows(out)
    for student in INDEPENDENT + ("evedup", "catcopy", "danlost"):
        assert canvas[student][5] == "100", student  # correct and on time; no hand grades yet
    assert canvas["skeleton"][5] == "0"


def zip_pages(out: Path) -> dict:
    from tests.test_canvas import canvas_reads  # the naming rule as Canvas's re-upload reads it

    with zipfile.ZipFile(out / "canvas_feedback.zip") as zf:
        return {canvas_reads(name): zf.read(name) for name in zf.namelist()}


@pytest.mark.slow
def test_the_feedback_zip_holds_every_page_under_the_ids_of_its_download(course):
    _, out, _, files = course
    expected = {(name.split("_")[-3], name.split("_")[-2]): (out / student / "feedback.html").read_bytes()
                for name, (student, _, _) in files.items()}
    assert zip_pages(out) == expected and len(expected) == len(files)
    assert "Not matched in Canvas" not in (out / "summary.md").read_text()


@pytest.mark.slow
def test_the_late_file_loses_twenty_points_shown_apart(course):
    _, out, _, _ = course
    detail = {r["student"]: r for r in csv.DictReader(open(out / "gradebook_detail.csv"))}
    late = detail["bugupdate"]
    assert (late["late"], late["late_penalty"]) == ("yes", "20")
    assert float(late["total"]) == max(0.0, float(late["automatic"]) - 20)
    assert canvas_rows(out)["bugupdate"][5] == late["total"]
    assert all(r["late"] == "no" for s, r in detail.items() if s != "bugupdate")
    page = (out / "bugupdate" / "feedback.html").read_text()
    assert "Late penalty" in page and "−20" in page
    assert "| bugupdate | 20 |" in (out / "summary.md").read_text()


@pytest.mark.slow
def test_answers_that_lost_their_marking_are_found_and_missing_ones_flagged(course):
    _, out, _, _ = course
    hand = {(r["student"], r["item"]): r["answer"] for r in csv.DictReader(open(out / "hand_grades.csv"))}
    assert hand[("danlost", "derivation")].startswith("found by its prompt")
    assert hand[("gilgone", "derivation")] == "MISSING" and hand[("refsol", "derivation")] == "found"
    assert "| gilgone | derivation |" in (out / "summary.md").read_text()
    detail = {r["student"]: r for r in csv.DictReader(open(out / "gradebook_detail.csv"))}
    assert detail["gilgone"]["answers_missing"] == "derivation" and detail["danlost"]["answers_missing"] == ""
    assert "Answer missing" in (out / "gilgone" / "feedback_ta.html").read_text()
    assert "<math" in (out / "danlost" / "feedback_ta.html").read_text()


@pytest.mark.slow
def test_the_summary_lists_the_duplicate_and_the_copy_and_no_independent_pair(course):
    _, out, _, _ = course
    summary = (out / "summary.md").read_text()
    section = summary[summary.index("## Similar submissions"):]
    assert "not a verdict" in section
    identical = section[section.index("### Identical files"):section.index("### Code in common")]
    assert "- benalt, evedup" in identical and identical.count("\n- ") == 1
    assert "[annalt and catcopy](similarity/annalt--catcopy.html)" in section
    assert (out / "similarity" / "annalt--catcopy.html").exists()
    honest = set(INDEPENDENT) | {"evedup"}
    for line in section.splitlines():
        if line.startswith("- ["):
            pair = set(line[3:line.index("]")].split(" and "))
            assert not pair <= honest, f"independent solutions listed as similar: {line}"
            assert not (pair & {"annalt", "catcopy"} and pair - {"annalt", "catcopy"}), line


@pytest.mark.slow
def test_hand_grades_are_checked_then_merged_into_the_import_and_the_feedback(course):
    tmp, out, rubric, _ = course
    path = out / "hand_grades.csv"
    before = (out / "canvas_import.csv").read_text()
    rows = list(csv.DictReader(open(path)))
    bad = [dict(r, points="11") if (r["student"], r["item"]) == ("refsol", "derivation") else r for r in rows]
    write_rows(path, bad)
    failed = grader_cli("merge-hand-grades", "--out", str(out), "--rubric", str(rubric), ok=False)
    assert "refsol / derivation: points 11 are over the maximum of 10" in failed.stderr
    assert (out / "canvas_import.csv").read_text() == before
    grades = {("refsol", "derivation"): ("8", "clear chain rule"), ("refsol", "report"): ("6.5", "short"),
              ("bugupdate", "report"): ("10", "")}
    write_rows(path, [dict(r, points=grades.get((r["student"], r["item"]), ("", ""))[0],
                           comment=grades.get((r["student"], r["item"]), ("", ""))[1]) for r in rows])
    done = grader_cli("merge-hand-grades", "--out", str(out), "--rubric", str(rubric))
    assert "merged 3 hand grades" in done.stdout
    canvas = canvas_rows(out)
    assert canvas["refsol"][5] == "114.5" and canvas["annalt"][5] == "100"
    detail = {r["student"]: r for r in csv.DictReader(open(out / "gradebook_detail.csv"))}
    late = detail["bugupdate"]
    assert float(canvas["bugupdate"][5]) == float(late["automatic"]) + 10 - 20 and late["hand"] == "10"
    page = (out / "refsol" / "feedback.html").read_text()
    assert "clear chain rule" in page and page.count('id="grade"') == 1 and ">114.5<" in page
    assert zip_pages(out)[("1001", "5001")] == page.encode()  # the re-upload zip carries the merged page


def write_rows(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.slow
def test_regrading_one_student_changes_only_that_row(course):
    tmp, out, rubric, files = course
    before = {name: table(out / name) for name in ("gradebook.csv", "canvas_import.csv")}
    fixed = dict(files)
    name = next(n for n, (s, _, _) in files.items() if s == "bugsoftmax")
    fixed[name] = ("bugsoftmax", reference(), ON_TIME)  # the appeal: the student's corrected notebook
    archive = write_zip(tmp / "resubmitted.zip", fixed)
    done = grader_cli("grade-all", str(archive), "--out", str(out), "--rubric", str(rubric), "--only", "bugsoftmax")
    assert "graded 1 now" in done.stdout and "keeping 29 rows as they are" in done.stderr
    for csv_name, old in before.items():
        new = table(out / csv_name)
        changed = [(a, b) for a, b in zip(old, new) if a != b]
        assert len(new) == len(old) and len(changed) == 1 and changed[0][0][0] == "bugsoftmax", csv_name
    assert canvas_rows(out)["bugsoftmax"][5] == "100"
    typo = grader_cli("grade-all", str(archive), "--out", str(out), "--rubric", str(rubric), "--only", "bugsoftmx",
                      ok=False)
    assert "did you mean bugsoftmax" in typo.stderr
