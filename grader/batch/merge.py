"""`merge OUT_1 ... OUT_N --out OUT`: the outputs of `grade-all --shard K/N` -> one class folder, as one run writes it.

In: each shard's folder (rows in .batch/state.jsonl, .batch/shard.json, the student folders, the graded files).
Out: the student folders, gradebook.csv, state.jsonl, summary.md/.png, the similarity pages over the whole class
and the LMS files, the same as a single `grade-all` of the class would leave (timings aside).
Everything is checked before anything is written: shards of another class, rubric or grader version, a missing
shard, an unfinished one, or one student graded differently in two folders stop the merge with the reason.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from grader import __version__
from grader.course.book import Row, State, gradebook_csv
from grader.files import write_text
from grader.batch.grade_all import DEADLINE_TAG, key_suffix
from grader.batch.inputs import Roster, StudentFile
from grader.batch.shards import Manifest, load_manifest, shard_of
from grader.errors import ConfigError

MAX_NAMED = 5


class MergeError(ConfigError):
    """The shards cannot make one class: the message says which folder and why."""


@dataclass(frozen=True)
class Merged:
    students: int
    statuses: dict[str, int]
    gradebook: Path


@dataclass(frozen=True)
class _Graded:
    """One student's row, and the shard folder it comes from."""

    row: Row
    file: StudentFile
    folder: Path


def _named(names: list[str]) -> str:
    more = f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else ""
    return ", ".join(names[:MAX_NAMED]) + more


def _check_alike(manifests: list[Manifest], suffix: str, out: Path) -> None:
    """Same class, same N, the merge's own grader and rubric, and every K present."""
    first = manifests[0]
    for m in manifests:
        if m.folder.resolve() == out.resolve():
            raise MergeError(f"--out {out}: write the merged class to a new folder, not into one of the shards")
        if m.grader != __version__:
            raise MergeError(f"{m.folder}: graded by grader {m.grader}, but this is grader {__version__}; grade "
                             "every shard with the same version")
        if m.key_suffix.partition(DEADLINE_TAG)[0] != suffix:
            raise MergeError(f"{m.folder}: graded under a different rubric than the one given to merge (--rubric); "
                             "merge with the rubric the shards used, or regrade the shards under this one")
        if m.key_suffix != first.key_suffix:
            raise MergeError(f"{m.folder} and {first.folder} were graded with different --timeout deadlines; "
                             "regrade the shards with the same --timeout (or none)")
        if m.shard.n != first.shard.n:
            raise MergeError(f"{m.folder} is shard {m.shard}, {first.folder} is shard {first.shard}: "
                             "every shard must come from the same --shard K/N split")
        if m.students != first.students:
            raise MergeError(f"{m.folder} and {first.folder} were graded from different class downloads "
                             "(their lists of students differ)")
    missing = sorted(set(range(1, first.shard.n + 1)) - {m.shard.k for m in manifests})
    if missing:
        which = ", ".join(f"{k}/{first.shard.n}" for k in missing)
        raise MergeError(f"shard {which} missing: grade it with `grade-all ... --shard {missing[0]}/{first.shard.n}` "
                         "and pass its folder to merge too")


def _content(row: Row, folder: Path) -> tuple[dict, object]:
    """What two gradings of one student must agree on: the row and results.json, without their timings."""
    results_path = folder / row.student / "results.json"
    results = json.loads(results_path.read_text(encoding="utf-8")) if results_path.exists() else None
    if isinstance(results, dict):
        results.pop("execution_time", None)
    return {**dataclasses.asdict(row), "seconds": 0.0}, results


def _rows(m: Manifest, taken: dict[str, _Graded]) -> None:
    """Add the shard's finished rows to `taken`; a student already there must have been graded alike."""
    rows = State(m.folder / ".batch" / "state.jsonl").load()
    files = [f for f in m.files if shard_of(f.student, m.shard.n) == m.shard.k]
    unfinished = [f.student for f in files if f.student not in rows or not rows[f.student].key.endswith(m.key_suffix)]
    if unfinished or len(files) != sum(1 for s in m.students if shard_of(s, m.shard.n) == m.shard.k):
        raise MergeError(f"{m.folder} (shard {m.shard}) is unfinished: {_named(unfinished) or 'files missing'} "
                         "not graded yet; run its grade-all again to finish it")
    for f in files:
        graded = _Graded(rows[f.student], f, m.folder)
        before = taken.get(f.student)
        if before and _content(before.row, before.folder) != _content(graded.row, graded.folder):
            raise MergeError(f"{f.student} was graded differently in {before.folder} and {m.folder} (not the same "
                             "file, or not the same grading); regrade one of them so they agree")
        taken.setdefault(f.student, graded)


def _copy(graded: _Graded, out: Path) -> None:
    student = graded.row.student
    shutil.rmtree(out / student, ignore_errors=True)
    shutil.copytree(graded.folder / student, out / student)
    log = graded.folder / ".batch" / "logs" / f"{student}.log"
    if log.exists():
        (out / ".batch" / "logs").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, out / ".batch" / "logs" / f"{student}.log")


def merge_shards(folders: list[Path], out: Path, rubric_path: Path | None = None, times: Path | None = None,
                 stream: TextIO = sys.stderr) -> Merged:
    """Check every shard, then write the whole class into `out`."""
    from grader.batch import after
    from grader.batch.summary import write_summaries
    from grader.grading.rubric import load_rubric

    if not folders:
        raise MergeError("merge needs the folders of the shards: merge OUT_1 ... OUT_N --out OUT")
    rubric = load_rubric(rubric_path)
    config = after.settings(rubric)
    manifests = [load_manifest(folder) for folder in folders]
    _check_alike(manifests, key_suffix(rubric, None), out)
    taken: dict[str, _Graded] = {}
    for m in manifests:
        _rows(m, taken)
    out.mkdir(parents=True, exist_ok=True)
    graded = [taken[s] for s in sorted(taken)]
    for g in graded:
        _copy(g, out)
    rows = {g.row.student: g.row for g in graded}
    state = out / ".batch" / "state.jsonl"
    state.unlink(missing_ok=True)
    for row in rows.values():
        State(state).append(row)
    write_text(out / "gradebook.csv", gradebook_csv(list(rows.values()), rubric.areas))
    roster = Roster(tuple(g.file for g in graded), manifests[0].skipped)
    write_summaries(list(rows.values()), rubric.areas, roster, out)
    similar = after.similarity(roster, rows, rubric, out)
    given = times or next((m.folder / ".batch" / "times.csv" for m in manifests
                           if (m.folder / ".batch" / "times.csv").exists()), None)
    after.course(out, roster, rows, config, rubric, similar, given, stream)
    statuses = {s: sum(1 for r in rows.values() if r.status == s) for s in ("graded", "error", "timeout")}
    return Merged(len(rows), statuses, out / "gradebook.csv")
