"""OUT/canvas_feedback.zip: every student's feedback page, named so that one upload to Canvas's *Re-upload
submissions* (on the assignment's page, beside *Download Submissions*) attaches each page as a comment on its own
student's submission.

In: the course step's students (user id and attachment id read from each downloaded file's name) and their
OUT/<student>/feedback.html. Out: the zip, and the students left out of it with the reason, for summary.md.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from grader.files import replacing
from grader.report.feedback import STUDENT_PAGE

FILE = "canvas_feedback.zip"
PAGE = STUDENT_PAGE  # what the students see
ENTRY_TIME = (2026, 1, 1, 0, 0, 0)  # fixed, so the same pages give the same zip, byte for byte


def reupload_name(student: str, user_id: str, attachment_id: str) -> str:
    """The name of a student's page in the re-upload zip, e.g. `doejane_12345_67890_feedback.html`.

    Canvas reads an uploaded comment file this way (`Assignment#generate_comments_from_files` and its
    `infer_comment_context_from_filename` in canvas-lms): it splits the file's base name on `_` and takes the first
    two parts made only of digits as the *user id* (whose submission gets the comment) and the *attachment id*,
    which must be one of the files of that submission, so the one the download named. A name whose last part
    starts with `link`, or that starts with `._`, is ignored, and so is a name without both ids. So the label that
    comes first must hold no part made only of digits, and the ids must not be the last part: the label is the
    student id with `_` turned into `-`, and the name ends with `_feedback.html`.
    """
    if not (user_id.isdigit() and attachment_id.isdigit()):
        raise ValueError(f"{student}: a Canvas user id and attachment id are both needed, got "
                         f"{user_id!r} and {attachment_id!r}")
    label = re.sub(r"[^A-Za-z0-9-]+", "-", student).strip("-.") or "student"
    if label.isdigit() or label.startswith("link"):
        label = "s-" + label
    return f"{label}_{user_id}_{attachment_id}_feedback.html"


@dataclass(frozen=True)
class Member:
    """One student the zip may hold: their folder and the two ids from the downloaded file's name."""

    student: str
    user_id: str
    attachment_id: str
    anonymous: bool = False


def why_left_out(member: Member, folder: Path) -> str:
    """Why this student's page cannot go into the zip ("" when it can)."""
    if member.anonymous:
        return "anonymous grading: the download gives no user id, so Canvas cannot match a re-uploaded file"
    if not member.user_id or not member.attachment_id:
        return "the file name has no Canvas user id and attachment id (not a Canvas download)"
    if not (folder / PAGE).is_file():
        return "no feedback page yet (not graded)"
    return ""


def write_zip(out: Path, members: list[Member]) -> dict[str, str]:
    """Write OUT/canvas_feedback.zip (atomically; removed when no page fits). Returns {student: why left out}."""
    left_out: dict[str, str] = {}
    entries: list[tuple[str, Path]] = []
    for member in sorted(members, key=lambda m: m.student):
        folder = out / member.student
        reason = why_left_out(member, folder)
        if reason:
            left_out[member.student] = reason
        else:
            entries.append((reupload_name(member.student, member.user_id, member.attachment_id), folder / PAGE))
    target = out / FILE
    if not entries:
        target.unlink(missing_ok=True)
        return left_out
    with replacing(target) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, page in entries:
            info = zipfile.ZipInfo(name, date_time=ENTRY_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, page.read_bytes())
    return left_out
