"""The answer renderer's formula scanner: the same formulas as the regular expression it replaced, on every short
string over the characters that matter, and one pass over hostile answers of 200,000 unclosed openers (the old
expression's lazy matches rescanned the rest of the text from each one)."""

from __future__ import annotations

import html
import itertools
import random
import re

import pytest

from grader.report.math import _Closers, math_spans, render_answer, sanitize_mathml

# The expression the scanner replaced, kept here as the oracle of what counts as a formula.
OLD = re.compile(r"\$\$(?P<d1>.+?)\$\$|\\\[(?P<d2>.+?)\\\]|(?<![\\$])\$(?P<i1>[^$\s](?:[^$\n]*?[^$\s\\])?)\$(?!\d)"
                 r"|\\\((?P<i2>.+?)\\\)", re.S)


def old_spans(text: str) -> list[tuple[int, int, str, bool]]:
    out = []
    for m in OLD.finditer(text):
        latex = next(g for g in m.group("d1", "d2", "i1", "i2") if g is not None)
        out.append((m.start(), m.end(), latex, m.group("d1") is not None or m.group("d2") is not None))
    return out


@pytest.mark.slow
def test_the_scanner_finds_what_the_old_expression_found():
    alphabet = "$\\[]()a 1\n"
    for size in range(1, 7):  # every string of up to 6 of these characters
        for chars in itertools.product(alphabet, repeat=size):
            text = "".join(chars)
            assert list(math_spans(text)) == old_spans(text), repr(text)
    rng = random.Random(24)
    for _ in range(20_000):  # and longer ones at random
        text = "".join(rng.choice(alphabet + "xy_^{}") for _ in range(rng.randint(7, 40)))
        assert list(math_spans(text)) == old_spans(text), repr(text)


@pytest.mark.parametrize("marker", ["\\[", "\\(", "$ ", "\\$", "\\[\\( $ "])
def test_200_000_unclosed_openers_come_back_as_escaped_text(marker):
    text = marker * (200_000 // len(marker)) + "<b>x</b>"
    assert list(math_spans(text)) == []
    assert render_answer(text) == html.escape(text)  # all of it, escaped: no markup gets through


@pytest.mark.slow
def test_200_000_dollars_pair_up_as_the_old_expression_paired_them():
    text = "$" * 200_001 + "<b>x</b>"  # $$$$$ is $$ $ $$: a formula of one $, so the run closes itself
    spans = list(math_spans(text))
    assert len(spans) == 40_000 and spans[0] == (0, 5, "$", True) and spans[-1][1] == 200_000
    assert render_answer(text).endswith("$&lt;b&gt;x&lt;/b&gt;")


def test_a_closed_formula_after_many_unclosed_openers_is_still_math():
    text = "\\(" * 50_000 + " and $$x^2$$"
    spans = list(math_spans(text))
    assert spans[-1][2:] == ("x^2", True)
    assert render_answer(text).count("<math") == 1


def test_a_run_of_unclosed_openers_scans_the_text_once():
    text = "\\[" * 100_000
    closers = _Closers(text)
    assert all(closers.find("\\]", i + 3) == -1 for i in range(0, len(text), 2))
    assert closers.scans == 1  # not one scan per opener
    text = "\\(" * 1000 + "\\)" + "\\(" * 1000
    closers = _Closers(text)
    found = [closers.find("\\)", i + 3) for i in range(0, len(text), 2)]
    assert found[:999] == [2000] * 999 and set(found[999:]) == {-1} and closers.scans == 2


def test_spacing_and_size_attributes_keep_only_bounded_non_negative_lengths():
    kept = sanitize_mathml('<math><mo lspace="-9999em" rspace="0.278em" minsize="1.2em">(</mo>'
                           '<mspace width="negativethinmathspace"></mspace><mspace width="thinmathspace"></mspace>'
                           '<mspace width="99999em"></mspace><mstyle scriptlevel="-9" displaystyle="true">'
                           '<mi>x</mi></mstyle><mstyle scriptlevel="+1"><mi>y</mi></mstyle>'
                           '<mtable columnspacing="1em 2em" rowspacing="-1em"></mtable></math>')
    assert kept == ('<math><mo rspace="0.278em" minsize="1.2em">(</mo><mspace></mspace>'
                    '<mspace width="thinmathspace"></mspace><mspace></mspace><mstyle displaystyle="true"><mi>x</mi>'
                    '</mstyle><mstyle scriptlevel="+1"><mi>y</mi></mstyle><mtable columnspacing="1em 2em"></mtable>'
                    '</math>')
    assert 'width="1em"' in render_answer(r"$a \quad b$") and "-" not in render_answer(r"$a \! b$").split("<math")[1]
