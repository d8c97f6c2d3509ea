"""`make bench`: timings that matter for grading a class. Each section is a function returning its printed lines;
add a section by appending it to SECTIONS."""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

STARTS = 10
ROUND_TRIPS = 300
STARTUP_TARGET_MS = 150.0
ROUND_TRIP_TARGET_MS = 2.0


def _median_ms(samples: list[float]) -> float:
    return 1000 * statistics.median(samples)


def _bare_python() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import numpy"], check=True)
    return time.perf_counter() - started


def _worker_start(mode: str) -> float:
    from grader.sandbox.limits import Limits  # noqa: PLC0415
    from grader.sandbox.process import WorkerProcess  # noqa: PLC0415

    started = time.perf_counter()
    worker = WorkerProcess(mode, Limits(), {})
    worker.wait_ready()
    elapsed = time.perf_counter() - started
    worker.stop()
    return elapsed


def _round_trips(mode: str) -> list[float]:
    from grader.sandbox.client import open_submission  # noqa: PLC0415

    x = np.random.default_rng(0).normal(size=(1000, 16))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "echo.py"
        path.write_text("def echo(x):\n    return x\n")
        with open_submission(path, sandbox=mode) as student:
            student.call("echo", x)  # warm up
            samples = []
            for _ in range(ROUND_TRIPS):
                started = time.perf_counter()
                student.call("echo", x)
                samples.append(time.perf_counter() - started)
    return samples


def bench_sandbox() -> list[str]:
    """Sandbox start-up over a bare `python -c 'import numpy'`, and one request's round trip with a (1000, 16) array."""
    from grader.sandbox.bwrap import available_mode  # noqa: PLC0415

    mode = available_mode("auto")
    bare = _median_ms([_bare_python() for _ in range(STARTS)])
    start = _median_ms([_worker_start(mode) for _ in range(STARTS)])
    trip = _median_ms(_round_trips(mode))
    extra = start - bare

    def verdict(value: float, target: float) -> str:
        return "ok" if value <= target else "OVER TARGET"

    return [
        f"sandbox ({mode}) start-up: {start:.0f} ms to a ready worker vs {bare:.0f} ms for a bare "
        f"`python -c 'import numpy'`: +{extra:.0f} ms (target <= {STARTUP_TARGET_MS:.0f} ms, {verdict(extra, STARTUP_TARGET_MS)})",
        f"request round trip with a (1000, 16) float64 array each way: {trip:.2f} ms median over {ROUND_TRIPS} "
        f"(target <= {ROUND_TRIP_TARGET_MS:.0f} ms, {verdict(trip, ROUND_TRIP_TARGET_MS)})",
    ]


def bench_batch() -> list[str]:
    """grade-all on a class mix with JOBS=1 and JOBS=2 (throughput and speed-up), and the batch parent's peak
    memory for 30 and 200 submissions (it should not grow with the class)."""
    from grader.bench.batch import bench  # noqa: PLC0415

    return bench()


def bench_grading() -> list[str]:
    """Grading the reference solution, and its self-check, as ratios to running its code plainly with python."""
    from grader.bench.grading import bench_grading as section  # noqa: PLC0415

    return section()


def bench_neighbour() -> list[str]:
    """An honest submission's grading time next to a CPU-hungry neighbour (JOBS=2), as a ratio to a calm one."""
    from grader.bench.neighbour import bench_neighbour as section  # noqa: PLC0415

    return section()


def bench_cluster() -> list[str]:
    """The same class mix on a 2-worker Dask cluster on this machine against the local pool (--jobs 2)."""
    from grader.bench.cluster import bench_cluster as section  # noqa: PLC0415

    return section()


SECTIONS: list[tuple[str, Callable[[], list[str]]]] = [
    ("sandbox", bench_sandbox),
    ("grading", bench_grading),
    ("batch", bench_batch),
    ("neighbour", bench_neighbour),
    ("cluster", bench_cluster),
]


def main() -> int:
    for title, section in SECTIONS:
        print(f"== {title}")
        for line in section():
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
