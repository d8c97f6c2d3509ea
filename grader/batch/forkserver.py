"""A warm grading server for one Dask worker: exec'd once, it imports the grader and forks one child per submission.

Dask runs tasks in threads, where forking the worker itself is unsafe, and a fresh interpreter per submission
would pay the grader's imports (about a CPU-second) every time. So the worker starts this single-threaded process
once (`python -m grader.batch.forkserver SOCKET --rubric R --sandbox S`), which warms up as a local batch's parent
does (grader.batch.worker.warm_up) and then serves a Unix socket in the worker's private folder: each connection
is one grading, run in a child forked from the warm server by the same code as a local batch's child
(grader.batch.pool). The server ends when its stdin closes, that is when the Dask worker is gone, however it died;
its children die with it (PR_SET_PDEATHSIG).

Protocol, one JSON line each way: the task thread sends {"argv": worker arguments, "log": path, "cwd": path}; the
server answers {"pid": child pid}; the child answers {"exit": code} when it is done. End of file without that line
means the child died.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from grader.errors import GraderError

START_SECONDS = 300  # the warm-up on a loaded host (imports, the suite, the bubblewrap probe)
REQUEST_SECONDS = 10
SOCKET_NAME = "grading.sock"
MAX_SOCKET_PATH = 100
SHORT_FOLDER = "grader-sock-"  # a private folder in the temporary directory, when the worker's own path is too long


# --- the server ----------------------------------------------------------------------------------------------------

def _reap() -> None:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _serve_one(conn: socket.socket, listener: socket.socket) -> None:
    """Read one request and fork its child; the child reports its own end on the connection."""
    from grader.batch.pool import Job, _forked_child
    from grader.batch.worker import parse_args, run_task

    conn.settimeout(REQUEST_SECONDS)
    try:
        request = json.loads(conn.makefile("rb").readline())
        task, log, cwd = parse_args([str(a) for a in request["argv"]]), Path(request["log"]), Path(request["cwd"])
    except (OSError, ValueError, TypeError, KeyError, SystemExit):
        conn.close()
        return

    def target() -> int:
        code = run_task(task)
        conn.sendall(json.dumps({"exit": code}).encode() + b"\n")
        return code

    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        listener.close()
        conn.settimeout(None)
        _forked_child(Job(task.student, log, target=target), fd, cwd, parent)
    os.close(fd)
    try:
        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    except OSError:
        os.kill(pid, signal.SIGKILL)  # nobody waits for this grading any more
    conn.close()


def serve(path: Path, rubric: Path | None, sandbox: str) -> int:
    from grader.batch.worker import warm_up

    warm_up(rubric, sandbox)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path.unlink(missing_ok=True)
    listener.bind(str(path))
    listener.listen(64)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    try:
        while True:
            ready, _, _ = select.select([listener, sys.stdin], [], [], 1.0)
            _reap()
            if sys.stdin in ready and not os.read(sys.stdin.fileno(), 4096):
                return 0  # the Dask worker is gone: end, and the children with us
            if listener in ready:
                conn, _ = listener.accept()
                _serve_one(conn, listener)
    finally:
        path.unlink(missing_ok=True)
        if path.parent.name.startswith(SHORT_FOLDER):
            with contextlib.suppress(OSError):
                path.parent.rmdir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grader.batch.forkserver", description=__doc__.splitlines()[0])
    parser.add_argument("socket", type=Path)
    parser.add_argument("--rubric", type=Path, default=None)
    parser.add_argument("--sandbox", default="bwrap")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    return serve(args.socket, args.rubric, args.sandbox)


# --- the Dask worker's side ----------------------------------------------------------------------------------------

class ForkServer:
    """A running server in `folder`, started from a Dask task's thread by exec, never by fork."""

    def __init__(self, folder: Path, rubric: Path, sandbox: str) -> None:
        from grader.batch.pool import child_env

        self.folder, self.socket = folder, folder / SOCKET_NAME
        if len(str(self.socket)) > MAX_SOCKET_PATH:  # a Unix socket's path has at most 107 bytes
            self.socket = Path(tempfile.mkdtemp(prefix=SHORT_FOLDER)) / SOCKET_NAME
        with open(folder / "server.log", "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "grader.batch.forkserver", str(self.socket),
                                          "--rubric", str(rubric), "--sandbox", sandbox],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=folder,
                                         env=child_env())
        ready, _, _ = select.select([self.proc.stdout], [], [], START_SECONDS)
        if not ready or self.proc.stdout.readline() != b"ready\n":
            self.proc.kill()
            raise GraderError(f"the grading server did not start; see {folder / 'server.log'}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, argv: list[str], cwd: Path, log: Path, timeout: float) -> tuple[int, bool, float]:
        """Grade in a child of the server; (exit code, timed out, seconds). -1 when the child died without a word."""
        started = time.monotonic()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(REQUEST_SECONDS)
            conn.connect(str(self.socket))
            conn.sendall(json.dumps({"argv": argv, "log": str(log), "cwd": str(cwd)}).encode() + b"\n")
            reader = conn.makefile("rb")
            pid = int(json.loads(reader.readline())["pid"])
            conn.settimeout(max(1.0, timeout - (time.monotonic() - started)))
            try:
                line = reader.readline()
            except TimeoutError:
                try:
                    os.killpg(pid, signal.SIGKILL)  # the child leads its own session
                except (ProcessLookupError, PermissionError):
                    pass
                return -9, True, round(time.monotonic() - started, 3)
        code = int(json.loads(line)["exit"]) if line.strip() else -1
        return code, False, round(time.monotonic() - started, 3)


_servers: dict[tuple[str, str], ForkServer] = {}
_lock = threading.Lock()


def server_for(base: Path, rubric_text: str, sandbox: str) -> ForkServer:
    """This worker's server for a rubric and sandbox mode, started on first use (and again if it died)."""
    key = (hashlib.sha256(rubric_text.encode()).hexdigest()[:16], sandbox)
    with _lock:
        server = _servers.get(key)
        if server is None or not server.alive():
            folder = base / f"g-{key[0]}-{sandbox}"
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            rubric = folder / "rubric.toml"
            rubric.touch(mode=0o600)
            rubric.write_text(rubric_text, encoding="utf-8")
            server = _servers[key] = ForkServer(folder, rubric, sandbox)
        return server


if __name__ == "__main__":
    sys.exit(main())
