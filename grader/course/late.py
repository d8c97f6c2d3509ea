"""The late policy: rubric [late] + submission times -> a late flag and a penalty in points, shown, never hidden.

Policies: "none" (nothing), "flag" (marked late, no penalty), "per_day" (penalty x days late, fractional),
"per_started_day" (penalty x every day begun), "zero_after" (per started day until `cutoff`, then the whole score).
A submission is late when the TA's times file says it came after its due time, or else when the LMS marked it
(Canvas puts _LATE_ in the file name). How late comes from the times file, or else from the file's own time in the
LMS download (a zip entry's time); when neither is after the due time, a marked file counts one day late.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from grader.errors import ConfigError

POLICIES = ("none", "flag", "per_day", "per_started_day", "zero_after")
KEYS = ("policy", "due", "penalty", "cap", "cutoff", "grace_minutes")
DAY = timedelta(days=1)


@dataclass(frozen=True)
class LatePolicy:
    """penalty: points per day; cap: the most points taken off (None: no cap); times are timezone-aware."""

    policy: str = "none"
    due: datetime | None = None
    penalty: float = 0.0
    cap: float | None = None
    cutoff: datetime | None = None
    grace: timedelta = timedelta(0)

    def describe(self) -> str:
        if self.policy == "none":
            return "no late policy"
        due = f"due {self.due.isoformat()}" if self.due else "no due time set"
        if self.policy == "flag":
            return f"late submissions are flagged, no penalty ({due})"
        unit = "day or part of a day" if self.policy != "per_day" else "day (pro rata)"
        text = f"{self.penalty:g} points per {unit} late ({due})"
        text += f", at most {self.cap:g} points" if self.cap is not None else ""
        if self.policy == "zero_after" and self.cutoff:
            text += f"; 0 after {self.cutoff.isoformat()}"
        return text


@dataclass(frozen=True)
class Lateness:
    """One student's lateness: late or not, by how long (None: unknown), the points taken off, and why."""

    late: bool = False
    delay: timedelta | None = None
    penalty: float = 0.0
    zeroed: bool = False
    note: str = ""


def aware(value: datetime) -> datetime:
    """A naive time is this machine's local time, as zip entries and file times are."""
    return value if value.tzinfo else value.astimezone()


def _time(value: Any, key: str, source: str) -> datetime:
    if isinstance(value, datetime):
        return aware(value)
    if isinstance(value, str):
        try:
            return aware(datetime.fromisoformat(value.strip()))
        except ValueError:
            pass
    raise ConfigError(f"{source}: [late] {key}: expected a date and time such as 2026-11-20T23:59:00, got {value!r}")


def _points(value: Any, key: str, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 10_000:
        raise ConfigError(f"{source}: [late] {key}: expected a number of points from 0 to 10000, got {value!r}")
    return float(value)


def parse_late(table: dict, source: str = "rubric.toml") -> LatePolicy:
    """The [late] table of the rubric, validated; errors name the file and the key."""
    for key in table:
        if key not in KEYS:
            raise ConfigError(f"{source}: [late] {key}: unknown key; expected one of: {', '.join(KEYS)}")
    policy = table.get("policy", "none")
    if policy not in POLICIES:
        raise ConfigError(f"{source}: [late] policy: expected one of {', '.join(POLICIES)}, got {policy!r}")
    due = _time(table["due"], "due", source) if "due" in table else None
    cutoff = _time(table["cutoff"], "cutoff", source) if "cutoff" in table else None
    if policy in ("per_day", "per_started_day", "zero_after") and due is None:
        raise ConfigError(f"{source}: [late] due: policy {policy!r} needs the due time")
    if policy == "zero_after" and cutoff is None:
        raise ConfigError(f"{source}: [late] cutoff: policy 'zero_after' needs the cutoff time")
    cap = _points(table["cap"], "cap", source) if "cap" in table else None
    grace = timedelta(minutes=_points(table.get("grace_minutes", 0), "grace_minutes", source))
    return LatePolicy(policy, due, _points(table.get("penalty", 0), "penalty", source), cap, cutoff, grace)


@dataclass(frozen=True)
class SubmittedAt:
    """What a TA's times file says about one student: when they submitted, and their own due time if extended."""

    submitted: datetime | None
    due: datetime | None = None


def read_times(path: Path) -> dict[str, SubmittedAt]:
    """A CSV with the columns student and submitted (and optionally due); errors name the line."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the times file ({exc.strerror})") from None
    if rows and not {"student", "submitted"} <= set(rows[0]):
        raise ConfigError(f"{path}: the times file needs the columns student,submitted (and optionally due)")
    out: dict[str, SubmittedAt] = {}
    for line, row in enumerate(rows, 2):
        where = f"{path}, line {line}"
        try:
            submitted = aware(datetime.fromisoformat(row["submitted"].strip())) if row["submitted"].strip() else None
            due = aware(datetime.fromisoformat(row["due"].strip())) if (row.get("due") or "").strip() else None
        except ValueError:
            raise ConfigError(f"{where}: expected times such as 2026-11-20T23:59:00") from None
        out[row["student"].strip()] = SubmittedAt(submitted, due)
    return out


def assess(policy: LatePolicy, *, marked: bool, file_time: datetime | None, given: SubmittedAt | None,
           score: float) -> Lateness:
    """The lateness of one submission. score: the points before the penalty (the penalty never goes below 0)."""
    if policy.policy == "none":
        return Lateness()
    due = (given.due if given and given.due else policy.due)
    submitted = given.submitted if given and given.submitted else None
    source = "the times file" if submitted else "the LMS"
    if submitted is None and marked:
        submitted = file_time
    if due is None or submitted is None:
        return Lateness(late=marked, note="marked late by the LMS" if marked else "")
    delay = submitted - due - policy.grace
    if delay <= timedelta(0):
        if not marked or given and given.submitted:
            return Lateness()
        return _penalised(policy, None, submitted, score, "marked late by the LMS, but its time is not after the due "
                          "time: counted as one day late; give the time in a times file (--times)")
    return _penalised(policy, delay, submitted, score,
                      f"submitted {_days(delay)} after the due time (time from {source})")


def _penalised(policy: LatePolicy, delay: timedelta | None, submitted: datetime, score: float, note: str) -> Lateness:
    if policy.policy == "flag":
        return Lateness(True, delay, 0.0, False, note)
    days = 1.0 if delay is None else delay / DAY
    if policy.policy == "zero_after" and policy.cutoff and submitted > policy.cutoff:
        return Lateness(True, delay, score, True, note + f"; after the cutoff {policy.cutoff.isoformat()}: score 0")
    charged = days if policy.policy == "per_day" else math.ceil(days)
    penalty = policy.penalty * charged
    if policy.cap is not None:
        penalty = min(penalty, policy.cap)
    return Lateness(True, delay, round(min(penalty, max(score, 0.0)), 4), False, note)


def _days(delay: timedelta) -> str:
    hours = delay.total_seconds() / 3600
    return f"{hours:.1f} hours" if hours < 48 else f"{hours / 24:.1f} days"


def file_time(mtime: float) -> datetime:
    return datetime.fromtimestamp(mtime, tz=timezone.utc).astimezone()
