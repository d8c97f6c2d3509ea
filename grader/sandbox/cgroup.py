"""Per-sandbox control groups: memory, processes and CPU bounded for the whole sandbox, not per process.

One group per sandbox, below the grader's own group: memory.limit = memory_mb (no swap), pids.max = max_processes,
a CPU quota of one core (and the default, equal weight, so 60 busy processes weigh as much as one). cgroup v2 is used
when the grader's group may delegate the controllers; otherwise v1's per-controller hierarchies. The launcher joins
the groups before it starts bubblewrap, so everything in the sandbox is inside them.

Where no group can be made (not root, no delegation), the fallback bounds processes per sandbox with RLIMIT_NPROC
inside the sandbox's own user namespace (counted per namespace, so other sandboxes do not use it up), low enough
that processes x memory_mb stays bounded. `Confinement.summary` says which one held.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from grader.sandbox.limits import MIB, Limits

CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000
CPU_CORES = 1  # each sandbox's quota: one core, like the one thread a notebook needs
FALLBACK_PROCESSES = 4  # without a memory cgroup: worker, bubblewrap's init and two more
NAME = re.compile(r"grader-(\d+)-[0-9a-f]+")
_swept = False


@dataclass(frozen=True)
class Confinement:
    """dirs: the groups made for this sandbox; procs: the files the launcher writes its pid to; nproc: the process
    limit to set inside the sandbox (its user namespace counts only its own); memory/cpu/processes: what holds, in
    words."""

    version: str = ""
    dirs: tuple[str, ...] = ()
    procs: tuple[str, ...] = ()
    nproc: int = 0
    memory: str = ""
    cpu: str = ""
    processes: str = ""

    @property
    def summary(self) -> str:
        return f"memory: {self.memory}; CPU: {self.cpu}; processes: {self.processes}"


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(mount root, mount point, fstype, super options) of every cgroup mount this process sees."""
    out = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            out.append((fields[3], fields[4], tail[0], set(tail[2].split(","))))
    return out


def _own_paths() -> dict[str, str]:
    """controller -> this process's group path; "" is cgroup v2's unified hierarchy."""
    out = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        _, names, path = line.split(":", 2)
        for name in names.split(",") if names else [""]:
            out[name] = path
    return out


def _join(mount_root: str, point: str, path: str) -> Path | None:
    if not (path == mount_root or path.startswith(mount_root.rstrip("/") + "/")):
        return None  # our group is outside what this mount shows (a container's view)
    return Path(point + path[len(mount_root.rstrip("/")):])


def v1_bases() -> dict[str, Path]:
    """controller -> the grader's own group directory in each v1 hierarchy that has it."""
    own, out = _own_paths(), {}
    for root, point, kind, options in _mounts():
        for name in (*CONTROLLERS, "cpuacct"):
            if kind == "cgroup" and name in options and name in own and name not in out:
                base = _join(root, point, own[name])
                if base is not None and base.is_dir():
                    out[name] = base
    return out


def v2_base() -> tuple[Path | None, str]:
    """The v2 group to make sandbox groups in: the grader's own, or else its nearest ancestor, whose children get
    memory, pids and cpu (a group holding processes cannot enable them for its children, the root excepted)."""
    own = _own_paths().get("")
    mount = next(((r, p) for r, p, kind, _ in _mounts() if kind == "cgroup2"), None)
    base = _join(*mount, own) if own is not None and mount is not None else None
    if base is None:
        return None, "no cgroup v2 hierarchy holds the grader"
    top = Path(mount[1])
    for group in [base, *[p for p in base.parents if p == top or top in p.parents]]:
        if _delegates(group, enable=group == base) and os.access(group, os.W_OK):
            return group, ""
    return None, f"no cgroup v2 group from {base} up delegates {', '.join(CONTROLLERS)} to this user"


def _delegates(group: Path, enable: bool) -> bool:
    """Whether children of `group` get every controller; in the grader's own group (enable) what is missing is
    switched on where allowed. An ancestor is only used as it is: the grader changes no one else's groups."""
    try:
        enabled = set((group / "cgroup.subtree_control").read_text().split())
        missing = [c for c in CONTROLLERS if c not in enabled]
        if missing and not enable:
            return False
        if missing:
            (group / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))
    except OSError:
        return False
    return True


def _write(directory: Path, name: str, value: object) -> None:
    (directory / name).write_text(str(value))


def _make(base: Path, name: str) -> Path:
    path = base / name
    path.mkdir()
    return path


def _v1(limits: Limits, bases: dict[str, Path], name: str) -> tuple[list[Path], dict[str, str]]:
    """Groups in each v1 hierarchy we can write to; returns them and what each resource is bounded by."""
    made, held = [], {}
    for controller in ("memory", "pids", "cpu", "cpuacct"):
        base = bases.get(controller)
        if base is None:
            continue
        existing = next((d for d in made if d.parent == base), None)  # co-mounted controllers (cpu,cpuacct)
        try:
            group = existing or _make(base, name)
            if existing is None:
                made.append(group)
            _set_v1(controller, group, limits)
        except OSError:
            continue
        held[controller] = "cgroup v1"
    return made, held


def _set_v1(controller: str, group: Path, limits: Limits) -> None:
    if controller == "memory":
        _write(group, "memory.limit_in_bytes", limits.memory_bytes)
        if (group / "memory.memsw.limit_in_bytes").exists():
            _write(group, "memory.memsw.limit_in_bytes", limits.memory_bytes)  # no escape into swap
    elif controller == "pids":
        _write(group, "pids.max", limits.max_processes)
    elif controller == "cpu":
        _write(group, "cpu.cfs_period_us", CPU_PERIOD_US)
        _write(group, "cpu.cfs_quota_us", CPU_PERIOD_US * CPU_CORES)


def _v2(limits: Limits, base: Path, name: str) -> tuple[list[Path], dict[str, str]]:
    group = _make(base, name)
    try:
        _write(group, "memory.max", limits.memory_bytes)
        if (group / "memory.swap.max").exists():
            _write(group, "memory.swap.max", 0)
        _write(group, "pids.max", limits.max_processes)
        _write(group, "cpu.max", f"{CPU_PERIOD_US * CPU_CORES} {CPU_PERIOD_US}")
    except OSError:
        _remove([group])
        raise
    return [group], {c: "cgroup v2" for c in (*CONTROLLERS, "cpuacct")}


def confine(limits: Limits) -> Confinement:
    """The groups for one new sandbox (never raises: what cannot be made falls back, and says so)."""
    sweep_stale()
    name = f"grader-{os.getpid()}-{secrets.token_hex(4)}"
    base, _ = v2_base()
    dirs, held = [], {}
    if base is not None:
        try:
            dirs, held = _v2(limits, base, name)
        except OSError:
            dirs, held = [], {}
    if not dirs:
        dirs, held = _v1(limits, v1_bases(), name)
    return _describe(limits, dirs, held)


def _describe(limits: Limits, dirs: list[Path], held: dict[str, str]) -> Confinement:
    mb = limits.memory_bytes // MIB
    cap = limits.max_processes if "memory" in held else min(limits.max_processes, FALLBACK_PROCESSES)
    memory = (f"{mb} MB for all its processes together ({held['memory']})" if "memory" in held else
              f"{mb} MB per process, at most {cap} processes, so {cap * mb} MB in all (no memory cgroup here)")
    cpu = (f"{CPU_CORES} core, an equal share when cores are busy ({held['cpu']})" if "cpu" in held else
           "not confined (no cpu cgroup here)")
    processes = (f"{cap} ({held['pids']})" if "pids" in held else
                 f"{cap} (a process limit counted in the sandbox's own user namespace)")
    version = "v2" if "cgroup v2" in held.values() else "v1" if held else ""
    procs = tuple(str(d / "cgroup.procs") for d in dirs)
    return Confinement(version, tuple(map(str, dirs)), procs, cap, memory, cpu, processes)


def members(conf: Confinement) -> set[int]:
    pids: set[int] = set()
    for procs in conf.procs:
        try:
            pids |= {int(p) for p in Path(procs).read_text().split()}
        except (OSError, ValueError):
            continue
    return pids


def release(conf: Confinement, wait: float = 2.0) -> None:
    """Kill whatever is still in the groups (a process cannot leave its group), then remove them."""
    _remove([Path(d) for d in conf.dirs], conf.procs, wait)


def _remove(dirs: list[Path], procs: tuple[str, ...] = (), wait: float = 2.0) -> None:
    deadline = time.monotonic() + wait
    todo = list(dirs)
    while todo:
        for pid in members(Confinement(procs=tuple(str(d / "cgroup.procs") for d in todo))):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        left = []
        for d in todo:
            try:
                d.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                left.append(d)
        todo = left
        if not todo or time.monotonic() > deadline:
            return
        time.sleep(0.02)


def oom_kills(conf: Confinement) -> int:
    """How many processes the memory limit killed in this sandbox's group."""
    for d in map(Path, conf.dirs):
        for name in ("memory.events", "memory.oom_control"):
            try:
                text = (d / name).read_text()
            except OSError:
                continue
            m = re.search(r"^oom_kill (\d+)", text, re.M)
            if m:
                return int(m.group(1))
    return 0


def cpu_seconds(conf: Confinement) -> float | None:
    """CPU time used by everything in the sandbox so far (None where no group accounts for it)."""
    for d in map(Path, conf.dirs):
        try:
            return int((d / "cpuacct.usage").read_text()) / 1e9
        except (OSError, ValueError):
            pass
        try:
            m = re.search(r"^usage_usec (\d+)", (d / "cpu.stat").read_text(), re.M)
            if m:
                return int(m.group(1)) / 1e6
        except OSError:
            pass
    return None


def sweep_stale() -> None:
    """Remove the groups of graders that died before they could (once per process)."""
    global _swept
    if _swept:
        return
    _swept = True
    v2, _ = v2_base()
    for b in {*v1_bases().values(), *([v2] if v2 else [])}:
        for entry in b.iterdir() if b.is_dir() else ():
            m = NAME.fullmatch(entry.name)
            if m and entry.is_dir() and not Path(f"/proc/{m.group(1)}").exists():
                _remove([entry], (str(entry / "cgroup.procs"),), 0.5)
