"""Extract stage: read a .ipynb notebook or a .py script into ordered, runnable code cells.

IPython syntax is neutralised with a small line transform of our own: nbconvert's `ipython2python` filter returns
the code unchanged when IPython is not installed (as in the grader's environment), so it cannot be relied on.
The .py format accepted is the one nbconvert's PythonExporter writes ("# In[ ]:" markers) and the percent format
("# %%") of Jupytext and VS Code.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tokenize
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.errors import SubmissionError
from grader.notebook import clean

MAX_SUBMISSION_BYTES = 50 * 1024 * 1024

# Cell magics whose body is Python and runs as is (the magic only times, captures or profiles it).
PYTHON_BODY_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
_MAGIC_LINE = re.compile(r"^(?P<indent>[ \t]*)(?P<target>[A-Za-z_][\w.\[\]'\" ,]*=\s*)?(?P<kind>%%|%|!!|!)(?P<rest>.*)$")
_HELP_LINE = re.compile(r"^(?P<indent>[ \t]*)\?*[A-Za-z_][\w.]*\?{1,2}\s*$|^(?P<indent2>[ \t]*)\?{1,2}[A-Za-z_][\w.]*\s*$")
_PY_MARKER = re.compile(r"^#\s*(%%(?P<percent>.*)|In\[[ \d]*\]:\s*)$")


@dataclass(frozen=True)
class Cell:
    """One code cell. index: position among ALL cells of the notebook (0-based); source: runnable Python."""

    index: int
    source: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class MarkdownCell:
    """One Markdown cell, kept for the hand-graded items (derivation, report)."""

    index: int
    source: str
    metadata: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Submission:
    """A submission file read into cells. sha256 is of the file's bytes; notes go into the report."""

    path: Path
    sha256: str
    cells: tuple[Cell, ...]
    markdown: tuple[MarkdownCell, ...] = ()
    notes: tuple[str, ...] = ()


def read_submission(path: str | Path) -> Submission:
    """Read a .ipynb or .py file. Raises SubmissionError with a one-line message a student can act on."""
    path = Path(path)
    data = _read_bytes(path)
    digest = hashlib.sha256(data).hexdigest()
    text = _decode(data, path)
    if not text.strip():
        raise SubmissionError(f"this file is empty ({len(data)} bytes): {path.name}; save your notebook in Jupyter "
                              "and submit it again")
    if path.suffix.lower() == ".py" or (path.suffix.lower() != ".ipynb" and not text.lstrip().startswith("{")):
        raw_cells, notes = _split_script(text), ()
    else:
        raw_cells, notes = _notebook_cells(text, path)
    code = [c for c in raw_cells if c[0] == "code"]
    if not raw_cells:
        raise SubmissionError(f"this notebook is empty (it has no cells): {path.name}; save your work and submit again")
    if not any(src.strip() for _, src, _, _ in code):
        raise SubmissionError(f"this notebook has no code cells: {path.name}; submit the notebook with your code in it")
    cells = tuple(neutralise(src, index) for kind, src, index, _ in raw_cells if kind == "code")
    markdown = tuple(MarkdownCell(i, src, meta) for kind, src, i, meta in raw_cells if kind == "markdown")
    all_notes = notes + tuple(n for c in cells for n in c.notes)
    return Submission(path=path, sha256=digest, cells=cells, markdown=markdown, notes=all_notes)


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_SUBMISSION_BYTES:
            raise SubmissionError(
                f"this file is too large ({size >> 20} MB): {path.name}; clear all outputs in Jupyter and save again"
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise SubmissionError(f"the submission file does not exist: {path}") from None
    except IsADirectoryError:
        raise SubmissionError(f"the submission is a folder, not a notebook: {path}") from None
    except OSError as e:
        raise SubmissionError(f"the submission file cannot be read: {path.name} ({e.strerror})") from None


def _decode(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SubmissionError(
            f"this file is not UTF-8 text, so it is not a Jupyter notebook: {path.name} (byte {e.start}); "
            "download the .ipynb from Jupyter again"
        ) from None


RawCell = tuple[str, str, int, dict]  # (cell_type, source, index among all cells, metadata)


def _notebook_cells(text: str, path: Path) -> tuple[list[RawCell], tuple[str, ...]]:
    """Parse, upgrade to nbformat 4 and list the cells; a structurally odd but readable notebook is read leniently."""
    import nbformat  # noqa: PLC0415 - imported here so that reading a .py needs no nbformat

    try:
        raw = clean.clean_tree(json.loads(text))  # lone surrogates (JSON escapes) become U+FFFD, here, once
    except (RecursionError, clean.TooDeep):
        raise SubmissionError(f"this file is not a Jupyter notebook: {path.name} nests its JSON more than "
                              f"{clean.MAX_TREE_DEPTH} levels deep; download it from Jupyter again") from None
    except ValueError as e:
        raise SubmissionError(
            f"this file is not a Jupyter notebook: {path.name} is not valid JSON (line {getattr(e, 'lineno', '?')}: "
            f"{getattr(e, 'msg', e)}); download it from Jupyter again with File > Download > .ipynb"
        ) from None
    if not isinstance(raw, dict) or not ({"cells", "worksheets", "nbformat"} & raw.keys()):
        raise SubmissionError(
            f"this file is not a Jupyter notebook: {path.name} is JSON but has no notebook cells; "
            "check that you uploaded the .ipynb file"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.reads(json.dumps(raw), as_version=4)  # the cleaned text
        return [_raw_cell(c, i) for i, c in enumerate(nb.cells)], ()
    except nbformat.NBFormatError as e:
        raise SubmissionError(
            f"this notebook's format cannot be read: {path.name} ({e}); open it in a current Jupyter and save it again"
        ) from None
    except Exception as e:  # nbformat raises jsonschema and other errors on damaged notebooks
        return _lenient_cells(raw, path, e)


def _lenient_cells(raw: dict, path: Path, error: Exception) -> tuple[list[RawCell], tuple[str, ...]]:
    """The cells of a v4-shaped notebook that nbformat refused (a missing field, say), with a note saying so."""
    first_line = (str(error).splitlines() or [type(error).__name__])[0][:120]
    cells = raw.get("cells")
    if not isinstance(cells, list) or not all(isinstance(c, dict) for c in cells):
        raise SubmissionError(f"this file is not a Jupyter notebook: {path.name} is damaged ({first_line}); "
                              "open it in Jupyter and save it again")
    note = f"the notebook does not pass nbformat validation ({first_line}); it was read leniently"
    return [_raw_cell(c, i) for i, c in enumerate(cells)], (note,)


def _raw_cell(cell: Any, index: int) -> RawCell:
    source = cell.get("source", "")
    if isinstance(source, list):
        source = "".join(s for s in source if isinstance(s, str))
    if not isinstance(source, str):
        source = ""
    meta = cell.get("metadata")
    return (str(cell.get("cell_type", "")), source, index, dict(meta) if isinstance(meta, dict) else {})


def _split_script(text: str) -> list[RawCell]:
    """Split a script on "# %%" / "# In[ ]:" markers; without markers the whole script is one cell."""
    segments: list[tuple[str, list[str]]] = [("code", [])]
    for line in text.splitlines(keepends=True):
        m = _PY_MARKER.match(line.rstrip("\r\n"))
        if m:
            is_md = m.group("percent") is not None and "[markdown]" in m.group("percent")
            segments.append(("markdown" if is_md else "code", []))
        else:
            segments[-1][1].append(line)
    if len(segments) > 1 and not _has_code("".join(segments[0][1])):
        segments.pop(0)  # the preamble of an exported script ("#!/usr/bin/env python", "# coding: utf-8")
    cells = []
    for i, (kind, lines) in enumerate(segments):
        src = "".join(lines)
        if kind == "markdown":
            src = "".join(re.sub(r"^# ?", "", ln) for ln in lines)
        cells.append((kind, src.strip("\n") + ("\n" if src.strip() else ""), i, {}))
    return cells


def _has_code(source: str) -> bool:
    return any(ln.strip() and not ln.lstrip().startswith("#") for ln in source.splitlines())


def neutralise(source: str, index: int) -> Cell:
    """Turn IPython syntax into plain Python: magics become no-ops, %%time-like cells run their body."""
    notes: list[str] = []
    lines = source.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        body = _cell_magic(lines[first].strip(), lines[first + 1 :], index, notes)
        if body is None:
            return Cell(index, "", tuple(notes))
        lines = lines[:first] + [""] + body  # keep line numbers aligned with the notebook
    in_string = _continuation_lines(lines)
    out: list[str] = []
    i = 0
    while i < len(lines):
        line, j = lines[i], i + 1
        if i not in in_string and (_MAGIC_LINE.match(line) or _HELP_LINE.match(line)):
            while lines[j - 1].rstrip().endswith("\\") and j < len(lines):
                j += 1  # a magic continued with a trailing backslash
            out.extend(_magic_line(lines[i:j], index, notes))
        else:
            out.append(line)
        i = j
    return Cell(index, "\n".join(out) + ("\n" if out else ""), tuple(notes))


def _cell_magic(header: str, body: list[str], index: int, notes: list[str]) -> list[str] | None:
    """The body to run for a cell magic, or None when the cell is not Python (%%bash, %%html...)."""
    name, _, arg = header[2:].partition(" ")
    if name in PYTHON_BODY_CELL_MAGICS:
        return body
    if name == "writefile" and arg.strip():
        text = "\n".join(body) + "\n"
        target = arg.split()[-1]
        return [f"with open({target!r}, 'w') as _f:", f"    _f.write({text!r})"]
    notes.append(f"cell {index}: skipped a `%%{name}` cell (it is not Python)")
    return None


def _magic_line(chunk: list[str], index: int, notes: list[str]) -> list[str]:
    """Replace one magic (possibly continued over several lines) by `pass`, or by its statement for %time."""
    m = _MAGIC_LINE.match(chunk[0])
    indent = m.group("indent") if m else re.match(r"^[ \t]*", chunk[0]).group(0)
    filler = [indent + "pass"] + [""] * (len(chunk) - 1)
    if m is None:
        return filler  # help syntax such as `np.dot?`
    kind, rest, target = m.group("kind"), m.group("rest"), m.group("target")
    text = " ".join(ln.strip().rstrip("\\") for ln in chunk).strip()
    if kind in ("!", "!!") or rest.split(" ")[0] in ("pip", "conda", "system", "sx"):
        notes.append(f"cell {index}: skipped shell line `{text[:100]}`")
    name, _, stmt = rest.partition(" ")
    if target:
        return [f"{indent}{target}None"] + [""] * (len(chunk) - 1)
    if kind == "%" and name in ("time", "timeit") and stmt.strip() and len(chunk) == 1:
        return [indent + re.sub(r"^((-[nrp]\s*\d+|-[tcqo])\s+)*", "", stmt.strip())]  # the timed statement still runs
    return filler


def _continuation_lines(lines: list[str]) -> set[int]:
    """0-based numbers of lines that do not start a statement (inside a string, brackets or after a backslash).

    A leading % or ! there is Python (a modulo, a string's text), not a magic. The first probe keeps such lines'
    brackets; if shell text makes it untokenizable, the second replaces every candidate line with `pass`.
    """
    candidates = [bool(_MAGIC_LINE.match(ln) or _HELP_LINE.match(ln)) for ln in lines]
    if not any(candidates):
        return set()  # only candidate lines are looked up: with none, tokenizing the cell would answer nothing
    blanked = [re.sub(r"[%!?]", " ", ln) if c else ln for ln, c in zip(lines, candidates)]
    passed = [re.match(r"^[ \t]*", ln).group(0) + "pass" if c else ln for ln, c in zip(lines, candidates)]
    for probe in (blanked, passed):
        try:
            return _continuation_rows(probe)
        except (tokenize.TokenError, IndentationError, SyntaxError):
            continue
    return set()  # broken code: the cell reports its own SyntaxError when it runs


def _continuation_rows(probe: list[str]) -> set[int]:
    inside: set[int] = set()
    at_start, last_row = True, 0
    skip = {tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING}
    for tok in tokenize.generate_tokens(io.StringIO("\n".join(probe) + "\n").readline):
        if tok.end[0] > tok.start[0] and tok.type != tokenize.NEWLINE:
            inside.update(range(tok.start[0], tok.end[0]))  # rows are 1-based: these are the rows after the first
        if tok.type == tokenize.NEWLINE:
            at_start = True
        elif tok.type not in skip:
            if tok.start[0] != last_row and not at_start:
                inside.add(tok.start[0] - 1)
            at_start, last_row = False, tok.end[0]
    return inside
