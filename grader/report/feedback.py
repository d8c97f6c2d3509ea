"""Feedback a student can act on: OUT/feedback.html for the student, OUT/feedback_ta.html for TAs.

Both pages are self-contained: inline CSS, pictures as PNG data URIs, no script, and a Content-Security-Policy that
forbids loading anything from the network. Everything the submission controls (messages, tracebacks, stdout,
Markdown answers) is HTML-escaped before it reaches the page. The TA copy adds the hand-graded items.
"""

from __future__ import annotations

import base64
import html
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grader.report.text import excerpt as _excerpt, fmt_points, tail as _tail
from grader.grading.results import CellOutcome, GradeReport, TestResult

if TYPE_CHECKING:
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


def draw_pictures(report: GradeReport, rubric: "Rubric | None" = None) -> tuple[tuple[Picture, ...], tuple[str, ...]]:
    """The decision boundary over the hidden test points and the loss curves of the grader-trained model.

    Returns the pictures and, for each one that could not be drawn, a note saying why.
    """
    if report.model is None:
        return (), ("No pictures: the grader could not train your model (see the `train` and `accuracy` tests).",)
    from grader.report import drawing, pictures  # matplotlib loads only when there is something to draw

    drawn, notes = [], []
    # the loss curves are drawn in a forked child meanwhile: the pair takes the time of the slower picture
    loss_curves = drawing.start(lambda: pictures.loss_curves_png(report.model.history), pictures.PictureError)
    try:
        X, y, where = _boundary_points(rubric)
        drawn.append(Picture("Decision boundary", f"P(label 1) of the model the grader trained with your code and "
                             f"HYPERPARAMETERS, over {where}. Black line: the 0.5 boundary; crosses: misclassified "
                             "points.", pictures.decision_boundary_png(report.model.params, X, y)))
    except pictures.PictureError as exc:
        notes.append(f"The decision boundary could not be drawn: {exc}.")
    try:
        drawn.append(Picture("Loss curves", "Mean binary cross-entropy per epoch, from the history your `train` "
                             "returned.", loss_curves()))
    except pictures.PictureError as exc:
        notes.append(f"The loss curves could not be drawn: {exc}.")
    return tuple(drawn), tuple(notes)


def _boundary_points(rubric: "Rubric | None"):
    """The grader's hidden test set, drawn as the grader draws it; the public test part when there is no seed."""
    from grader.grading import assignment
    from grader.grading.rubric import load_rubric

    rubric = rubric or load_rubric()
    task = assignment.load(rubric.assignment)
    hidden = task.hidden_set(rubric)
    if hidden is not None:
        return hidden["X"], hidden["y"], f"the {len(hidden['y'])} points of the hidden test set"
    public = task.public_data()
    return public["X_test"], public["y_test"], "the public test points (no hidden test set is configured)"


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
.scores tr.full td:first-child::before{content:"✓ ";color:#1a7f37}.scores tr.lost td:first-child::before{content:"✗ ";color:#c0392b}
.test{border:1px solid #e2c6c0;border-left:5px solid #c0392b;border-radius:4px;padding:.5rem .9rem;margin:.8rem 0}
.test h3{margin:.1rem 0 .4rem;font-size:1.02rem}.lost-points{color:#c0392b;font-weight:600}
.hint{background:#fff8db;border-left:4px solid #e0b400;padding:.4rem .7rem;margin:.5rem 0}
.banner{background:#fdecea;border:1px solid #e6a29a;padding:.6rem .9rem;border-radius:4px}
pre{background:#f5f7f9;border:1px solid #e1e6eb;padding:.5rem;overflow-x:auto;white-space:pre-wrap;
word-break:break-word;font-size:.85rem;margin:.3rem 0}
dl.values{display:grid;grid-template-columns:max-content 1fr;gap:.2rem .8rem;margin:.4rem 0}dl.values dd{margin:0}
figure{display:inline-block;width:calc(50% - 1.2rem);min-width:20rem;margin:.5rem 1rem .5rem 0;vertical-align:top}
figure img{width:100%;border:1px solid #e1e6eb}figcaption{font-size:.85rem;color:#5b6672}
.ta{border:2px dashed #6c4bb4;padding:.2rem 1rem 1rem;border-radius:6px;background:#faf8ff}
pre.answer{background:#fff;font-family:inherit;font-size:.95rem}
"""


def _area_table(report: GradeReport) -> str:
    rows = []
    for area, (got, top) in report.area_scores().items():
        state = "full" if got >= top else "lost"
        rows.append(f'<tr class="{state}"><td>{_e(area)}</td><td class="num">{fmt_points(got)}</td>'
                    f'<td class="num">{fmt_points(top)}</td></tr>')
    rows.append(f'<tr class="total-row"><th>total</th><th class="num">{fmt_points(report.score)}</th>'
                f'<th class="num">{fmt_points(report.max_score)}</th></tr>')
    return ('<table class="scores" id="scores"><thead><tr><th>area</th><th>points</th><th>of</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _lost_test(test: TestResult) -> str:
    checked = test.name.split(": ", 1)[-1]
    values = "".join(f"<dt>{label}</dt><dd>{_pre(_excerpt(value))}</dd>"
                     for label, value in (("expected", test.expected), ("got", test.actual)) if value)
    parts = [f'<h3>{_e(test.name)} <span class="lost-points">−{fmt_points(test.max_score - test.score)}</span></h3>',
             f"<p><b>What was checked:</b> {_e(checked)}.</p>", _pre(_excerpt(test.message or "failed"), "message"),
             f'<dl class="values">{values}</dl>' if values else "",
             f'<div class="hint"><b>Hint:</b> {_e(test.hint)}</div>' if test.hint else "",
             f"<p><b>Traceback</b> (your code):</p>{_pre(_tail(test.traceback))}" if test.traceback else ""]
    return f'<section class="test">{"".join(parts)}</section>'


def _lost_points(report: GradeReport) -> str:
    lost = [t for t in report.tests if t.score < t.max_score]
    if not lost:
        return "<h2>Lost points</h2><p>None: every automatic test passed.</p>" if report.tests else ""
    return f"<h2>Lost points ({len(lost)} tests)</h2>" + "".join(_lost_test(t) for t in lost)


def _passed(report: GradeReport) -> str:
    passed = [t for t in report.tests if t.score >= t.max_score]
    if not passed:
        return ""
    items = "".join(f"<li>{_e(t.name)} ({fmt_points(t.score)})</li>" for t in passed)
    return f"<details><summary>Passed tests ({len(passed)})</summary><ul>{items}</ul></details>"


def _pictures(pictures: tuple[Picture, ...], notes: tuple[str, ...]) -> str:
    figures = "".join(
        f'<figure><img src="data:image/png;base64,{base64.b64encode(p.png).decode("ascii")}" alt="{_e(p.title)}">'
        f"<figcaption><b>{_e(p.title)}.</b> {_e(p.caption)}</figcaption></figure>" for p in pictures)
    return "<h2>Your model, trained by the grader</h2>" + figures + "".join(f"<p>{_e(n)}</p>" for n in notes)


def _cell(cell: CellOutcome) -> str:
    what = "hit its time limit" if cell.status == "timeout" else f"raised {cell.error_type or 'an error'}"
    body = _pre(_tail(cell.traceback) if cell.traceback else cell.message)
    return f"<li><b>Cell [{cell.index}]</b> {_e(what)}: {body}</li>"  # no timings: the page is the same every run


def _notebook(report: GradeReport) -> str:
    run = report.notebook
    if run is None:
        return ""
    parts = ['<p class="banner">Your notebook hit its overall time limit; the tests ran on what it had defined '
             "by then.</p>" if run.timed_out else ""]
    failed = run.failed
    parts.append(f"<ul>{''.join(_cell(c) for c in failed)}</ul>" if failed else
                 f"<p>All {len(run.cells)} code cells ran without an error.</p>")
    parts += [f"<p>{_e(n)}</p>" for n in run.notes]
    return "<h2>How your notebook ran</h2>" + "".join(parts)


def _manual(report: GradeReport, ta: bool) -> str:
    if not report.manual:
        return ""
    if not ta:
        titles = "".join(f"<li>{_e(m.title)}</li>" for m in report.manual)
        return f"<h2>Graded by hand</h2><p>A TA grades these later (0 of 0 here):</p><ul>{titles}</ul>"
    items = "".join(f'<article class="manual" id="manual-{_e(m.id)}"><h3>{_e(m.title)}</h3>'
                    f'<p class="meta">item <code>{_e(m.id)}</code>, notebook cell [{m.cell_index}]</p>'
                    f'{_pre(m.text, "answer") or "<p><i>(empty)</i></p>"}<p>Points: ______</p></article>'
                    for m in report.manual)
    return f'<section class="ta" id="ta-section"><h2>For TAs: grade by hand</h2>{items}</section>'


def _header(report: GradeReport, ta: bool) -> str:
    who = f"{report.student} — {report.submission}" + (" (TA copy)" if ta else "")
    head = [f"<h1>Feedback: {_e(who)}</h1>",
            f'<p class="total">Automatic score: {fmt_points(report.score)} / {fmt_points(report.max_score)}</p>']
    if report.status == "error":
        head.append(f'<p class="banner"><b>This submission could not be graded:</b> {_e(report.reason)}</p>')
    elif report.reason:
        head.append(f'<p class="banner">{_e(report.reason)}</p>')
    head += [f"<p>{_e(n)}</p>" for n in report.notes]
    return "".join(head)


def render_feedback(report: GradeReport, pictures: tuple[Picture, ...] = (), picture_notes: tuple[str, ...] = (),
                    *, ta: bool = False) -> str:
    """The whole page as one HTML string. ta=True adds the hand-graded items for TAs."""
    body = [_header(report, ta)]
    if report.tests:
        body += ["<h2>Points by area</h2>", _area_table(report), _lost_points(report), _passed(report)]
    if pictures or picture_notes:
        body.append(_pictures(pictures, picture_notes))
    body += [_notebook(report), _manual(report, ta)]
    footer = (f'<p class="meta">grader {_e(report.grader_version)} · sandbox {_e(report.sandbox_mode or "n/a")} · '
              f"submission sha256 {_e(report.sha256[:16])}</p>")
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
    return (_write(out / STUDENT_PAGE, render_feedback(report, pictures, notes, ta=False)),
            _write(out / TA_PAGE, render_feedback(report, pictures, notes, ta=True)))
