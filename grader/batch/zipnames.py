"""Zip entries whose name is flagged UTF-8 but is not: Python's zipfile refuses the whole archive for one of them.

repair_copy() writes a copy of the archive with that flag cleared on just those entries (in the central directory
and in each local header), so zipfile reads their names as cp437, as it does for any unflagged name; the names'
original bytes are returned so the batch can show them as the TA knows them. ZIP64 archives are left as they are.
"""

from __future__ import annotations

import mmap
import shutil
import struct
from pathlib import Path

UTF8_FLAG = 0x800
_EOCD = struct.Struct("<4s4H2LH")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_EOCD_SIG, _CENTRAL_SIG, _LOCAL_SIG = b"PK\x05\x06", b"PK\x01\x02", b"PK\x03\x04"
MAX_COMMENT = 1 << 16


def _central_directory(data: bytes | mmap.mmap) -> tuple[int, int]:
    """(offset, entry count) of the central directory, from the end-of-central-directory record."""
    at = data.rfind(_EOCD_SIG, max(0, len(data) - MAX_COMMENT - _EOCD.size))
    if at < 0:
        raise ValueError("no end-of-central-directory record")
    fields = _EOCD.unpack_from(data, at)
    return fields[6], fields[4]


def false_utf8_names(data: bytes | mmap.mmap) -> list[tuple[int, int, bytes]]:
    """(central header offset, local header offset, raw name) of every entry flagged UTF-8 whose name is not."""
    offset, count = _central_directory(data)
    found = []
    for _ in range(count):
        if data[offset:offset + 4] != _CENTRAL_SIG:
            break
        f = _CENTRAL.unpack_from(data, offset)
        flags, name_len, extra_len, comment_len, local = f[5], f[12], f[13], f[14], f[18]
        raw = data[offset + _CENTRAL.size: offset + _CENTRAL.size + name_len]
        if flags & UTF8_FLAG:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                found.append((offset, local, raw))
        offset += _CENTRAL.size + name_len + extra_len + comment_len
    return found


def repair_copy(archive: Path, copy: Path) -> dict[str, str]:
    """Copy `archive` to `copy` with the false UTF-8 flags cleared. Returns {name as zipfile reads it now: the name
    to extract it as}: the original bytes, with what is not UTF-8 shown as U+FFFD."""
    with open(archive, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        bad = false_utf8_names(data)
        flags = [(at, struct.unpack_from("<H", data, at)[0]) for central, local, _ in bad
                 for at in (central + 8, local + 6)]  # the flag word of each header
    shutil.copyfile(archive, copy)
    with open(copy, "r+b") as f:
        for at, value in flags:
            f.seek(at)
            f.write(struct.pack("<H", value & ~UTF8_FLAG))
    return {raw.decode("cp437"): raw.decode("utf-8", "replace") for _, _, raw in bad}  # no "\\": a separator here
