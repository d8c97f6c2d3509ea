"""A pure-Python wheel written by hand: the student kit's installable form, with no build tool at install time.

The wheel holds the kit's grader copy and backprop_check.py; `pip install` of it brings the requirements (version
ranges) and a `backprop-check` command. The bytes are the same for the same files (sorted, fixed timestamps).
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from collections.abc import Mapping, Sequence

NAME = "backprop_check"
SUMMARY = "The self-check of the backpropagation assignment (public tests only)"


def filename(version: str) -> str:
    return f"{NAME}-{version}-py3-none-any.whl"


def _metadata(version: str, requires_python: str, requirements: Sequence[str]) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {NAME.replace('_', '-')}", f"Version: {version}",
             f"Summary: {SUMMARY}", f"Requires-Python: {requires_python}"]
    return "\n".join(lines + [f"Requires-Dist: {r}" for r in requirements]) + "\n"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def wheel_bytes(files: Mapping[str, bytes], version: str, requires_python: str, requirements: Sequence[str],
                scripts: Mapping[str, str]) -> bytes:
    """The wheel of `files` (paths inside site-packages), with its metadata, entry points and RECORD."""
    info = f"{NAME}-{version}.dist-info"
    entries = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items())
    members = {**files, f"{info}/METADATA": _metadata(version, requires_python, requirements).encode(),
               f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: backprop-grader\nRoot-Is-Purelib: true\n"
                                b"Tag: py3-none-any\n",
               f"{info}/entry_points.txt": entries.encode()}
    record = "\n".join(_record_line(n, members[n]) for n in sorted(members)) + f"\n{info}/RECORD,,\n"
    members[f"{info}/RECORD"] = record.encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(members):
            entry = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            entry.external_attr, entry.compress_type = 0o644 << 16, zipfile.ZIP_DEFLATED
            archive.writestr(entry, members[name])
    return buffer.getvalue()
