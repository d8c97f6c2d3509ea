"""The app's answer renderer: the Markdown subset it promises, formulas as MathML (their source inside code), and
HTML in an answer kept inert, on hand-written and on random hostile answers."""

from __future__ import annotations

import random
from html.parser import HTMLParser

import pytest

from grader.handgrade.render import render_markdown
from grader.report.math import MATHML_ATTRS, MATHML_TAGS

OWN_TAGS = {"p", "h3", "h4", "h5", "h6", "em", "strong", "code", "pre", "ul", "ol", "li"}


class Tags(HTMLParser):
    """Every element and attribute in a piece of HTML, as a browser's parser sees them."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))


def inert(markup: str) -> bool:
    """Only the renderer's own tags (ol's start a number) and allowlisted MathML; no handler, no link, no URL."""
    for tag, attrs in Tags(markup).found:
        if tag not in OWN_TAGS | MATHML_TAGS:
            return False
        for name, value in attrs:
            if tag == "ol" and name == "start" and (value or "").isdigit():
                continue
            if tag == "code" and (name, value) == ("class", "tex"):
                continue
            if tag not in MATHML_TAGS or name not in MATHML_ATTRS:
                return False
    return True


def test_the_markdown_subset():
    text = ("# Derivation\nWe use *the chain rule* and **softmax**, with `y - t` per\nsample.\n\n"
            "- first\n- second, _stressed_\n\n3. three\n4. four\n\n```\nfor k in range(3):\n    a_k *= 2 < 3\n```\n"
            "snake_case_name and 2 * 3 * 4 stay as they are")
    assert render_markdown(text) == (
        "<h3>Derivation</h3>\n<p>We use <em>the chain rule</em> and <strong>softmax</strong>, with <code>y - t</code>"
        " per\nsample.</p>\n<ul><li>first</li><li>second, <em>stressed</em></li></ul>\n"
        '<ol start="3"><li>three</li><li>four</li></ol>\n'
        "<pre><code>for k in range(3):\n    a_k *= 2 &lt; 3</code></pre>\n"
        "<p>snake_case_name and 2 * 3 * 4 stay as they are</p>")


def test_formulas_are_mathml_but_their_source_inside_code():
    out = render_markdown("Since $y_{nk} - t_{nk}$ *is* it:\n\n$$\\sum_j t_{nj} = 1$$\n\n`$x_1$` and\n```\n$a_b$\n```")
    assert out.count("<math") == 2 and 'display="block"' in out and "<em>is</em>" in out
    assert "<code>$x_1$</code>" in out and "<pre><code>$a_b$</code></pre>" in out
    assert "<em>" not in out.split("<math")[1].split("</math>")[0]  # the _ of the formula is not emphasis


def test_html_in_an_answer_stays_text():
    hostile = ('<script>alert(1)</script><img src=x onerror=alert(1)> [a](javascript:alert(1)) <a href="x">y</a>'
               '\n\n# <b onclick=alert(1)>head</b>\n- <iframe src=//evil>\n\n```\n</code></pre><script>x</script>\n```'
               '\n`</code><script>` **<svg onload=alert(1)>** $\\text{<script>}$ \\(a<b\\) \x00 0\x00')
    out = render_markdown(hostile)
    assert inert(out), out
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in out
    assert "&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;x&lt;/script&gt;" in out and "<strong>&lt;svg" in out


@pytest.mark.slow
def test_random_hostile_answers_stay_inert():
    rng = random.Random(24)
    pieces = ["<", ">", "&", '"', "'", "*", "**", "_", "`", "```", "\n", "\n\n", "# ", "- ", "1. ", "$", "$$", "\\(",
              "\\)", "\\[", "\\]", "<script>", "</code>", "</pre>", "onerror=", "a", " ", "\\text{<b>}", "x_1", "\x00"]
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 30)))
        assert inert(render_markdown(text)), repr(text)


@pytest.mark.slow
def test_200_000_characters_of_unclosed_markup_come_back_whole():
    for marker in ("*a ", "**", "_a", "` a", "\\[", "$ ", "# #", "- "):
        text = marker * (200_000 // len(marker))
        out = render_markdown(text)
        assert inert(out)
        assert marker.strip("#- ").replace("`", "") in out
