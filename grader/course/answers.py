"""The hand-graded answers of each student, kept as text beside the batch for the hand-grading app.

The worker writes OUT/<student>/answers.json after each grade, in the student's own folder so that it travels with
it from a cluster's worker and through a merge of shards: the items as the report found them (id, title, text,
cell, how found, note). The TA page shows the same answers; this file lets `hand-grade` show them again without
re-reading a submission that may no longer be on disk.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from grader.files import write_text
from grader.notebook.manual import ManualItem

FILE = "answers.json"  # in the student's folder
MAX_ANSWER_CHARS = 100_000  # a pasted essay is kept whole; a megabyte of noise is not


def answers_path(student_dir: Path) -> Path:
    """student_dir: OUT/<student>, where the grading writes the student's results."""
    return student_dir / FILE


def save_answers(path: Path, items: tuple[ManualItem, ...]) -> Path:
    clipped = [asdict(m) | {"text": m.text[:MAX_ANSWER_CHARS]} for m in items]
    return write_text(path, json.dumps(clipped, indent=1) + "\n")


def load_answers(out: Path, student: str) -> dict[str, ManualItem] | None:
    """item id -> answer, or None when the batch kept no answers for this student (graded by an older grader, or
    the submission could not be read)."""
    path = answers_path(out / student)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        items = [ManualItem(**{k: d[k] for k in ("id", "title", "text", "cell_index", "found", "note") if k in d})
                 for d in data]
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return {m.id: m for m in items}
