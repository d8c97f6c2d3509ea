"""A student's Markdown answer as the app shows it: a small Markdown subset on escaped text, LaTeX as MathML.

The subset is what answers in a notebook use: headings, paragraphs, *emphasis* and **strong**, `inline code`,
fenced code blocks, and bulleted or numbered lists. Everything the student wrote is HTML-escaped first, and only
the renderer's own fixed tags (and the MathML allowlist of grader.report.math) are added, so HTML in an answer
(<script>, <img onerror=...>, links) shows as text and does nothing. Every step is one left-to-right pass over a
line or the text (no backtracking pattern), so a hostile answer costs time in proportion to its length.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict, deque

from grader.report.math import latex_to_mathml, math_spans

HOLE = "\x00"  # around a formula's number while the Markdown is parsed; taken out of the student's text first
HOLES = re.compile("\x00(\\d+)\x00")
FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
ITEM = re.compile(r" {0,3}(?:([-*+])|(\d{1,9})[.)])(?:[ \t]+(.*)|$)")
DELIMITER = re.compile(r"(\*\*|__|\*|_)")
TAGS = {"**": "strong", "__": "strong", "*": "em", "_": "em"}
MAX_FORMULAS = 500  # converted per answer; any more stay as their source (a hostile answer of 20,000 is slow)


class _Formulas:
    """The formulas of one answer, each cut out of the text and kept as MathML (or its escaped source)."""

    def __init__(self) -> None:
        self.source: list[str] = []
        self.markup: list[str] = []

    def cut(self, text: str) -> str:
        parts, last = [], 0
        for start, end, latex, display in math_spans(text):
            mathml = latex_to_mathml(latex, display) if len(self.source) < MAX_FORMULAS else None
            self.source.append(html.escape(text[start:end]))
            self.markup.append(mathml or f'<code class="tex">{html.escape(text[start:end])}</code>')
            parts += [text[last:start], f"{HOLE}{len(self.source) - 1}{HOLE}"]
            last = end
        return "".join(parts) + text[last:]

    def put_back(self, markup: str, *, as_source: bool = False) -> str:
        kept = self.source if as_source else self.markup
        return HOLES.sub(lambda m: kept[int(m.group(1))], markup)


def _emphasis(escaped: str) -> str:
    """*em*, _em_, **strong**, __strong__ on escaped text: delimiters paired in one pass (at most one open of each
    kind; one closed inside another drops the unclosed ones it crosses, so the tags always nest)."""
    tokens = DELIMITER.split(escaped)
    stack: list[tuple[str, int]] = []
    for n in range(1, len(tokens), 2):
        mark, before, after = tokens[n], tokens[n - 1], tokens[n + 1]
        word = mark[0] == "_"  # _ only at a word's edge: snake_case stays as it is
        opened = next((k for k in range(len(stack) - 1, -1, -1) if stack[k][0] == mark), None)
        if (opened is not None and before and not before[-1].isspace()
                and not (word and after[:1].isalnum())):
            tokens[stack[opened][1]] = f"<{TAGS[mark]}>"
            tokens[n] = f"</{TAGS[mark]}>"
            del stack[opened:]
        elif opened is None and after and not after[0].isspace() and not (word and before[-1:].isalnum()):
            stack.append((mark, n))
    return "".join(tokens)


def _inline(text: str, formulas: _Formulas) -> str:
    """One block's text: `code` spans (a run of backticks closed by the next run of the same length), the rest
    escaped with emphasis; formulas put back as MathML, or as their source inside code."""
    runs = [(m.start(), m.end()) for m in re.finditer(r"`+", text)]
    later: dict[int, deque[int]] = defaultdict(deque)
    for n, (start, end) in enumerate(runs):
        later[end - start].append(n)
    parts, last, n = [], 0, 0
    while n < len(runs):
        start, end = runs[n]
        same = later[end - start]
        while same and same[0] <= n:
            same.popleft()
        if not same:
            n += 1
            continue
        close = same.popleft()
        code = text[end:runs[close][0]]
        if code.startswith(" ") and code.endswith(" ") and code.strip():
            code = code[1:-1]
        parts.append(formulas.put_back(_emphasis(html.escape(text[last:start]))))
        parts.append(f"<code>{formulas.put_back(html.escape(code), as_source=True)}</code>")
        last, n = runs[close][1], close + 1
    parts.append(formulas.put_back(_emphasis(html.escape(text[last:]))))
    return "".join(parts)


def _blocks(text: str, formulas: _Formulas) -> list[str]:
    out: list[str] = []
    para: list[str] = []
    items: list[list[str]] = []
    kind, start = "", 1

    def flush() -> None:
        nonlocal items
        if para:
            out.append(f"<p>{_inline(chr(10).join(para), formulas)}</p>")
            para.clear()
        if items:
            attr = f' start="{start}"' if kind == "ol" and start != 1 else ""
            body = "".join(f"<li>{_inline(chr(10).join(i), formulas)}</li>" for i in items)
            out.append(f"<{kind}{attr}>{body}</{kind}>")
            items = []

    lines = text.split("\n")
    n = 0
    while n < len(lines):
        line = lines[n]
        fence = FENCE.match(line)
        if fence:
            flush()
            mark, code, n = fence.group(1), [], n + 1
            while n < len(lines) and not (lines[n].strip().startswith(mark[0] * len(mark))
                                          and not lines[n].strip().strip(mark[0])):
                code.append(lines[n])
                n += 1
            out.append(f"<pre><code>{formulas.put_back(html.escape(chr(10).join(code)), as_source=True)}"
                       "</code></pre>")
            n += 1
            continue
        heading, item = HEADING.fullmatch(line), ITEM.match(line)
        if not line.strip():
            flush()
        elif heading:
            flush()
            level = min(len(heading.group(1)) + 2, 6)  # under the page's own headings
            out.append(f"<h{level}>{_inline(heading.group(2) or '', formulas)}</h{level}>")
        elif item and (not para or item.group(2) in (None, "1")):  # as in CommonMark: "2." goes on a paragraph
            number = item.group(2)
            if not items or kind != ("ol" if number else "ul"):
                flush()
                kind, start = ("ol", int(number)) if number else ("ul", 1)
            items.append([item.group(3) or ""])
        elif items:
            items[-1].append(line.strip())  # the item goes on
        else:
            para.append(line)
        n += 1
    flush()
    return out


def render_markdown(text: str) -> str:
    """The answer as HTML: the Markdown subset above, formulas as MathML, everything else escaped."""
    formulas = _Formulas()
    text = text.replace(HOLE, "\ufffd").replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(_blocks(formulas.cut(text), formulas))
