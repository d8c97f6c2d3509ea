"""`make bench`'s class-mix report: each figure is printed against its target, from the batches' own run.json."""

from __future__ import annotations

import os

from grader.bench.batch import MIX_SIZE, report_lines
from grader.bench.load import FOREIGN_TOLERANCE, Usage


def batch(seconds: float, graded: int = MIX_SIZE, error: int = 0, peak_kib: int = 100 * 1024,
          foreign: float = 0.0) -> dict:
    return {"seconds": seconds, "statuses": {"graded": graded, "error": error, "timeout": 0},
            "parent_peak_rss_kib": peak_kib, "usage": Usage(seconds, 1.9 * seconds, foreign)}


def line(lines: list[str], start: str) -> str:
    found = [x for x in lines if x.strip().startswith(start)]
    assert len(found) == 1, (start, lines)
    return found[0]


def test_a_fast_batch_meets_each_target_and_says_so():
    # 30 notebooks in 28 s at JOBS=2 is 30 * 60 / 28 = 64.3 a minute; 56 s at JOBS=1 is a 2.00x speed-up
    lines = report_lines(batch(56.0), batch(28.0), batch(190.0, graded=200, peak_kib=105 * 1024), None, plain=1.5)
    assert "64.3 notebooks/minute (target >= 60" in line(lines, "class mix at JOBS=2") and \
        line(lines, "class mix at JOBS=2").endswith("ok)")
    assert "2.00x (target >= 1.9x, ok)" in line(lines, "speed-up")
    cores = os.cpu_count() or 1
    ceiling = line(lines, "the same notebooks run plainly")
    assert f"at most {60 * cores / 1.5:.1f} a minute" in ceiling
    assert f"reaches {64.29 * 1.5 / (60 * cores):.0%} of that" in ceiling
    assert "(+5.0%; ok" in line(lines, "parent peak memory")
    assert not any("CONTAMINATED" in x or "rows failed" in x for x in lines)


def test_a_slow_or_disturbed_batch_is_flagged_and_keeps_its_failed_rows(tmp_path):
    lines = report_lines(batch(60.0), batch(40.0, graded=29, error=1, foreign=FOREIGN_TOLERANCE + 0.5),
                         batch(300.0, graded=200, peak_kib=150 * 1024), tmp_path)
    assert "45.0 notebooks/minute" in line(lines, "class mix at JOBS=2") and "BELOW" in line(lines, "class mix")
    assert "1.50x (target >= 1.9x, BELOW)" in line(lines, "speed-up")
    assert "(+50.0%; ABOVE" in line(lines, "parent peak memory")
    assert any("CONTAMINATED by other processes" in x for x in lines)
    assert any(str(tmp_path) in x for x in lines)
    assert not any(x.strip().startswith("the same notebooks run plainly") for x in lines)  # not measured: not shown
