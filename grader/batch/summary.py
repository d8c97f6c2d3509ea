"""The class summary for TAs: summary.md (score distribution, failure share per test and area, problems) and
summary.png (a histogram of totals and the failure rate per area). Built from gradebook rows only."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from grader.course.book import Row
from grader.wording import points
from grader.files import write_text
from grader.notebook.clean import markdown
from grader.batch.inputs import Roster
from grader.grading.results import Status

BINS = 10


@dataclass(frozen=True)
class ClassStats:
    """Counts over the rows. Failure shares are over graded rows (an error or timeout row ran no tests)."""

    rows: tuple[Row, ...]
    graded: tuple[Row, ...]
    max_score: float
    test_fails: dict[str, int]
    area_fails: dict[str, int]


def class_stats(rows: list[Row], areas: tuple[str, ...]) -> ClassStats:
    graded = tuple(r for r in rows if r.tests)
    tests: Counter[str] = Counter({name: 0 for r in graded for name in r.tests})
    tests.update(name for r in graded for name in r.failed)
    area_fails = {a: sum(1 for r in graded if any(n == a and s < m for n, s, m in r.areas)) for a in areas}
    top = max((r.max_score for r in rows), default=0.0)
    return ClassStats(tuple(rows), graded, top, dict(tests), area_fails)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def share(count: int, total: int) -> str:
    return f"{100 * count / total:.0f}%" if total else "-"


def histogram(totals: list[float], top: float) -> list[tuple[str, int]]:
    """(label, count) for BINS equal bins from 0 to top; the last bin includes the maximum."""
    width = (top or 1.0) / BINS
    counts = [0] * BINS
    for t in totals:
        counts[min(BINS - 1, max(0, int(t // width)))] += 1
    return [(f"{points(i * width)}-{points((i + 1) * width)}", c) for i, c in enumerate(counts)]


def _score_lines(stats: ClassStats) -> list[str]:
    totals = [r.score for r in stats.rows]
    if not totals:
        return ["No submissions were graded."]
    lines = ["## Scores", "", f"Out of {points(stats.max_score)}: mean {statistics.mean(totals):.1f}, "
             f"median {points(statistics.median(totals))}, min {points(min(totals))}, max {points(max(totals))}.", "",
             "| total | students | |", "|---|---:|---|"]
    for label, count in histogram(totals, stats.max_score):
        lines.append(f"| {label} | {count} | {'#' * count} |")
    return lines


def _failure_lines(stats: ClassStats) -> list[str]:
    n = len(stats.graded)
    lines = ["## Failure rate per area", "", f"Share of the {plural(n, 'graded student')} who lost points in each area.", "",
             "| area | students who lost points | share |", "|---|---:|---:|"]
    lines += [f"| {a} | {c} | {share(c, n)} |" for a, c in stats.area_fails.items()]
    lines += ["", "## Failure rate per test", "", "| test | students who failed it | share |", "|---|---:|---:|"]
    ordered = sorted(stats.test_fails.items(), key=lambda kv: (-kv[1], kv[0]))
    lines += [f"| {name} | {c} | {share(c, n)} |" for name, c in ordered]
    return lines


def _problem_lines(stats: ClassStats, roster: Roster) -> list[str]:
    lines: list[str] = []
    bad = [r for r in stats.rows if r.status != Status.GRADED or r.reason]
    if bad:
        lines += ["", "## Not graded normally", "", "| student | file | status | reason |", "|---|---|---|---|"]
        lines += [f"| {_md(r.student)} | {_md(r.file)} | {r.status} | {_md(r.reason)} |" for r in bad]
    several = [f for f in roster.files if f.superseded]
    if several:
        lines += ["", "## Students with several files", "", "The newest file was graded (by its time, then by the "
                  "LMS resubmission number; a notebook wins over a .py file).", "", "| student | graded | not graded |", "|---|---|---|"]
        lines += [f"| {_md(f.student)} | {_md(f.file)} | {_md(', '.join(f.superseded))} |" for f in several]
    late = [f.student for f in roster.files if f.late]
    if late:
        lines += ["", "## Marked late by the LMS", "", _md(", ".join(late))]
    if roster.skipped:
        lines += ["", "## Files skipped (not submissions)", "", "| file | reason |", "|---|---|"]
        lines += [f"| {_md(s.file)} | {_md(s.reason)} |" for s in roster.skipped]
    return lines


def _md(text: str) -> str:
    """Text from a submission, safe in a Markdown table cell: it renders as itself, never as a link, image or tag."""
    return markdown(text)


def summary_markdown(rows: list[Row], areas: tuple[str, ...], roster: Roster, header: str = "") -> str:
    stats = class_stats(rows, areas)
    count = Counter(r.status for r in rows)
    lines = ["# Class summary", "", f"{plural(len(rows), 'student')}: {count['graded']} graded, {count['error']} could not be "
             f"graded, {count['timeout']} timed out.", *([header] if header else []), ""]
    lines += _score_lines(stats) + [""] + _failure_lines(stats) + _problem_lines(stats, roster)
    return "\n".join(lines) + "\n"


def summary_png(rows: list[Row], areas: tuple[str, ...], path: Path) -> Path:
    """A histogram of totals and a bar chart of the failure rate per area, side by side."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    stats = class_stats(rows, areas)
    fig = Figure(figsize=(11, 4.2))
    FigureCanvasAgg(fig)
    ax_hist, ax_bar = fig.subplots(1, 2)
    ax_hist.hist([r.score for r in rows], bins=BINS, range=(0, stats.max_score or 1), color="#4c72b0",
                 edgecolor="white")
    ax_hist.set(title=f"Totals ({plural(len(rows), 'student')})", xlabel=f"total out of {points(stats.max_score)}",
                ylabel="students")
    ax_hist.yaxis.set_major_locator(MaxNLocator(integer=True))
    n = len(stats.graded) or 1
    rates = [100 * stats.area_fails[a] / n for a in areas]
    ax_bar.bar(range(len(areas)), rates, color="#dd8452")
    ax_bar.set_xticks(range(len(areas)), areas, rotation=45, ha="right")
    ax_bar.set(title="Students who lost points, per area", ylabel="% of graded students", ylim=(0, 100))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def write_summaries(rows: list[Row], areas: tuple[str, ...], roster: Roster, out: Path, header: str = "") -> None:
    write_text(out / "summary.md", summary_markdown(rows, areas, roster, header))
    summary_png(rows, areas, out / "summary.png")
