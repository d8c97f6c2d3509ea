"""What a Dask worker runs for `grade-all --scheduler`: one submission in, its row and its folder out, as plain data.

In: a dict of bytes and text built by the client (grader.batch.cluster.task_of): the submission's bytes and
name, the student, the rerun key, the rubric's text, the sandbox mode, the timeout and the client's version.
Out: a dict of text and bytes built here, by the grader: the row as JSON text, the student's folder as a tar, the
tail of the grading's log, the exit code and whether it timed out. Nothing the submission wrote is unpickled or
evaluated on either side; the grading itself runs in a child of this worker's fork server (grader.batch.forkserver).

The rubric (with the grading secret) is written into the worker's own folder, readable by the grader's user only,
and read by the grading process; the sandbox sees neither that folder nor the grader's environment.
"""

from __future__ import annotations

import io
import socket
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from grader import __version__

MAX_LOG_BYTES = 64 << 10


def check_host(sandbox: str, version: str) -> str:
    """'' when this host can grade as the client asks, else why not. Without an explicit --sandbox none, a host
    where bubblewrap cannot isolate refuses: a cluster never falls back to grading unisolated by itself."""
    host = socket.gethostname()
    if version != __version__:
        return f"{host} runs grader {__version__} but the client runs {version}; install the same version on every host"
    if sandbox == "none":
        return ""
    from grader.sandbox.bwrap import probe_bwrap

    problem = probe_bwrap()
    if problem:
        return f"{host} cannot sandbox submissions: {problem}. Fix the host, or run grade-all with --sandbox none " \
               "to grade WITHOUT isolation there"
    return ""


def _local_directory() -> Path:
    """The Dask worker's own folder (--local-directory), else the temporary directory."""
    try:
        from distributed import get_worker

        return Path(get_worker().local_directory)
    except (ImportError, ValueError):
        return Path(tempfile.gettempdir())


def _safe_name(name: str) -> str:
    """The submission's own file name, as grading reports it; a plain name only."""
    plain = PurePosixPath(str(name).replace("\\", "/")).name
    return plain if plain not in ("", ".", "..") and "\0" not in plain else "submission.ipynb"


def pack(folder: Path) -> bytes:
    """The student's folder (its regular files) as an uncompressed tar."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:") as tar:
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.is_file() and not path.is_symlink():
                    tar.add(path, arcname=path.name, recursive=False)
    return buf.getvalue()


def _tail(log: Path) -> str:
    try:
        data = log.read_bytes()
    except OSError:
        return ""
    return data[-MAX_LOG_BYTES:].decode("utf-8", errors="replace")


def grade_remote(task: dict) -> dict:
    """Grade one submission on this worker (see the module's docstring for what comes in and goes out)."""
    from grader.batch.forkserver import server_for
    from grader.batch.worker import GradeTask

    host = socket.gethostname()
    refusal = check_host(str(task["sandbox"]), str(task["version"]))
    if refusal:
        return {"refused": refusal, "host": host}
    sandbox = "none" if task["sandbox"] == "none" else "bwrap"
    base = _local_directory()
    server = server_for(base, str(task["rubric"]), sandbox)
    with tempfile.TemporaryDirectory(dir=base, prefix="grade-") as tmp:
        work = Path(tmp)
        path = work / _safe_name(task["name"])
        path.write_bytes(bytes(task["data"]))
        rubric = work / "rubric.toml"
        rubric.touch(mode=0o600)
        rubric.write_text(str(task["rubric"]), encoding="utf-8")
        deadline = task.get("grading_seconds")  # the batch's --timeout: the same one deadline as on the local pool
        job = GradeTask(path, str(task["student"]), str(task["file"]), str(task["key"]), work / "out",
                        work / "row.json", rubric, sandbox, float(deadline) if deadline is not None else None)
        try:
            code, timed_out, seconds = server.run(job.argv(), work, work / "grading.log", float(task["timeout"]))
        except (ConnectionRefusedError, FileNotFoundError):  # the server died between two tasks: start it again
            server = server_for(base, str(task["rubric"]), sandbox)
            code, timed_out, seconds = server.run(job.argv(), work, work / "grading.log", float(task["timeout"]))
        row = job.row.read_text(encoding="utf-8") if job.row.exists() else ""
        return {"host": host, "exit_code": code, "timed_out": timed_out, "seconds": seconds, "row": row,
                "files": pack(job.out), "log": _tail(work / "grading.log")}
