"""A Markdown answer -> HTML with its LaTeX as MathML, which browsers render natively: no script, no network.

Text outside math is HTML-escaped. Each $...$, $$...$$, \\(...\\) or \\[...\\] is converted with latex2mathml, and its
output rebuilt through an allowlist (MathML elements and a few presentation attributes only), because the converter
copies \\text{...} through as it is. Math that cannot be converted stays visible as escaped source.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from html.parser import HTMLParser

MATHML_TAGS = frozenset({
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "mfrac", "msqrt", "mroot",
    "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom", "menclose", "semantics",
    "annotation", "mmultiscripts", "mprescripts", "none", "merror"})
MATHML_ATTRS = frozenset({
    "display", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace", "accent", "accentunder",
    "movablelimits", "columnalign", "rowspacing", "columnspacing", "minsize", "maxsize", "form", "linethickness",
    "width", "height", "depth", "notation", "largeop", "symmetric", "displaystyle", "scriptlevel", "xmlns"})
SAFE_VALUE = re.compile(r"[\w .:/#%+-]{0,80}")  # no quotes, brackets or url(): values are names and lengths
# Spacing and sizes: a non-negative length of at most 3 digits, or a named one that is not negative, so a formula
# cannot pull itself over the rest of the page (lspace="-9999em") or stretch it without end.
_LENGTH = (r"(?:(?:\d{1,3}(?:\.\d{0,4})?|\.\d{1,4})(?:em|ex|px|pt|pc|mm|cm|in|mu|%)?"
           r"|(?:very){0,2}(?:thin|thick)mathspace|mediummathspace|thin|medium|thick|infinity)")
LENGTH_VALUES = re.compile(rf"{_LENGTH}(?: {_LENGTH}){{0,15}}")
LENGTH_ATTRS = frozenset({"lspace", "rspace", "width", "height", "depth", "minsize", "maxsize", "linethickness",
                          "rowspacing", "columnspacing"})
SCRIPTLEVEL = re.compile(r"[+-]?[0-2]")  # a few steps smaller or larger, not a formula the size of the screen
OPENER = re.compile(r"\$|\\[\[(]")  # where a formula can start: $, $$, \[ or \(
MAX_MATH_CHARS = 2000


def _safe_value(attr: str, value: str) -> bool:
    pattern = LENGTH_VALUES if attr in LENGTH_ATTRS else SCRIPTLEVEL if attr == "scriptlevel" else SAFE_VALUE
    return pattern.fullmatch(value) is not None


class _Allowlist(HTMLParser):
    """Rebuilds markup keeping only allowlisted MathML elements and attributes; all text is re-escaped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in MATHML_TAGS:
            return
        kept = "".join(f' {k}="{html.escape(v)}"' for k, v in attrs
                       if k in MATHML_ATTRS and v is not None and _safe_value(k, v))
        self.out.append(f"<{tag}{kept}>")
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in MATHML_TAGS and tag in self.open:
            while self.open:
                last = self.open.pop()
                self.out.append(f"</{last}>")
                if last == tag:
                    break

    def handle_data(self, data: str) -> None:
        self.out.append(html.escape(data, quote=False))

    def result(self) -> str:
        return "".join(self.out) + "".join(f"</{t}>" for t in reversed(self.open))


def sanitize_mathml(markup: str) -> str:
    """Only MathML elements and presentation attributes survive; everything else is dropped, its text kept."""
    parser = _Allowlist()
    parser.feed(markup)
    parser.close()
    return parser.result()


def latex_to_mathml(latex: str, display: bool = False) -> str | None:
    """Sanitized MathML for one formula, or None when it cannot be converted."""
    try:
        from latex2mathml.converter import convert  # noqa: PLC0415 - only pages with math need it
    except ImportError:  # the course extra is not installed: the source stays readable
        return None
    if len(latex) > MAX_MATH_CHARS:
        return None
    try:
        return sanitize_mathml(convert(latex.strip(), display="block" if display else "inline"))
    except Exception:  # noqa: BLE001 - the converter raises many kinds of errors on student LaTeX
        return None


class _Closers:
    """text.find(closer, start), remembering the last answer for each closer: a later start at or before that
    answer has the same one, and after a miss every later start misses too. So a run of unclosed openers costs
    one scan of the text, not one scan per opener."""

    def __init__(self, text: str) -> None:
        self.text, self.memo, self.scans = text, {}, 0

    def find(self, closer: str, start: int) -> int:
        since, at = self.memo.get(closer, (len(self.text) + 1, 0))
        if not (since <= start and (at == -1 or at >= start)):
            at = self.text.find(closer, start)
            self.memo[closer] = (start, at)
            self.scans += 1
        return at


def _formula(text: str, i: int, closers: _Closers) -> tuple[int, str, bool] | None:
    """The formula opening at text[i] (a $ or a backslash): its end, its LaTeX and whether it is displayed."""
    if text.startswith("$$", i):  # $$...$$ (at least one character inside)
        end = closers.find("$$", i + 3)
        return None if end < 0 else (end + 2, text[i + 2:end], True)
    if text[i] == "$":  # $...$: not after \ or $, no $ or line break inside, no space just inside, no digit after
        end = closers.find("$", i + 1)
        latex = text[i + 1:end]
        if (end < 0 or (i > 0 and text[i - 1] in "\\$") or not latex or latex[0].isspace() or "\n" in latex
                or (len(latex) > 1 and (latex[-1].isspace() or latex[-1] == "\\"))
                or text[end + 1:end + 2].isdecimal()):
            return None
        return end + 1, latex, False
    closer, display = ("\\]", True) if text.startswith("\\[", i) else ("\\)", False)
    end = closers.find(closer, i + 3)
    return None if end < 0 else (end + 2, text[i + 2:end], display)


def math_spans(text: str) -> Iterator[tuple[int, int, str, bool]]:
    """(start, end, LaTeX, displayed) of each formula, in one left-to-right scan: the work grows with the length
    of the text, whatever it holds (a regular expression's lazy match was quadratic on unclosed openers)."""
    closers, pos = _Closers(text), 0
    while (opener := OPENER.search(text, pos)) is not None:
        found = _formula(text, opener.start(), closers)
        if found is None:
            pos = opener.start() + 1
            continue
        end, latex, display = found
        yield opener.start(), end, latex, display
        pos = end


def render_answer(text: str) -> str:
    """A student's Markdown answer as HTML: escaped text, line breaks kept by CSS, LaTeX as MathML."""
    parts: list[str] = []
    last = 0
    for start, end, latex, display in math_spans(text):
        parts.append(html.escape(text[last:start]))
        mathml = latex_to_mathml(latex, display)
        parts.append(mathml if mathml else f'<code class="tex">{html.escape(text[start:end])}</code>')
        last = end
    parts.append(html.escape(text[last:]))
    return "".join(parts)
