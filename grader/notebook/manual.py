"""Hand-graded answers: the Markdown cells a TA grades, found by their metadata first, then by the prompt.

The skeleton marks each prompt cell with `grader: {manual: true, id, title}`. Students delete or retype cells, and
some editors drop metadata, so an item without a marked cell is looked for by the prompt's first line, then by the
heading it sits under and its position there (the Markdown cells after that heading, up to the next code cell).
An item still not found, or whose cell still holds the prompt unchanged, is reported as missing.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from grader.notebook.extract import Submission


@dataclass(frozen=True)
class ManualItem:
    """A hand-graded part of the notebook (a Markdown cell marked manual), collected for TAs.

    found: how the answer was found: "metadata" (its marked cell), "prompt" or "heading" (the cell lost its
    marking; found by the prompt's first line or under its heading), or "missing". note: why, when missing.
    """

    id: str
    title: str
    text: str
    cell_index: int = -1
    found: str = "metadata"
    note: str = ""

    @property
    def missing(self) -> bool:
        return self.found == "missing"


@dataclass(frozen=True)
class Prompt:
    """One hand-graded prompt of the skeleton: its item id and title, its first line, its heading and its text."""

    id: str
    title: str
    first_line: str
    heading: str
    text: str


def norm(text: str) -> str:
    """Text compared loosely: no Markdown emphasis or heading marks, one space, lower case."""
    return " ".join(re.sub(r"[*_#>`]", " ", text).split()).lower()


def _first_line(text: str) -> str:
    return next((norm(line) for line in text.splitlines() if norm(line)), "")


def _marked(metadata: dict) -> dict | None:
    meta = metadata.get("grader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) and meta.get("manual") else None


def _ordered(sub: Submission) -> list[tuple[int, str, str, dict]]:
    """(index, kind, source, metadata) of every cell, in notebook order."""
    cells = [(c.index, "code", c.source, {}) for c in sub.cells]
    cells += [(m.index, "markdown", m.source, m.metadata) for m in sub.markdown]
    return sorted(cells, key=lambda c: c[0])


def prompts_of(skeleton: Submission) -> tuple[Prompt, ...]:
    """The hand-graded prompts of the skeleton, each with the nearest heading line at or above it."""
    out, heading = [], ""
    for _, kind, source, meta in _ordered(skeleton):
        own = next((norm(ln) for ln in source.splitlines() if ln.lstrip().startswith("#")), "")
        marked = _marked(meta) if kind == "markdown" else None
        if marked:
            out.append(Prompt(str(marked.get("id", "")), str(marked.get("title", "Graded by hand")),
                              _first_line(source), own or heading, source))
        heading = own or heading
    return tuple(p for p in out if p.id)


@functools.lru_cache(maxsize=4)
def skeleton_prompts(path: Path) -> tuple[Prompt, ...]:
    """The prompts of the skeleton notebook at `path` (none when it cannot be read)."""
    from grader.errors import SubmissionError
    from grader.notebook.extract import read_submission

    try:
        return prompts_of(read_submission(path))
    except SubmissionError:
        return ()


def _answer_from(cells: list[tuple[int, str, str, dict]], start: int, skip_first: bool) -> tuple[int, str]:
    """The Markdown cells from `start` up to the next code cell or the next heading cell."""
    texts = []
    for k in range(start, len(cells)):
        index, kind, source, _ = cells[k]
        if kind == "code" or (k > start and source.lstrip().startswith("#")):
            break
        if not (skip_first and k == start):
            texts.append(source)
    return cells[start][0], "\n\n".join(t.strip("\n") for t in texts)


def _find(cells: list, prompt: Prompt, taken: set[int]) -> tuple[str, int, str]:
    """(how found, cell index, text) of one unmarked item; ("missing", -1, "") when it is nowhere."""
    for k, (index, kind, source, _) in enumerate(cells):
        if kind == "markdown" and index not in taken and prompt.first_line and _first_line(source) == prompt.first_line:
            at, text = _answer_from(cells, k, skip_first=False)
            return "prompt", at, text
    for k, (_index, kind, source, _) in enumerate(cells):
        lines = [norm(ln) for ln in source.splitlines() if ln.lstrip().startswith("#")]
        if kind == "markdown" and prompt.heading and prompt.heading in lines and k + 1 < len(cells):
            at, text = _answer_from(cells, k + 1, skip_first=False)
            if text.strip() and at not in taken:
                return "heading", at, text
    return "missing", -1, ""


def manual_answers(sub: Submission, prompts: tuple[Prompt, ...] = ()) -> tuple[ManualItem, ...]:
    """Every hand-graded item: the marked cells, then each prompt not marked in `sub`, found or flagged missing."""
    cells = _ordered(sub)
    items: list[ManualItem] = []
    for index, kind, source, meta in cells:
        marked = _marked(meta) if kind == "markdown" else None
        if marked:
            items.append(ManualItem(id=str(marked.get("id", f"cell-{index}")),
                                    title=str(marked.get("title", "Graded by hand")), text=source, cell_index=index))
    taken = {m.cell_index for m in items}
    for prompt in prompts:
        if any(m.id == prompt.id for m in items):
            continue
        how, at, text = _find(cells, prompt, taken)
        items.append(ManualItem(id=prompt.id, title=prompt.title, text=text, cell_index=at, found=how))
        taken.add(at)
    order = {p.id: n for n, p in enumerate(prompts)}
    items.sort(key=lambda m: order.get(m.id, len(order)))
    return tuple(_unanswered(m, prompts) for m in items)


def _unanswered(item: ManualItem, prompts: tuple[Prompt, ...]) -> ManualItem:
    """An answer that is only the prompt, unchanged, is no answer."""
    prompt = next((p for p in prompts if p.id == item.id), None)
    if prompt and item.found != "missing" and norm(item.text) == norm(prompt.text):
        from dataclasses import replace

        return replace(item, found="missing", note="the prompt is unchanged: no answer was written")
    return item
