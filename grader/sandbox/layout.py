"""What a sandboxed worker sees, and where: read-only binds of the system, the interpreter, its site directories
and the two worker files, with the installed grader itself masked (its suite and hidden-data settings)."""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from grader.sandbox import fonts

WORKER_DIR = "/opt/grader-worker"
FONT_SEED_DIR = f"{WORKER_DIR}/mpl"  # where the sandbox finds its copy of the grader's font list
SITE_ROOT = "/opt/site"
GRADER_DIR = Path(__file__).resolve().parent.parent  # the installed grader package, masked inside the sandbox
LAUNCHER = Path(__file__).resolve().with_name("launch.py")
INSIDE_DIR = Path(__file__).resolve().with_name("inside")  # the only files of the grader the sandbox runs
WORKER_FILES = ("worker.py", "protocol.py", "standins.py")
ASSIGNMENT_STANDINS = "assignment_standins.py"  # the assignment's own stand-ins file, bound beside them
MASKED_NAMES = ("grader", "backprop_grader")
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime", "/etc/nsswitch.conf")


@dataclass(frozen=True)
class Layout:
    """What the sandbox shows where. binds: read-only (host source, sandbox path); masks: sandbox paths shown
    empty; sites: the sandbox paths of the site directories the worker adds to sys.path."""

    exe: str
    binds: tuple[tuple[str, str], ...]
    symlinks: tuple[tuple[str, str], ...]
    masks: tuple[tuple[str, bool], ...]
    sites: tuple[str, ...]
    stage_roots: tuple[str, ...]
    font_list: str | None = None  # the host path of the prebuilt matplotlib font list (fonts.py), copied in by fd


def under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


@functools.lru_cache(maxsize=1)
def layout(worker_dir: str = WORKER_DIR) -> Layout:
    """The read-only view for a worker: system dirs, the interpreter, its site dirs and the worker files
    (computed once per grader process; the assignment's stand-ins file is added per worker by with_standins)."""
    exe, prefix, sites = python_paths()
    binds, symlinks = [], []
    for d in SYSTEM_DIRS:
        if os.path.islink(d):
            symlinks.append((os.readlink(d), d))
        elif os.path.isdir(d):
            binds.append((d, d))
    binds += [(f, f) for f in SYSTEM_FILES if os.path.isfile(f)]
    system = [d for d, _ in binds]
    stage_roots: list[str] = []
    if not any(under(prefix, d) for d in system):
        binds.append((prefix, prefix))  # the same path: the interpreter's RUNPATH is absolute
        stage_roots.append(prefix)
    site_dst = []
    for i, site in enumerate(sites):
        if any(under(site, d) for d in system + stage_roots):
            site_dst.append(site)
        else:
            site_dst.append(f"{SITE_ROOT}/{i}")
            binds.append((site, site_dst[-1]))
            stage_roots.append(site)
    masked = masked_paths(sites, binds)
    font_list = fonts.seed_file(binds, lambda host: _visible(host, binds, masked))
    binds += [(str(INSIDE_DIR / f), f"{worker_dir}/{f}") for f in WORKER_FILES]
    stage_roots.append(str(GRADER_DIR))
    masks = tuple((to_sandbox(m, binds), os.path.isdir(m)) for m in masked)
    return Layout(exe, tuple(binds), tuple(symlinks), masks, tuple(site_dst), tuple(stage_roots), font_list)


def with_standins(lay: Layout, host: str | None, worker_dir: str = WORKER_DIR) -> tuple[Layout, str | None]:
    """The layout with the assignment's stand-ins file bound beside the worker files, and where the worker finds it."""
    if not host:
        return lay, None
    inside = f"{worker_dir}/{ASSIGNMENT_STANDINS}"
    return replace(lay, binds=(*lay.binds, (os.path.realpath(host), inside))), inside


def _visible(host: str, binds: list[tuple[str, str]], masked: list[str]) -> str | None:
    """Where the sandbox sees the host path, or None when it does not."""
    if any(under(host, m) for m in masked) or not any(under(host, src) for src, _ in binds):
        return None
    return to_sandbox(host, binds)


def to_sandbox(host: str, binds: list[tuple[str, str]]) -> str:
    for src, dst in sorted(binds, key=lambda b: -len(b[0])):
        if under(host, src):
            return dst + host[len(src):]
    return host


def python_paths() -> tuple[str, str, list[str]]:
    """The real interpreter, its prefix, and the site directories the worker needs (numpy and friends)."""
    exe = os.path.realpath(sys.executable)
    prefix = os.path.realpath(sys.base_prefix)
    sites = [os.path.realpath(p) for p in sys.path if p.endswith(("site-packages", "dist-packages")) and os.path.isdir(p)]
    return exe, prefix, list(dict.fromkeys(sites))


def masked_paths(sites: list[str], binds: list[tuple[str, str]]) -> list[str]:
    """Host paths the sandbox would show that belong to the grader itself (its suite, hidden-data settings)."""
    out = []
    for src in sites:
        for name in sorted(os.listdir(src)) if os.path.isdir(src) else ():
            base = name.lstrip("_").split("-")[0].split(".")[0]
            if base in MASKED_NAMES or "backprop_grader" in name:
                out.append(os.path.join(src, name))
    project = GRADER_DIR.parent
    for own in (str(GRADER_DIR), str(project) if (project / "pyproject.toml").exists() else ""):
        if own and any(under(own, src) for src, _ in binds if src not in out and not src.endswith(".py")):
            out.append(own)  # e.g. a checkout or an install under /usr/local
    return list(dict.fromkeys(out))


def traversable(path: str) -> bool:
    """Whether any uid can reach path: every ancestor is searchable, and the path itself readable, by others."""
    p = Path(path).resolve()
    try:
        return all(os.stat(a).st_mode & 0o001 for a in p.parents) and bool(os.stat(p).st_mode & 0o004)
    except OSError:
        return False
