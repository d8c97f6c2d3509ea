"""Student identities from submission file names: LMS naming patterns and filesystem-safe ids.

A pattern is a regular expression matched against a file's path relative to the class folder (with "/"
separators). It must have a `student` group; it may have `late`, `user_id`, `attachment_id`, `anonymous_id` and
`resubmission` groups.

Canvas's *Download Submissions* names each uploaded file `<name>[_LATE]_<user id>_<attachment id>_<file name>`: the
name is the student's sortable name with everything but letters, digits and `_` dropped and lowercased; the user id
is the Canvas user's, the attachment id that of the uploaded file (not of the submission). With anonymous grading
the name part is `anon_<anonymous id>` (five base58 characters, lowercased like the rest) and no user id is given.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePosixPath

from grader.errors import ConfigError

SUBMISSION_SUFFIXES = (".ipynb", ".py")
JUNK_PARTS = ("__MACOSX", ".ipynb_checkpoints", "__pycache__")
# what the batch writes beside the students' folders, so no student id may take these names
RESERVED_IDS = frozenset({"gradebook.csv", "summary.md", "summary.png", "similarity", ".batch", "canvas_import.csv",
                          "grades.csv", "gradebook_detail.csv", "hand_grades.csv", "canvas_feedback.zip"})
MAX_ID_LENGTH = 80

# Canvas: lastnamefirstname[_LATE]_<user id>_<attachment id>_<original name>[-<n>].ipynb
CANVAS = re.compile(
    r"(?:.*/)?(?P<student>[^/]+?)_(?:(?P<late>late)_)?(?P<user_id>\d+)_(?P<attachment_id>\d+)_"
    r"[^/]+?(?:-(?P<resubmission>\d+))?\.(?:ipynb|py)",
    re.IGNORECASE,
)
# Canvas with anonymous grading: [LATE_]anon_<anonymous id>[_LATE]_<attachment id>_<original name>[-<n>].ipynb
CANVAS_ANONYMOUS = re.compile(
    r"(?:.*/)?(?:(?P<late>late)_)?(?P<student>anon_(?P<anonymous_id>[A-Za-z0-9]+))_(?:(?P<late_after>late)_)?"
    r"(?P<attachment_id>\d+)_[^/]+?(?:-(?P<resubmission>\d+))?\.(?:ipynb|py)",
    re.IGNORECASE,
)
# one folder per student: <student>/<anything>.ipynb, at any depth below the student's folder
FOLDER = re.compile(r"(?P<student>[^/]+)/(?:[^/]+/)*[^/]+\.(?:ipynb|py)", re.IGNORECASE)
# plain <student>.ipynb at the top of the class folder
PLAIN = re.compile(r"(?P<student>[^/]+)\.(?:ipynb|py)", re.IGNORECASE)
DEFAULT_PATTERNS = (CANVAS_ANONYMOUS, CANVAS, FOLDER, PLAIN)


@dataclass(frozen=True)
class Identity:
    """Who a file belongs to, as read from its name. `raw` is the name as written; `student` is filesystem-safe."""

    student: str
    raw: str
    late: bool = False
    resubmission: int = 0
    user_id: str = ""
    attachment_id: str = ""
    anonymous_id: str = ""


def compile_patterns(texts: list[str] | tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    """The configured patterns, or the defaults when none are given. A bad pattern raises ConfigError."""
    if not texts:
        return DEFAULT_PATTERNS
    out = []
    for text in texts:
        try:
            pattern = re.compile(text)
        except re.error as exc:
            raise ConfigError(f"--pattern {text!r} is not a regular expression: {exc}") from None
        if "student" not in pattern.groupindex:
            raise ConfigError(f"--pattern {text!r} has no (?P<student>...) group naming the student")
        out.append(pattern)
    return tuple(out)


def junk_reason(relpath: str) -> str:
    """Why a file is not a submission ("" when it may be one): hidden, system folders, or not a notebook."""
    parts = PurePosixPath(relpath).parts
    if any(p.startswith(".") or p in JUNK_PARTS for p in parts):
        return "hidden or system file"
    if not relpath.lower().endswith(SUBMISSION_SUFFIXES):
        return "not a notebook (.ipynb) or script (.py)"
    return ""


def identify(relpath: str, patterns: tuple[re.Pattern[str], ...] = DEFAULT_PATTERNS) -> Identity | None:
    """The identity the first matching pattern gives `relpath`, or None when no pattern matches."""
    for pattern in patterns:
        match = pattern.fullmatch(relpath)
        if match and match.group("student"):
            groups = match.groupdict()
            raw = groups["student"]
            return Identity(
                student=safe_id(raw),
                raw=raw,
                late=bool(groups.get("late") or groups.get("late_after")),
                resubmission=int(groups.get("resubmission") or 0),
                user_id=groups.get("user_id") or "",
                attachment_id=groups.get("attachment_id") or "",
                anonymous_id=(groups.get("anonymous_id") or "").lower(),
            )
    return None


def safe_id(raw: str) -> str:
    """A folder name made from `raw`: letters, digits, '.', '_' and '-' only, never hidden, never empty."""
    text = unicodedata.normalize("NFKD", raw).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")
    if not text:
        return "student-" + hashlib.sha256(raw.encode()).hexdigest()[:8]
    if len(text) > MAX_ID_LENGTH:
        text = text[:MAX_ID_LENGTH - 9] + "-" + hashlib.sha256(raw.encode()).hexdigest()[:8]
    return text + "_" if text.lower() in RESERVED_IDS else text


def disambiguate(identities: list[Identity]) -> dict[Identity, str]:
    """Final student ids: two people whose names map to the same id get their LMS user id (or a hash) appended."""
    people: dict[str, set[tuple[str, str]]] = {}
    for ident in identities:
        people.setdefault(ident.student, set()).add((ident.raw, ident.user_id))
    out = {}
    for ident in identities:
        if len(people[ident.student]) == 1:
            out[ident] = ident.student
        else:
            tag = ident.user_id or hashlib.sha256(ident.raw.encode()).hexdigest()[:8]
            out[ident] = f"{ident.student}-{tag}"
    return out
