"""The prebuilt matplotlib font list every sandbox starts with (grader/sandbox/fonts.py)."""

from __future__ import annotations

import os

import pytest

from grader.sandbox import fonts
from grader.sandbox.client import open_submission
from grader.sandbox.layout import FONT_SEED_DIR, layout
from grader.sandbox.limits import Limits

FAST = Limits(cell_seconds=30.0, notebook_seconds=60.0, request_seconds=30.0)


def test_font_paths_are_rewritten_to_the_sandbox_and_unseen_fonts_dropped():
    data = {"_version": "9", "ttflist": [{"fname": "/site/a/DejaVu.ttf", "name": "A"},
                                          {"fname": "/home/me/.fonts/Mine.ttf", "name": "B"},
                                          {"fname": "/usr/share/fonts/C.ttf", "name": "C"},
                                          {"fname": "fonts/ttf/STIXGeneral.ttf", "name": "D"}],
            "afmlist": [{"fname": "/site/a/p.afm"}, "not a dict", {"fname": None}]}
    seen = {"/site/a": "/opt/site/0", "/usr/share/fonts": "/usr/share/fonts"}

    def to_sandbox(host):
        for src, dst in seen.items():
            if host.startswith(src + "/"):
                return dst + host[len(src):]
        return None

    out = fonts.rewrite(data, to_sandbox)
    assert out["ttflist"] == [{"fname": "/opt/site/0/DejaVu.ttf", "name": "A"},
                              {"fname": "/usr/share/fonts/C.ttf", "name": "C"},
                              {"fname": "fonts/ttf/STIXGeneral.ttf", "name": "D"}]  # matplotlib's own: relative
    assert out["afmlist"] == [{"fname": "/opt/site/0/p.afm"}]
    assert out["_version"] == "9" and data["ttflist"][0]["fname"] == "/site/a/DejaVu.ttf"  # the input is untouched


def test_only_the_graders_own_font_list_is_handed_on(tmp_path):
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    good = folder / "fontlist-v1.json"
    good.write_text("{}")
    good.chmod(0o644)
    fd = fonts.open_seed(str(good))
    assert fd is not None
    os.close(fd)
    link = folder / "fontlist-v2.json"
    link.symlink_to(good)
    assert fonts.open_seed(str(link)) is None  # a planted link is not followed
    good.chmod(0o666)
    assert fonts.open_seed(str(good)) is None  # others could have written it
    good.chmod(0o644)
    folder.chmod(0o777)
    assert fonts.open_seed(str(good)) is None  # others could have swapped it
    folder.chmod(0o700)
    assert fonts.open_seed(str(folder / "missing.json")) is None


SEEDED = """
import glob, os
config = os.environ["MPLCONFIGDIR"]
before = {os.path.basename(p): open(p).read() for p in glob.glob(config + "/fontlist-v*.json")}
import matplotlib.font_manager as fm
import matplotlib.pyplot as plt
import io, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    fig, ax = plt.subplots()
    ax.set_title(r"$\\mathcal{L}(W) = \\sum_n \\ell_n$ and text")
    ax.plot([0, 1], [1, 0], label="loss")
    ax.legend()
    fig.savefig(io.BytesIO(), format="png")
    fig.savefig(io.BytesIO(), format="pdf")
drawing_warnings = [str(w.message) for w in caught]
bundled = sorted(os.path.basename(f.fname) for f in fm.fontManager.ttflist if "mpl-data" in f.fname)
shipped = sorted(os.path.basename(p) for p in glob.glob(os.path.join(fm.mpl.get_data_path(), "fonts", "ttf", "*.ttf")))
afms = len(fm.fontManager.afmlist)
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


@pytest.mark.sandbox
@pytest.mark.usefixtures("needs_bwrap")
def test_each_sandbox_starts_from_the_graders_font_list_and_cannot_spoil_it(tmp_path):
    assert layout().font_list, "matplotlib is installed, so the sandbox gets a font list"
    seed = FONT_SEED_DIR
    sub = tmp_path / "sub.py"
    sub.write_text(f"SEED = {seed!r}\n{SEEDED}")
    runs = []
    for _ in range(2):
        with open_submission(sub, FAST, sandbox="bwrap") as student:
            runs.append({k: student.get(k) for k in ("before", "after", "seed", "missing", "seed_writable",
                                                     "drawing_warnings", "bundled", "shipped", "afms")})
    for run in runs:
        assert run["before"] and run["before"] == run["seed"]  # there before any submission code ran
        assert run["after"] == run["before"]  # matplotlib used it as it was: no rescan rewrote it
        assert run["missing"] == [] and run["seed_writable"] is False
        assert run["bundled"] == run["shipped"] and run["afms"] > 0  # matplotlib's own fonts are all listed
        assert run["drawing_warnings"] == []  # text, mathtext and PDF fonts all found
    assert runs[1]["before"] == runs[0]["seed"]  # the first sandbox spoiled only its own copy
