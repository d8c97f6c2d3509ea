"""Progress of a batch: a one-line bar redrawn with \\r on a terminal, plain lines otherwise (logs, CI)."""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

BAR_WIDTH = 24
REFRESH_SECONDS = 0.5


def clock(seconds: float) -> str:
    """0:06, 1:02:03."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Counts finished submissions and shows the count, the rate and the ETA.

    On a terminal the bar line is redrawn in place and `note` lines scroll above it; otherwise every
    finished submission prints one plain line.
    """

    def __init__(self, total: int, *, stream: TextIO | None = None, tty: bool | None = None,
                 now: Callable[[], float] = time.monotonic) -> None:
        self.total, self.done, self.stream, self.now = total, 0, stream or sys.stderr, now
        self.tty = self.stream.isatty() if tty is None else tty
        self.started = self.drawn = now()

    def rate(self) -> float:
        elapsed = self.now() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        """graded 12/30  3.1/s  ETA 0:06"""
        rate = self.rate()
        eta = clock((self.total - self.done) / rate) if rate > 0 else "?"
        return f"graded {self.done}/{self.total}  {rate:.1f}/s  ETA {eta}"

    def bar(self) -> str:
        filled = BAR_WIDTH * self.done // self.total if self.total else BAR_WIDTH
        return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + "] " + self.line()

    def advance(self, message: str) -> None:
        """One more submission finished; `message` says which and how it went."""
        self.done += 1
        if self.tty:
            self._write("\r\x1b[K" + message + "\n" + self.bar())
        else:
            self._write(f"[{self.done}/{self.total}] {message}\n")

    def start(self) -> None:
        if self.tty:
            self._write(self.bar())

    def refresh(self) -> None:
        """Redraw the bar now and then while waiting, so the rate and ETA stay current."""
        if self.tty and self.now() - self.drawn >= REFRESH_SECONDS:
            self._write("\r\x1b[K" + self.bar())

    def finish(self) -> None:
        """End the bar's line; in plain mode, the final count and rate."""
        if self.tty:
            self._write("\r\x1b[K" + self.bar() + "\n")
        else:
            self._write(self.line() + f"  elapsed {clock(self.now() - self.started)}\n")

    def _write(self, text: str) -> None:
        self.drawn = self.now()
        self.stream.write(text)
        self.stream.flush()
