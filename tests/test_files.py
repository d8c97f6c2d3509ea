"""grader/files.py: the one atomic write. A reader sees the old file or the new one; a failed write changes nothing."""

from __future__ import annotations

import json
import os
import stat

import pytest

from grader import files


def test_a_write_replaces_the_file_whole_and_leaves_no_temporary_behind(tmp_path):
    target = tmp_path / "new" / "results.json"  # the folder is made
    files.write_json(target, {"score": 3})
    files.write_json(target, {"score": 4})
    assert json.loads(target.read_text()) == {"score": 4} and target.read_text().endswith("}\n")
    assert [p.name for p in target.parent.iterdir()] == ["results.json"]


def test_text_is_utf8_and_a_plain_open_s_permissions_unless_a_mode_is_given(tmp_path):
    umask = os.umask(0o022)
    try:
        plain = files.write_text(tmp_path / "a.txt", "grüße\n")
        fixed = files.write_bytes(tmp_path / "b.bin", b"\x00\x01", mode=0o600)
    finally:
        os.umask(umask)
    assert plain.read_bytes() == "grüße\n".encode() and stat.S_IMODE(plain.stat().st_mode) == 0o644
    assert fixed.read_bytes() == b"\x00\x01" and stat.S_IMODE(fixed.stat().st_mode) == 0o600


def test_a_write_that_fails_midway_keeps_the_old_file_and_cleans_up(tmp_path):
    target = files.write_text(tmp_path / "gradebook.csv", "old\n")
    with pytest.raises(RuntimeError), files.replacing(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk gone")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["gradebook.csv"]
