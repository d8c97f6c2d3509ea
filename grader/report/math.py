"""A Markdown answer -> HTML with its LaTeX as MathML, which browsers render natively: no script, no network.

Text outside math is HTML-escaped. Each $...$, $$...$$, \\(...\\) or \\[...\\] is converted with latex2mathml, and its
output rebuilt through an allowlist (MathML elements and a few presentation attributes only), because the converter
copies \\text{...} through as it is. Math that cannot be converted stays visible as escaped source.
"""

from __future__ import annotations

import html
import re
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
MATH = re.compile(r"\$\$(?P<d1>.+?)\$\$|\\\[(?P<d2>.+?)\\\]|(?<![\\$])\$(?P<i1>[^$\s](?:[^$\n]*?[^$\s\\])?)\$(?!\d)|\\\((?P<i2>.+?)\\\)", re.S)
MAX_MATH_CHARS = 2000


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
                       if k in MATHML_ATTRS and v is not None and SAFE_VALUE.fullmatch(v))
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


def render_answer(text: str) -> str:
    """A student's Markdown answer as HTML: escaped text, line breaks kept by CSS, LaTeX as MathML."""
    parts: list[str] = []
    last = 0
    for match in MATH.finditer(text):
        parts.append(html.escape(text[last:match.start()]))
        display = match.group("d1") is not None or match.group("d2") is not None
        latex = next(g for g in match.group("d1", "d2", "i1", "i2") if g is not None)
        mathml = latex_to_mathml(latex, display)
        parts.append(mathml if mathml else f'<code class="tex">{html.escape(match.group(0))}</code>')
        last = match.end()
    parts.append(html.escape(text[last:]))
    return "".join(parts)
