"""A real Dask cluster on this machine for `make bench` and the tests: `dask scheduler` and N `dask worker`
processes on 127.0.0.1 (free ports, no dashboard, one thread each, no nanny), each in its own working folder, all
killed when the `with` ends. Then the bench figure: one class mix on that 2-worker cluster against the local pool.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from grader.bench.load import LoadWatch

START_SECONDS = 90
OVERHEAD_TARGET = 0.15
MIX_SIZE = 16
ROUNDS = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    """A running scheduler's address, and each worker's process and working folder."""

    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]
    folders: list[Path]


def _start(argv: list[str], cwd: Path, prefix: tuple[str, ...] = ()) -> subprocess.Popen:
    cwd.mkdir(parents=True, exist_ok=True)
    with open(cwd / "dask.log", "ab") as log:
        return subprocess.Popen([*prefix, sys.executable, "-m", "dask", *argv], cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_workers(address: str, count: int, timeout: float = START_SECONDS) -> None:
    from distributed import Client

    with Client(address, timeout=timeout) as client:
        client.wait_for_workers(count, timeout=timeout)


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL the process's whole group (a worker's fork server with it), and reap it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@contextlib.contextmanager
def dask_cluster(base: Path, workers: int = 2, prefix: tuple[str, ...] = ()) -> Iterator[Cluster]:
    """Start the scheduler and `workers` workers under `base`; `prefix` runs each worker under a wrapper command."""
    port, started = free_port(), []
    address = f"tcp://127.0.0.1:{port}"
    try:
        scheduler = _start(["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                           base / "scheduler")
        started.append(scheduler)
        folders = [base / f"worker{i + 1}" for i in range(workers)]
        procs = [_start(["worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", f"w{i + 1}",
                         "--local-directory", str(folder)], folder, prefix) for i, folder in enumerate(folders)]
        started += procs
        wait_for_workers(address, workers)
        yield Cluster(address, scheduler, procs, folders)
    finally:
        for proc in started:
            kill(proc)


def _batch(source: Path, out: Path, *extra: str) -> float:
    """Seconds for one grade-all of `source` in a fresh process."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "grader", "grade-all", str(source), "--out", str(out), *extra],
                   check=True, capture_output=True, timeout=3600)
    return time.perf_counter() - started


def _note(watch: LoadWatch) -> str:
    note = watch.usage.note() if watch.usage else ""
    return f"  {note}" if note else ""


def _timed(source: Path, out: Path, *extra: str) -> tuple[float, str]:
    with LoadWatch() as watch:
        seconds = _batch(source, out, *extra)
    return seconds, _note(watch)


def bench_cluster() -> list[str]:
    """The same class mix graded by the local pool (--jobs 2) and by a 2-worker cluster on this machine, in turns
    (ROUNDS of each, the cluster's first one cold), so that the shared machine's load falls on both alike."""
    from grader.bench.batch import make_mix

    lines, pool, remote = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        base = Path(tmp)
        source = make_mix(base / "class", MIX_SIZE)
        with dask_cluster(base / "dask", 2) as cluster:
            for r in range(ROUNDS):
                seconds, note = _timed(source, base / f"pool{r}", "--jobs", "2")
                pool.append(seconds)
                lines.append(f"round {r + 1}: class mix of {MIX_SIZE}, local pool --jobs 2: {seconds:.1f} s{note}")
                seconds, note = _timed(source, base / f"cluster{r}", "--scheduler", cluster.address)
                remote.append(seconds)
                cold = " (cold: each worker loads the grader first)" if r == 0 else ""
                lines.append(f"round {r + 1}: the same class on a 2-worker Dask cluster on this machine{cold}: "
                             f"{seconds:.1f} s{note}")
    ratio = statistics.median(remote) / statistics.median(pool)
    verdict = "ok" if ratio - 1 <= OVERHEAD_TARGET else "OVER TARGET"
    return lines + [f"cluster / local pool, medians of {ROUNDS} rounds: {ratio:.2f}x, overhead "
                    f"{100 * (ratio - 1):+.0f} % (target <= {100 * OVERHEAD_TARGET:.0f} %, {verdict})"]
