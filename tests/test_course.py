"""The course step's parts, each against an independent expectation: late penalties worked out by hand, the hand
grades file's checks, Canvas's import format, manual answers that lost their marking, LaTeX as MathML, similarity."""

from __future__ import annotations

import csv
import io
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

from grader import paths
from grader.course import lms
from grader.course.book import Row
from grader.course.handgrades import HandGrade, HandGradesError, Item, read_hand_grades, write_template
from grader.course.late import SubmittedAt, assess, parse_late
from grader.course.similarity import compare_class
from grader.cli import main
from grader.errors import ConfigError
from grader.notebook.extract import read_submission
from grader.notebook.manual import manual_answers, skeleton_prompts
from grader.report.math import render_answer
from tests import solutions

UTC = timezone.utc
DUE = datetime(2026, 11, 20, 23, 59, tzinfo=UTC)
ITEMS = (Item("derivation", "Problem 1: derivation", 10.0), Item("report", "Written report", 5.0))


# ---- late policy ------------------------------------------------------------------------------------------------

def late(table: dict, *, hours: float | None, marked: bool = True, score: float = 100.0, given: bool = False):
    policy = parse_late({"due": DUE, **table})
    when = DUE + timedelta(hours=hours) if hours is not None else None
    return assess(policy, marked=marked, file_time=None if given else when,
                  given=SubmittedAt(when) if given else None, score=score)


def test_per_started_day_charges_every_day_begun_up_to_the_cap():
    table = {"policy": "per_started_day", "penalty": 10, "cap": 25}
    assert late(table, hours=1).penalty == 10  # 1 hour: one day begun
    assert late(table, hours=25).penalty == 20  # 25 hours: two days begun
    assert late(table, hours=24 * 5).penalty == 25  # five days: capped
    assert late(table, hours=30, score=12).penalty == 12  # never below zero points


def test_per_day_is_pro_rata_and_zero_after_the_cutoff_takes_everything():
    assert late({"policy": "per_day", "penalty": 10}, hours=36).penalty == pytest.approx(15)
    cutoff = {"policy": "zero_after", "penalty": 5, "cutoff": DUE + timedelta(days=2)}
    before, after = late(cutoff, hours=30), late(cutoff, hours=49)
    assert (before.penalty, before.zeroed) == (10, False) and after.zeroed and after.penalty == 100


def test_flag_only_none_and_where_the_time_comes_from():
    assert late({"policy": "flag"}, hours=5).late and late({"policy": "flag"}, hours=5).penalty == 0
    assert not late({"policy": "none"}, hours=5).late
    per_day = {"policy": "per_started_day", "penalty": 10}
    assert late(per_day, hours=5, marked=False, given=True).penalty == 10  # the TA's times file alone decides
    assert not late(per_day, hours=-2, marked=False, given=True).late
    assert not late(per_day, hours=5, marked=False).late  # a file's own time never makes it late unmarked
    unsure = late(per_day, hours=-3)  # marked late, but its time is not after the due time
    assert unsure.penalty == 10 and "times file" in unsure.note


def test_the_times_file_gives_submission_times_and_extensions(tmp_path):
    from grader.course.late import read_times

    path = tmp_path / "times.csv"
    path.write_text("student,submitted,due\nann,2026-11-21T10:00:00+00:00,\nben,2026-11-21T10:00:00+00:00,"
                    "2026-11-22T00:00:00+00:00\n")
    times = read_times(path)
    policy = parse_late({"policy": "per_started_day", "due": DUE, "penalty": 10})
    ann = assess(policy, marked=False, file_time=None, given=times["ann"], score=90)
    ben = assess(policy, marked=True, file_time=None, given=times["ben"], score=90)
    assert (ann.late, ann.penalty) == (True, 10) and not ben.late  # ben's extension: on time
    path.write_text("student,submitted\nann,yesterday\n")
    with pytest.raises(ConfigError, match="times.csv, line 2"):
        read_times(path)


def test_a_bad_late_table_names_the_key():
    with pytest.raises(ConfigError, match=r"\[late\] policy"):
        parse_late({"policy": "sometimes"})
    with pytest.raises(ConfigError, match=r"\[late\] due"):
        parse_late({"policy": "per_day", "penalty": 1})
    with pytest.raises(ConfigError, match=r"\[late\] cutoff"):
        parse_late({"policy": "zero_after", "due": DUE})


# ---- the hand grades file -----------------------------------------------------------------------------------------

def test_the_template_keeps_what_a_ta_typed(tmp_path):
    path = tmp_path / "hand_grades.csv"
    write_template(path, {"ann": {"derivation": "found"}}, ITEMS)
    text = path.read_text().replace("ann,derivation,Problem 1: derivation,10,,", "ann,derivation,Problem 1: derivation,10,7,ok")
    path.write_text(text)
    added = write_template(path, {"ann": {}, "ben": {"report": "MISSING"}}, ITEMS)
    rows = list(csv.DictReader(open(path)))
    assert added == 2 and [(r["student"], r["item"]) for r in rows] == [
        ("ann", "derivation"), ("ann", "report"), ("ben", "derivation"), ("ben", "report")]
    assert (rows[0]["points"], rows[0]["comment"]) == ("7", "ok") and rows[3]["answer"] == "MISSING"
    grades = read_hand_grades(path, {"ann", "ben"}, ITEMS)
    assert grades == {"ann": {"derivation": HandGrade("ann", "derivation", 7.0, "ok"),
                              "report": HandGrade("ann", "report", None, "")},
                      "ben": {"derivation": HandGrade("ben", "derivation", None, ""),
                              "report": HandGrade("ben", "report", None, "")}}


def test_bad_rows_are_all_listed_by_line(tmp_path):
    path = tmp_path / "hand_grades.csv"
    path.write_text("student,item,title,max,points,comment,answer\n"
                    "ann,derivation,,10,11,,\n"  # over the maximum
                    "zoe,report,,5,3,,\n"  # not a student
                    "ann,report,,5,2,,\n"
                    "ann,report,,5,4,,\n"  # duplicate
                    "ann,essay,,5,1,,\n"  # no such item
                    "ben,report,,5,lots,,\n")  # not a number
    with pytest.raises(HandGradesError) as err:
        read_hand_grades(path, {"ann", "ben"}, ITEMS)
    message = str(err.value)
    assert "5 bad row(s), nothing was merged" in message
    for expected in ("line 2: ann / derivation: points 11 are over the maximum of 10", "line 3: unknown student 'zoe'",
                     "line 5: a second row for ann / report", "line 6: unknown item 'essay'",
                     "line 7: ben / report: points 'lots' is not a number"):
        assert expected in message


# ---- Canvas's import format ----------------------------------------------------------------------------------------

def test_the_canvas_file_has_canvas_columns_a_points_possible_row_and_no_row_for_pending_students():
    rows = [Row("smithann", "f", "", "graded", 80.0, 100.0), Row("leeben", "g", "", "pending", 0, 0)]
    finals = [lms.Final(rows[0], "4321", ITEMS, {"derivation": HandGrade("smithann", "derivation", 9.0)},
                        late({"policy": "per_started_day", "penalty": 4}, hours=3)),
              lms.Final(rows[1], "8765", ITEMS)]
    table = list(csv.reader(io.StringIO(lms.canvas_csv(finals, "Backprop (991)", 115.0))))
    assert table == [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Backprop (991)"],
                     ["    Points Possible", "", "", "", "", "115"],
                     ["smithann", "4321", "", "", "", "85"]]  # 80 + 9 - 4; leeben is pending: no row at all
    detail = {r["student"]: r for r in csv.DictReader(io.StringIO(lms.detail_csv(finals, ("softmax",), ITEMS, 115)))}
    ann = detail["smithann"]
    assert (ann["automatic"], ann["hand: derivation"], ann["hand"], ann["late_penalty"], ann["total"]) == \
        ("80", "9", "9", "4", "85") and ann["hand_not_graded"] == "report"


# ---- manual answers --------------------------------------------------------------------------------------------------

def notebook_with(tmp_path: Path, edit) -> Path:
    nb = nbformat.read(paths.SOLUTION, as_version=4)
    edit(nb)
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, path)
    return path


def derivation_cell(nb) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("grader", {}).get("id") == "derivation")


def answers(path: Path) -> dict[str, tuple[str, str]]:
    found = manual_answers(read_submission(path), skeleton_prompts(paths.SKELETON))
    return {m.id: (m.found, m.text) for m in found}


def test_a_manual_answer_that_lost_its_metadata_is_found_by_its_prompt_or_heading(tmp_path):
    def strip(nb):
        nb.cells[derivation_cell(nb)].metadata = {}
    got = answers(notebook_with(tmp_path, strip))
    assert got["derivation"][0] == "prompt" and "y_{nk} - t_{nk}" in got["derivation"][1]
    assert got["report"][0] == "metadata"

    def retyped(nb):  # the prompt deleted, the answer typed into a new cell under the same heading
        nb.cells[derivation_cell(nb)] = nbformat.v4.new_markdown_cell("By the chain rule, $dE/da = y - t$.")
    assert answers(notebook_with(tmp_path, retyped))["derivation"] == ("heading", "By the chain rule, $dE/da = y - t$.")

    def deleted(nb):
        del nb.cells[derivation_cell(nb)]
    assert answers(notebook_with(tmp_path, deleted))["derivation"] == ("missing", "")
    skeleton = answers(paths.SKELETON)  # the prompts unchanged: no answer at all
    assert skeleton["derivation"][0] == skeleton["report"][0] == "missing"


# ---- math --------------------------------------------------------------------------------------------------------------

def test_latex_becomes_mathml_and_nothing_else_gets_through():
    page = render_answer(r"So $\partial E / \partial a_{nk} = y_{nk} - t_{nk}$ and $$\sum_j t_{nj} = 1$$ "
                         r"<script>alert(1)</script> $\text{<img src=x onerror=alert(1)>}$ costs $5 or $6.")
    assert page.count("<math") == 3 and 'display="block"' in page
    assert "<msub><mi>a</mi>" in page and "∂" in page
    assert "<script" not in page and "<img" not in page and "onerror" not in page.replace("onerror=", "")
    assert "&lt;script&gt;" in page and "costs $5 or $6." in page
    assert re.findall(r"<(\w+)", page) and set(re.findall(r"<(\w+)", page)) <= {
        "math", "mrow", "mi", "mo", "mn", "msub", "munder", "mtext"}


# ---- similarity ----------------------------------------------------------------------------------------------------

def test_similarity_lists_copies_but_not_independent_solutions(tmp_path):
    files = {}
    for name, nb in (("ref", nbformat.read(paths.SOLUTION, as_version=4)), ("ann", solutions.fill(solutions.STUDENT_A)),
                     ("ben", solutions.fill(solutions.STUDENT_B)), ("cat", solutions.edited(solutions.STUDENT_A)),
                     ("dan", nbformat.read(paths.SKELETON, as_version=4))):
        files[name] = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, files[name])
    hashes = {s: s for s in files}
    result = compare_class(files, {**hashes, "ben": "same", "eve": "same"}, paths.SKELETON, 0.6, tmp_path / "out")
    assert result.duplicates == (("ben", "eve"),)
    assert [(p.a, p.b) for p in result.pairs] == [("ann", "cat")] and result.not_compared == ("dan",)
    page = (tmp_path / "out" / result.pairs[0].page).read_text()
    assert page.count("<mark>") >= 2 and "not a verdict" in page


def test_the_comparison_run_beside_the_grading_gives_the_same_lines_and_pages_and_falls_back_if_it_fails(
        tmp_path, monkeypatch):
    from grader.batch import after
    from grader.batch.inputs import discover
    from grader.grading.rubric import load_rubric

    folder = tmp_path / "class"
    folder.mkdir()
    for name, nb in (("ann", solutions.fill(solutions.STUDENT_A)), ("cat", solutions.edited(solutions.STUDENT_A)),
                     ("ben", solutions.fill(solutions.STUDENT_B))):
        nbformat.write(nb, folder / f"{name}.ipynb")
    roster, rubric = discover(folder), load_rubric(None)
    hashes = {f.student: f.student for f in roster.files}
    rows = {s: Row(s, f"{s}.ipynb", h, "graded", 0.0, 0.0) for s, h in hashes.items()}
    here = after.similarity(roster, rows, rubric, tmp_path / "out0")
    assert any("ann" in line and "cat" in line for line in here) and not any("ben" in line for line in here)
    pages = sorted(p.name for p in (tmp_path / "out0" / "similarity").iterdir())
    assert pages == ["ann--cat.html"]

    stale = tmp_path / "out1" / "similarity" / "old--pair.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("from an earlier run")
    job = after.start_similarity(roster, hashes, rubric, tmp_path / "work1")
    assert job is not None and job.pid != os.getpid()
    assert after.finish_similarity(job, roster, rows, rubric, tmp_path / "out1") == here
    assert sorted(p.name for p in stale.parent.iterdir()) == pages  # this run's pages replace the earlier ones
    job.stop()  # already reaped: nothing happens, whatever the pid is now

    parent, real = os.getpid(), after._similarity
    monkeypatch.setattr(after, "_similarity", lambda *a: real(*a) if os.getpid() == parent else 1 / 0)
    job = after.start_similarity(roster, hashes, rubric, tmp_path / "work2")
    assert after.finish_similarity(job, roster, rows, rubric, tmp_path / "out2") == here  # computed here instead
    assert sorted(p.name for p in (tmp_path / "out2" / "similarity").iterdir()) == pages


def test_an_interrupted_comparison_is_killed_and_reaped(tmp_path, monkeypatch):
    import time

    from grader.batch import after
    from grader.batch.inputs import discover
    from grader.grading.rubric import load_rubric

    (tmp_path / "class").mkdir()
    nbformat.write(solutions.fill(solutions.STUDENT_A), tmp_path / "class" / "ann.ipynb")
    monkeypatch.setattr(after, "_similarity", lambda *a: time.sleep(600))
    job = after.start_similarity(discover(tmp_path / "class"), {}, load_rubric(None), tmp_path / "work")
    job.stop()
    assert job.reaped
    with pytest.raises(ChildProcessError):
        os.waitpid(job.pid, os.WNOHANG)  # gone: not a zombie left behind


def test_the_rubric_command_prints_every_test_and_the_maximum(capsys, tmp_path):
    rubric = tmp_path / "rubric.toml"
    rubric.write_text('[points]\n"backward: db2 matches finite differences" = 2\n[manual]\nreport = 5\n')
    assert main(["rubric", "--rubric", str(rubric)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert '"backward: db2 matches finite differences" = 2  # set in the rubric; public' in lines
    assert "# backward: 17 points" in lines
    assert "# maximum: 97 automatic + 15 by hand = 112 points" in lines and "731" not in text


# ---- reruns: the rubric's maximum, and the logs -------------------------------------------------------------------

from tests.test_batch import fake_class  # noqa: E402,F401 - the fixture: a class graded by a fake worker


@pytest.mark.slow
def test_a_rubric_edit_that_changes_the_maximum_asks_for_force(fake_class, tmp_path):  # noqa: F811 - the fixture
    import dataclasses

    from grader.batch.grade_all import BatchOptions, grade_class

    folder, worker = fake_class
    for name in ("carol", "dave", "erin"):
        (folder / f"{name}.ipynb").unlink()
    rubric = tmp_path / "rubric.toml"
    rubric.write_text("[thresholds]\nattempts = 2\n")
    opts = BatchOptions(folder, tmp_path / "out", jobs=2, worker=worker, rubric=rubric)
    assert grade_class(opts, stream=io.StringIO()).graded == 2
    log = (tmp_path / "out" / ".batch" / "logs" / "alice.log").read_text()
    assert "status:  graded, 25/25" in log and "results: alice/results.json" in log
    rubric.write_text('[thresholds]\nattempts = 3\n')  # the same maximum: no question asked
    assert grade_class(opts, stream=io.StringIO()).graded == 2
    rubric.write_text('[points]\n"backward: db2 matches finite differences" = 2\n')
    with pytest.raises(ConfigError, match="maximum changed from 100 to 97 points"):
        grade_class(opts, stream=io.StringIO())
    assert grade_class(dataclasses.replace(opts, force=True), stream=io.StringIO()).graded == 2
