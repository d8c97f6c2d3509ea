"""The self-check's report: a per-area table of public points, one line per function not written yet, and the
first failing tests with what was expected, what came back, where in the student's cells it failed and a hint.
Plain text everywhere (the one terminal check's output, grader/selfcheck/terminal.py), HTML in Jupyter."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from grader.grading.results import TestResult
from grader.wording import points

SHOWN_FAILURES = 3  # a student fixes the first failures first; the rest are counted
NOT_IMPLEMENTED = "not implemented yet"
FRAME = re.compile(r"line \d+, in (\w+)")
CELL_FRAME = re.compile(r"Cell \[\d+\], line \d+, in \S+")  # a frame of the student's own code, as tracebacks show it
WIDTH = 110  # messages wrap at about a terminal's width


@dataclass(frozen=True)
class CheckReport:
    """What one self-check found: the public tests' results and notes (cells that failed, imports, isolation)."""

    notebook: str
    tests: tuple[TestResult, ...]
    notes: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()  # the areas asked for; empty for all

    @property
    def passed(self) -> bool:
        return bool(self.tests) and all(t.passed for t in self.tests)

    def text(self) -> str:
        return "\n".join(summary_lines(self))

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        return summary_html(self)


def unwritten(test: TestResult) -> str:
    """The function whose `raise NotImplementedError` failed this test ("" when the failure is another one)."""
    if test.passed or not test.message.startswith(NOT_IMPLEMENTED):
        return ""
    frames = FRAME.findall(test.traceback)
    return frames[-1] if frames else "?"


def where(test: TestResult) -> str:
    """The innermost line of the student's cells in the failure's traceback ("" when it has none)."""
    frames = CELL_FRAME.findall(test.traceback)
    return frames[-1] if frames else ""


def area_rows(tests: Sequence[TestResult]) -> list[tuple[str, float, float, int, int]]:
    """(area, points earned, public points, tests passed, tests) per area, in the order the tests ran."""
    rows: dict[str, list] = {}
    for t in tests:
        row = rows.setdefault(t.area, [t.area, 0.0, 0.0, 0, 0])
        row[1] += t.score
        row[2] += t.max_score
        row[3] += t.passed
        row[4] += 1
    return [tuple(r) for r in rows.values()]



def _wrapped(label: str, text: str) -> list[str]:
    """`label` then the text, wrapped to about a terminal's width under an indent."""
    indent = " " * len(label)
    return textwrap.wrap(" ".join(text.split()), WIDTH, initial_indent=label, subsequent_indent=indent,
                         break_on_hyphens=False)


def failure_lines(test: TestResult) -> list[str]:
    lines = [f"FAIL {test.name}", *_wrapped("     ", test.message)]
    for label, value in (("expected", test.expected), ("got     ", test.actual), ("where   ", where(test)),
                         ("hint    ", test.hint)):
        if value:
            lines += _wrapped(f"     {label}: ", value)
    return lines


def summary_lines(report: CheckReport) -> list[str]:
    tests = report.tests
    scope = f" ({', '.join(report.areas)})" if report.areas else ""
    lines = [f"Self-check of {report.notebook}{scope}: public tests only; grading adds hidden tests."]
    lines += [f"note: {n}" for n in report.notes]
    if not tests:
        return lines + ["No public test ran."]
    rows = area_rows(tests)
    width = max(len(r[0]) for r in rows + [("total",)])
    lines += ["", f"{'area':<{width}}  {'points':>9}  tests passed"]
    for area, got, top, ok, n in rows:
        lines.append(f"{area:<{width}}  {points(got):>4} / {points(top):<3} {ok} of {n}")
    got, top = sum(t.score for t in tests), sum(t.max_score for t in tests)
    lines.append(f"{'total':<{width}}  {points(got):>4} / {points(top):<3} "
                 f"{sum(t.passed for t in tests)} of {len(tests)}")
    missing = list(dict.fromkeys(name for name in map(unwritten, tests) if name))
    if missing:
        lines += ["", "Write these functions (fill in the TODO, delete the `raise NotImplementedError`):"]
        lines += [f"  {NOT_IMPLEMENTED}: {name}" for name in missing]
    failures = [t for t in tests if not t.passed and not unwritten(t)]
    for test in failures[:SHOWN_FAILURES]:
        lines += [""] + failure_lines(test)
    if len(failures) > SHOWN_FAILURES:
        lines += ["", f"... and {len(failures) - SHOWN_FAILURES} more failing tests: check(\"<area>\") in the notebook "
                      "shows one area's; the terminal check's --list lists every test."]
    if report.passed:
        lines += ["", "Every public test passes."]
    return lines


def summary_html(report: CheckReport) -> str:
    """The same report as a small HTML table and list, for Jupyter's rich display (templates/check.html.j2)."""
    from grader.templating import render  # noqa: PLC0415 - only Jupyter's display needs jinja2

    rows = [{"area": a, "got": points(g), "top": points(t), "passed": ok, "tests": n}
            for a, g, t, ok, n in area_rows(report.tests)]
    failures = [t for t in report.tests if not t.passed and not unwritten(t)]
    return render(__file__, "check.html.j2", notebook=report.notebook, notes=report.notes, rows=rows,
                  missing=list(dict.fromkeys(name for name in map(unwritten, report.tests) if name)),
                  not_implemented=NOT_IMPLEMENTED,
                  failures=["\n".join(failure_lines(t)) for t in failures[:SHOWN_FAILURES]])
