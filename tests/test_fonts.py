"""The prebuilt matplotlib font list every sandbox starts with (grader/sandbox/fonts.py)."""

from __future__ import annotations

import pytest

from grader.sandbox import bwrap, fonts
from grader.sandbox.client import open_submission
from grader.sandbox.layout import layout
from grader.sandbox.limits import Limits

needs_bwrap = pytest.mark.skipif(bool(bwrap.probe_bwrap()), reason="bubblewrap unusable here")
FAST = Limits(cell_seconds=30.0, notebook_seconds=60.0, request_seconds=30.0)


def test_font_paths_are_rewritten_to_the_sandbox_and_unseen_fonts_dropped():
    data = {"_version": "9", "ttflist": [{"fname": "/site/a/DejaVu.ttf", "name": "A"},
                                          {"fname": "/home/me/.fonts/Mine.ttf", "name": "B"},
                                          {"fname": "/usr/share/fonts/C.ttf", "name": "C"}],
            "afmlist": [{"fname": "/site/a/p.afm"}, "not a dict"]}
    seen = {"/site/a": "/opt/site/0", "/usr/share/fonts": "/usr/share/fonts"}

    def to_sandbox(host):
        for src, dst in seen.items():
            if host.startswith(src + "/"):
                return dst + host[len(src):]
        return None

    out = fonts.rewrite(data, to_sandbox)
    assert out["ttflist"] == [{"fname": "/opt/site/0/DejaVu.ttf", "name": "A"},
                              {"fname": "/usr/share/fonts/C.ttf", "name": "C"}]
    assert out["afmlist"] == [{"fname": "/opt/site/0/p.afm"}]
    assert out["_version"] == "9" and data["ttflist"][0]["fname"] == "/site/a/DejaVu.ttf"  # the input is untouched


SEEDED = """
import glob, os
config = os.environ["MPLCONFIGDIR"]
before = {os.path.basename(p): open(p).read() for p in glob.glob(config + "/fontlist-v*.json")}
import matplotlib.font_manager as fm
import matplotlib.pyplot as plt
plt.subplots()
after = {os.path.basename(p): open(p).read() for p in glob.glob(config + "/fontlist-v*.json")}
seed = {name: open(os.path.join(SEED, name)).read() for name in os.listdir(SEED)}
missing = [f.fname for f in fm.fontManager.ttflist if not os.path.exists(f.fname)]
try:
    open(os.path.join(SEED, "fontlist-v0.json"), "w").write("{}")
    seed_writable = True
except OSError:
    seed_writable = False
for name in after:
    open(os.path.join(config, name), "w").write("{}")  # spoil this sandbox's own copy
"""


@needs_bwrap
def test_each_sandbox_starts_from_the_graders_font_list_and_cannot_spoil_it(tmp_path):
    seed = layout().mpl_seed
    assert seed, "matplotlib is installed, so the sandbox gets a font list"
    sub = tmp_path / "sub.py"
    sub.write_text(f"SEED = {seed!r}\n{SEEDED}")
    runs = []
    for _ in range(2):
        with open_submission(sub, FAST, sandbox="bwrap") as student:
            runs.append({k: student.get(k) for k in ("before", "after", "seed", "missing", "seed_writable")})
    for run in runs:
        assert run["before"] and run["before"] == run["seed"]  # there before any submission code ran
        assert run["after"] == run["before"]  # matplotlib used it as it was: no rescan rewrote it
        assert run["missing"] == [] and run["seed_writable"] is False
    assert runs[1]["before"] == runs[0]["seed"]  # the first sandbox spoiled only its own copy
