"""Batch input: a class folder or an LMS zip -> one submission file per student, plus the files skipped.

Zip archives are hostile input too: entries with absolute paths, '..', links or encryption are skipped, and the
archive may expand to at most MAX_TOTAL_BYTES over at most MAX_ENTRIES entries.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import stat
import struct
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from grader.batch import zipnames
from grader.errors import GraderError
from grader.notebook.clean import file_name
from grader.batch.names import DEFAULT_PATTERNS, Identity, disambiguate, identify, junk_reason

MAX_ENTRIES = 20_000
MAX_TOTAL_BYTES = 8 << 30
MAX_ENTRY_BYTES = 512 << 20
CHUNK = 1 << 20


class BatchInputError(GraderError):
    """The class folder or zip cannot be used: missing, not a zip, or over the size and entry limits."""


@dataclass(frozen=True)
class Skipped:
    """A file that is not graded, with the reason a TA reads."""

    file: str
    reason: str


@dataclass(frozen=True)
class StudentFile:
    """The one file graded for a student. `file` is its path inside the class folder or zip, as the TA knows it.

    superseded: the student's other files, not graded because this one is newer.
    """

    student: str
    path: Path
    file: str
    mtime: float
    late: bool = False
    resubmission: int = 0
    superseded: tuple[str, ...] = ()
    user_id: str = ""
    attachment_id: str = ""
    anonymous_id: str = ""


@dataclass(frozen=True)
class Roster:
    files: tuple[StudentFile, ...]
    skipped: tuple[Skipped, ...]


def open_class(source: Path, workdir: Path) -> tuple[Path, tuple[Skipped, ...]]:
    """The folder to read submissions from: `source` itself, or a zip safely extracted into `workdir`."""
    if source.is_dir():
        return source, ()
    if not source.is_file():
        raise BatchInputError(f"{source}: no such folder or zip file")
    if not zipfile.is_zipfile(source):
        raise BatchInputError(f"{source}: not a folder and not a zip archive")
    return workdir, extract_zip(source, workdir)


def extract_zip(archive: Path, dest: Path, *, max_total: int = MAX_TOTAL_BYTES,
                max_entries: int = MAX_ENTRIES, max_entry: int = MAX_ENTRY_BYTES) -> tuple[Skipped, ...]:
    """Extract the regular files of `archive` under `dest`, keeping each entry's time as the file's mtime."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="grade-all-zip-") as tmp:
        renamed: dict[str, str] = {}
        try:
            try:
                zf = zipfile.ZipFile(archive)
            except UnicodeDecodeError:  # an entry flagged UTF-8 whose name is not: read a copy with the flag off
                repaired = Path(tmp) / "repaired.zip"
                renamed = zipnames.repair_copy(archive, repaired)
                zf = zipfile.ZipFile(repaired)
        except (zipfile.BadZipFile, OSError, ValueError, struct.error) as exc:
            raise BatchInputError(f"{archive}: cannot be read as a zip archive ({exc})") from None
        with zf:
            return _extract_all(archive, zf, dest, max_total, max_entries, max_entry, renamed)


def _extract_all(archive: Path, zf: zipfile.ZipFile, dest: Path, max_total: int, max_entries: int,
                 max_entry: int, renamed: dict[str, str] | None = None) -> tuple[Skipped, ...]:
    entries = zf.infolist()
    if len(entries) > max_entries:
        raise BatchInputError(f"{archive}: {len(entries)} entries, more than the limit of {max_entries}")
    skipped: list[Skipped] = []
    budget = [max_total]
    for info in entries:
        name = (renamed or {}).get(info.filename, info.filename).replace("\\", "/")
        if info.is_dir():
            continue
        reason = unsafe_entry_reason(name, info) or _extract_entry(zf, info, dest / name, max_entry, budget)
        if reason:
            skipped.append(Skipped(name, reason))
        if budget[0] < 0:
            raise BatchInputError(f"{archive}: expands to more than {max_total} bytes (a zip bomb?)")
    return tuple(skipped)


def unsafe_entry_reason(name: str, info: zipfile.ZipInfo) -> str:
    """Why an entry must not be extracted ("" when it is safe): escapes the folder, a link, or encrypted."""
    parts = PurePosixPath(name).parts
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts or not parts:
        return "unsafe path in the zip (absolute or with '..')"
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind and kind != stat.S_IFREG:
        return "a link or special file in the zip"
    if info.flag_bits & 0x1:
        return "encrypted in the zip"
    return ""


def _extract_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, max_entry: int,
                   budget: list[int]) -> str:
    """Stream one entry to `target`, counting the bytes actually written (headers can lie)."""
    if target.exists():
        return "duplicate entry in the zip"
    written = 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, open(target, "xb") as out:
            while chunk := src.read(CHUNK):
                written += len(chunk)
                budget[0] -= len(chunk)
                if written > max_entry or budget[0] < 0:
                    break
                out.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
        _remove(target)
        return f"cannot be read from the zip ({exc})"
    if written > max_entry:
        _remove(target)
        return f"larger than {max_entry} bytes"
    with contextlib.suppress(OverflowError, ValueError, OSError):  # a nonsense date keeps the extraction time
        stamp = time.mktime(info.date_time + (0, 0, -1))
        os.utime(target, (stamp, stamp))
    return ""


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def discover(root: Path, patterns: tuple[re.Pattern[str], ...] = DEFAULT_PATTERNS,
             skipped: tuple[Skipped, ...] = (), exclude: Path | None = None) -> Roster:
    """Every student's newest file under `root`; junk, unmatched and superseded files are listed, not graded.

    exclude: a folder not to look into (the batch's own output, when a TA puts it inside the class folder).
    """
    found, skips = _scan(root, exclude)
    skips.extend(skipped)
    depth = wrapper_depth(list(found))
    idents: dict[str, Identity] = {}
    for rel in found:
        inner = "/".join(PurePosixPath(rel).parts[depth:])
        ident = identify(inner, patterns)
        if ident is None:
            skips.append(Skipped(rel, "its name does not match a submission pattern"))
        else:
            idents[rel] = ident
    names = disambiguate(list(idents.values()))
    groups: dict[str, list[StudentFile]] = {}
    for rel, ident in idents.items():
        path, mtime = found[rel]
        entry = StudentFile(names[ident], path, rel, mtime, ident.late, ident.resubmission,
                            user_id=ident.user_id, attachment_id=ident.attachment_id,
                            anonymous_id=ident.anonymous_id)
        groups.setdefault(entry.student, []).append(entry)
    files = tuple(newest(g) for _, g in sorted(groups.items()))
    return Roster(files, tuple(sorted(skips, key=lambda s: s.file)))


def _scan(root: Path, exclude: Path | None = None) -> tuple[dict[str, tuple[Path, float]], list[Skipped]]:
    """Candidate files (relative path as text -> real path, mtime) and the junk, walking without following links.
    A name that is not UTF-8 (Latin-1 "M\\xfcller.ipynb") is shown with \\xNN escapes: it becomes text here, once."""
    found: dict[str, tuple[Path, float]] = {}
    skips: list[Skipped] = []
    skip_dir = exclude.resolve() if exclude else None
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if Path(folder, d).resolve() != skip_dir)
        for name in sorted(files):
            path = Path(folder, name)
            rel = file_name(path.relative_to(root).as_posix())
            reason = junk_reason(rel) or ("a symbolic link" if path.is_symlink() else "")
            if reason:
                skips.append(Skipped(rel, reason))
            else:
                found[rel] = (path, path.stat().st_mtime)
    return found, skips


def wrapper_depth(relpaths: list[str]) -> int:
    """How many leading folders every file shares (a zip's wrapper folder), keeping each file below them."""
    parts = [PurePosixPath(r).parts for r in relpaths]
    depth = 0
    while parts and all(len(p) > depth + 1 for p in parts) and len({p[depth] for p in parts}) == 1:
        depth += 1
    return depth


def newest(group: list[StudentFile]) -> StudentFile:
    """The file to grade: a notebook over a script, then the newest, then the highest resubmission number."""
    order = sorted(group, key=lambda f: (f.file.lower().endswith(".ipynb"), f.mtime, f.resubmission, f.file))
    chosen = order[-1]
    others = tuple(f.file for f in reversed(order[:-1]))
    return dataclasses.replace(chosen, superseded=others)
