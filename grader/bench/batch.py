"""Figures for `make bench`: batch speed-up with JOBS=1 vs JOBS=2, and the batch parent's peak memory.

Every batch runs in a fresh process (`python -m grader.bench.batch parent ...`), so its peak RSS is its own. All
grading is real: 20 copies of the reference solution with JOBS=1 and JOBS=2, then 200 copies with JOBS=2.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader import paths

SPEEDUP_COPIES = 20
MEMORY_SIZES = (20, 200)
SPEEDUP_TARGET = 1.7
MEMORY_TOLERANCE = 0.10
BASELINE_SECONDS = 3.0
BASELINE_TOLERANCE = 0.2  # cores other processes may keep busy before the speed-up is flagged as unreliable


def make_class(folder: Path, copies: int, source: Path = paths.SOLUTION) -> Path:
    """`copies` students, each with a copy of `source` (the reference solution by default)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(copies):
        shutil.copyfile(source, folder / f"student{i:04d}.ipynb")
    return folder


def busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (from /proc/stat). The sandboxed processes run in their own
    PID namespace and are not reaped by us, so getrusage(RUSAGE_CHILDREN) would miss their CPU time."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
        return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    return 0.0


def idle_baseline(seconds: float = BASELINE_SECONDS) -> float:
    """Cores other processes keep busy while the bench is not running."""
    before = busy_seconds()
    time.sleep(seconds)
    return (busy_seconds() - before) / seconds


def run_parent(folder: Path, out: Path, jobs: int) -> dict:
    """One batch in a fresh process; returns its .batch/run.json (seconds, statuses, parent_peak_rss_kib) plus
    `busy_cores`, the cores the machine had busy on average meanwhile."""
    cmd = [sys.executable, "-m", "grader.bench.batch", "parent", str(folder), str(out), str(jobs)]
    before, started = busy_seconds(), time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    busy, wall = busy_seconds() - before, time.monotonic() - started
    return {**json.loads((out / ".batch" / "run.json").read_text()), "busy_cores": busy / wall}


def speedup(tmp: Path) -> tuple[dict, dict]:
    """Real grading of SPEEDUP_COPIES solutions with JOBS=1 and JOBS=2."""
    folder = make_class(tmp / "speed", SPEEDUP_COPIES)
    return run_parent(folder, tmp / "out1", 1), run_parent(folder, tmp / "out2", 2)


def report_lines(one: dict, two: dict, mem: dict[int, dict], baseline: float) -> list[str]:
    ratio = one["seconds"] / two["seconds"] if two["seconds"] else 0.0
    small, large = (mem[n]["parent_peak_rss_kib"] / 1024 for n in MEMORY_SIZES)
    growth = (large - small) / small if small else 0.0
    cores = os.cpu_count() or 1
    ceiling = min(2.0, cores) / max(one["busy_cores"] - baseline, 1e-3)
    busy = [f"  WARNING: other processes kept {baseline:.2f} cores busy before the bench, so the speed-up is not a "
            "clean measurement"] if baseline > BASELINE_TOLERANCE else []
    return [
        f"batch: {SPEEDUP_COPIES} copies of the reference solution on {cores} cores (idle baseline {baseline:.2f} "
        "cores busy)",
        *busy,
        f"  JOBS=1: {one['seconds']:.1f} s ({one['seconds'] / SPEEDUP_COPIES:.2f} s per submission), "
        f"statuses {one['statuses']}; {one['busy_cores']:.2f} cores busy",
        f"  JOBS=2: {two['seconds']:.1f} s, speed-up {ratio:.2f}x "
        f"({'ok' if ratio >= SPEEDUP_TARGET else 'BELOW'} target {SPEEDUP_TARGET}x on 2 cores); "
        f"{two['busy_cores']:.2f} cores busy",
        f"  one grade alone keeps {one['busy_cores'] - baseline:.2f} cores busy (grader and sandbox overlap), so "
        f"2 cores allow at most {ceiling:.2f}x",
        f"  parent peak memory: {MEMORY_SIZES[0]} submissions {small:.1f} MiB, {MEMORY_SIZES[1]} submissions "
        f"{large:.1f} MiB ({growth:+.1%}; {'ok' if abs(growth) <= MEMORY_TOLERANCE else 'ABOVE'} target "
        f"{MEMORY_TOLERANCE:.0%}); the {MEMORY_SIZES[1]} took {mem[MEMORY_SIZES[1]]['seconds']:.0f} s with JOBS=2, "
        f"statuses {mem[MEMORY_SIZES[1]]['statuses']}",
    ]


def bench() -> list[str]:
    """Run the batch benchmark; returns the lines to print."""
    baseline = idle_baseline()
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp_name:
        tmp = Path(tmp_name)
        one, two = speedup(tmp)
        large = MEMORY_SIZES[1]
        big = run_parent(make_class(tmp / f"class{large}", large), tmp / f"out{large}", 2)
        return report_lines(one, two, {MEMORY_SIZES[0]: two, large: big}, baseline)


def main(argv: list[str] | None = None) -> int:
    """`parent FOLDER OUT JOBS` runs one batch (for run_parent); no arguments runs the whole benchmark."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["parent"]:
        from grader.batch.grade_all import BatchOptions, grade_class

        grade_class(BatchOptions(Path(argv[1]), Path(argv[2]), jobs=int(argv[3])), tty=False)
        return 0
    print("\n".join(bench()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
