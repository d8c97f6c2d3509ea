"""The hand-grading server over real HTTP, without a browser: what it refuses (no token, a foreign host, a change
without JSON or token or from another site, points over the maximum, a stale version), the headers every answer
carries, the escaping of a hostile answer, names hidden until asked, and the rebuild into the batch's files.

The batch is made with the batch's own writers (roster, rows, answers), so no submission needs grading here."""

from __future__ import annotations

import csv
import http.client
import json
import threading
from pathlib import Path

import pytest

from grader.course.answers import answers_path, save_answers
from grader.course.book import Row, State
from grader.course.build import Entry, save_roster
from grader.notebook.manual import ManualItem
from grader.grading.rubric import load_rubric
from grader.handgrade.server import make_server
from grader.handgrade.session import Session
from tests.test_course_class import RUBRIC

HOSTILE = 'Since $y_{nk} - t_{nk}$ <script>alert("x")</script><img src=x onerror=alert(1)> and \\(a<b\\)'
STUDENTS = ("ann", "ben")
TOKEN = "the-test-token-0123456789"


def make_batch(out: Path) -> None:
    save_roster(out, [Entry(s, f"{s}.ipynb", user_id=str(100 + n)) for n, s in enumerate(STUDENTS)])
    state = State(out / ".batch" / "state.jsonl")
    for s in STUDENTS:
        state.append(Row(s, f"{s}.ipynb", "0" * 64, "graded", 90.0, 100.0,
                         manual=(("derivation", "metadata"), ("report", "metadata"))))
        save_answers(answers_path(out / s), (ManualItem("derivation", "Derivation", HOSTILE, 3),
                                                       ManualItem("report", "Report", "It learns XOR.", 20)))


@pytest.fixture
def app(tmp_path):
    rubric = tmp_path / "rubric.toml"
    rubric.write_text(RUBRIC)
    out = tmp_path / "out"
    make_batch(out)
    session = Session(out, load_rubric(rubric))
    server = make_server(session, TOKEN, 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield out, server.server_address[1], session
    finally:
        server.shutdown()
        server.server_close()
        session.close()


def ask(port: int, method: str, path: str, body: object = None, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    sent = {"Content-Type": "application/json"} if data is not None else {}
    connection.request(method, path, body=data, headers={**sent, **(headers or {})})
    reply = connection.getresponse()
    text = reply.read().decode()
    connection.close()
    return reply.status, dict(reply.getheaders()), (json.loads(text) if text.startswith("{") else text)


def keys(port: int) -> list[str]:
    return [s["key"] for s in ask(port, "GET", f"/{TOKEN}/api/state")[2]["subs"]]


def test_without_the_token_or_from_another_host_everything_is_refused(app):
    _, port, _ = app
    for path in ("/", "/wrong/", f"/{TOKEN[:-1]}/api/state", "/favicon.ico"):
        status, headers, reply = ask(port, "GET", path)
        assert status == 403 and "only the URL with its token" in str(reply), path
        assert "default-src 'none'" in headers["Content-Security-Policy"]
    status, _, text = ask(port, "GET", f"/{TOKEN}/", headers={"Host": f"rebound.example:{port}"})
    assert status == 403 and "is not this server's" in text
    status, headers, page = ask(port, "GET", f"/{TOKEN}/", headers={"Host": f"localhost:{port}"})
    assert status == 200 and '<script src="app.js"' in page
    assert "script-src 'self'" in headers["Content-Security-Policy"] and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer" and headers["Cache-Control"] == "no-store"
    status, headers, _ = ask(port, "GET", f"/{TOKEN}")
    assert status == 308 and headers["Location"] == f"/{TOKEN}/"


def test_changes_need_json_the_token_in_the_body_and_this_origin(app):
    _, port, session = app
    key = keys(port)[0]
    change = {"item": "derivation", "key": key, "version": 0, "points": 7, "comment": ""}
    status, _, reply = ask(port, "POST", f"/{TOKEN}/api/grade", change)
    assert status == 403 and "repeat the token" in reply["error"]  # a form on another site cannot know it
    status, _, _ = ask(port, "POST", f"/{TOKEN}/api/grade", json.dumps({**change, "token": TOKEN}).encode(),
                       headers={"Content-Type": "text/plain"})
    assert status == 415
    status, _, reply = ask(port, "POST", f"/{TOKEN}/api/grade", {**change, "token": TOKEN},
                           headers={"Origin": "http://evil.example"})
    assert status == 403 and "another site" in reply["error"]
    assert session.store.grade(session.by_key[key].student, "derivation").version == 0  # none of them stored
    status, _, reply = ask(port, "POST", f"/{TOKEN}/api/grade", {**change, "token": TOKEN},
                           headers={"Origin": f"http://127.0.0.1:{port}"})
    assert status == 200 and reply["grade"]["points"] == 7 and reply["grade"]["version"] == 1


def test_points_over_the_maximum_and_a_stale_version_are_refused_clearly(app):
    _, port, session = app
    key = keys(port)[1]
    student = session.by_key[key].student
    over = {"token": TOKEN, "item": "report", "key": key, "version": 0, "points": "10.5", "comment": "x"}
    status, _, reply = ask(port, "POST", f"/{TOKEN}/api/grade", over)
    assert status == 400 and reply["error"] == "points 10.5 are over the maximum of 10 for 'report'"
    status, _, reply = ask(port, "POST", f"/{TOKEN}/api/grade", {**over, "points": "ten"})
    assert status == 400 and reply["error"] == "points 'ten' is not a number"
    assert session.store.grade(student, "report").version == 0 and session.store.history() == []
    ok = ask(port, "POST", f"/{TOKEN}/api/grade", {**over, "points": "7,5"})  # a decimal comma
    assert ok[0] == 200 and ok[2]["grade"]["points"] == 7.5
    status, _, reply = ask(port, "POST", f"/{TOKEN}/api/grade", {**over, "points": 3})  # version 0 again: stale
    assert status == 409 and "changed meanwhile" in reply["error"]
    assert session.store.grade(student, "report").points == 7.5


def test_a_hostile_answer_arrives_escaped_and_names_only_when_asked(app):
    _, port, session = app
    key = keys(port)[0]
    reply = ask(port, "GET", f"/{TOKEN}/api/grade?item=derivation&key={key}")[2]
    assert "name" not in reply and session.by_key[key].student not in json.dumps(reply)
    answer = reply["answer"]
    assert "<script" not in answer and "<img" not in answer and "&lt;script&gt;" in answer
    assert answer.count("<math") == 2  # both formulas as MathML; a<b inside math stays text
    named = ask(port, "GET", f"/{TOKEN}/api/grade?item=derivation&key={key}&reveal=1")[2]
    assert named["name"] == session.by_key[key].student


def test_publish_writes_the_csv_and_the_lms_files_like_merge_hand_grades(app):
    out, port, session = app
    key = keys(port)[0]
    student = session.by_key[key].student
    rubric = ask(port, "POST", f"/{TOKEN}/api/rubric", {"token": TOKEN, "item": "derivation", "id": None,
                                                         "version": 0, "text": "no sum over k", "delta": "-3"})[2]
    item = rubric["rubric"][0]
    ask(port, "POST", f"/{TOKEN}/api/apply", {"token": TOKEN, "item": "derivation", "key": key, "version": 0,
                                              "rubric": item["id"], "on": True})
    status, _, reply = ask(port, "POST", f"/{TOKEN}/api/publish", {"token": TOKEN})
    assert status == 200 and reply["status"] == "files up to date"
    rows = {(r["student"], r["item"]): r for r in csv.DictReader(open(out / "hand_grades.csv"))}
    assert (rows[(student, "derivation")]["points"], rows[(student, "derivation")]["comment"]) == (
        "7", "no sum over k (-3)")
    canvas = {r[0]: r for r in csv.reader(open(out / "canvas_import.csv"))}
    assert canvas[student][5] == "97" and canvas[next(s for s in STUDENTS if s != student)][5] == "90"


def test_a_batch_without_kept_answers_says_where_to_read_them(tmp_path):
    rubric = tmp_path / "rubric.toml"
    rubric.write_text(RUBRIC)
    out = tmp_path / "out"
    make_batch(out)
    answers_path(out / "ben").unlink()  # graded by a grader that kept no answers
    session = Session(out, load_rubric(rubric))
    try:
        ben = next(s for s in session.subs if s.student == "ben")
        items = {i.id: i for i in session.items}
        answer, note = ben.answer(items["derivation"])
        assert answer is None and "kept no copy of the answer" in note and "ben" not in note  # names hidden
        assert "the student's feedback_ta.html" in note
        assert "ben/feedback_ta.html" in ben.answer(items["derivation"], reveal=True)[1]
        answer, note = next(s for s in session.subs if s.student == "ann").answer(items["report"])
        assert answer.text == "It learns XOR." and note == ""
    finally:
        session.close()


def test_a_csv_edited_while_the_server_runs_is_no_longer_overwritten(app, capsys):
    out, port, session = app
    key = keys(port)[0]
    assert ask(port, "POST", f"/{TOKEN}/api/publish", {"token": TOKEN})[2]["status"] == "files up to date"
    path = out / "hand_grades.csv"
    rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
    rows[0]["points"], rows[0]["comment"] = "1", "typed while the app ran"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    edited = path.read_text()
    change = {"token": TOKEN, "item": "report", "key": key, "version": 0, "points": 6, "comment": "in the app"}
    assert ask(port, "POST", f"/{TOKEN}/api/grade", change)[0] == 200
    status = ask(port, "POST", f"/{TOKEN}/api/publish", {"token": TOKEN})[2]["status"]
    assert "was edited while the app runs" in status and "--import" in status and "--discard-csv" in status
    assert ask(port, "GET", f"/{TOKEN}/api/status")[2]["status"] == status  # what the page shows
    assert path.read_text() == edited  # the edit kept, not overwritten
    assert session.store.grade(session.by_key[key].student, "report").points == 6  # the app's change kept too
    assert "was edited while the app runs" in capsys.readouterr().err  # and the terminal says so


def test_malformed_bodies_and_wrong_types_get_a_clear_refusal_and_change_nothing(app):
    _, port, session = app
    key = keys(port)[0]
    base = {"token": TOKEN, "item": "report", "key": key, "version": 0, "points": 3, "comment": ""}
    raw = json.dumps(base).encode()
    cases = [  # (body, what the refusal says)
        (raw.replace(b'"version": 0', b'"version": Infinity'), "version must be a whole number"),
        (raw.replace(b'"version": 0', b'"version": 1e400'), "version must be a whole number"),
        ({**base, "version": 0.0}, "version must be a whole number"),
        ({**base, "version": True}, "version must be a whole number from 0, not true"),
        ({**base, "version": 10**30}, "version must be a whole number"),
        ({**base, "comment": None}, "comment must be text, not null"),
        ({**base, "comment": ["a"]}, "comment must be text, not a list"),
        ({**base, "points": [3]}, "points must be a number, not a list"),
        ({**base, "points": -1}, "points -1 would be below 0 for 'report'"),
        ({**base, "key": 1}, "no such submission"),
        ({**base, "item": None}, "item must be text, not null"),
        ({**base, "token": None}, "must repeat the token"),
        (b"[" * 60_000, "this body is not JSON"),  # deeper than the parser recurses
        (b"\xff\xfe{", "this body is not JSON"),
        (b"[1, 2]", "a change is a JSON object"),
    ]
    for body, said in cases:
        status, _, reply = ask(port, "POST", f"/{TOKEN}/api/grade", body)
        assert status in (400, 403, 404) and said in reply["error"], (body[:60], reply)
    on = {"token": TOKEN, "item": "report", "key": key, "version": 0, "rubric": 1, "on": "false"}
    status, _, reply = ask(port, "POST", f"/{TOKEN}/api/apply", on)
    assert status == 400 and reply["error"] == "on must be true or false, not text"
    status, _, reply = ask(port, "POST", f"/{TOKEN}/api/rubric", {"token": TOKEN, "item": "report", "id": "1",
                                                                   "text": "x", "delta": 1})
    assert status == 400 and "id must be a whole number from 0 (or null), not text" in reply["error"]
    status, _, reply = ask(port, "POST", f"/{TOKEN}/api/grade", {**base}, headers={"Origin": "null"})
    assert status == 403 and "another site" in reply["error"]  # a sandboxed frame or a file:// page
    status, _, reply = ask(port, "POST", f"/{TOKEN}/api/grade", {**base}, headers={"Content-Length": "x"})
    assert status == 400 and "Content-Length" in reply["error"]
    status, _, reply = ask(port, "POST", f"/{TOKEN}/api/grade", b"{" + b" " * 200_000 + b"}")
    assert status == 413 and "1 to 65536 bytes" in reply["error"]  # read to the end, so the reply arrives
    status, _, reply = ask(port, "GET", f"/{TOKEN}/api/grade?item=report")
    assert status == 404 and "no such submission" in reply["error"]
    assert session.store.grade(session.by_key[key].student, "report").version == 0
    assert session.store.history() == []


def test_a_locked_database_is_a_clear_refusal_not_a_dropped_connection(app, monkeypatch):
    import sqlite3

    from grader.handgrade import store as store_module

    out, port, session = app
    monkeypatch.setattr(store_module, "BUSY_SECONDS", 0.2)
    key = keys(port)[0]
    holder = sqlite3.connect(out / ".batch" / "hand_grades.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    try:
        change = {"token": TOKEN, "item": "report", "key": key, "version": 0, "points": 3, "comment": ""}
        status, _, reply = ask(port, "POST", f"/{TOKEN}/api/grade", change)
        assert status == 503 and "could not be used (database is locked); nothing was changed" in reply["error"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert ask(port, "POST", f"/{TOKEN}/api/grade", change)[0] == 200  # once it is free, the change goes in


def test_a_client_that_stops_sending_is_dropped_not_waited_for(app, monkeypatch):
    import socket

    from grader.handgrade import server as server_module

    _, port, _ = app
    assert server_module.Handler.timeout == server_module.TIMEOUT == 30  # the server's own setting
    monkeypatch.setattr(server_module.Handler, "timeout", 0.3)  # the same code path, without a 30 s wait
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(f"POST /{TOKEN}/api/grade HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())  # never finished
        assert sock.recv(1000) == b""  # the server closed it (a hung server would raise socket.timeout here)


def test_discard_csv_starts_even_when_the_csv_cannot_be_read(tmp_path):
    from grader.course.handgrades import HandGradesError

    rubric_path = tmp_path / "rubric.toml"
    rubric_path.write_text(RUBRIC)
    rubric, out = load_rubric(rubric_path), tmp_path / "out"
    make_batch(out)
    session = Session(out, load_rubric(rubric_path))
    ann = next(s for s in session.subs if s.student == "ann")
    session.store.set_grade("ann", "report", 0, 6, "from the app")
    session.close()
    broken = "student,item,points\nann,report,lots\nzed,nothing,1\n"
    (out / "hand_grades.csv").write_text(broken)
    with pytest.raises(HandGradesError, match="'lots' is not a number"):
        Session(out, rubric).close()
    session = Session(out, rubric, discard_csv=True)
    try:
        assert session.wait(session.publish()) and session.status == "files up to date"
        rows = {(r["student"], r["item"]): r for r in csv.DictReader(open(out / "hand_grades.csv"))}
        assert (rows[("ann", "report")]["points"], rows[("ann", "report")]["comment"]) == ("6", "from the app")
        assert ("zed", "nothing") not in rows and ann.key in session.by_key
        assert (out / ".batch" / "hand_grades.discarded.csv").read_text() == broken  # nothing thrown away
    finally:
        session.close()
    (out / "hand_grades.csv").write_text(broken + "ben,report,also\n")
    Session(out, rubric, discard_csv=True).close()  # discarded a second time: the first copy stays
    assert (out / ".batch" / "hand_grades.discarded.csv").read_text() == broken
    assert (out / ".batch" / "hand_grades.discarded.2.csv").read_text().endswith("ben,report,also\n")


def test_submission_keys_come_from_the_database_secret_not_from_the_names(tmp_path):
    import hashlib

    rubric_path = tmp_path / "rubric.toml"
    rubric_path.write_text(RUBRIC)
    rubric, seen = load_rubric(rubric_path), []
    for batch in ("one", "two", "one"):  # two batches of the same class, the first started twice
        out = tmp_path / batch
        if not out.exists():
            make_batch(out)
        session = Session(out, rubric)
        seen.append({s.student: s.key for s in session.subs})
        session.close()
    assert seen[0] == seen[2]  # stable across restarts: a TA's bookmark of "submission 2" stays the same one
    assert all(seen[0][s] != seen[1][s] for s in STUDENTS)  # another database, other keys
    for s in STUDENTS:  # not a hash anyone with the roster can compute
        assert seen[0][s] not in (hashlib.sha256(f"hand-grade\0{s}".encode()).hexdigest()[:16],
                                  hashlib.sha256(s.encode()).hexdigest()[:16])
