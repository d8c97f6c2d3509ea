"""Resource and time limits for running one submission. The rubric file overrides these defaults."""

from __future__ import annotations

from dataclasses import dataclass

GIB = 1 << 30
MIB = 1 << 20
KIB = 1 << 10


@dataclass(frozen=True)
class Limits:
    """Limits applied to one submission's sandboxed process.

    cell_seconds: wall clock for one notebook cell; the notebook goes on with the next cell after it.
    notebook_seconds: wall clock for all cells together.
    grading_seconds: wall clock for the whole grading of one submission; past it, the tests not yet run fail as
        timed out and the results are written at once. The one deadline: grade, grade-all and Gradescope apply it
        alike (grade-all kills a child only well after it; Gradescope scales the limits only when its time limit
        cannot hold it).
    request_seconds: wall clock for one grader request (a call into the student's code).
    memory_bytes: address-space rlimit (RLIMIT_AS).
    cpu_seconds: CPU-time rlimit for the whole process (RLIMIT_CPU).
    max_processes: process-count rlimit (RLIMIT_NPROC) where it applies.
    file_bytes: largest file the submission may write (RLIMIT_FSIZE).
    open_files: open file descriptors (RLIMIT_NOFILE).
    output_bytes: captured stdout and stderr kept per cell and per request; the rest is dropped and counted.
    """

    cell_seconds: float = 60.0
    notebook_seconds: float = 300.0
    grading_seconds: float = 540.0  # with start-up, inside Gradescope's default 600 s: the same limits there
    request_seconds: float = 20.0
    memory_bytes: int = 2 * GIB
    cpu_seconds: int = 900
    max_processes: int = 64
    file_bytes: int = 64 * MIB
    open_files: int = 256
    output_bytes: int = 64 * 1024

    def scaled(self, factor: float) -> "Limits":
        """The same limits with every wall-clock and CPU limit multiplied by `factor` (to fit a platform budget)."""
        return Limits(
            cell_seconds=self.cell_seconds * factor,
            notebook_seconds=self.notebook_seconds * factor,
            grading_seconds=self.grading_seconds * factor,
            request_seconds=self.request_seconds * factor,
            memory_bytes=self.memory_bytes,
            cpu_seconds=max(1, int(self.cpu_seconds * factor)),
            max_processes=self.max_processes,
            file_bytes=self.file_bytes,
            open_files=self.open_files,
            output_bytes=self.output_bytes,
        )
