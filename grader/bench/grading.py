"""Benchmark: grading the reference solution against running its code plainly with python, in the same run."""

from __future__ import annotations

import warnings

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader import paths

REPEATS = 3
SOLUTION_BUDGET_S = 10.0  # the reference notebook must run top to bottom in under 10 s
RATIO_TARGET, RATIO_AIM = 2.0, 1.3


def _wall(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def _solution_script(work: Path) -> Path:
    from nbconvert import PythonExporter

    warnings.filterwarnings("ignore", message="IPython is needed")  # the solution has no IPython syntax

    source, _ = PythonExporter().from_filename(str(paths.SOLUTION))
    script = work / "solution.py"
    script.write_text(source, encoding="utf-8")
    shutil.copy(paths.PUBLIC_DATA, work / paths.DATA_NAME)
    return script


def bench_grading() -> list[str]:
    """Median wall time of plain execution and of `python -m grader grade`, interleaved so noise hits both."""
    env = {**os.environ, "MPLBACKEND": "Agg"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        script = _solution_script(work)
        plain, graded = [], []
        for i in range(REPEATS):
            plain.append(_wall([sys.executable, str(script)], work, env))
            graded.append(_wall([sys.executable, "-m", "grader", "grade", str(paths.SOLUTION), "--out",
                                 str(work / f"out{i}")], paths.ROOT, env))
    p, g = statistics.median(plain), statistics.median(graded)
    return [
        f"reference solution, plain `python solution.py`: {p:.2f} s (budget {SOLUTION_BUDGET_S:.0f} s: "
        f"{'ok' if p < SOLUTION_BUDGET_S else 'OVER'})",
        f"grading it with `python -m grader grade`:      {g:.2f} s",
        f"grading / plain ratio: {g / p:.2f}x (target <= {RATIO_TARGET}x, aim {RATIO_AIM}x; "
        f"peers measured on this kind of machine: otter run ~2.8x, nbgrader autograde ~3.0x)",
    ]


if __name__ == "__main__":
    print("\n".join(bench_grading()))
