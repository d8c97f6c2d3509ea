"""`grade-all --scheduler tcp://HOST:PORT` (or `--cluster local:N`): the batch's submissions graded by Dask workers.

The client (the TA's machine) keeps the batch as it is locally: the plan, the rerun cache, the rows, the progress
line and every file of OUT. Each submission goes to a worker as bytes, with the rubric's text; the worker grades
it in a subprocess (grader.batch.remote) and sends back the student's folder as a tar and the row as JSON text, so
no filesystem is shared. A task whose worker died is run again elsewhere by Dask (its `allowed-failures`); each
result becomes exactly one row, through the same `on_done` as a local child.
"""

from __future__ import annotations

import io
import itertools
import re
import tarfile
import time
import uuid
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Callable, Iterator

from grader import __version__, paths
from grader.batch.pool import Finished, Job
from grader.batch.progress import Progress
from grader.files import write_bytes, write_text
from grader.errors import ConfigError, GraderError

if TYPE_CHECKING:
    from grader.batch.grade_all import BatchOptions, _Pending

POLL_SECONDS = 0.1
CONNECT_SECONDS = 30
MAX_FILES = 32  # a student's folder holds results.json and two pages
MAX_FOLDER_BYTES = 32 << 20
LOCAL = re.compile(r"local:(\d+)")
IN_FLIGHT_PER_THREAD = 4  # tasks queued per worker thread: enough to keep it busy, few enough to bound memory
WORKER_DIED = 137  # the exit code a row reports when Dask gave up on a task whose workers kept dying


class ClusterError(GraderError):
    """The cluster cannot grade: no scheduler there, no worker, or a worker that refuses (with the reason)."""


def check_address(text: str) -> str:
    """A scheduler address (tcp://HOST:PORT, tls://...) or local:N; ConfigError otherwise."""
    if LOCAL.fullmatch(text) and int(text[6:]) >= 1 or re.fullmatch(r"(tcp|tls|ucx|inproc)://\S+", text):
        return text
    raise ConfigError(f"{text!r}: expected a scheduler address such as tcp://head:8786, or local:N")


def connect(address: str) -> tuple[object, object | None]:
    """A Dask client for the address, and the LocalCluster it started for local:N (else None)."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ClusterError("grading on a cluster needs Dask's distributed: pip install -e '.[cluster]' "
                           "(which `make` does)") from None
    found = LOCAL.fullmatch(address)
    if found:
        cluster = LocalCluster(n_workers=int(found[1]), threads_per_worker=1, dashboard_address=None)
        return Client(cluster), cluster
    try:
        return Client(address, timeout=CONNECT_SECONDS), None
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"no Dask scheduler answers at {address} ({exc}); start one with `dask scheduler` "
                           "(see the README)") from None


def _rubric_text(opts: BatchOptions) -> str:
    return (opts.rubric or paths.RUBRIC).read_text(encoding="utf-8")


def check_workers(client, sandbox: str) -> int:
    """Ask every worker whether it can grade as asked; ClusterError naming the ones that cannot. The worker count."""
    from grader.batch.remote import check_host

    try:
        client.wait_for_workers(1, timeout=CONNECT_SECONDS)
    except TimeoutError:
        pass
    answers = client.run(check_host, sandbox, __version__, on_error="return")
    if not answers:
        raise ClusterError("the scheduler has no workers: start `dask worker SCHEDULER` on the grading hosts")
    problems = [f"{worker}: {answer}" for worker, answer in sorted(answers.items()) if answer]
    if problems:
        raise ClusterError("a worker cannot grade here:\n  " + "\n  ".join(str(p) for p in problems))
    return len(answers)


def task_of(p: _Pending, opts: BatchOptions, timeout: float, rubric: str) -> dict:
    """What a worker needs to grade one submission: plain data only."""
    return {"name": p.file.path.name, "data": p.file.path.read_bytes(), "student": p.file.student,
            "file": p.file.file, "key": p.key, "rubric": rubric, "sandbox": opts.sandbox, "timeout": timeout,
            "grading_seconds": opts.timeout, "version": __version__}


def unpack(blob: bytes, folder: Path) -> None:
    """Write a worker's tar of a student's folder into `folder`: regular files only, plain relative names, size
    capped; the folder's other files are removed so a page the worker did not write cannot linger."""
    names: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:") as tar:
        total = 0
        for member in tar:
            name = PurePosixPath(member.name)
            if not member.isfile() or name.is_absolute() or ".." in name.parts or len(name.parts) != 1:
                raise ClusterError(f"a worker sent an unexpected entry {member.name!r}")
            total += member.size
            if total > MAX_FOLDER_BYTES or len(names) >= MAX_FILES:
                raise ClusterError(f"a worker sent more than {MAX_FILES} files or {MAX_FOLDER_BYTES >> 20} MiB")
            names[name.name] = tar.extractfile(member).read(member.size + 1)[:member.size]
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        if old.is_file() and old.name not in names:
            old.unlink()
    for name, data in names.items():
        write_bytes(folder / name, data)


def receive(p: _Pending, answer: dict, log: Path) -> Finished:
    """Lay a worker's answer out as a local child leaves it (row file, student folder, log) and say how it ended."""
    write_text(log, str(answer.get("log", "")))
    if answer.get("files"):
        unpack(answer["files"], p.out_dir)
    if answer.get("row"):
        write_text(p.row, str(answer["row"]))
    return Finished(Job(p.file.student, log), int(answer.get("exit_code", 0)), bool(answer.get("timed_out")),
                    float(answer.get("seconds", 0.0)))


def _failed(p: _Pending, log: Path, text: str) -> Finished:
    write_text(log, text + "\n")
    return Finished(Job(p.file.student, log), WORKER_DIED, False, 0.0)


def run_on_cluster(todo: list[_Pending], opts: BatchOptions, timeout: float, on_done: Callable[[Finished], None],
                   progress: Progress) -> None:
    """Grade every pending file on the cluster; on_done once per file, as each result comes back."""
    from grader.batch.remote import grade_remote
    from grader.batch.summary import plural

    client, local = connect(opts.scheduler or "")
    try:
        workers = check_workers(client, opts.sandbox)
        threads = sum(client.nthreads().values()) or workers
        print(f"cluster {opts.scheduler}: {plural(workers, 'worker')}, {plural(threads, 'thread')}",
              file=progress.stream)
        rubric, run = _rubric_text(opts), uuid.uuid4().hex[:8]

        def submit(i: int, p: _Pending):
            return client.submit(grade_remote, task_of(p, opts, timeout, rubric), pure=False, key=f"grade-{run}-{i}")

        futures: dict = {}
        progress.start()
        try:
            _collect(enumerate(todo), submit, futures, IN_FLIGHT_PER_THREAD * threads, on_done, progress)
        except BaseException:
            client.cancel(list(futures))
            raise
        finally:
            progress.finish()
    finally:
        client.close()
        if local is not None:
            local.close()


def _collect(todo: Iterator[tuple[int, _Pending]], submit: Callable, futures: dict, window: int,
             on_done: Callable[[Finished], None], progress: Progress) -> None:
    """Keep `window` tasks on the cluster, topping it up as results come back; each result becomes one row."""
    from distributed import as_completed

    done = as_completed()
    for i, p in itertools.islice(todo, window):
        futures[future := submit(i, p)] = p
        done.add(future)
    while not done.is_empty():
        if not done.has_ready():
            progress.refresh()
            time.sleep(POLL_SECONDS)
            continue
        for future in done.next_batch(block=False):
            p = futures.pop(future)
            on_done(_finished(p, future))
            future.release()
            for i, q in itertools.islice(todo, 1):
                futures[more := submit(i, q)] = q
                done.add(more)


def _finished(p: _Pending, future) -> Finished:
    log = p.row.parent.parent / "logs" / f"{p.file.student}.log"
    try:
        answer = future.result()
    except Exception as exc:  # noqa: BLE001 - KilledWorker, a lost connection, a bug on the worker: one row each
        return _failed(p, log, f"the cluster could not grade this submission: {type(exc).__name__}: {exc}")
    if answer.get("refused"):
        raise ClusterError(f"{answer.get('host', 'a worker')}: {answer['refused']}")
    try:
        return receive(p, answer, log)
    except (ClusterError, tarfile.TarError, OSError, ValueError) as exc:
        return _failed(p, log, f"the worker's answer could not be read: {exc}")
