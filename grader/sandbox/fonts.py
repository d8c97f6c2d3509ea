"""matplotlib's font list, built once on the grader's side and handed to every sandbox as a read-only copy.

Each sandbox starts with an empty MPLCONFIGDIR, so without a seed the first `import matplotlib.pyplot` of every
submission scans the system's fonts again. The list is built here in a subprocess, the system fonts' paths are
rewritten to where the sandbox sees them (fonts it cannot see are dropped; matplotlib's own fonts are listed
relative to its data folder and stay as they are), and it is kept in the user's cache folder under a key of
everything it depends on. Each sandbox gets the file's content through a descriptor (bubblewrap's --file), never a
bind of the folder, and the worker copies it into its own MPLCONFIGDIR before any submission code runs.

The cache is used only when the folder and the file are the grader's own and writable by nobody else, so no other
user (nor a submission run without the sandbox) can plant a list for later sandboxes. A missing, stale or wrong
list costs nothing but speed: matplotlib rebuilds it when a listed file is missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from grader.files import write_json

FORMAT = "2"  # part of the cache key: bump it when what is written changes
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts")
_BUILD = ("import glob, os\n"
          "import matplotlib.font_manager\n"
          "print(sorted(glob.glob(os.path.join(os.environ['MPLCONFIGDIR'], 'fontlist-v*.json')))[-1])\n")
_TIMEOUT_S = 120


def cache_root() -> Path | None:
    """The grader's cache folder, or None when there is no absolute one (no HOME, say)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "backprop-grader") if os.path.isabs(base) else None


def _key(binds: list[tuple[str, str]]) -> str | None:
    """What the list depends on: matplotlib's version and place, the binds, and the system font folders' state."""
    try:
        from importlib.metadata import version  # noqa: PLC0415

        parts = [FORMAT, sys.executable, version("matplotlib"), json.dumps(sorted(binds))]
    except Exception:  # noqa: BLE001 - no matplotlib: nothing to seed
        return None
    for d in FONT_DIRS:
        try:
            st = os.stat(d)
            parts.append(f"{d}:{st.st_mtime_ns}:{st.st_ino}")
        except OSError:
            parts.append(f"{d}:absent")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def rewrite(data: dict, to_sandbox: Callable[[str], str | None]) -> dict:
    """The font list with each system font's path as the sandbox sees it; fonts it cannot see are left out.
    Relative paths (matplotlib's own fonts, under its data folder wherever that is) are kept as they are."""
    out = dict(data)
    for key in ("ttflist", "afmlist"):
        kept = []
        for entry in data.get(key) or []:
            fname = entry.get("fname") if isinstance(entry, dict) else None
            if not isinstance(fname, str):
                continue
            mapped = to_sandbox(fname) if os.path.isabs(fname) else fname
            if mapped is not None:
                kept.append({**entry, "fname": mapped})
        out[key] = kept
    return out


def _own(st: os.stat_result, kind: int) -> bool:
    """The grader's own file or folder of that kind, which nobody else can write."""
    return stat.S_IFMT(st.st_mode) == kind and st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _own_folder(folder: Path) -> bool:
    try:
        return _own(os.lstat(folder), stat.S_IFDIR) and _own(os.lstat(folder.parent), stat.S_IFDIR)
    except OSError:
        return False


def open_seed(path: str) -> int | None:
    """A read-only descriptor of the font list at `path`, or None unless it is the grader's own regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if _own(os.fstat(fd), stat.S_IFREG) and _own_folder(Path(path).parent):
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def _build(folder: Path, to_sandbox: Callable[[str], str | None]) -> Path | None:
    """Build the list in a subprocess (the grader need not import matplotlib) and keep it, rewritten, in `folder`
    under the name matplotlib looks for (it carries the list's format version)."""
    with tempfile.TemporaryDirectory(prefix="grader-fonts-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MPL", "PYTHON"))}
        env.update(MPLCONFIGDIR=tmp, MPLBACKEND="Agg")
        try:
            done = subprocess.run([sys.executable, "-I", "-B", "-c", _BUILD], env=env, cwd=tmp, capture_output=True,
                                  text=True, timeout=_TIMEOUT_S, check=True)
            built = Path(done.stdout.strip().splitlines()[-1])
            data = json.loads(built.read_text(encoding="utf-8"))
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            return None
        if not isinstance(data, dict):
            return None
        target = folder / built.name
        # atomic: a concurrent grader reads the old list or the new, never half
        return write_json(target, rewrite(data, to_sandbox), indent=1, newline=False, mode=0o644)


def seed_file(binds: list[tuple[str, str]], to_sandbox: Callable[[str], str | None]) -> str | None:
    """The host path of the sandbox's font list (built on first use), or None when there is nothing to seed.
    to_sandbox maps a host path to the sandbox's, or None when the sandbox cannot see it."""
    key, root = _key(binds), cache_root()
    if key is None or root is None:
        return None
    folder = root / f"mpl-{key}"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not _own_folder(folder):
            return None
        found = sorted(p for p in folder.glob("fontlist-v*.json") if p.is_file() and not p.is_symlink())
        path = found[-1] if found else _build(folder, to_sandbox)
    except OSError:
        return None
    return str(path) if path else None  # each sandbox's plan opens it with open_seed, which checks it again
