"""The feedback pages: what they show, that hostile text stays text, the pictures, and a real browser's rendering."""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import signal
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from grader import __version__
from grader.report import drawing, feedback, pictures
from grader.report import text as text_report  # as a module: a bare test_output_text would be collected as a test
from grader.report.feedback import draw_pictures, render_feedback, write_feedback
from grader.grading.results import GradeReport, TrainedModel
from grader.sandbox.outcomes import CellOutcome, NotebookRun
from grader.notebook.manual import ManualItem
from grader.grading.results import TestResult as Result  # not collected by pytest as a test class
from grader.grading.rubric import Rubric
from grader.backprop.xor import sample_xor

HOSTILE = '<script>alert("x")</script><img src="https://evil.example/x.png"><a href="http://evil.example">'
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def xor_params() -> dict[str, np.ndarray]:
    """A ReLU network that solves XOR exactly: class 1 iff |x1 - x2| > |x1 + x2|, i.e. the signs differ."""
    return {"W1": np.array([[1.0, -1, 1, -1], [1, -1, -1, 1]]), "b1": np.zeros(4),
            "W2": np.array([[-3.0], [-3], [3], [3]]), "b2": np.zeros(1)}


def a_model() -> TrainedModel:
    epochs = np.arange(30)
    return TrainedModel(params=xor_params(), history={"train_loss": list(0.7 * np.exp(-epochs / 8)),
                                                      "val_loss": list(0.72 * np.exp(-epochs / 8.5))})


LOST = Result("backward: dW1 matches finite differences", "backward", 0.0, 5.0, False,
                  message="dW1 differs from centered finite differences", expected="shape (2, 16): [[0.1 0.2 ...]]",
                  actual="shape (2, 16): [[0.2 0.4 ...]] " + HOSTILE, hint="Divide by the batch size: the mean loss.",
                  traceback='  File "<cell 12>", line 40, in backward_prop\n    dZ2 = A2 - y\nValueError: ' + HOSTILE)
KEPT = Result("softmax: rows sum to 1", "softmax", 5.0, 5.0, True, public=True)
DERIVATION = "dE/da = y - t, because $\\sum_j t_{nj} = 1$ " + HOSTILE


def a_report(**changes) -> GradeReport:
    fields = dict(student="alice", submission="alice.ipynb", sha256="ab" * 32, status="graded", score=5.0,
                  max_score=10.0, tests=(KEPT, LOST), sandbox_mode="bwrap", grader_version=__version__,
                  notebook=NotebookRun(cells=(CellOutcome(1, "ok"), CellOutcome(
                      14, "error", 1.5, "NameError", "name 'foo' is not defined", "NameError: " + HOSTILE)),
                      seconds=2.0),
                  manual=(ManualItem("derivation", "Problem 1: derivation", DERIVATION, 3),), model=a_model())
    fields.update(changes)
    return GradeReport(**fields)


class Tags(HTMLParser):
    """Every start tag with its attributes, and the page's visible text."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def named(self, name: str) -> list[dict]:
        return [attrs for tag, attrs in self.tags if tag == name]


def images(page: str) -> list[np.ndarray]:
    out = []
    for attrs in Tags(page).named("img"):
        prefix = "data:image/png;base64,"
        assert attrs["src"].startswith(prefix)
        png = base64.b64decode(attrs["src"][len(prefix):], validate=True)
        assert png.startswith(PNG_SIGNATURE)
        out.append(matplotlib.image.imread(io.BytesIO(png), format="png"))
    return out


@pytest.fixture(scope="module")
def drawn():
    return draw_pictures(a_report(), Rubric(hidden_seed=11, hidden_size=300))


# --- text for results.json and the terminal ---------------------------------------------------------------------

def test_output_text_of_a_failed_test_has_message_values_hint_and_traceback():
    text = text_report.test_output_text(LOST)
    assert text.startswith("dW1 differs from centered finite differences")
    assert "expected: shape (2, 16): [[0.1 0.2 ...]]" in text and "got:      shape (2, 16): [[0.2 0.4" in text
    assert "hint: Divide by the batch size: the mean loss." in text
    assert text.index("hint:") < text.index("traceback (your code):") < text.index("dZ2 = A2 - y")


def test_output_text_keeps_the_hint_when_the_traceback_is_huge():
    long = Result("loss: finite", "loss", 0, 5, False, message="NaN", hint="Clip the probabilities.",
                      traceback="\n".join(f'  File "<cell 9>", line {i}' for i in range(5000)))
    text = text_report.test_output_text(long)
    assert "hint: Clip the probabilities." in text and len(text) <= text_report.TEXT_CHARS + 100
    assert "line 4999" in text and "line 10\n" not in text  # the end of a traceback is where the error is


def test_output_text_of_a_passed_test():
    assert text_report.test_output_text(KEPT) == "passed"


# --- what the page shows ----------------------------------------------------------------------------------------

def test_the_score_table_has_one_row_per_area_and_the_total():
    page = render_feedback(a_report())
    table = re.search(r'<table class="scores" id="scores">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    cells = [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", r) for r in rows]
    assert cells == [["area", "points", "of"], ["softmax", "5", "5"], ["backward", "0", "5"], ["total", "5", "10"]]


def test_every_lost_point_shows_what_was_checked_the_values_the_hint_and_the_traceback():
    page = render_feedback(a_report())
    section = re.search(r'<section class="test">(.*?)</section>', page, re.S).group(1)
    assert "backward: dW1 matches finite differences" in section and "−5" in section
    assert "What was checked:</b> dW1 matches finite differences" in section
    assert "shape (2, 16): [[0.1 0.2 ...]]" in section and "shape (2, 16): [[0.2 0.4 ...]]" in section
    assert '<div class="hint"><b>Hint:</b> Divide by the batch size: the mean loss.</div>' in section
    assert "dZ2 = A2 - y" in section
    assert page.count('<section class="test">') == 1, "a passed test is not listed as lost"


def test_a_submission_with_no_lost_points_gets_no_hint_box():
    page = render_feedback(a_report(tests=(KEPT,), score=5.0, max_score=5.0))
    assert "every automatic test passed" in page and 'class="hint"' not in page


def test_failed_notebook_cells_and_the_time_limit_are_shown():
    timed = NotebookRun(cells=(CellOutcome(14, "timeout", 60.0),), seconds=300.0, timed_out=True)
    page = render_feedback(a_report(notebook=timed))
    assert "Cell [14]</b> hit its time limit" in page and "overall time limit" in page
    assert "Cell [14]</b> raised NameError" in render_feedback(a_report())


def test_only_the_ta_copy_holds_the_manual_items():
    student, ta = render_feedback(a_report()), render_feedback(a_report(), ta=True)
    escaped_hostile = HOSTILE.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    assert 'id="ta-section"' in ta and "dE/da = y - t, because <math" in ta and escaped_hostile in ta
    assert "<mo>∑</mo>" in ta and "<msub><mi>t</mi>" in ta  # the LaTeX, as MathML
    assert 'id="ta-section"' not in student and "dE/da" not in student
    assert "Problem 1: derivation" in student, "students still learn that the item is graded by hand"


def test_an_ungradable_submission_shows_the_reason_and_no_table():
    report = GradeReport("bob", "bob.ipynb", "", "error", 0.0, 0.0, reason="this notebook is not valid JSON")
    page = render_feedback(report)
    assert "could not be graded:</b> this notebook is not valid JSON" in page and "<table" not in page


# --- hostile text stays text ------------------------------------------------------------------------------------

@pytest.mark.parametrize("ta", [False, True], ids=["student", "ta"])
def test_hostile_text_is_escaped_and_the_page_loads_nothing_from_the_network(drawn, ta):
    page = render_feedback(a_report(), *drawn, ta=ta)
    tags = Tags(page)
    assert not tags.named("script") and not tags.named("a") and not tags.named("link")
    assert all(img["src"].startswith("data:image/png;base64,") for img in tags.named("img"))
    assert len(tags.named("img")) == 2, "only the two pictures are images; the hostile <img> stayed text"
    assert HOSTILE in "".join(tags.text), "the hostile text is shown to the reader, as text"
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", page)
    csp = [m["content"] for m in tags.named("meta") if m.get("http-equiv") == "Content-Security-Policy"]
    assert csp == [feedback.CSP] and "default-src 'none'" in csp[0]


# --- pictures ---------------------------------------------------------------------------------------------------

def test_the_grader_forward_pass_accepts_the_equivalent_shapes_and_rejects_others():
    X, y = sample_xor(400, np.random.default_rng(3))
    base = pictures.probabilities(xor_params(), X)
    assert np.array_equal(base > 0.5, y == 1)
    reshaped = dict(xor_params(), b1=np.zeros((1, 4)), W2=np.array([-3.0, -3, 3, 3]), b2=np.zeros((1, 1)))
    assert np.allclose(pictures.probabilities(reshaped, X), base)
    for broken in (dict(xor_params(), W1=np.ones((3, 4))), dict(xor_params(), b1=np.zeros(5)),
                   dict(xor_params(), W2=[[np.nan]] * 4), {"W1": np.ones((2, 4))}):
        with pytest.raises(pictures.PictureError):
            pictures.probabilities(broken, X)


def test_the_decision_boundary_shows_public_validation_points_and_the_hidden_accuracy_only_as_a_number(drawn):
    shown, notes = drawn
    assert [p.title for p in shown] == ["Decision boundary", "Loss curves"] and notes == ()
    assert "the 100 public validation points" in shown[0].caption and "hidden test set" not in shown[0].caption
    scored = draw_pictures(a_report(model=TrainedModel(xor_params(), {"train_loss": [0.5]}, hidden_accuracy=0.9725)),
                           Rubric(hidden_seed=11, hidden_size=300))[0]
    assert "accuracy on the hidden test set, whose points are not shown: 0.973" in scored[0].caption


def test_both_pictures_are_valid_pngs_with_content(drawn):
    page = render_feedback(a_report(), *drawn)
    boundary, losses = images(page)
    for picture in (boundary, losses):
        assert picture.shape[0] > 200 and picture.shape[1] > 300
        assert np.unique(picture.reshape(-1, picture.shape[-1]), axis=0).shape[0] > 50, "not a blank image"


def boundary_via_sklearn(params: dict, X: np.ndarray, y: np.ndarray) -> bytes:
    """The decision boundary as it was drawn with sklearn's DecisionBoundaryDisplay: the oracle for the picture."""
    from matplotlib.figure import Figure
    from sklearn.inspection import DecisionBoundaryDisplay

    reach = float(np.max(np.abs(X))) + pictures.MARGIN
    xx0, xx1 = np.meshgrid(*[np.linspace(-reach, reach, pictures.GRID_STEPS)] * 2)
    grid = pictures.probabilities(params, np.c_[xx0.ravel(), xx1.ravel()]).reshape(xx0.shape)
    wrong = (pictures.probabilities(params, X) > 0.5).astype(int) != y
    ax = Figure(figsize=(5.5, 5)).add_subplot()
    DecisionBoundaryDisplay(xx0=xx0, xx1=xx1, n_classes=2, response=grid, xlabel="x1", ylabel="x2").plot(
        ax=ax, plot_method="contourf", cmap="RdBu_r", alpha=0.45, levels=np.linspace(0.0, 1.0, 11))
    ax.contour(xx0, xx1, grid, levels=[0.5], colors="k", linewidths=1.2)
    for label, colour in ((0, "#2166ac"), (1, "#b2182b")):
        right, missed = (y == label) & ~wrong, (y == label) & wrong
        ax.scatter(X[right, 0], X[right, 1], s=7, c=colour, label=f"label {label}")
        if missed.any():
            ax.scatter(X[missed, 0], X[missed, 1], s=28, c=colour, marker="x", label=f"label {label}, misclassified")
    ax.set_title(f"Decision boundary: {len(y)} points, {100 * (1 - wrong.mean()):.1f}% correct")
    ax.legend(loc="upper right", fontsize=7, framealpha=0.85)
    return pictures._png(ax.figure)


def test_the_boundary_picture_is_byte_identical_to_sklearns_decision_boundary_display():
    """The grader draws the background itself (importing sklearn.inspection and pyplot cost every grade CPU time);
    students must see the very same picture."""
    X, y = sample_xor(300, np.random.default_rng(3))
    rng = np.random.default_rng(4)
    params = {"W1": rng.normal(size=(2, 6)), "b1": rng.normal(size=6), "W2": rng.normal(size=(6, 1)),
              "b2": rng.normal(size=1)}  # a half-trained model: some points misclassified, so crosses are drawn
    ours = pictures.decision_boundary_png(params, X, y)
    assert ours == boundary_via_sklearn(params, X, y)


def test_broken_weights_still_give_the_loss_curves_and_say_why_the_boundary_is_missing():
    model = TrainedModel({**xor_params(), "W1": [[np.inf] * 4] * 2}, {"train_loss": [0.6, 0.5], "val_loss": []})
    shown, notes = draw_pictures(a_report(model=model), Rubric(hidden_seed=1, hidden_size=50))
    assert [p.title for p in shown] == ["Loss curves"]
    assert notes == ("The decision boundary could not be drawn: W1 holds NaN or infinite values.",)


def test_no_model_means_no_pictures_and_a_note_saying_why():
    shown, notes = draw_pictures(a_report(model=None))
    page = render_feedback(a_report(model=None), shown, notes)
    assert shown == () and "<img" not in page and "could not train your model" in page


def test_write_feedback_writes_the_student_and_the_ta_copy(tmp_path):
    student, ta = write_feedback(a_report(), tmp_path, Rubric(hidden_seed=2, hidden_size=100))
    assert (student.name, ta.name) == ("feedback.html", "feedback_ta.html")
    assert 'id="ta-section"' in ta.read_text() and 'id="ta-section"' not in student.read_text()
    assert len(images(student.read_text())) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feedback.html", "feedback_ta.html"]


# --- a real browser ---------------------------------------------------------------------------------------------

PROBE = """<!DOCTYPE html><html><body><pre id="probe">pending</pre>
<iframe id="page" src="feedback.html" style="width:1200px;height:2000px;border:0"></iframe>
<script>
window.addEventListener("load", () => {
  const doc = document.getElementById("page").contentDocument;
  const table = doc.querySelector("table#scores");
  document.getElementById("probe").textContent = JSON.stringify({
    rows: table ? [...table.rows].map(r => [...r.cells].map(c => c.textContent.trim())) : null,
    tableHeight: table ? table.getBoundingClientRect().height : 0,
    images: [...doc.images].map(i => { const r = i.getBoundingClientRect();
      return {complete: i.complete, width: i.naturalWidth, height: i.naturalHeight, box: [r.x, r.y, r.width, r.height],
              data: i.src.startsWith("data:")}; }),
  });
});
</script></body></html>"""
WINDOW = (1200, 2000)  # the iframe of PROBE has the same size, so both lay the page out alike
BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")


def browse(chromium: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([chromium, *BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=60, check=True)


@pytest.mark.browser
@pytest.mark.slow  # two browser starts: 3 to 6 s
def test_chromium_renders_the_score_table_and_both_pictures(tmp_path, chromium):
    page, _ = write_feedback(a_report(), tmp_path / "out", Rubric(hidden_seed=7, hidden_size=500))
    probe = page.with_name("probe.html")
    probe.write_text(PROBE, encoding="utf-8")  # reads the unmodified page from outside, through an iframe
    dom = browse(chromium, tmp_path, "--allow-file-access-from-files", "--virtual-time-budget=5000", "--dump-dom",
                 probe.as_uri()).stdout
    found = json.loads(html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1)))
    assert found["rows"][0] == ["area", "points", "of"] and found["rows"][-1] == ["total", "5", "10"]
    assert found["tableHeight"] > 50
    assert len(found["images"]) == 2
    for image in found["images"]:
        assert image["complete"] and image["data"] and image["width"] > 300 and image["box"][2] > 200

    shot = tmp_path / "shot.png"
    browse(chromium, tmp_path, f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}", page.as_uri())
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (WINDOW[1], WINDOW[0])
    for image in found["images"]:
        x, y, w, h = (int(v) for v in image["box"])
        assert y + h < WINDOW[1], "both pictures are within the screenshot"
        inner = pixels[y + h // 6: y + h - h // 6, x + w // 6: x + w - w // 6]  # inset: the layouts differ by pixels
        colours = np.unique((inner * 255).astype(np.uint8).reshape(-1, 3), axis=0)
        assert len(colours) > 100, "the screenshot shows no picture where the page has one"
        assert (inner.max(axis=-1) - inner.min(axis=-1)).max() > 0.5, "the picture's colours are missing"


# --- the loss curves are drawn in a forked child beside the boundary ------------------------------------------

def test_a_picture_drawn_in_a_forked_child_is_byte_identical_to_one_drawn_here():
    history = a_model().history
    waiting = drawing.start(lambda: pictures.loss_curves_png(history), pictures.PictureError)
    assert waiting() == pictures.loss_curves_png(history)


def test_a_refusal_in_the_child_is_raised_here_with_its_message():
    waiting = drawing.start(lambda: pictures.loss_curves_png({"train_loss": [], "val_loss": []}), pictures.PictureError)
    with pytest.raises(pictures.PictureError, match="no finite loss values"):
        waiting()


def test_a_child_that_dies_leaves_the_drawing_to_this_process():
    here = os.getpid()

    def draw() -> bytes:
        if os.getpid() != here:
            os.kill(os.getpid(), signal.SIGKILL)  # the child crashes before it answers
        return b"drawn here"

    assert drawing.start(draw, pictures.PictureError)() == b"drawn here"


MATH_PROBE = """<!DOCTYPE html><html><body><pre id="probe">pending</pre>
<iframe id="page" src="feedback_ta.html" style="width:1200px;height:2000px;border:0"></iframe>
<script>
window.addEventListener("load", () => {
  const doc = document.getElementById("page").contentDocument;
  const answer = doc.querySelector("#manual-derivation .answer");
  const maths = [...doc.querySelectorAll("math")];
  document.getElementById("probe").textContent = JSON.stringify({
    text: answer ? answer.textContent : null,
    maths: maths.map(m => { const r = m.getBoundingClientRect();
      return {display: getComputedStyle(m).display, box: [r.x, r.y, r.width, r.height],
              fraction: !!m.querySelector("mfrac"), sub: m.querySelectorAll("msub").length}; }),
    scripts: doc.querySelectorAll("script").length,
  });
});
</script></body></html>"""
MATH_ANSWER = (r"With $y_{nk} = \frac{\exp(a_{nk})}{\sum_i \exp(a_{ni})}$ we get"
               "\n\n$$\\frac{\\partial E}{\\partial a_{nk}} = y_{nk} - t_{nk}$$\n\nbecause the targets sum to one.")


@pytest.mark.browser
@pytest.mark.slow  # two browser starts: 3 to 6 s
def test_chromium_renders_the_derivation_as_math(tmp_path, chromium):
    manual = (ManualItem("derivation", "Problem 1: derivation", MATH_ANSWER, 3),)
    _, page = write_feedback(a_report(manual=manual, model=None), tmp_path / "out")
    probe = page.with_name("probe.html")
    probe.write_text(MATH_PROBE, encoding="utf-8")
    dom = browse(chromium, tmp_path, "--allow-file-access-from-files", "--virtual-time-budget=5000", "--dump-dom",
                 probe.as_uri()).stdout
    found = json.loads(html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1)))
    assert found["scripts"] == 0 and "$" not in found["text"] and "\\frac" not in found["text"]
    inline, block = found["maths"]
    assert inline["display"] == "math" and block["display"] == "block math"  # laid out by the MathML engine
    assert inline["fraction"] and block["fraction"] and block["sub"] >= 3
    assert block["box"][2] > 60 and block["box"][3] > 20  # a displayed, stacked fraction

    shot = tmp_path / "shot.png"
    browse(chromium, tmp_path, f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}", page.as_uri())
    pixels = matplotlib.image.imread(shot)[..., :3]
    x, y, w, h = (int(v) for v in block["box"])
    assert y + h < WINDOW[1], "the displayed formula is within the screenshot"
    ink = pixels[y:y + h, x:x + w].mean(axis=2) < 0.5
    rows_with_ink = np.flatnonzero(ink.any(axis=1))
    assert ink.sum() > 150, "the screenshot shows no formula where the page has one"
    assert rows_with_ink.size and rows_with_ink[-1] - rows_with_ink[0] > 25, "numerator over denominator: two lines"


# --- the student's code beside the verdict, the self-check line, and a page anyone can read ---------------------------

class Tree(HTMLParser):
    """The page as nested elements: (tag, attributes, children), text as strings among the children."""

    VOID = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self, page: str) -> None:
        super().__init__()
        self.root: tuple = ("root", {}, [])
        self.stack = [self.root]
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        node = (tag, dict(attrs), [])
        self.stack[-1][2].append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag):
        while len(self.stack) > 1:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        self.stack[-1][2].append(data)

    def find(self, pred, node=None) -> list[tuple]:
        node = node or self.root
        found = [node] if not isinstance(node, str) and pred(node) else []
        for child in ([] if isinstance(node, str) else node[2]):
            if not isinstance(child, str):
                found += self.find(pred, child)
        return found


def text_of(node) -> str:
    return node if isinstance(node, str) else "".join(text_of(c) for c in node[2])


def classed(name: str):
    return lambda n: name in n[1].get("class", "").split()


HOSTILE_CODE = ('def backward_prop(self, X, y, Z1, A1, Z2, A2):\n    s = "</pre><script>alert(1)</script>"\n'
                "    dZ2 = A2 - y  # <b>not bold</b> & not an entity: &amp;\n    return s")


def test_a_lost_area_shows_the_students_own_code_beside_its_verdicts_escaped():
    from grader.grading.results import FunctionCode

    code = (FunctionCode("backward", "TwoLayerPerceptron.backward_prop", HOSTILE_CODE, 12),)
    tree = Tree(render_feedback(a_report(code=code)))
    assert not tree.find(lambda n: n[0] in ("script", "b") and "not bold" in text_of(n))
    assert not tree.find(lambda n: n[0] == "script")
    area = tree.find(lambda n: n[1].get("id") == "lost-backward")
    assert len(area) == 1
    side = tree.find(classed("side"), area[0])[0]
    verdicts, shown = tree.find(classed("verdicts"), side), tree.find(classed("code"), side)
    assert len(verdicts) == 1 and len(shown) == 1
    assert "backward: dW1 matches finite differences" in text_of(verdicts[0])
    pre = tree.find(lambda n: n[0] == "pre", shown[0])
    assert [text_of(p) for p in pre] == [HOSTILE_CODE]  # the code as written, character for character
    assert "TwoLayerPerceptron.backward_prop" in text_of(shown[0]) and "cell [12]" in text_of(shown[0])


def test_each_lost_area_says_how_to_reproduce_it_with_the_self_check_as_a_student_types_it():
    lost_softmax = Result("softmax: rows sum to 1", "softmax", 1.0, 5.0, False, public=True)
    tree = Tree(render_feedback(a_report(tests=(lost_softmax, LOST), score=1.0)))
    lines = {n[1]["id"]: [text_of(c) for c in tree.find(lambda m: m[0] == "code", r)]
             for n in tree.find(lambda m: m[1].get("id", "").startswith("lost-"))
             for r in tree.find(classed("reproduce"), n)}
    assert lines == {"lost-softmax": ['from backprop_check import check; check("softmax")'],
                     "lost-backward": ['from backprop_check import check; check("backward")']}
    assert not Tree(render_feedback(a_report(tests=(KEPT,), score=5.0, max_score=5.0))).find(classed("reproduce"))


@pytest.mark.parametrize("ta", [False, True], ids=["student", "ta"])
def test_tables_have_captions_and_scoped_headers_and_pictures_say_in_words_what_they_show(drawn, ta):
    from grader.course.page import grade_section
    from grader.course.lms import Final

    page = render_feedback(a_report(), *drawn, ta=ta)
    page = page.replace('<p class="meta">grader', grade_section(Final(row_of(a_report()), "1", ()), 10.0)
                        + '<p class="meta">grader', 1)
    tree = Tree(page)
    tables = tree.find(lambda n: n[0] == "table")
    assert len(tables) == 2
    for table in tables:
        captions = [c for c in table[2] if not isinstance(c, str) and c[0] == "caption"]
        assert len(captions) == 1 and len(text_of(captions[0])) > 20
        heads = tree.find(lambda n: n[0] == "th", table)
        assert heads and all(h[1].get("scope") in ("col", "row") for h in heads)
        assert all(h[1]["scope"] == "col" for h in tree.find(lambda n: n[0] == "th", table[2][1]))  # <thead>
    alts = [n[1].get("alt", "") for n in tree.find(lambda n: n[0] == "img")]
    assert len(alts) == 2 and all(len(a) > 60 for a in alts)
    X, y = public_validation()
    hidden_layer = np.maximum(0, X @ xor_params()["W1"])
    right = ((hidden_layer @ xor_params()["W2"]).ravel() > 0).astype(int) == y
    for label in (0, 1):
        assert f"label {label}: {right[y == label].sum()} of {(y == label).sum()} on the right side" in alts[0]
    train = np.array(a_model().history["train_loss"])
    assert f"train loss {train[0]:.4g} at epoch 1, {train[-1]:.4g} at epoch 30" in alts[1]


def row_of(report: GradeReport):
    from grader.course.book import Row

    return Row(report.student, report.submission, report.sha256, "graded", report.score, report.max_score)


def public_validation():
    from grader.grading import assignment

    data = assignment.load("backprop").public_data()
    return data["X_val"], data["y_val"]


@pytest.mark.sandbox
def test_a_real_single_bug_submission_shows_the_buggy_method_beside_the_backward_verdicts(tmp_path):
    from grader import paths
    from grader.grading.grade import grade_submission
    from grader.grading.rubric import load_rubric

    text = paths.SOLUTION.read_text(encoding="utf-8")
    right, wrong = "dZ2 = (A2 - y.reshape(-1, 1)) / n", "dZ2 = (A2 - y.reshape(-1, 1))"
    assert text.count(right) == 1
    (tmp_path / "bug.ipynb").write_text(text.replace(right, wrong), encoding="utf-8")
    report = grade_submission(tmp_path / "bug.ipynb", rubric=load_rubric(paths.RUBRIC))
    lost = {t.area for t in report.tests if t.score < t.max_score}
    assert "backward" in lost and {c.area for c in report.code} == lost
    tree = Tree(render_feedback(report))
    shown = tree.find(classed("code"), tree.find(lambda n: n[1].get("id") == "lost-backward")[0])
    code = text_of(tree.find(lambda n: n[0] == "pre", shown[0])[0])
    assert code.startswith("def backward_prop(self, X, y, Z1, A1, Z2, A2):") and wrong in code and right not in code
