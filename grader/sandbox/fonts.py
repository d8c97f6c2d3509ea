"""matplotlib's font list, built once on the grader's side and handed to every sandbox read-only.

Each sandbox starts with an empty MPLCONFIGDIR, so without a seed the first `import matplotlib.pyplot` of every
submission scans the system's fonts again (about a quarter of a CPU second). The list is built here in a subprocess,
its font paths are rewritten to where the sandbox sees them (site directories are bound elsewhere, fonts the sandbox
cannot see are dropped), and it is kept in the user's cache folder under a key of everything it depends on. The
worker copies it into its own MPLCONFIGDIR before any submission code runs, so a submission can change its copy but
never the seed a classmate's sandbox gets.

A wrong or stale seed costs nothing but speed: matplotlib rebuilds the list itself when a listed file is missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts")
_BUILD = ("import glob, os, sys\n"
          "import matplotlib.font_manager\n"
          "print(sorted(glob.glob(os.path.join(os.environ['MPLCONFIGDIR'], 'fontlist-v*.json')))[-1])\n")
_TIMEOUT_S = 120


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "backprop-grader"


def _key(binds: list[tuple[str, str]]) -> str | None:
    """What the list depends on: matplotlib's version and place, the binds, and the system font folders' state."""
    try:
        from importlib.metadata import version  # noqa: PLC0415

        parts = [sys.executable, version("matplotlib"), json.dumps(sorted(binds))]
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
    """The font list with each font's path as the sandbox sees it; fonts it cannot see are left out."""
    out = dict(data)
    for key in ("ttflist", "afmlist"):
        kept = []
        for entry in data.get(key) or []:
            fname = entry.get("fname") if isinstance(entry, dict) else None
            mapped = to_sandbox(fname) if isinstance(fname, str) else None
            if mapped is not None:
                kept.append({**entry, "fname": mapped})
        out[key] = kept
    return out


def _build(folder: Path, to_sandbox: Callable[[str], str | None]) -> bool:
    """Build the list in a subprocess (the grader itself need not import matplotlib) and keep it, rewritten, in
    folder under the name matplotlib looks for (it carries the list's format version)."""
    with tempfile.TemporaryDirectory(prefix="grader-fonts-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MPL", "PYTHON"))}
        env.update(MPLCONFIGDIR=tmp, MPLBACKEND="Agg")
        try:
            done = subprocess.run([sys.executable, "-I", "-B", "-c", _BUILD], env=env, capture_output=True,
                                  text=True, timeout=_TIMEOUT_S, check=True)
            built = Path(done.stdout.strip().splitlines()[-1])
            data = json.loads(built.read_text(encoding="utf-8"))
        except (OSError, subprocess.SubprocessError, ValueError, IndexError):
            return False
        target = folder / built.name
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o755)
        partial = target.with_name(f".{target.name}.{os.getpid()}")
        partial.write_text(json.dumps(rewrite(data, to_sandbox), indent=1), encoding="utf-8")
        partial.chmod(0o644)
        os.replace(partial, target)  # atomic: a concurrent grader reads the old list or the new, never half
        return True


def seed_dir(binds: list[tuple[str, str]], to_sandbox: Callable[[str], str | None]) -> str | None:
    """A folder holding the sandbox's font list (built on first use), or None when there is nothing to seed.
    to_sandbox maps a host path to the sandbox's, or None when the sandbox cannot see it."""
    key = _key(binds)
    if key is None:
        return None
    folder = cache_root() / f"mpl-{key}"
    try:
        if any(folder.glob("fontlist-v*.json")):
            return str(folder)
        if _build(folder, to_sandbox):
            return str(folder)
    except OSError:
        pass
    return None
