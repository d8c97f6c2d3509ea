"""Watch the machine while a benchmark runs: how much CPU it used, and how much other processes used meanwhile.

Whole-machine busy time comes from /proc/stat; the processes that are not this benchmark's descendants are sampled
from /proc/<pid>/stat, so a figure measured while something else kept a core busy can say it is contaminated.
The sandboxed processes live in their own PID namespace and are killed, never reaped, so getrusage would miss their
CPU time; the machine's own counters do not.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

from grader.sandbox.proctree import proc_stats

SAMPLE_SECONDS = 0.1
FOREIGN_TOLERANCE = 0.15  # cores other processes may keep busy before a figure is called contaminated
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot: user, nice, system, irq and softirq (not steal)."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(x) for x in f.readline().split()[1:8]]
    except (OSError, ValueError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq = ticks
    return (user + nice + system + irq + softirq) / _TICK


def _processes() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds used so far) for every process /proc shows."""
    return {pid: (int(f[1]), (int(f[11]) + int(f[12])) / _TICK) for pid, f in proc_stats().items() if len(f) > 12}


def _descendants(root: int, table: dict[int, tuple[int, float]]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo.extend(children.get(pid, ()))
    return found


@dataclass(frozen=True)
class Usage:
    """What the machine did during one measured stretch. cpu: CPU seconds of this benchmark's processes, from the
    machine's counters; when other processes were busy, from samples of ours (a little low: a process's last tenth
    of a second and processes shorter than that are missed)."""

    wall: float
    cpu: float
    foreign_cores: float

    @property
    def contaminated(self) -> bool:
        return self.foreign_cores > FOREIGN_TOLERANCE

    def note(self) -> str:
        """Empty when clean; else a warning naming how much other processes used."""
        if not self.contaminated:
            return ""
        return (f"CONTAMINATED: other processes kept {self.foreign_cores:.2f} cores busy meanwhile "
                "(this figure is not a clean measurement)")


class LoadWatch:
    """A context manager sampling /proc while it is open; `usage` is set when it closes."""

    def __init__(self, sample: float = SAMPLE_SECONDS) -> None:
        self.sample, self.me = sample, os.getpid()
        self.usage: Usage | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load-watch", daemon=True)
        self._foreign = 0.0
        self._seen: dict[int, float] = {}
        self._ours: dict[int, tuple[float, float]] = {}  # pid -> (CPU when first seen, CPU when last seen)

    def _scan(self, first: bool = False) -> None:
        table = _processes()
        ours = _descendants(self.me, table)
        for pid, (_, cpu) in table.items():
            if pid in ours:
                if pid != self.me:
                    self._ours[pid] = (self._ours.get(pid, (0.0 if not first else cpu,))[0], cpu)
                continue
            before = self._seen.get(pid, cpu if first else 0.0)  # a process that appeared since started at 0
            self._foreign += max(0.0, cpu - before)
            self._seen[pid] = cpu

    def _run(self) -> None:
        while not self._stop.wait(self.sample):
            self._scan()

    def __enter__(self) -> "LoadWatch":
        self._scan(first=True)
        self._busy, self._self_cpu, self._wall = busy_seconds(), time.process_time(), time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._scan()
        wall = time.monotonic() - self._wall
        mine = time.process_time() - self._self_cpu  # the watch's own sampling is not the benchmark's work
        foreign = self._foreign / wall if wall else 0.0
        if foreign > FOREIGN_TOLERANCE:  # under load, the samples of our own processes are the better estimate
            cpu = sum(last - first for first, last in self._ours.values())
        else:
            cpu = max(0.0, busy_seconds() - self._busy - self._foreign - mine)
        self.usage = Usage(wall, cpu, foreign)
