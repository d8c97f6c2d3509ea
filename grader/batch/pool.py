"""Run one child process per submission, at most `workers` at a time, each bounded by a wall-clock timeout.

A job is either a command (exec'd) or a Python callable (run in a child forked from this process, so it starts
with whatever the parent has imported). Each child gets its own session (so a kill reaches its whole process group) and dies with the batch
(PR_SET_PDEATHSIG). The batch process makes itself a child subreaper, so anything a submission forks and detaches
(setsid, double fork) is re-parented to the batch and killed: no process outlives its row.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, NoReturn, Protocol

from grader.notebook.clean import LogStream

POLL_SECONDS = 0.05
SWEEP_SECONDS = 0.5  # scanning /proc for orphans costs about a millisecond per hundred processes
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


EX_SOFTWARE = 70  # a forked child whose callable raised


@dataclass(frozen=True)
class Job:
    """One child to run, with stdout and stderr going to `log`: the command `argv`, or else `target()` in a forked
    child, whose return value is the exit code."""

    name: str
    log: Path
    argv: tuple[str, ...] = ()
    target: Callable[[], int] | None = None


@dataclass(frozen=True)
class Finished:
    """How a child ended. exit_code is negative for a signal; timed_out when the batch killed it."""

    job: Job
    exit_code: int
    timed_out: bool
    seconds: float


_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _prctl(option: int, value: int) -> bool:
    return _LIBC is not None and _LIBC.prctl(option, value, 0, 0, 0) == 0


def die_with_parent() -> None:  # runs in a child: between fork and exec, or in a forked helper
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def child_env() -> dict[str, str]:
    """The children's environment: one BLAS thread each, since the parallelism is one process per core."""
    env = dict(os.environ)
    env.update({name: "1" for name in THREAD_VARS})
    return env


def _children_of(pid: int) -> set[int]:
    """Pids whose parent is `pid`, from /proc (empty where there is no /proc)."""
    from grader.sandbox.proctree import proc_stats  # noqa: PLC0415

    return {child for child, fields in proc_stats().items() if len(fields) > 1 and int(fields[1]) == pid}


class Reaper:
    """Kills and reaps processes re-parented to the batch (detached leftovers of submissions)."""

    def __init__(self) -> None:
        self.me = os.getpid()
        self.keep = _children_of(self.me)  # children the caller had before the batch are not ours to kill
        self.enabled = False

    def __enter__(self) -> "Reaper":
        self.enabled = _prctl(PR_SET_CHILD_SUBREAPER, 1)
        return self

    def __exit__(self, *exc: object) -> None:
        self.drain()
        if self.enabled:
            _prctl(PR_SET_CHILD_SUBREAPER, 0)

    def sweep(self, running: set[int]) -> int:
        """Kill every orphan now re-parented to us; returns how many were found."""
        orphans = _children_of(self.me) - running - self.keep
        for pid in orphans:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, os.WNOHANG)
            except (ProcessLookupError, ChildProcessError):
                pass
        return len(orphans)

    def drain(self, quiet_passes: int = 3, limit: float = 5.0) -> None:
        """Sweep until nothing has turned up for a few passes: orphans take a moment to be re-parented."""
        quiet, deadline = 0, time.monotonic() + limit
        while quiet < quiet_passes and time.monotonic() < deadline:
            quiet = quiet + 1 if self.sweep(set()) == 0 else 0
            time.sleep(POLL_SECONDS)


class _Child(Protocol):
    pid: int

    def wait(self) -> int: ...


class _Forked:
    """A forked child, with Popen's pid and wait()."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def wait(self) -> int:
        return os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])


def _fork(job: Job, cwd: Path) -> _Forked:
    """Run job.target in a forked child: its own session, dying with the batch, writing to the job's log."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # or the child would write the parent's pending output into its log
    log = os.open(job.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        _forked_child(job, log, cwd, parent)
    os.close(log)
    return _Forked(pid)


def _forked_child(job: Job, log: int, cwd: Path, parent: int) -> NoReturn:
    code = EX_SOFTWARE
    try:
        os.setsid()
        die_with_parent()
        if os.getppid() != parent:  # the batch died before the death signal was armed
            os._exit(EX_SOFTWARE)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        sys.stdout = LogStream(open(1, "w", buffering=1, closefd=False))  # not the parent's streams (pytest's);
        sys.stderr = LogStream(open(2, "w", buffering=1, closefd=False))  # what a submission wrote stays inert
        os.chdir(cwd)
        os.environ.update({name: "1" for name in THREAD_VARS})
        code = job.target()  # type: ignore[misc]
    except BaseException:  # noqa: BLE001 - whatever happens, the child must end here, never return to the batch
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        os._exit(code)


class _Running:
    def __init__(self, job: Job, timeout: float, env: dict[str, str], cwd: Path) -> None:
        self.job, self.started = job, time.monotonic()
        self.deadline = self.started + timeout
        job.log.parent.mkdir(parents=True, exist_ok=True)
        self.proc: _Child
        if job.target is not None:
            self.proc = _fork(job, cwd)
            return
        with open(job.log, "wb") as log:
            self.proc = subprocess.Popen(job.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         cwd=cwd, env=env, start_new_session=True, preexec_fn=die_with_parent)

    def exited(self) -> bool:
        """True once the child is a zombie; it is not reaped yet, so its process group id cannot be reused."""
        try:
            return os.waitid(os.P_PID, self.proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    def stop(self, timed_out: bool) -> Finished:
        """Kill what is left of the child's process group, reap the child, and say how it ended."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        code = self.proc.wait()
        return Finished(self.job, code, timed_out, round(time.monotonic() - self.started, 3))


def _wait_for_an_exit(running: list[_Running], seconds: float) -> None:
    """Sleep until one of the children exits or `seconds` pass. A pidfd becomes readable when its process exits,
    so the next submission starts at once, not at the next poll; without pidfds (before Linux 5.3), just sleep."""
    fds = []
    try:
        for child in running:
            fds.append(os.pidfd_open(child.proc.pid))
    except (AttributeError, OSError):
        for fd in fds:
            os.close(fd)
        time.sleep(seconds)
        return
    try:
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
        poller.poll(int(seconds * 1000))
    finally:
        for fd in fds:
            os.close(fd)


def _finish_ended(running: list[_Running], on_done: Callable[[Finished], None]) -> bool:
    """Hand every child that ended or ran out of time to on_done; True if any did."""
    ended = False
    for child in list(running):
        late = time.monotonic() > child.deadline
        if late or child.exited():
            running.remove(child)
            on_done(child.stop(timed_out=late and not child.exited()))
            ended = True
    return ended


def run_jobs(jobs: Iterable[Job], *, workers: int, timeout: float, on_done: Callable[[Finished], None],
             cwd: Path, env: dict[str, str] | None = None, on_tick: Callable[[], None] | None = None,
             on_drained: Callable[[], int | None] | None = None) -> None:
    """Run every job; call on_done as each ends (and on_tick while waiting). on_drained is called once, when every
    job has started and a worker's place is free: it may start one process of its own there (its pid, which the
    sweep of leftovers then spares). On KeyboardInterrupt, kill all children, then re-raise."""
    pending: Iterator[Job] = iter(jobs)
    running: list[_Running] = []
    env = env or child_env()
    swept, drained = 0.0, False
    with Reaper() as reaper:
        try:
            while True:
                while len(running) < workers and (job := next(pending, None)) is not None:
                    running.append(_Running(job, timeout, env, cwd))
                if on_drained and not drained and len(running) < workers:
                    drained = True
                    extra = on_drained()
                    if extra:
                        reaper.keep.add(extra)
                if not running:
                    break
                if _finish_ended(running, on_done) or time.monotonic() - swept >= SWEEP_SECONDS:
                    reaper.sweep({child.proc.pid for child in running})
                    swept = time.monotonic()
                if on_tick:
                    on_tick()
                _wait_for_an_exit(running, POLL_SECONDS)
        finally:
            for child in running:
                child.stop(timed_out=False)
