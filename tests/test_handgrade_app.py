"""The hand-grading app end to end, in Debian's headless chromium driven through chromedriver: a real batch graded
by grade-all, the server as a real subprocess, two students graded by keyboard, the server killed with -9 right
after it answered a change and started again (nothing lost: in the app, hand_grades.csv, gradebook_detail.csv,
canvas_import.csv and the feedback page), a rubric item edited once for both, two tabs on one grade, and the
refusals: points over the maximum, a stale version, a wrong token, a foreign host. Then the answer as the page
shows it (Markdown, MathML, hostile HTML inert, the CSP header) and the page's own care: a late reply for a
submission already left is dropped, arrows scroll, typed points survive a rubric click, stored points stay exact.
Each test grades its own copy of the batch."""

from __future__ import annotations

import csv
import json
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.test_course_class import ON_TIME, RUBRIC, deleted_derivation, lost_marking, reference, write_zip

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.sandbox]

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1300,900")
STUDENTS = ("refsol", "danlost", "gilgone")
WAIT = 30  # seconds for one step of the page on a loaded machine


def grader(*args: str, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, timeout=900,
                          stdin=subprocess.DEVNULL, **kwargs)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def batch(tmp_path_factory, chromium_and_driver):
    """Three students graded by grade-all: the reference, one whose derivation lost its marking, one without it."""
    tmp = tmp_path_factory.mktemp("handgrade")
    rubric = tmp / "rubric.toml"
    rubric.write_text(RUBRIC)
    files = {"refsol_1001_5001_backprop.ipynb": ("refsol", reference(), ON_TIME),
             "danlost_1006_5006_backprop.ipynb": ("danlost", reference(lost_marking), ON_TIME),
             "gilgone_1007_5007_backprop.ipynb": ("gilgone", reference(deleted_derivation), ON_TIME)}
    out = tmp / "out"
    grader("grade-all", str(write_zip(tmp / "submissions.zip", files)), "--out", str(out), "--rubric", str(rubric),
           "--timeout", "120")
    return tmp, out, rubric


def copy_of(batch, tmp_path: Path) -> tuple[Path, Path]:
    """A fresh copy of the graded batch, not yet hand graded (no database): each test starts from the same one."""
    _, pristine, rubric = batch
    out = tmp_path / "out"
    shutil.copytree(pristine, out)
    return out, rubric


def wait_status(server: "Server", wanted: str) -> str:
    """Poll the server's status until it says `wanted` (a bounded wait); fail with what it says instead."""
    deadline, status = time.monotonic() + 120, ""
    while time.monotonic() < deadline:
        status = server.api("api/status")[1]["status"]
        if status == wanted:
            return status
        time.sleep(0.2)
    pytest.fail(f"the server never said {wanted!r}; it says {status!r}")


class Server:
    """`python -m grader hand-grade OUT --no-browser` as a child process; url is what it printed."""

    def __init__(self, out: Path, rubric: Path, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "grader", "hand-grade", str(out), "--rubric", str(rubric),
                                      "--no-browser", "--port", "0", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        self.printed: queue.Queue[str] = queue.Queue()
        self._drainer = threading.Thread(target=self._drain, daemon=True)  # the pipe never fills; lines arrive whole
        self._drainer.start()
        self.url, said, deadline = "", [], time.monotonic() + 120
        while not self.url and time.monotonic() < deadline:
            try:
                said.append(self.printed.get(timeout=1))
            except queue.Empty:
                continue
            self.url = said[-1].split("open: ", 1)[1].strip() if said[-1].startswith("open: ") else ""
        if not self.url:
            self.proc.kill()  # never left running behind a failed test
            self.proc.wait(30)
        assert self.url, "".join(said)

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self.printed.put(line)

    def api(self, path: str, body: dict | None = None, *, url: str = "") -> tuple[int, dict]:
        data = None if body is None else json.dumps({"token": self.token, **body}).encode()
        request = urllib.request.Request((url or self.url) + path, data=data,
                                         headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:
                return reply.status, json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            text = exc.read().decode()
            return exc.code, json.loads(text) if text.startswith("{") else {"error": text}

    @property
    def token(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[1]

    def names(self, item: str = "derivation") -> dict[int, str]:
        """Submission number -> student, asked of the app the way its "show names" box asks."""
        state = self.api("api/state")[1]
        return {s["number"]: self.api(f"api/grade?item={item}&key={s['key']}&reveal=1")[1]["name"]
                for s in state["subs"]}

    def rest_of_output(self) -> list[str]:
        """What it printed that was not read yet, to its end (once it has stopped)."""
        self._drainer.join(60)
        lines = []
        while not self.printed.empty():
            lines.append(self.printed.get())
        return lines

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(120)


@pytest.fixture
def browser(tmp_path, chromium_and_driver):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = chromium_and_driver
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def text(driver, element_id: str) -> str:
    return driver.find_element("id", element_id).text


def wait_for(driver, element_id: str, wanted: str) -> str:
    """Wait until the element's text holds `wanted`; fail with what it says instead."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(driver, WAIT).until(lambda d: wanted in d.find_element("id", element_id).text)
    except TimeoutException:
        pytest.fail(f"#{element_id} never said {wanted!r}; it says {text(driver, element_id)!r}")
    return text(driver, element_id)


def keys(driver, *typed: str) -> None:
    """Type into whatever has the focus, as a person at the keyboard does."""
    for chunk in typed:
        driver.switch_to.active_element.send_keys(chunk)


def open_app(driver, url: str) -> None:
    driver.get(url)
    wait_for(driver, "who", "Submission 1 of 3")


def grade_two_by_keyboard(driver) -> None:
    from selenium.webdriver.common.keys import Keys

    driver.find_element("id", "rubric-text").send_keys("sign error in the last step")
    driver.find_element("id", "rubric-delta").send_keys("-2", Keys.ENTER)
    wait_for(driver, "rubric", "sign error in the last step (−2)")
    driver.find_element("tag name", "body").click()  # the focus back on the page, off the form
    keys(driver, "g", "8", Keys.ENTER)
    wait_for(driver, "message", "Saved submission 1")
    keys(driver, "c", "clear chain rule", Keys.ENTER)
    wait_for(driver, "feedback", "clear chain rule")
    keys(driver, "1")
    wait_for(driver, "total", "6 of 10")  # typed 8, then the rubric item's -2
    keys(driver, "j")
    wait_for(driver, "who", "Submission 2 of 3")
    keys(driver, "1")
    wait_for(driver, "total", "8 of 10")  # nothing typed: the maximum less 2
    keys(driver, "c", "good", Keys.ENTER)
    wait_for(driver, "feedback", "sign error in the last step (-2); good")


def csv_rows(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    return {(r["student"], r["item"]): r for r in csv.DictReader(open(path, newline="", encoding="utf-8"))}


def test_two_students_graded_by_keyboard_survive_a_killed_server(batch, browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    out, rubric = copy_of(batch, tmp_path)
    server = Server(out, rubric)
    try:
        open_app(browser, server.url)
        assert text(browser, "name") == "" and not any(s in browser.page_source for s in STUDENTS)  # anonymous
        grade_two_by_keyboard(browser)
        first, second, third = (server.names()[n] for n in (1, 2, 3))
        keys(browser, "j")
        wait_for(browser, "who", "Submission 3 of 3")
        keys(browser, "g", "12", Keys.ENTER)
        assert "points 12 are over the maximum of 10" in wait_for(browser, "message", "Not saved")
        key = server.api("api/state")[1]["subs"][2]["key"]
        grade = server.api(f"api/grade?item=derivation&key={key}")[1]["grade"]
        assert grade["points"] is None and grade["version"] == 0  # nothing stored
        status, reply = server.api("api/grade", {"item": "derivation", "key": key, "version": 0, "points": 3,
                                                 "comment": "killed right after this"})
        assert status == 200 and reply["grade"]["points"] == 3
    finally:  # killed the moment the change was answered: before its rebuild of the files could run
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL

    server = Server(out, rubric)
    try:
        wait_status(server, "files up to date")  # the restart rebuilds every file from the database
        hand = csv_rows(out / "hand_grades.csv")
        assert (hand[(first, "derivation")]["points"], hand[(first, "derivation")]["comment"]) == (
            "6", "sign error in the last step (-2); clear chain rule")
        assert (hand[(second, "derivation")]["points"], hand[(second, "derivation")]["comment"]) == (
            "8", "sign error in the last step (-2); good")
        assert (hand[(third, "derivation")]["points"], hand[(third, "derivation")]["comment"]) == (
            "3", "killed right after this")
        detail = {r["student"]: r for r in csv.DictReader(open(out / "gradebook_detail.csv"))}
        canvas = {r[0]: r for r in csv.reader(open(out / "canvas_import.csv"))}
        for student, got in ((first, 6), (second, 8), (third, 3)):
            assert detail[student]["hand: derivation"] == str(got)
            assert float(canvas[student][5]) == float(detail[student]["automatic"]) + got
        assert "clear chain rule" in (out / first / "feedback.html").read_text()
        assert "killed right after this" in (out / third / "feedback.html").read_text()

        open_app(browser, server.url)  # a new server: a new token, and everything still there
        assert browser.find_element("id", "points").get_attribute("value") == "6"  # the typed total, item in
        assert text(browser, "total") == "6 of 10"
        assert browser.find_element("id", "comment").get_attribute("value") == "clear chain rule"

        edit = browser.find_element("css selector", "#rubric button.edit")
        edit.click()
        field = browser.find_element("css selector", "#rubric input.edit-text")
        field.clear()
        field.send_keys("sign slip in the last step")
        delta = browser.find_element("css selector", "#rubric input.edit-delta")
        delta.clear()
        delta.send_keys("-3", Keys.ENTER)
        wait_for(browser, "feedback", "sign slip in the last step (-3); clear chain rule")
        assert text(browser, "total") == "5 of 10"
        browser.find_element("tag name", "body").click()
        keys(browser, "j")
        wait_for(browser, "feedback", "sign slip in the last step (-3); good")
        assert text(browser, "total") == "7 of 10"
        browser.find_element("id", "publish").click()
        wait_for(browser, "message", "Published: files up to date")
        hand = csv_rows(out / "hand_grades.csv")
        assert [hand[(s, "derivation")]["points"] for s in (first, second)] == ["5", "7"]
        assert hand[(second, "derivation")]["comment"] == "sign slip in the last step (-3); good"

        two_tabs(browser, server.url)
        refusals(browser, server, out)
    finally:
        assert server.stop() == 0  # SIGTERM: a clean stop


def two_tabs(browser, url: str) -> None:
    """Two tabs on the same grade: the second to save, on the version it loaded, is told and shown the first's."""
    from selenium.webdriver.common.keys import Keys

    first_tab = browser.current_window_handle
    keys(browser, "k")
    wait_for(browser, "who", "Submission 1 of 3")
    browser.switch_to.new_window("tab")
    open_app(browser, url)
    keys(browser, "g", "4", Keys.ENTER)  # g selects the points, so typing replaces them
    wait_for(browser, "message", "Saved submission 1")
    assert text(browser, "total") == "4 of 10"
    browser.close()
    browser.switch_to.window(first_tab)
    assert text(browser, "total") == "5 of 10"  # this tab still shows the grade as it loaded it
    keys(browser, "g", "9", Keys.ENTER)
    assert "changed meanwhile" in wait_for(browser, "message", "Not saved")
    assert text(browser, "total") == "4 of 10"  # the other tab's grade, now shown here, not overwritten


def refusals(browser, server: Server, out: Path) -> None:
    """A stale tab gets a conflict, a wrong token or a foreign host a 403, and none of them change anything."""
    key = server.api("api/state")[1]["subs"][0]["key"]
    assert server.api("api/publish", {})[1]["status"] == "files up to date"  # the last tab's change written out
    before = (out / "hand_grades.csv").read_text()
    status, reply = server.api("api/grade", {"item": "derivation", "key": key, "version": 0, "points": 1,
                                             "comment": "from a stale tab"})
    assert status == 409 and "changed meanwhile" in reply["error"]
    wrong = server.url.replace(server.token, "not-the-token")
    status, reply = server.api("api/state", url=wrong)
    assert status == 403 and "only the URL with its token" in reply["error"]
    browser.get(wrong)
    assert "403 Forbidden" in browser.find_element("tag name", "body").text
    request = urllib.request.Request(server.url + "api/grade", method="POST", headers={
        "Content-Type": "application/json"}, data=json.dumps({"item": "derivation", "key": key, "version": 3,
                                                              "points": 1, "comment": ""}).encode())
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)  # the right URL, but no token in the body: not a change
    assert refused.value.code == 403
    port = server.url.split(":")[2].split("/")[0]
    foreign = urllib.request.Request(server.url + "api/state", headers={"Host": f"rebound.example:{port}"})
    with pytest.raises(urllib.error.HTTPError) as rebound:
        urllib.request.urlopen(foreign, timeout=30)
    assert rebound.value.code == 403
    grade = server.api(f"api/grade?item=derivation&key={key}")[1]["grade"]
    assert grade["points"] == 4 and (out / "hand_grades.csv").read_text() == before


def test_a_hand_edit_of_the_csv_stops_the_start_until_a_side_is_chosen(batch, tmp_path):
    out, rubric = copy_of(batch, tmp_path)
    assert Server(out, rubric).stop() == 0  # a first start made the database and wrote the file
    path = out / "hand_grades.csv"
    rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
    for row in rows:
        if (row["student"], row["item"]) == ("gilgone", "report"):
            row["points"], row["comment"] = "4", "typed in a spreadsheet"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    refused = subprocess.run([sys.executable, "-m", "grader", "hand-grade", str(out), "--rubric", str(rubric),
                              "--no-browser"], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert refused.returncode == 2 and "1 row(s) that differ from the database" in refused.stderr
    assert "(gilgone / report)" in refused.stderr
    assert "--import" in refused.stderr and "--discard-csv" in refused.stderr
    server = Server(out, rubric, "--import", str(path))
    try:
        key = next(s["key"] for s in server.api("api/state")[1]["subs"] if server.names("report")[s["number"]]
                   == "gilgone")
        grade = server.api(f"api/grade?item=report&key={key}")[1]["grade"]
        assert (grade["points"], grade["comment"]) == (4, "typed in a spreadsheet")
    finally:
        assert server.stop() == 0
    assert csv_rows(path)[("gilgone", "report")]["points"] == "4"


HOSTILE = ("**Chain rule**: since $y_{nk} - t_{nk}$ is the error,\n\n"
           "$$\\frac{\\partial E}{\\partial a_{nk}} = y_{nk} - t_{nk}$$\n\n"
           "<script>document.title = 'ran'</script><img src=x onerror=\"document.title = 'ran'\">"
           "\n\n- a <b>list</b>\n- `code`")
HOLD = """
const held = arguments[0];
window.realFetch = window.realFetch || window.fetch.bind(window);
window.release = null;
window.delivered = false;
window.fetch = async (url, options) => {
  const reply = await window.realFetch(url, options);
  if (!String(url).includes("api/grade?") || !String(url).includes(held)) return reply;
  const body = await reply.text();
  await new Promise((resolve) => { window.release = resolve; });
  window.delivered = true;
  return new Response(body, {status: reply.status, headers: {"Content-Type": "application/json"}});
};
"""


def test_the_answer_as_shown_and_the_page_keeping_to_the_submission_on_screen(batch, browser, tmp_path):
    from dataclasses import replace

    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from grader.course.answers import answers_path, load_answers, save_answers

    out, rubric = copy_of(batch, tmp_path)
    for student in STUDENTS:  # every derivation is the hostile one (the batch's own writer)
        kept = load_answers(out, student)
        items = tuple(replace(m, text=HOSTILE, found="metadata", note="") if m.id == "derivation" else m
                      for m in kept.values())
        if "derivation" not in kept:
            items += (replace(next(iter(kept.values())), id="derivation", title="Derivation", text=HOSTILE),)
        save_answers(answers_path(out / student), items)
    server = Server(out, rubric)
    try:
        with urllib.request.urlopen(server.url, timeout=30) as page:
            csp = page.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        open_app(browser, server.url)
        answer = browser.find_element("id", "answer")
        assert len(answer.find_elements("tag name", "math")) == 2  # both formulas as MathML
        assert answer.find_element("tag name", "strong").text == "Chain rule"  # Markdown, rendered
        assert [li.text for li in answer.find_elements("css selector", "ul li")] == ["a <b>list</b>", "code"]
        assert "<script>document.title = 'ran'</script><img src=x" in answer.text  # hostile HTML shown as text
        assert not answer.find_elements("css selector", "script, img, b") and browser.title == "Hand grading"
        style = browser.execute_script("const s = getComputedStyle(arguments[0]); return [s.overflowY, s.contain];",
                                       answer)
        assert style == ["auto", "paint"]

        keys_of = [s["key"] for s in server.api("api/state")[1]["subs"]]
        browser.find_element("tag name", "body").send_keys(Keys.ARROW_DOWN, Keys.ARROW_RIGHT)
        assert text(browser, "who").startswith("Submission 1 of 3")  # arrows scroll; they do not move on

        browser.find_element("id", "rubric-text").send_keys("no sum over k")
        browser.find_element("id", "rubric-delta").send_keys("-2", Keys.ENTER)
        wait_for(browser, "rubric", "no sum over k (−2)")
        browser.find_element("id", "points").send_keys("7")  # typed, not saved with Enter...
        browser.find_element("css selector", "#rubric button.apply").click()  # ...then a rubric item clicked
        wait_for(browser, "total", "5 of 10")
        first = server.api(f"api/grade?item=derivation&key={keys_of[0]}")[1]["grade"]
        assert (first["points"], len(first["applied"])) == (5, 1)

        browser.execute_script(HOLD, keys_of[1])  # the reply for submission 2 is held back...
        browser.find_element("tag name", "body").click()
        keys(browser, "j")
        WebDriverWait(browser, WAIT).until(lambda d: d.execute_script("return window.release !== null"))
        keys(browser, "j")  # ...while the TA moves on to submission 3
        wait_for(browser, "who", "Submission 3 of 3")
        browser.execute_script("window.release()")
        WebDriverWait(browser, WAIT).until(lambda d: d.execute_script("return window.delivered"))
        browser.execute_async_script("setTimeout(arguments[arguments.length - 1], 300)")  # the late reply handled
        assert text(browser, "who").startswith("Submission 3 of 3")  # dropped: it would show submission 2
        assert browser.find_element("tag name", "body").get_attribute("data-key") == keys_of[2]
        keys(browser, "1")
        wait_for(browser, "total", "8 of 10")
        grades = [server.api(f"api/grade?item=derivation&key={k}")[1]["grade"] for k in keys_of]
        assert [len(g["applied"]) for g in grades] == [1, 0, 1]  # submission 3 got it, not submission 2
        browser.execute_script("window.fetch = window.realFetch")

        status, _ = server.api("api/grade", {"item": "report", "key": keys_of[2], "version": 0, "points": 7.3333,
                                             "comment": ""})
        assert status == 200
        keys(browser, "]")  # the next question, the report
        WebDriverWait(browser, WAIT).until(
            lambda d: d.find_element("id", "points").get_attribute("value") == "7.3333")  # as stored, not 7.333
        keys(browser, "c", "clear", Keys.ENTER)
        wait_for(browser, "feedback", "clear")
        report = server.api(f"api/grade?item=report&key={keys_of[2]}")[1]["grade"]
        assert (report["points"], report["comment"]) == (7.3333, "clear")  # a comment saved alone keeps them
    finally:
        assert server.stop(signal.SIGKILL) == -signal.SIGKILL
    keys(browser, "k")  # the server is gone: the page says so instead of failing in silence
    assert "Could not load this submission" in wait_for(browser, "message", "Could not load")


def test_a_csv_edited_while_the_server_runs_is_kept_and_said_in_the_terminal(batch, tmp_path):
    out, rubric = copy_of(batch, tmp_path)
    server = Server(out, rubric)
    try:
        wait_status(server, "files up to date")
        path = out / "hand_grades.csv"
        edited = path.read_text(encoding="utf-8").replace("\n", "\r\n")  # re-saved by a spreadsheet
        path.write_bytes(edited.encode())
        key = server.api("api/state")[1]["subs"][0]["key"]
        status, _ = server.api("api/grade", {"item": "report", "key": key, "version": 0, "points": 2,
                                             "comment": "meanwhile"})
        assert status == 200
        said = server.api("api/publish", {})[1]["status"]
        assert "was edited while the app runs" in said and "--import" in said
    finally:
        assert server.stop() == 0
    printed = server.rest_of_output()
    assert sum("was edited while the app runs" in line for line in printed) == 2, printed  # found, and at the stop
    assert path.read_bytes() == edited.encode()
