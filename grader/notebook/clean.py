"""Text that comes from a submission, made safe once where it enters and again where it leaves.

Enters: notebook JSON, worker replies, file names, cached batch rows -> valid_text / clean_tree / file_name (valid
UTF-8, so every later write and print can encode it). Leaves: a terminal or log line -> terminal (control
characters escaped, so nothing redraws the screen); a Markdown table cell -> markdown (punctuation and HTML escaped,
so nothing renders as a link, an image or markup).
"""

from __future__ import annotations

import os
import re
from typing import Any

REPLACEMENT = "\ufffd"
MAX_TREE_DEPTH = 200  # far deeper than any notebook Jupyter writes
_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 controls, DEL, and the invisible marks that reorder or hide text on screen (bidi, zero width)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
_MD_SPECIAL = re.compile(r"([!\"#$'()*+,\-./:;=?@\[\\\]^_`{|}~])")
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
    """Text for one Markdown table cell: on one line, every Markdown punctuation escaped, HTML's <, > and & as
    entities, so a name renders as itself and never as a link, an image or a tag."""
    text = _MD_SPECIAL.sub(r"\\\1", terminal(text))
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """At most about `limit` characters; a cut says how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n… ({len(text) - limit} more characters)"
