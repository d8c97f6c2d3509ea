"""Batch stage: a class folder or LMS zip -> one graded row per student, gradebook.csv, summary.md and summary.png.

Flow: open the class (extract a zip safely) -> discover one file per student -> skip what the rerun cache already
holds -> grade the rest in parallel child processes (grader.batch.pool) -> write each row to disk as it arrives.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, TextIO

from grader import __version__
from grader.course.book import PENDING, Row, State, gradebook_csv, row_from_json
from grader.grading.results import Status
from grader.wording import NOT_GRADED, points
from grader.files import write_text
from grader.batch import shards
from grader.batch.inputs import Roster, StudentFile, discover, open_class
from grader.batch.progress import Progress, clock
from grader.batch.pool import Finished, Job, run_jobs
from grader.batch.summary import write_summaries
from grader.batch.regrade import check_maximum, check_only, log_row
from grader.batch.shards import Shard
from grader.batch.worker import GradeTask, warm_up
from grader.sandbox.limits import Limits
from grader.course.canvas_roster import read_roster
from grader.batch.names import compile_patterns
from grader.notebook.clean import terminal
from grader.grading.results import GradeReport

if TYPE_CHECKING:
    from grader.grading.rubric import Rubric

STARTUP_SECONDS = 60.0  # a child's own start-up (imports, sandbox) on a loaded machine
WRITE_SECONDS = 30.0  # after the deadline: the remaining tests fail at once, then results and pages are written
WORKER = (sys.executable, "-m", "grader.batch.worker")  # a child as a fresh interpreter: BatchOptions(worker=WORKER)
MAX_LISTED = 10


@dataclass(frozen=True)
class BatchOptions:
    """What `grade-all` was asked to do. worker: None to fork each child from this warmed-up process, or a command
    to exec instead (tests substitute a fake grader this way)."""

    source: Path
    out: Path
    jobs: int = 0
    rubric: Path | None = None
    patterns: tuple[str, ...] = ()
    force: bool = False
    sandbox: str = "auto"
    timeout: float | None = None  # replaces the rubric's grading_seconds, the deadline of one grading
    kill_margin: float = STARTUP_SECONDS + WRITE_SECONDS  # past that deadline, a child still running is killed
    worker: tuple[str, ...] | None = None
    only: tuple[str, ...] = ()
    times: Path | None = None
    canvas_roster: Path | None = None  # a Canvas gradebook export: who each student is in Canvas
    shard: Shard | None = None
    scheduler: str | None = None  # a Dask scheduler's address, or local:N (grader.batch.cluster)


@dataclass(frozen=True)
class BatchResult:
    """How a batch went. reused: rows taken from the previous run because nothing had changed."""

    students: int
    graded: int
    reused: int
    interrupted: bool
    seconds: float
    gradebook: Path
    statuses: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Pending:
    """A file to grade, with where its child writes: the student's folder and the row file."""

    file: StudentFile
    sha256: str
    key: str
    out_dir: Path
    row: Path


def default_jobs() -> int:
    """The number of cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


DEADLINE_TAG = ":deadline="  # in a rerun key: the --timeout a row was graded under, when one was given


def key_suffix(rubric: Rubric, timeout: float | None) -> str:
    """What a row's rerun key holds besides the file's hash: the grader's version, the rubric, and a --timeout
    (a row graded under another deadline is graded again)."""
    return f"{__version__}:{rubric.fingerprint()}" + (f"{DEADLINE_TAG}{timeout!r}" if timeout else "")


def batch_timeout(limits: Limits, margin: float = STARTUP_SECONDS + WRITE_SECONDS) -> float:
    """When the batch kills a child: only `margin` past the grading's own deadline (grading_seconds, which every
    way of grading applies the same way), time to start and to write what was graded by then. It catches a grader
    that hangs; a slow submission meets its deadline inside the child first and keeps the points it earned."""
    return limits.grading_seconds + margin


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class _Book:
    """The rows so far, mirrored to state.jsonl and gradebook.csv as each arrives."""

    def __init__(self, out: Path, areas: tuple[str, ...], rows: dict[str, Row], roster: Roster) -> None:
        self.out, self.areas, self.rows = out, areas, rows
        self.state = State(out / ".batch" / "state.jsonl")
        self.waiting = {f.student: Row(f.student, f.file, "", PENDING, 0.0, 0.0, reason=NOT_GRADED)
                        for f in roster.files}  # listed as pending until graded

    def add(self, row: Row) -> None:
        self.state.append(row)
        self.rows[row.student] = row
        self.write()

    def write(self) -> Path:
        rows = {**self.waiting, **self.rows}
        return write_text(self.out / "gradebook.csv", gradebook_csv(list(rows.values()), self.areas))


def plan(roster: Roster, out: Path, suffix: str, force: bool,
         only: tuple[str, ...] = ()) -> tuple[dict[str, Row], list[_Pending]]:
    """Rows the previous run left that still hold (same content, grader and rubric), and the files to grade.
    only: regrade just these students and keep every other row as it is."""
    previous = {} if force and not only else State(out / ".batch" / "state.jsonl").load()
    reused: dict[str, Row] = {}
    todo: list[_Pending] = []
    for f in roster.files:
        if only and f.student not in only:
            if f.student in previous:
                reused[f.student] = previous[f.student]
            continue
        sha = file_sha256(f.path)
        key = f"{sha}:{suffix}"
        old = previous.get(f.student)
        if not only and old and old.key == key and old.cacheable and (out / f.student / "results.json").exists():
            reused[f.student] = dataclasses.replace(old, file=f.file)
        else:
            batch = out.resolve() / ".batch"
            todo.append(_Pending(f, sha, key, out.resolve() / f.student, batch / "rows" / f"{f.student}.json"))
    return reused, todo


def _job(p: _Pending, opts: BatchOptions) -> Job:
    p.row.unlink(missing_ok=True)
    task = GradeTask(p.file.path.resolve(), p.file.student, p.file.file, p.key, p.out_dir, p.row,
                     opts.rubric.resolve() if opts.rubric else None, opts.sandbox, opts.timeout)
    log = p.row.parent.parent / "logs" / f"{p.file.student}.log"
    if opts.worker:
        return Job(p.file.student, log, argv=(*opts.worker, *task.argv()))
    return Job(p.file.student, log, target=task)


def _failure_row(p: _Pending, done: Finished, timeout: float) -> Row:
    """The row of a child that did not deliver one; its results.json says the same thing to the student."""
    from grader.report.folder import write_grade

    if done.timed_out:
        status, reason = "timeout", f"grading took longer than {timeout:g} s, so it was stopped"
    else:
        status, reason = "error", f"the grader's process ended without a result (exit code {done.exit_code}); " \
                                  f"see {done.job.log}"
    report = GradeReport(student=p.file.student, submission=p.file.path.name, sha256=p.sha256, status=status,
                         score=0.0, max_score=0.0, reason=reason, grader_version=__version__)
    write_grade(report, p.out_dir)
    return Row(p.file.student, p.file.file, p.sha256, status, 0.0, 0.0, reason=reason, seconds=done.seconds,
               key=p.key, cacheable=done.timed_out)


def collect(p: _Pending, done: Finished, timeout: float) -> Row:
    """The row the child wrote, with the parent's own name, file, hash and key; or a failure row."""
    try:
        row = row_from_json(p.row.read_text(encoding="utf-8"))
        p.row.unlink()
    except (OSError, ValueError, TypeError, KeyError):
        return _failure_row(p, done, timeout)
    return dataclasses.replace(row, student=p.file.student, file=p.file.file, sha256=p.sha256, key=p.key,
                               seconds=done.seconds)


def describe(row: Row) -> str:
    """One progress line: who, how it went, and why when it did not go normally (control characters escaped)."""
    if not row.tests:
        return terminal(f"{row.student}: {row.status} ({row.seconds:.1f} s) - {row.reason}")
    text = f"{row.student}: {row.status} {points(row.score)}/{points(row.max_score)} ({row.seconds:.1f} s)"
    return terminal(text + (f" - {row.reason}" if row.status != Status.GRADED else ""))


def report_roster(roster: Roster, stream: TextIO) -> None:
    """Tell the TA which files were skipped and which students sent several."""
    for f in roster.files:
        if f.superseded:
            print(terminal(f"{f.student}: {1 + len(f.superseded)} files; grading the newest, {f.file} "
                           f"(not {', '.join(f.superseded)})"), file=stream)
    for s in roster.skipped[:MAX_LISTED]:
        print(terminal(f"skipped {s.file}: {s.reason}"), file=stream)
    if len(roster.skipped) > MAX_LISTED:
        print(f"... and {len(roster.skipped) - MAX_LISTED} more skipped files (listed in summary.md)", file=stream)


def grade_class(opts: BatchOptions, *, stream: TextIO = sys.stderr, tty: bool | None = None) -> BatchResult:
    """Grade every student's submission; always leaves gradebook.csv and the summaries, even when interrupted."""
    from grader.batch import after
    from grader.grading.rubric import load_rubric, with_grading_seconds

    started = time.monotonic()
    rubric = load_rubric(opts.rubric)
    config = after.settings(rubric)
    if opts.canvas_roster is not None:
        read_roster(opts.canvas_roster)  # a bad roster stops the batch before grading, not after
    suffix = key_suffix(rubric, opts.timeout)
    timeout = batch_timeout(with_grading_seconds(rubric, opts.timeout).limits, opts.kill_margin)
    opts.out.mkdir(parents=True, exist_ok=True)
    check_maximum(opts.out, rubric, opts.force)
    with tempfile.TemporaryDirectory(prefix="grade-all-") as tmp:
        root, zip_skips = open_class(opts.source, Path(tmp))
        roster = discover(root, compile_patterns(opts.patterns), zip_skips, exclude=opts.out)
        check_only(roster, opts.only, opts.source)
        whole, roster = roster, _shard(roster, opts.shard, stream)
        report_roster(roster, stream)
        reused, todo = plan(roster, opts.out, suffix, opts.force, opts.only)
        if reused:
            print(f"keeping {len(reused)} rows as they are (--only)" if opts.only else
                  f"skipping {len(reused)} unchanged submissions (already graded; --force regrades them)", file=stream)
        book = _Book(opts.out, rubric.areas, dict(reused), roster)
        hashes = {**{s: r.sha256 for s, r in reused.items()}, **{p.file.student: p.sha256 for p in todo}}
        comparing: list[after.Background] = []

        def compare_meanwhile() -> int | None:  # once the last submissions are being graded, in a free place
            job = after.start_similarity(roster, hashes, rubric, Path(tmp) / ".similarity")
            comparing.extend([job] if job else [])
            return job.pid if job else None

        try:
            interrupted = _grade(todo, opts, timeout, book, Progress(len(todo), stream=stream, tty=tty),
                                 None if opts.shard else compare_meanwhile)
            book.write()
            similar = None if interrupted or opts.shard else after.finish_similarity(
                comparing[0] if comparing else None, roster, book.rows, rubric, opts.out)
            if opts.shard:
                shards.record(opts.out, opts.shard, whole, roster, suffix)
        finally:
            for job in comparing:
                job.stop()
    rows = sorted(book.rows.values(), key=lambda r: r.student)  # the same summary whatever order rows came in
    statuses = {s: sum(1 for r in rows if r.status == s) for s in ("graded", "error", "timeout")}
    note = f"Interrupted: {len(roster.files) - len(rows)} students not graded yet (pending); run again to finish." \
        if interrupted else ""
    if opts.shard:
        note = (note + " " if note else "") + f"Shard {opts.shard} of the class: merge every shard's folder with " \
            "`python -m grader merge` for the whole class's summary and similarity report."
    write_summaries(rows, rubric.areas, roster, opts.out, note)
    after.course(opts.out, roster, book.rows, config, rubric, similar, opts.times, stream, opts.canvas_roster)
    result = BatchResult(len(roster.files), len(rows) - len(reused), len(reused), interrupted,
                         round(time.monotonic() - started, 3), opts.out / "gradebook.csv", statuses)
    _write_run_stats(opts, result)
    return result


def _shard(roster: Roster, shard: Shard | None, stream: TextIO) -> Roster:
    """The students of this machine's shard (all of them without --shard)."""
    if shard is None:
        return roster
    mine = shards.select(roster, shard)
    print(f"shard {shard}: {len(mine.files)} of {len(roster.files)} students", file=stream)
    return mine


def _grade(todo: list[_Pending], opts: BatchOptions, timeout: float, book: _Book, progress: Progress,
           on_drained: Callable[[], int | None] | None = None) -> bool:
    """Run the children; True when Ctrl-C (or SIGTERM) stopped the batch."""
    if not todo:
        return False
    pending = {p.file.student: p for p in todo}
    jobs = opts.jobs or default_jobs()

    def on_done(done: Finished) -> None:
        row = collect(pending.pop(done.job.name), done, timeout)
        book.add(row)
        log_row(done.job.log, row)
        progress.advance(describe(row))

    if opts.scheduler:
        from grader.batch.cluster import run_on_cluster

        try:
            run_on_cluster(todo, opts, timeout, on_done, progress)
        except KeyboardInterrupt:
            return True
        return False
    if opts.worker is None:
        warm_up(opts.rubric, opts.sandbox)
    progress.start()
    try:
        run_jobs((_job(p, opts) for p in todo), workers=jobs, timeout=timeout, on_done=on_done,
                 cwd=opts.out.resolve(), on_tick=progress.refresh, on_drained=on_drained)
    except KeyboardInterrupt:
        progress.finish()
        return True
    progress.finish()
    return False


def _write_run_stats(opts: BatchOptions, result: BatchResult) -> None:
    """.batch/run.json: what the last run did, with the parent's peak memory (for `make bench`)."""
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    stats = {**dataclasses.asdict(result), "gradebook": str(result.gradebook), "jobs": opts.jobs or default_jobs(),
             "parent_peak_rss_kib": peak_kib, "elapsed": clock(result.seconds)}
    write_text(opts.out / ".batch" / "run.json", json.dumps(stats, indent=2) + "\n")
