"""Feedback a student can act on: OUT/feedback.html for the student, OUT/feedback_ta.html for TAs.

Both pages are self-contained: inline CSS, pictures as PNG data URIs, no script, and a Content-Security-Policy that
forbids loading anything from the network. Everything the submission controls (messages, tracebacks, stdout,
Markdown answers) is HTML-escaped before it reaches the page. The TA copy adds the hand-graded items.
"""

from __future__ import annotations

import base64
import html
import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grader.notebook.clean import EXCERPT_CHARS, excerpt as _excerpt
from grader.report.text import MAX_LISTED, fitted, fmt_points, listed
from grader.report.text import tail as _tail
from grader.grading.results import GradeReport, TestResult
from grader.sandbox.outcomes import CellOutcome
from grader.notebook.manual import ManualItem

if TYPE_CHECKING:
    from collections.abc import Callable

    from grader.grading.rubric import Rubric

STUDENT_PAGE = "feedback.html"
TA_PAGE = "feedback_ta.html"
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


@dataclass(frozen=True)
class Picture:
    """One PNG for the page, with the text a reader needs to interpret it."""

    title: str
    caption: str
    png: bytes
    alt: str = ""  # what the picture shows, in words, for a reader who cannot see it


def draw_pictures(report: GradeReport, rubric: "Rubric | None" = None) -> tuple[tuple[Picture, ...], tuple[str, ...]]:
    """The decision boundary over the public validation points and the loss curves of the grader-trained model.

    Returns the pictures and, for each one that could not be drawn, a note saying why.
    """
    if report.model is None:
        return (), ("No pictures: the grader could not train your model (see the `train` and `accuracy` tests).",)
    from grader.report import drawing, pictures  # matplotlib loads only when there is something to draw

    # the loss curves are drawn in a forked child meanwhile: the pair takes the time of the slower picture
    loss_curves = drawing.start(lambda: pictures.loss_curves_png(report.model.history), pictures.PictureError)

    def boundary() -> Picture:
        X, y, where = _boundary_points(rubric)
        hidden = report.model.hidden_accuracy
        score = "" if hidden is None else f" Its accuracy on the hidden test set, whose points are not shown: {hidden:.3f}."
        png = pictures.decision_boundary_png(report.model.params, X, y)
        return Picture("Decision boundary", f"P(label 1) of the model the grader trained with your code and "
                       f"HYPERPARAMETERS, over {where}. Black line: the 0.5 boundary; crosses: misclassified "
                       f"points.{score}", png, pictures.boundary_text(report.model.params, X, y))

    def losses() -> Picture:
        png = loss_curves()
        return Picture("Loss curves", "Mean binary cross-entropy per epoch, from the history your `train` returned.",
                       png, pictures.loss_text(report.model.history))

    outcomes = [attempt(draw, what) for draw, what in ((boundary, "decision boundary"), (losses, "loss curves"))]
    return (tuple(p for p in outcomes if isinstance(p, Picture)),
            tuple(n for n in outcomes if isinstance(n, str)))


def attempt(draw: "Callable[[], Picture]", what: str) -> "Picture | str":
    """The picture, or a note saying why it could not be drawn: a picture never costs the page."""
    from grader.report.pictures import PictureError

    try:
        return draw()
    except PictureError as exc:
        return f"The {what} could not be drawn: {exc}."
    except Exception as exc:  # noqa: BLE001 - values the student's code chose can break a plotting library
        return f"The {what} could not be drawn: the plotting library refused the values ({type(exc).__name__})."


def _boundary_points(rubric: "Rubric | None"):
    """The public validation points: the picture never shows the hidden test set, which stays a number."""
    from grader.grading import assignment
    from grader.grading.rubric import load_rubric

    rubric = rubric or load_rubric()
    public = assignment.load(rubric.assignment).public_data()
    return public["X_val"], public["y_val"], f"the {len(public['y_val'])} public validation points"


# --- HTML -------------------------------------------------------------------------------------------------------

def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _pre(text: str, cls: str = "") -> str:
    return f'<pre class="{cls}">{_e(text)}</pre>' if text.strip() else ""


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;max-width:60rem;margin:1.5rem auto;
padding:0 1rem;color:#1d232b;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{border-bottom:2px solid #dde3ea;padding-bottom:.2rem;margin-top:2rem}
.total{font-size:1.25rem;font-weight:600}.meta{color:#5b6672;font-size:.85rem}
table.scores{border-collapse:collapse;margin:.6rem 0;min-width:24rem}
.scores th,.scores td{border:1px solid #ccd4dc;padding:.3rem .7rem;text-align:left}
.scores td.num{text-align:right;font-variant-numeric:tabular-nums}.scores tr.lost td{background:#fff4f2}
.scores tr.full th:first-child::before{content:"✓ ";color:#1a7f37}
.scores tr.lost th:first-child::before{content:"✗ ";color:#c0392b}
.scores caption{text-align:left;color:#5b6672;font-size:.85rem;padding-bottom:.2rem}
.scores tbody th{font-weight:normal}.scores tr.total-row th{font-weight:600}
.area-lost{margin:1.2rem 0}.area-lost h3{margin-bottom:.2rem}
.side{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}
.side .verdicts{flex:1 1 28rem;min-width:0}.side .code{flex:1 1 24rem;min-width:0}
.side .code pre{font-size:.8rem;white-space:pre;overflow-x:auto}
.reproduce code{background:#f5f7f9;padding:.05rem .3rem;border-radius:3px}
.test{border:1px solid #e2c6c0;border-left:5px solid #c0392b;border-radius:4px;padding:.5rem .9rem;margin:.8rem 0}
.test h4{margin:.1rem 0 .4rem;font-size:1.02rem}.lost-points{color:#c0392b;font-weight:600}
.hint{background:#fff8db;border-left:4px solid #e0b400;padding:.4rem .7rem;margin:.5rem 0}
.banner{background:#fdecea;border:1px solid #e6a29a;padding:.6rem .9rem;border-radius:4px}
pre{background:#f5f7f9;border:1px solid #e1e6eb;padding:.5rem;overflow-x:auto;white-space:pre-wrap;
word-break:break-word;font-size:.85rem;margin:.3rem 0}
dl.values{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;margin:.4rem 0}dl.values dd{margin:0}
figure{display:inline-block;width:calc(50% - 1.2rem);min-width:20rem;margin:.5rem 1rem .5rem 0;vertical-align:top}
figure img{width:100%;border:1px solid #e1e6eb}figcaption{font-size:.85rem;color:#5b6672}
.ta{border:2px dashed #6c4bb4;padding:.2rem 1rem 1rem;border-radius:6px;background:#faf8ff}
pre.answer{background:#fff;font-family:inherit;font-size:.95rem}
div.answer{background:#fff;border:1px solid #e1e6eb;padding:.5rem;white-space:pre-wrap;margin:.3rem 0}
math[display=block]{margin:.4rem 0}
"""


def _area_table(report: GradeReport) -> str:
    rows = []
    for area, (got, top) in report.area_scores().items():
        state = "full" if got >= top else "lost"
        rows.append(f'<tr class="{state}"><th scope="row">{_e(area)}</th><td class="num">{fmt_points(got)}</td>'
                    f'<td class="num">{fmt_points(top)}</td></tr>')
    rows.append(f'<tr class="total-row"><th scope="row">total</th><td class="num">{fmt_points(report.score)}</td>'
                f'<td class="num">{fmt_points(report.max_score)}</td></tr>')
    return ('<table class="scores" id="scores"><caption>Automatic points per rubric area, then the total (✓ all '
            'points, ✗ points lost)</caption><thead><tr><th scope="col">area</th><th scope="col">points</th>'
            f'<th scope="col">of</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


SELF_CHECK = 'from backprop_check import check; check("{area}")'  # as the student kit's README spells it


def _lost_test(test: TestResult, chars: int) -> str:
    checked = test.name.split(": ", 1)[-1]
    values = "".join(f"<dt>{label}</dt><dd>{_pre(_excerpt(value, chars))}</dd>"
                     for label, value in (("expected", test.expected), ("got", test.actual)) if value)
    parts = [f'<h4>{_e(test.name)} <span class="lost-points">−{fmt_points(test.max_score - test.score)}</span></h4>',
             f"<p><b>What was checked:</b> {_e(checked)}.</p>",
             _pre(_excerpt(test.message or "failed", chars), "message"),
             f'<dl class="values">{values}</dl>' if values else "",
             f'<div class="hint"><b>Hint:</b> {_e(_excerpt(test.hint, chars))}</div>' if test.hint else "",
             f"<p><b>Traceback</b> (your code):</p>{_pre(_excerpt(_tail(test.traceback), 2 * chars))}"
             if test.traceback else ""]
    return f'<section class="test">{"".join(parts)}</section>'


def _code(report: GradeReport, area: str, chars: int) -> str:
    """The student's own code of the functions this area calls, as their notebook defines them."""
    shown = [c for c in report.code if c.area == area]
    if not shown:
        return ""
    blocks = "".join(f'<p><b>Your code:</b> <code>{_e(c.name)}</code>, notebook cell [{c.cell_index}]</p>'
                     f'{_pre(_excerpt(c.code, 4 * chars), "student-code")}' for c in shown)
    return f'<div class="code">{blocks}</div>'


def _lost_area(report: GradeReport, area: str, tests: list[TestResult], chars: int) -> str:
    got, top = report.area_scores()[area]
    line = SELF_CHECK.format(area=area)
    reproduce = (f'<p class="reproduce">Reproduce this area\'s public tests in your notebook: <code>{_e(line)}</code>'
                 "</p>")
    verdicts = "".join(_lost_test(t, chars) for t in tests)
    return (f'<section class="area-lost" id="lost-{_e(area)}"><h3>{_e(area)}: {fmt_points(got)} of '
            f'{fmt_points(top)}</h3>{reproduce}<div class="side"><div class="verdicts">{verdicts}</div>'
            f'{_code(report, area, chars)}</div></section>')


def _lost_points(report: GradeReport, chars: int) -> str:
    lost = [t for t in report.tests if t.score < t.max_score]
    if not lost:
        return "<h2>Lost points</h2><p>None: every automatic test passed.</p>" if report.tests else ""
    by_area: dict[str, list[TestResult]] = {}
    for test in lost:
        by_area.setdefault(test.area, []).append(test)
    return f"<h2>Lost points ({len(lost)} tests)</h2>" + "".join(
        _lost_area(report, area, tests, chars) for area, tests in by_area.items())


def _passed(report: GradeReport) -> str:
    passed = [t for t in report.tests if t.score >= t.max_score]
    if not passed:
        return ""
    items = "".join(f"<li>{_e(t.name)} ({fmt_points(t.score)})</li>" for t in passed)
    return f"<details><summary>Passed tests ({len(passed)})</summary><ul>{items}</ul></details>"


def _pictures(pictures: tuple[Picture, ...], notes: tuple[str, ...]) -> str:
    figures = "".join(
        f'<figure><img src="data:image/png;base64,{base64.b64encode(p.png).decode("ascii")}" '
        f'alt="{_e(p.title + ": " + p.alt if p.alt else p.title)}">'
        f"<figcaption><b>{_e(p.title)}.</b> {_e(p.caption)}</figcaption></figure>" for p in pictures)
    return "<h2>Your model, trained by the grader</h2>" + figures + "".join(f"<p>{_e(n)}</p>" for n in notes)


def _cell(cell: CellOutcome, chars: int) -> str:
    error = _excerpt(cell.error_type, 200) or "an error"
    what = "hit its time limit" if cell.status == "timeout" else f"raised {error}"
    body = _pre(_excerpt(_tail(cell.traceback) if cell.traceback else cell.message, 2 * chars))
    return f"<li><b>Cell [{cell.index}]</b> {_e(what)}: {body}</li>"  # no timings: the page is the same every run


def _paragraphs(lines: "list[str] | tuple[str, ...]", what: str, chars: int) -> list[str]:
    return [f"<p>{_e(_excerpt(n, chars))}</p>" for n in listed(lines, what)]


def _notebook(report: GradeReport, chars: int) -> str:
    run = report.notebook
    if run is None:
        return ""
    parts = ['<p class="banner">Your notebook hit its overall time limit; the tests ran on what it had defined '
             "by then.</p>" if run.timed_out else ""]
    failed = run.failed
    cells = [_cell(c, chars) for c in failed[:MAX_LISTED]]
    more = [f"<li>… and {len(failed) - MAX_LISTED} more cells that failed</li>"] if len(failed) > MAX_LISTED else []
    parts.append(f"<ul>{''.join(cells + more)}</ul>" if failed else
                 f"<p>All {len(run.cells)} code cells ran without an error.</p>")
    parts += _paragraphs(run.notes, "notes", chars)
    return "<h2>How your notebook ran</h2>" + "".join(parts)


def _answer(m: "ManualItem", chars: int) -> str:
    """One hand-graded answer for TAs: its text with the LaTeX as MathML, or a flag saying it is missing."""
    from grader.report.math import render_answer  # noqa: PLC0415 - only the TA page needs it

    where = {"metadata": f"notebook cell [{m.cell_index}]",
             "prompt": f"notebook cell [{m.cell_index}], found by the prompt (the cell lost its marking)",
             "heading": f"notebook cell [{m.cell_index}], found under the prompt's heading (the cell lost its marking)"}
    if m.missing:
        body = f'<p class="banner missing"><b>Answer missing.</b> {_e(m.note or "No cell answers this prompt.")}</p>'
    else:
        answer = render_answer(_excerpt(m.text, 10 * chars))
        body = f'<div class="answer">{answer}</div>' if m.text.strip() else "<p><i>(empty)</i></p>"
    meta = f'item <code>{_e(_excerpt(m.id, 200))}</code>' + (f", {_e(where[m.found])}" if m.found in where else "")
    return (f'<article class="manual" id="manual-{_e(_excerpt(m.id, 200))}"><h3>{_e(_excerpt(m.title, 200))}</h3>'
            f'<p class="meta">{meta}</p>{body}<p>Points: ______</p></article>')


def _manual(report: GradeReport, ta: bool, chars: int) -> str:
    if not report.manual:
        return ""
    shown, more = report.manual[:MAX_LISTED], len(report.manual) - MAX_LISTED
    rest = f"<p>… and {more} more items (see the notebook)</p>" if more > 0 else ""
    if not ta:
        titles = "".join(f"<li>{_e(_excerpt(m.title, 200))}</li>" for m in shown)
        return f"<h2>Graded by hand</h2><p>A TA grades these later (0 of 0 here):</p><ul>{titles}</ul>{rest}"
    items = "".join(_answer(m, chars) for m in shown)
    return f'<section class="ta" id="ta-section"><h2>For TAs: grade by hand</h2>{items}{rest}</section>'


def _header(report: GradeReport, ta: bool, chars: int) -> str:
    who = f"{report.student} — {report.submission}" + (" (TA copy)" if ta else "")
    head = [f"<h1>Feedback: {_e(who)}</h1>",
            f'<p class="total">Automatic score: {fmt_points(report.score)} / {fmt_points(report.max_score)}</p>']
    if report.status == "error":
        reason = _e(_excerpt(report.reason, chars))
        head.append(f'<p class="banner"><b>This submission could not be graded:</b> {reason}</p>')
    elif report.reason:
        head.append(f'<p class="banner">{_e(_excerpt(report.reason, chars))}</p>')
    head += _paragraphs(report.notes, "notes", chars)
    return "".join(head)


def render_feedback(report: GradeReport, pictures: tuple[Picture, ...] = (), picture_notes: tuple[str, ...] = (),
                    *, ta: bool = False, chars: int = EXCERPT_CHARS) -> str:
    """The whole page as one HTML string. ta=True adds the hand-graded items for TAs; `chars` clips each text."""
    body = [_header(report, ta, chars)]
    if report.tests:
        body += ["<h2>Points by area</h2>", _area_table(report), _lost_points(report, chars), _passed(report)]
    if pictures or picture_notes:
        body.append(_pictures(pictures, picture_notes))
    body += [_notebook(report, chars), _manual(report, ta, chars)]
    limits = f" · limits per sandbox: {_e(report.confinement)}" if report.confinement else ""
    footer = (f'<p class="meta">grader {_e(report.grader_version)} · sandbox {_e(report.sandbox_mode or "n/a")} · '
              f"submission sha256 {_e(report.sha256[:16])}{limits}</p>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Feedback: {_e(report.student)}</title><style>{STYLE}</style></head>"
            f'<body>{"".join(body)}{footer}</body></html>\n')


def _write(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a page
    return path


def write_feedback(report: GradeReport, out_dir: str | Path, rubric: "Rubric | None" = None) -> tuple[Path, Path]:
    """Write OUT/feedback.html (student copy) and OUT/feedback_ta.html (with the manual items); returns both."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pictures, notes = draw_pictures(report, rubric) if report.status != "error" else ((), ())
    return (_write(out / STUDENT_PAGE, page(report, pictures, notes, ta=False)),
            _write(out / TA_PAGE, page(report, pictures, notes, ta=True)))


def write_all(report: GradeReport, out_dir: str | Path, rubric: "Rubric | None" = None) -> tuple[Path, Path, Path]:
    """results.json, then both pages: the stage boundary of reporting. Should the full pages fail, plain ones
    without pictures are written instead, so a grade always comes with its pages."""
    from grader.report.text import write_results_json

    written = write_results_json(report, out_dir)
    try:
        return (written, *write_feedback(report, out_dir, rubric))
    except Exception:  # noqa: BLE001 - the grade stands; the pictures are what can fail
        traceback.print_exc()
        out = Path(out_dir)
        return (written, _write(out / STUDENT_PAGE, page(report, ta=False)),
                _write(out / TA_PAGE, page(report, ta=True)))


def page(report: GradeReport, pictures: tuple[Picture, ...] = (), notes: tuple[str, ...] = (), *,
         ta: bool = False) -> str:
    """render_feedback, with texts clipped tighter until the page is under MAX_FILE_BYTES."""
    return fitted(lambda chars: render_feedback(report, pictures, notes, ta=ta, chars=chars), EXCERPT_CHARS)
