"""One running worker process, seen from the grader: start, request/reply with deadlines, capped output, tree kill.

The grader's deadlines are the authority: the worker's own interrupt only makes a timeout graceful. Nothing the
worker prints is parsed; replies arrive on a dedicated pipe and are validated by protocol.py.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import queue
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from grader.sandbox.inside import protocol
from grader.sandbox import bwrap as sandbox, cgroup, replies
from grader.sandbox.proctree import exited, hold_namespaces, kill_tree, release_namespaces
from grader.errors import ProtocolError, SandboxError, WorkerDied
from grader.sandbox.inside.protocol import Op
from grader.sandbox.limits import Limits

PIPE_BYTES = 1 << 20
RAW_OUTPUT_KEEP = 64 * 1024
START_SECONDS = 60.0  # interpreter and numpy start-up; generous for loaded CI machines


class OutputDrain:
    """Reads the process's raw stdout and stderr so it never blocks; keeps the first bytes, counts the rest."""

    def __init__(self, streams: dict[str, int], keep: int = RAW_OUTPUT_KEEP) -> None:
        self.keep, self.kept, self.dropped = keep, {k: bytearray() for k in streams}, 0
        self._sel = selectors.DefaultSelector()
        for name, fd in streams.items():
            os.set_blocking(fd, False)
            self._sel.register(fd, selectors.EVENT_READ, name)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-output", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set() and self._sel.get_map():
            for key, _ in self._sel.select(0.2):
                try:
                    data = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    self._sel.unregister(key.fd)
                    continue
                buf = self.kept[key.data]
                room = max(0, self.keep - len(buf))
                buf += data[:room]
                self.dropped += len(data) - min(room, len(data))

    def stop(self, wait: float = 1.0) -> None:
        self._thread.join(wait)  # lets the last bytes in, then gives up on pipes a stray process holds open
        self._stop.set()
        self._thread.join(1.0)
        self._sel.close()

    def text(self, name: str) -> str:
        return self.kept[name].decode(errors="replace")


class _Spawner:
    """Starts every worker from one long-lived thread: the sandbox dies with its parent (PR_SET_PDEATHSIG), and
    Linux means the parent *thread*, so a worker started from a short-lived thread would die with that thread."""

    def __init__(self) -> None:
        self._jobs: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def popen(self, argv: tuple[str, ...], pass_fds: tuple[int, ...]) -> subprocess.Popen:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="worker-spawner", daemon=True)
                self._thread.start()
        done: queue.Queue = queue.Queue()
        self._jobs.put((argv, pass_fds, done))
        ok, value = done.get()
        if not ok:
            raise value
        return value

    def _serve(self) -> None:
        while True:
            argv, pass_fds, done = self._jobs.get()
            try:
                # env: a snapshot. Without it the child execs the live environ, which another thread's putenv
                # (sklearn's import sets variables) can reallocate mid-spawn: execve then fails with EFAULT.
                done.put((True, subprocess.Popen(argv, pass_fds=pass_fds, stdin=subprocess.DEVNULL,
                                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                                 start_new_session=True, env=dict(os.environ))))
            except BaseException as e:  # handed back to the caller's thread
                done.put((False, e))


_SPAWNER = _Spawner()
os.register_at_fork(after_in_child=_SPAWNER.__init__)  # a forked child has no spawner thread: start afresh


class WorkerProcess:
    """A worker started in the given sandbox mode, with `files` (name -> host path) in its scratch directory."""

    def __init__(self, mode: str, limits: Limits, files: dict[str, Path], *, seed: int | None = None,
                 max_message_bytes: int = protocol.MAX_MESSAGE_BYTES, standins_file: Path | None = None) -> None:
        self.mode, self.limits, self.max_message_bytes = mode, limits, max_message_bytes
        self.killed_because = ""
        self._ids = itertools.count(1)
        req_r, self._req = os.pipe()
        self._rep, rep_w = os.pipe()
        for fd in (self._req, self._rep):
            _widen(fd)
        cfg = {"rfd": req_r, "wfd": rep_w, "output_bytes": limits.output_bytes, "seed": seed,
               "max_message_bytes": max_message_bytes, "standins": str(standins_file) if standins_file else None}
        self.token = os.urandom(8).hex()
        self.plan = sandbox.worker_plan(mode, limits, files, cfg, self.token)
        try:
            self.proc = _SPAWNER.popen(self.plan.argv, pass_fds=(req_r, rep_w, *self.plan.pass_fds))
        except OSError as e:
            sandbox.remove_dirs(self.plan)
            cgroup.release(self.plan.confinement)
            raise SandboxError(f"the sandbox could not be started: {e}") from None
        finally:
            os.close(req_r)
            os.close(rep_w)
            sandbox.close_fds(self.plan)
        os.set_blocking(self._req, False)
        os.set_blocking(self._rep, False)
        self.output = OutputDrain({"stdout": self.proc.stdout.fileno(), "stderr": self.proc.stderr.fileno()})
        self.namespaces: frozenset[str] = frozenset()  # the sandbox's PID namespaces, swept at kill time
        self.namespace_fds: tuple[int, ...] = ()  # what pins them until that sweep is over
        self._kill_lock = threading.RLock()  # close() and the cell thread may both kill: one sweep, one release
        self.retired = False
        self.oom_kills = 0

    @property
    def alive(self) -> bool:
        return not self.killed_because and not self.retired and not exited(self.proc)

    def wait_ready(self) -> None:
        """Wait for the worker's "ready" frame (the interpreter and numpy are loaded). No student code has run
        yet, so a failure here is the sandbox's: SandboxError, with what the sandbox printed."""
        try:
            reply, _ = self._receive(time.monotonic() + START_SECONDS, "starting")
        except (TimeoutError, WorkerDied, ProtocolError) as e:
            detail = str(e) if str(e) != "starting" else f"no answer within {START_SECONDS:g} s"
            stderr = self.output.text("stderr").strip().splitlines()[-3:]
            shown = f" ({' | '.join(stderr)})" if stderr else ""
            raise SandboxError(f"the sandbox did not start: {detail}{shown}") from e
        if reply.get("op") != Op.READY:
            self.kill("it sent an unexpected first message")
            raise SandboxError("the sandbox did not start: the worker's first message was not 'ready'")
        with self._kill_lock:  # not once a kill has begun: the pid may be reaped, and nothing would release them
            if not self.retired and not self.killed_because and not exited(self.proc):
                held = hold_namespaces(self.proc.pid)  # swept at kill time even if bwrap is gone; pinned till then
                self.namespaces, self.namespace_fds = frozenset(held), tuple(held.values())

    def request(self, message: dict, blobs: list[bytes], seconds: float,
                answer: Callable[[dict, list[bytes]], tuple[dict, list[bytes]]] | None = None) -> tuple[dict, list[bytes]]:
        """Send one request and wait for its reply; past seconds + grace the whole sandbox is killed. Callbacks the
        worker's stand-ins send meanwhile are answered with `answer` (refused without one), inside that time."""
        if not self.alive:
            raise WorkerDied(self.exit_reason())
        message = {**message, "id": next(self._ids), "seconds": seconds}
        deadline = time.monotonic() + seconds + grace(seconds)
        try:
            protocol.send(self._req, message, blobs, deadline)
        except protocol.ChannelError as e:
            self._fail(e, message.get("op", ""))
        reply, out = self._receive(deadline, message.get("op", ""))
        while reply.get("op") == Op.CALLBACK:
            response, response_blobs = answer(reply, out) if answer else ({"op": Op.ANSWER, "error": "not here"}, [])
            try:
                protocol.send(self._req, response, response_blobs, deadline)
            except protocol.ChannelError as e:
                self._fail(e, message.get("op", ""))
            reply, out = self._receive(deadline, message.get("op", ""))
        if reply.get("id") != message["id"]:
            self.kill("it answered a request it was not asked")
            raise ProtocolError(f"the worker answered request {reply.get('id')!r}, not {message['id']}")
        if self.mode == "none" and exited(self.proc):  # the guard was killed; the worker lives on: end it now
            self.kill("its parent (guard) process was killed, for example by os.kill(os.getppid(), ...)")
            raise WorkerDied(self.exit_reason())
        return reply, out

    def _receive(self, deadline: float, what: str) -> tuple[dict, list[bytes]]:
        try:
            reply, blobs = protocol.receive(self._rep, self.max_message_bytes, deadline)
        except protocol.ChannelError as e:
            self._fail(e, what)
        try:
            return replies.checked(reply), blobs  # the one place every reply's fields are validated
        except ProtocolError:
            self.kill("it sent a malformed message")
            raise

    def _fail(self, e: protocol.ChannelError, what: str) -> None:
        if e.reason == "timeout":
            self.kill(f"it did not answer in time ({what})")
            raise TimeoutError(what)
        if e.reason == "eof":
            try:
                self.proc.wait(2.0)  # let it finish dying, so its own exit status (not our SIGKILL) is reported
            except subprocess.TimeoutExpired:
                pass
            self.kill("")
            raise WorkerDied(self.exit_reason())
        self.kill(f"it sent a malformed message ({e})")
        raise ProtocolError(f"the worker sent a malformed message: {e}")

    def exit_reason(self) -> str:
        """Why the process is gone, in words for a student or a TA."""
        if self.killed_because:
            return f"the grader stopped the notebook's process because {self.killed_because}"
        code = self.proc.poll()
        if code is None:
            return "the notebook's process is still running"
        ooms = self.oom_kills if self.retired else cgroup.oom_kills(self.plan.confinement)
        memory = (f"; the sandbox's memory limit of {self.limits.memory_bytes >> 20} MB for all its processes "
                  "together was reached") if ooms else ""
        return describe_exit(code, self.limits, self.output.text("stderr")) + memory

    def kill(self, because: str = "") -> None:
        """SIGKILL the whole tree (the sandbox's PID namespace, or in mode none the tagged processes) and clean up."""
        with self._kill_lock:
            self._kill(because)

    def _kill(self, because: str) -> None:
        if because and not self.killed_because and not exited(self.proc):
            self.killed_because = because
        token = self.token if self.mode == "none" else ""
        if self.proc.returncode is None:  # not reaped yet, so the pid cannot have been reused
            kill_tree(self.proc.pid, token, self.namespaces)
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        kill_tree(None, token, self.namespaces)
        # the tree is gone: let the namespaces go, and never sweep their numbers again (another sandbox may get them)
        release_namespaces(self.namespace_fds)
        self.namespaces, self.namespace_fds = frozenset(), ()
        if self.retired:
            return
        self.oom_kills = cgroup.oom_kills(self.plan.confinement)
        cgroup.release(self.plan.confinement)  # kills whatever is left in the groups, which no process can leave
        self.output.stop()
        for fd in (self._req, self._rep):
            try:
                os.close(fd)
            except OSError:
                pass
        self._req = self._rep = -1
        self.retired = True
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()
        sandbox.remove_dirs(self.plan)

    def stop(self) -> None:
        """Ask politely, then kill the tree anyway (grandchildren may still run)."""
        if self.alive:
            try:
                self.request({"op": Op.STOP}, [], 2.0)
            except (WorkerDied, ProtocolError, TimeoutError):
                pass
        self.kill()


def grace(seconds: float) -> float:
    """How long past a limit the grader waits for the worker's own interrupt before killing the sandbox."""
    return min(5.0, 0.5 + 0.25 * seconds)


def describe_exit(code: int, limits: Limits, stderr: str) -> str:
    if code == 126 and "sandbox launcher:" in stderr:
        return "the sandbox could not start: " + stderr.split("sandbox launcher:")[-1].strip().splitlines()[0]
    sig = code - 128 if 128 < code < 128 + 65 else -code if code < 0 else 0
    if sig:
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else f"signal {sig}"
        why = {
            signal.SIGXCPU: f" (the CPU time limit of {limits.cpu_seconds} s was reached)",
            signal.SIGXFSZ: f" (a file grew past the size limit of {limits.file_bytes} bytes)",
            signal.SIGSEGV: " (a crash: deep recursion or running out of memory can cause this)",
            signal.SIGKILL: " (the CPU time limit, the machine running out of memory, or a kill signal)",
        }.get(sig, "")
        return f"the notebook's process was killed by signal {sig} ({name}){why}"
    hint = " (os._exit() or a library that ended the process)" if code == 0 else ""
    tail = stderr.strip().splitlines()[-1:] if code not in (0,) and stderr.strip() else []
    extra = f": {tail[0][:300]}" if tail else ""
    return f"the notebook's process exited with code {code}{hint}{extra}"


def _widen(fd: int) -> None:
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)  # one (1000, 16) float array fits in a single write
    except OSError:
        pass  # a lower /proc/sys/fs/pipe-max-size: smaller writes, same result
