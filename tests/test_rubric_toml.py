"""`python -m grader rubric` prints TOML that `--rubric` reads back as the same effective rubric, without the secret."""

from __future__ import annotations

import dataclasses
import io
import tomllib
from contextlib import redirect_stdout

import pytest

from grader import paths
from grader.cli import main
from grader.course.build import settings
from grader.course.rubric_text import rubric_text
from grader.course.similarity import parse_threshold
from grader.grading import maxima
from grader.grading.rubric import load_rubric

SECRET = "5d1f0c7e9a2b4c6d8e0f1a3b5c7d9e1f"
CHANGED = f"""
[thresholds]
train_accuracy = 0.9
attempts = 2
[limits]
memory_mb = 512
cell_seconds = 2.5
output_kb = 8
grading_seconds = 100
[hidden]
secret = "{SECRET}"
size = 500
[packages]
allowed = ["numpy", "scipy"]
[points]
"backward: db2 matches finite differences" = 2
"loss: finite on saturated outputs" = 0.25
[public]
tests = ["softmax: every row sums to 1", "forward: Z1 = X W1 + b1"]
[manual]
report = 5
[late]
policy = "zero_after"
due = 2026-11-20T23:59:00
cutoff = 2026-11-23T23:59:00+02:00
penalty = 7.5
cap = 30
grace_minutes = 15
[lms]
assignment = "  Backprop (123)  "
[similarity]
threshold = 0.45
"""


def _effective(rubric):
    """Everything the rubric decides, but its source, text and secret (and the hidden seed drawn from the secret)."""
    fields = {f.name: getattr(rubric, f.name) for f in dataclasses.fields(rubric)
              if f.name not in ("source", "text", "secret", "hidden_seed", "course")}
    return (fields, settings(rubric), parse_threshold(rubric.course.get("similarity", {})), maxima.test_points(rubric))


def _round_trip(original, printed, tmp_path):
    tomllib.loads(printed)  # valid TOML
    again_file = tmp_path / "printed.toml"
    again_file.write_text(printed, encoding="utf-8")
    again = load_rubric(again_file)
    assert _effective(again) == _effective(original)
    assert again.secret is None and again.hidden_seed is None  # the one intended difference
    return again


def test_the_committed_rubric_round_trips_without_its_secret(tmp_path):
    original = load_rubric(paths.RUBRIC)
    assert original.secret  # the committed rubric has one, so the test checks it is left out
    printed = rubric_text(original)
    _round_trip(original, printed, tmp_path)
    assert original.secret not in printed and "secret = (set in" in printed


def test_a_rubric_with_every_table_changed_round_trips_through_the_command(tmp_path):
    source = tmp_path / "changed.toml"
    source.write_text(CHANGED, encoding="utf-8")
    original = load_rubric(source)
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["rubric", "--rubric", str(source)]) == 0
    printed = out.getvalue()
    again = _round_trip(original, printed, tmp_path)
    assert SECRET not in printed and SECRET[:8] not in printed
    # the values under test really are the non-default ones, not defaults that happen to agree
    assert again.limits.memory_bytes == 512 * 1024**2 and again.limits.cell_seconds == 2.5
    assert again.thresholds["train_accuracy"] == 0.9 and again.hidden_size == 500
    assert again.points == {"backward: db2 matches finite differences": 2.0, "loss: finite on saturated outputs": 0.25}
    assert again.public == {"softmax: every row sums to 1", "forward: Z1 = X W1 + b1"}
    config = settings(again)
    assert config.late.policy == "zero_after" and config.late.cap == 30 and config.assignment == "Backprop (123)"
    assert [(i.id, i.max_points) for i in config.items] == [("derivation", 10.0), ("report", 5.0)]


def test_the_printed_rubric_keeps_what_a_ta_reads_as_comments(tmp_path):
    source = tmp_path / "changed.toml"
    source.write_text(CHANGED, encoding="utf-8")
    printed = rubric_text(load_rubric(source))
    lines = printed.splitlines()
    assert '"backward: db2 matches finite differences" = 2  # set in the rubric' in lines
    assert '# "backward: dW1 matches finite differences" = 5  # default' in lines
    assert "# backward: 17 points" in lines
    assert '# "softmax: every row sums to 1" = 1  # default; public' in lines
    assert any(line.startswith("report = 5  # ") for line in lines)  # the item's title follows
    assert "# maximum: 93.25 automatic + 15 by hand = 108.25 points" in lines


@pytest.mark.parametrize("text", ["", "[hidden]\nsize = 20\n"])
def test_a_rubric_without_a_secret_says_so_and_round_trips(text, tmp_path):
    source = tmp_path / "plain.toml"
    source.write_text(text, encoding="utf-8")
    original = load_rubric(source)
    printed = rubric_text(original)
    _round_trip(original, printed, tmp_path)
    assert "# secret: not set" in printed
