"""Benchmark: grading the reference solution against running its code plainly with python, in the same run.

Both commands run REPEATS times, interleaved, so that a burst of load hits both. Wall time is the caller's clock;
CPU time is what the machine spent on the command and everything it started, sandbox included (grader.bench.load).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from grader import paths
from grader.bench.load import LoadWatch, Usage

REPEATS = 5
SOLUTION_BUDGET_S = 10.0  # the reference notebook must run top to bottom in under 10 s
CHECK_BUDGET_S = 15.0  # the student's self-check (`make check`) on a complete notebook
RATIO_TARGET, RATIO_AIM = 1.5, 1.3
CPU_RATIO_TARGET = 2.0
PEERS = (("otter-grader", "otter run"), ("nbgrader", "nbgrader autograde"))  # need their own assignment layout


@dataclass(frozen=True)
class Figures:
    """Medians over the repeats, and how many of the runs other processes disturbed."""

    wall: float
    cpu: float
    contaminated: int


def _measure(cmd: list[str], cwd: Path, env: dict[str, str]) -> Usage:
    watch = LoadWatch()
    with watch:
        subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return watch.usage


def _solution_script(work: Path) -> Path:
    from nbconvert import PythonExporter

    warnings.filterwarnings("ignore", message="IPython is needed")  # the solution has no IPython syntax
    source, _ = PythonExporter().from_filename(str(paths.SOLUTION))
    script = work / "solution.py"
    script.write_text(source, encoding="utf-8")
    shutil.copy(paths.PUBLIC_DATA, work / paths.DATA_NAME)
    return script


def _figures(runs: list[Usage]) -> Figures:
    return Figures(statistics.median(u.wall for u in runs), statistics.median(u.cpu for u in runs),
                   sum(u.contaminated for u in runs))


def _verdict(value: float, target: float) -> str:
    return "ok" if value <= target else "OVER TARGET"


def _peer_lines() -> list[str]:
    """Peers are printed only as measured here; the bench has no assignment in their formats to run them on."""
    lines = []
    for dist, command in PEERS:
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            lines.append(f"{command}: not installed, not measured")
            continue
        lines.append(f"{command}: {dist} {version} is installed, but not measured (it needs the assignment in its "
                     "own layout, which this project does not keep)")
    return lines


def bench_grading() -> list[str]:
    """Median wall and CPU time of plain execution, of `python -m grader grade` and of the self-check, and ratios."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        script = _solution_script(work)
        plain_runs, grade_runs, check_runs = [], [], []
        for i in range(REPEATS):
            plain_runs.append(_measure([sys.executable, str(script)], work, env))
            grade_runs.append(_measure([sys.executable, "-m", "grader", "grade", str(paths.SOLUTION), "--out",
                                        str(work / f"out{i}")], paths.ROOT, env))
            check_runs.append(_measure([sys.executable, "-m", "grader", "check", str(paths.SOLUTION)], paths.ROOT,
                                       env))
    plain, graded, checked = _figures(plain_runs), _figures(grade_runs), _figures(check_runs)
    wall_ratio, cpu_ratio = graded.wall / plain.wall, graded.cpu / plain.cpu
    dirty = plain.contaminated + graded.contaminated + checked.contaminated
    return [
        f"reference solution, plain `python solution.py`: {plain.wall:.2f} s wall, {plain.cpu:.2f} s CPU "
        f"(budget {SOLUTION_BUDGET_S:.0f} s: {'ok' if plain.wall < SOLUTION_BUDGET_S else 'OVER'})",
        f"grading it with `python -m grader grade` (results.json and both feedback pages): {graded.wall:.2f} s wall, "
        f"{graded.cpu:.2f} s CPU (grader and sandbox)",
        f"single grade / plain, wall: {wall_ratio:.2f}x (target <= {RATIO_TARGET}x, "
        f"{_verdict(wall_ratio, RATIO_TARGET)}; aim {RATIO_AIM}x)",
        f"single grade / plain, CPU:  {cpu_ratio:.2f}x (target <= {CPU_RATIO_TARGET}x, "
        f"{_verdict(cpu_ratio, CPU_RATIO_TARGET)})",
        f"self-check `python -m grader check` on it: {checked.wall:.2f} s wall, {checked.wall / plain.wall:.2f}x plain "
        f"(budget {CHECK_BUDGET_S:.0f} s: {'ok' if checked.wall < CHECK_BUDGET_S else 'OVER'})",
        *([f"  CONTAMINATED: other processes were busy during {dirty} of the {3 * REPEATS} runs; these medians are "
           "not clean measurements"] if dirty else []),
        f"medians of {REPEATS} interleaved runs each; peers:",
        *(f"  {line}" for line in _peer_lines()),
    ]


if __name__ == "__main__":
    print("\n".join(bench_grading()))
