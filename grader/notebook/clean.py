"""Text that comes from a submission, made safe once where it enters and again where it leaves.

Enters: notebook JSON, worker replies, file names, cached batch rows -> valid_text / clean_tree / file_name (valid
UTF-8, so every later write and print can encode it). Leaves: a terminal or log line -> terminal (control
characters escaped, so nothing redraws the screen); a Markdown table cell -> markdown (a code span, so nothing
renders as a link, an image or markup).
"""

from __future__ import annotations

import io
import os
import re
from typing import Any, TextIO

REPLACEMENT = "\ufffd"
EXCERPT_CHARS = 1500  # one expected/actual value or message, as a report shows it
MAX_TREE_DEPTH = 200  # far deeper than any notebook Jupyter writes
_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 controls, DEL, and the invisible marks that reorder or hide text on screen (bidi, zero width)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\e"}


class TooDeep(ValueError):
    """A parsed document nests deeper than MAX_TREE_DEPTH."""


def valid_text(text: str) -> str:
    """The string with every lone surrogate replaced by U+FFFD, so it encodes as UTF-8."""
    return _SURROGATE.sub(REPLACEMENT, text) if _SURROGATE.search(text) else text


def clean_tree(value: Any, max_depth: int = MAX_TREE_DEPTH) -> Any:
    """A copy of parsed JSON with valid_text applied to every string, keys too; raises TooDeep past max_depth."""
    def walk(node: Any, depth: int) -> Any:
        if depth > max_depth:
            raise TooDeep(f"nested more than {max_depth} levels deep")
        if type(node) is str:
            return valid_text(node)
        if type(node) is list:
            return [walk(v, depth + 1) for v in node]
        if type(node) is dict:
            return {valid_text(k) if type(k) is str else k: walk(v, depth + 1) for k, v in node.items()}
        return node
    return walk(value, 0)


def file_name(name: str) -> str:
    """An OS file name as text: undecodable bytes (held as surrogates by os.fsdecode) shown as \\xNN."""
    raw = os.fsencode(name)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace")


def _escape(match: re.Match) -> str:
    ch = match.group(0)
    return _NAMED.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")


def terminal(text: str) -> str:
    """One line for a terminal or a log: valid text with control and invisible characters escaped (\\e, \\n, \\x07)."""
    return _CONTROL.sub(_escape, valid_text(str(text)))


def markdown(text: str) -> str:
    """Text for one Markdown table cell, rendered exactly as itself: a code span (no emphasis, link, autolink,
    image or HTML can start inside one), fenced by more backticks than the text holds in a row, with the pipes that
    would end the table cell escaped and control characters escaped."""
    text = terminal(text).replace("|", "\\|")
    if not text:
        return ""
    fence = "`" * (1 + max((len(run) for run in re.findall("`+", text)), default=0))
    pad = " " if text[0] in "` " or text[-1] in "` " else ""
    return f"{fence}{pad}{text}{pad}{fence}"


class LogStream(io.TextIOBase):
    """A text stream for a log a TA reads: every line passes through terminal() (the line breaks stay)."""

    def __init__(self, raw: TextIO) -> None:
        self.raw = raw

    def write(self, s: str) -> int:
        self.raw.write("\n".join(terminal(part) for part in s.split("\n")))
        return len(s)

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:
        return "utf-8"

    def flush(self) -> None:
        self.raw.flush()

    def fileno(self) -> int:
        return self.raw.fileno()


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The text cut at `limit` characters, saying how many more there were."""
    text = text.rstrip()
    return text if len(text) <= limit else f"{text[:limit]}\n… ({len(text) - limit} more characters)"
