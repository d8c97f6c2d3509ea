"""`python -m grader rubric`: the effective rubric, every default filled in, as TOML that `--rubric` reads back.

What a TA needs to read (sums per area, which points the file set, public tests, hand-graded titles, the maximum) is
in `#` comments. The grading secret is never printed: its line is commented out, so the printed rubric loaded back
gives the same effective rubric except that it has no secret (and so no hidden seed).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from grader.wording import points
from grader.grading.rubric import LIMIT_KEYS, Rubric


def _value(value: Any) -> str:
    """One TOML value: whole numbers without ".0", other numbers as Python writes them (valid TOML), strings and
    lists of strings as JSON writes them, times with their offset."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


def _line(key: str, value: Any, comment: str = "") -> str:
    name = key if key.replace("_", "").isalnum() else json.dumps(key)
    return f"{name} = {_value(value)}" + (f"  # {comment}" if comment else "")


def rubric_text(rubric: Rubric) -> str:
    """Assignment, thresholds, limits, hidden set, packages, points per test and area, public tests, hand-graded
    items, late policy, LMS column and similarity threshold, as TOML."""
    from grader.course.build import settings
    from grader.course.similarity import parse_threshold
    from grader.grading.maxima import test_points

    config = settings(rubric)
    tests = test_points(rubric)
    auto = sum(t.points for t in tests)
    hand = sum(i.max_points for i in config.items)
    lines = [f"# The effective rubric, from {rubric.source}: every value in force, a value not in the file at its",
             "# default. Pass this file back with --rubric and it grades the same, except that the grading secret is",
             "# not printed: without it the hidden set has no seed, as for a rubric without [hidden] secret.",
             f"# maximum: {points(auto)} automatic + {points(hand)} by hand = {points(auto + hand)} points", "",
             "[assignment]", _line("name", rubric.assignment), "", "[thresholds]"]
    lines += [_line(k, v) for k, v in rubric.thresholds.items()]
    lines += ["", "[limits]"]
    for key, (attr, unit, whole) in LIMIT_KEYS.items():
        value = getattr(rubric.limits, attr)
        lines.append(_line(key, value // unit if whole and value % unit == 0 else value / unit))
    lines += ["", "[hidden]"]
    lines.append(f"# secret = (set in {rubric.source}; not printed)" if rubric.secret is not None
                 else "# secret: not set, so the hidden set has no seed")
    lines += [_line("size", rubric.hidden_size), "", "[packages]", _line("allowed", list(rubric.packages)), "",
              "[points]",
              "# Automatic tests, with the sum of each area. A test whose points the rubric file sets is a key;",
              "# one at the default points of its @pytest.mark.points marker is a comment."]
    names = {t.name for t in tests}
    for area in rubric.areas:
        mine = [t for t in tests if t.area == area]
        lines.append(f"# {area}: {points(sum(t.points for t in mine))} points")
        for t in mine:
            public = "; public" if t.public else ""
            if t.from_rubric:
                lines.append(_line(t.name, rubric.points[t.name], f"set in the rubric{public}"))
            else:
                lines.append("# " + _line(t.name, t.points, f"default{public}"))
    lines += [_line(k, v, "not a test of the suite") for k, v in rubric.points.items() if k not in names]
    lines += ["", "[public]"]
    if rubric.public is not None:
        lines.append(_line("tests", sorted(rubric.public), "set in the rubric"))
    else:
        lines.append("# tests: not set; the suite's @pytest.mark.public markers decide (the tests marked public above)")
    lines += ["", "[manual]", "# graded by hand"] + [_line(i.id, i.max_points, i.title) for i in config.items]
    late = config.late
    lines += ["", "[late]", f"# {late.describe()}", _line("policy", late.policy)]
    lines += [_line(k, v) for k, v in (("due", late.due), ("cutoff", late.cutoff), ("cap", late.cap)) if v is not None]
    lines += [_line("penalty", late.penalty), _line("grace_minutes", late.grace.total_seconds() / 60)]
    lines += ["", "[lms]", _line("assignment", config.assignment), "", "[similarity]",
              _line("threshold", parse_threshold(rubric.course.get("similarity", {}), rubric.source))]
    return "\n".join(lines)
