"""Start the sandbox: stage private binds, set rlimits, drop to an unprivileged uid, then exec.

Run by the grader as `python -I -S launch.py CONFIG_JSON`, with the standard library only, so that nothing runs in
the grader's own (threaded) process between fork and exec. The config holds:
  stage: [[src, dst], ...]  bind src on dst in a private mount namespace (root only), so that bubblewrap running
                            as the unprivileged uid can reach an interpreter under a directory it cannot traverse;
  cgroups: [path, ...]      the cgroup.procs files of the sandbox's control groups, joined first;
  rlimits: {"AS": n, ...}   soft (= hard) limits or [soft, hard], inherited by bubblewrap and everything in the sandbox;
  uid, gid: ints or null    the identity to drop to before exec (the grader is root);
  guard: bool               stay as the worker's parent (mode "none"), reap orphans, and kill them at the end;
  argv, env                 what to exec.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys

CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 1 << 18
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def stage(pairs: list[list[str]]) -> None:
    """Bind each src on dst in a new private mount namespace; the host's mounts are untouched."""
    libc = _libc()
    _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "making / private")
    for src, dst in pairs:
        _check(libc.mount(src.encode(), dst.encode(), None, MS_BIND | MS_REC, None), f"binding {src}")


def join_groups(procs_files: list[str]) -> None:
    """Move this process into the sandbox's control groups; everything it starts is born inside them."""
    for path in procs_files:
        with open(path, "w") as f:
            f.write(str(os.getpid()))


def set_rlimits(limits: dict[str, int | list[int]]) -> None:
    """Each limit is a number (soft = hard) or [soft, hard]."""
    for name, value in limits.items():
        soft, hard = value if isinstance(value, list) else (value, value)
        resource.setrlimit(getattr(resource, f"RLIMIT_{name}"), (soft, hard))


def drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def die_with_parent() -> None:
    _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # set after the uid change, which clears it
    if os.getppid() == 1:
        os._exit(137)  # the grader died before prctl


def descendants(root: int) -> list[int]:
    """Processes below root, found through /proc (orphans are reparented to us as the subreaper)."""
    parents: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(ppid, []).append(int(name))
    out, todo = [], [root]
    while todo:
        kids = parents.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


def guard(argv: list[str], env: dict[str, str]) -> None:
    """Fork the worker and wait for it as a subreaper; mirror its exit, then kill what it left behind."""
    _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    child = os.fork()
    if child == 0:
        die_with_parent()
        os.execve(argv[0], argv, env)
    status = 0
    while True:
        pid, st = os.waitpid(-1, 0)
        if pid == child:
            status = st
            break
    for _ in range(5):
        for pid in descendants(os.getpid()):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            break
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)  # the convention bubblewrap uses for a signal


def main(argv: list[str]) -> None:
    cfg = json.loads(argv[1])
    join_groups(cfg.get("cgroups", []))
    if cfg.get("stage"):
        stage(cfg["stage"])
    set_rlimits(cfg.get("rlimits", {}))
    if cfg.get("cwd"):
        os.chdir(cfg["cwd"])
    if cfg.get("uid") is not None:
        drop_privileges(int(cfg["uid"]), int(cfg["gid"]))
    die_with_parent()
    env = cfg.get("env") or {"PATH": "/usr/bin:/bin"}
    if cfg.get("guard"):
        guard(cfg["argv"], env)
    os.execve(cfg["argv"][0], cfg["argv"], env)


if __name__ == "__main__":
    try:
        main(sys.argv)
    except OSError as e:
        print(f"sandbox launcher: {e}", file=sys.stderr)
        os._exit(126)
