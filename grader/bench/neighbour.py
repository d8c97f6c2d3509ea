"""Figure for `make bench`: how much longer an honest submission's grading takes next to a CPU-hungry neighbour.

Two real batches with JOBS=2, each in a fresh process: the reference solution next to a copy of itself (the
baseline), then next to a submission whose first cell starts 62 `setsid` busy loops and keeps them running for
about a minute. The figure is the ratio of the honest submission's grading time in the two batches.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from grader import paths
from grader.bench.batch import run_parent

BUSY_PROCESSES = 62
HOG = f"""
import os, time
for _ in range({BUSY_PROCESSES}):
    if os.fork() == 0:
        os.setsid()
        while True:
            pass
time.sleep(55)
"""
SLOWDOWN_TARGET = 1.5  # next to the neighbour, the honest grading may take at most this much longer


def _honest_seconds(folder: Path, out: Path) -> tuple[float, float, str]:
    """The honest student's grading time and score in a JOBS=2 batch of `folder`, and the sandbox's limits."""
    run_parent(folder, out, 2)
    results = json.loads((out / "honest" / "results.json").read_text())
    return results["execution_time"], results["score"], results["extra_data"].get("confinement", "")


def bench_neighbour() -> list[str]:
    with tempfile.TemporaryDirectory(prefix="bench-neighbour-") as tmp:
        calm, busy = Path(tmp, "calm"), Path(tmp, "busy")
        for folder in (calm, busy):
            folder.mkdir()
            shutil.copyfile(paths.SOLUTION, folder / "honest.ipynb")
        shutil.copyfile(paths.SOLUTION, calm / "other.ipynb")
        (busy / "hog.py").write_text(HOG)
        alone, score_alone, limits = _honest_seconds(calm, Path(tmp, "out-calm"))
        crowded, score_crowded, _ = _honest_seconds(busy, Path(tmp, "out-busy"))
    ratio = crowded / alone if alone else float("inf")
    verdict = "ok" if ratio <= SLOWDOWN_TARGET and score_crowded == score_alone else "OVER TARGET"
    return [f"an honest grading next to another honest one: {alone:.1f} s (score {score_alone:g}); next to "
            f"{BUSY_PROCESSES} busy setsid processes: {crowded:.1f} s (score {score_crowded:g}): "
            f"{ratio:.2f}x (target <= {SLOWDOWN_TARGET}x and the same score, {verdict})",
            f"limits per sandbox: {limits or 'n/a'}"]
