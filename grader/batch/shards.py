"""Shards of a class: `grade-all --shard K/N` grades the students of shard K only, and leaves beside its gradebook
what `merge` needs to rebuild the whole class's outputs: .batch/shard.json and a copy of each file it graded.

A student's shard is fixed by the student's key alone (a hash of the name), so every machine of a Slurm array or
an SSH loop picks the same partition from the same download, and a rerun of one shard regrades only its students.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from grader import __version__
from grader.files import write_text
from grader.batch.inputs import Roster, Skipped, StudentFile
from grader.errors import ConfigError

MANIFEST = Path(".batch") / "shard.json"
FILES = Path(".batch") / "files"  # the graded files, for the similarity comparison at merge time
FORMAT = 1


@dataclass(frozen=True)
class Shard:
    """Shard `k` of `n`, counted from 1."""

    k: int
    n: int

    def __str__(self) -> str:
        return f"{self.k}/{self.n}"


def parse_shard(text: str) -> Shard:
    """'2/8' -> Shard(2, 8); anything else raises ConfigError saying what is expected."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not found or not 1 <= int(found[1]) <= int(found[2]):
        raise ConfigError(f"--shard {text!r}: expected K/N with 1 <= K <= N, e.g. --shard 2/8")
    return Shard(int(found[1]), int(found[2]))


def shard_of(student: str, n: int) -> int:
    """The shard (1..n) a student belongs to: a stable hash of the student's key, the same on every machine."""
    digest = hashlib.sha256(student.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % n + 1


def select(roster: Roster, shard: Shard) -> Roster:
    """The students of one shard; the skipped files stay listed in every shard, as in a whole run."""
    return Roster(tuple(f for f in roster.files if shard_of(f.student, shard.n) == shard.k), roster.skipped)


def record(out: Path, shard: Shard, whole: Roster, mine: Roster, suffix: str) -> None:
    """Write .batch/shard.json and copy the shard's files under .batch/files/ (call while they are still unpacked)."""
    shutil.rmtree(out / FILES, ignore_errors=True)
    files = []
    for f in mine.files:
        copy = out / FILES / f.student / f.path.name
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f.path, copy)
        files.append({**dataclasses.asdict(f), "path": str(copy.relative_to(out))})
    manifest = {"format": FORMAT, "shard": [shard.k, shard.n], "grader": __version__, "key_suffix": suffix,
                "students": [f.student for f in whole.files], "files": files,
                "skipped": [dataclasses.asdict(s) for s in whole.skipped]}
    write_text(out / MANIFEST, json.dumps(manifest, indent=1) + "\n")


@dataclass(frozen=True)
class Manifest:
    """What one shard's folder says of itself."""

    folder: Path
    shard: Shard
    grader: str
    key_suffix: str
    students: tuple[str, ...]
    files: tuple[StudentFile, ...]
    skipped: tuple[Skipped, ...]


def load_manifest(folder: Path) -> Manifest:
    """A shard's .batch/shard.json; ConfigError when the folder is not the output of `grade-all --shard`."""
    path = folder / MANIFEST
    if not path.is_file():
        raise ConfigError(f"{folder}: not the output of a sharded run ({MANIFEST} is missing); grade it with "
                          "`grade-all ... --shard K/N`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        k, n = data["shard"]
        files = tuple(StudentFile(**{**f, "path": folder / f["path"], "superseded": tuple(f["superseded"])})
                      for f in data["files"])
        return Manifest(folder, Shard(int(k), int(n)), str(data["grader"]), str(data["key_suffix"]),
                        tuple(data["students"]), files, tuple(Skipped(**s) for s in data["skipped"]))
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"{path}: unreadable ({exc}); grade that shard again") from None
