"""`python -m grader rubric`: the effective rubric, every default filled in, as a TA reads it."""

from __future__ import annotations

from grader.course.book import points
from grader.grading.rubric import Rubric


def rubric_text(rubric: Rubric) -> str:
    """Thresholds, limits, points per test and area, hand-graded items, late policy, LMS column, similarity."""
    from grader.course.build import settings
    from grader.course.similarity import parse_threshold
    from grader.grading.maxima import test_points

    config = settings(rubric)
    tests = test_points(rubric)
    auto = sum(t.points for t in tests)
    hand = sum(i.max_points for i in config.items)
    lines = [f"# effective rubric, from {rubric.source} (a value not in the file is the default)",
             f"assignment: {rubric.assignment}", "", "[thresholds]"]
    lines += [f"{k} = {v:g}" for k, v in rubric.thresholds.items()]
    lines += ["", "[limits]"] + [f"{k} = {v}" for k, v in vars(rubric.limits).items()]
    lines += ["", "[hidden]", f"seed = {'(set; not shown)' if rubric.hidden_seed is not None else '(none)'}",
              f"size = {rubric.hidden_size}", "", "[points]  # automatic tests; * = set in the rubric"]
    for area in rubric.areas:
        mine = [t for t in tests if t.area == area]
        lines.append(f"# {area}: {points(sum(t.points for t in mine))}")
        lines += [f'"{t.name}" = {points(t.points)}{" *" if t.from_rubric else ""}{"  (public)" if t.public else ""}'
                  for t in mine]
    lines += ["", "[manual]  # graded by hand"] + [f"{i.id} = {points(i.max_points)}  # {i.title}"
                                                   for i in config.items]
    lines += ["", "[late]", f"# {config.late.describe()}", "", "[lms]", f'assignment = "{config.assignment}"', "",
              "[similarity]", f"threshold = {parse_threshold(rubric.course.get('similarity', {}), rubric.source):g}",
              "", f"# maximum: {points(auto)} automatic + {points(hand)} by hand = {points(auto + hand)} points"]
    return "\n".join(lines)
