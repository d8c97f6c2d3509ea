"""The points every grading test is worth under a rubric, found by collecting the suite without running it.

The batch compares the maximum with the one its gradebook was graded under, and `python -m grader rubric` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass

from grader.errors import ConfigError
from grader.grading.rubric import Rubric


@dataclass(frozen=True)
class TestPoints:
    """One grading test: its stable name, its area, its points, and whether the rubric set them."""

    name: str
    area: str
    points: float
    from_rubric: bool
    public: bool


def test_points(rubric: Rubric) -> tuple[TestPoints, ...]:
    """Every test of the suite with its points under `rubric`, in the rubric's area order."""
    import grader.grading.plugin as plugin_module  # noqa: PLC0415
    from grader.grading import assignment  # noqa: PLC0415
    from grader.grading.pytest_run import OK, run_pytest  # noqa: PLC0415

    plugin = plugin_module.GradingPlugin(None, rubric)
    suite = str(assignment.load(rubric.assignment).SUITE_DIR)
    run = run_pytest([suite], suite, plugins=[plugin, plugin_module], options=["--collect-only"])
    if run.code != OK or not plugin._names:
        tail = run.output.strip().splitlines()[-1:] or ["no output"]
        raise ConfigError(f"{rubric.source}: the grading suite could not be collected ({tail[0]})")
    out = []
    for name, item in plugin._names.items():
        marker = item.get_closest_marker("points")
        points = rubric.points.get(name, float(marker.args[0]) if marker else 0.0)
        out.append(TestPoints(name, item.get_closest_marker("area").args[0], points, name in rubric.points,
                              plugin._is_public(name, item)))
    order = {a: k for k, a in enumerate(rubric.areas)}
    return tuple(sorted(out, key=lambda t: order.get(t.area, len(order))))


def automatic_max(rubric: Rubric) -> float:
    """The most points the automatic tests can give under `rubric`."""
    return sum(t.points for t in test_points(rubric))
