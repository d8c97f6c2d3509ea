"""How the feedback pictures get drawn fast: their libraries imported ahead of time, and one picture drawn in a
forked child while this process draws the other, so the pair takes the time of the slower one, not of both.

The child gets the plain arrays by fork; only the PNG bytes it drew come back, through a pipe. Whatever goes wrong
in the child (an exception other than the refusal the caller names, a crash, no fork at all), this process draws the
picture itself, so the outcome is exactly that of drawing it here in the first place.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Callable

# what drawing the pictures imports on first use: savefig's canvas and PNG writer, contour's engine
PICTURE_MODULES = ("grader.report.pictures", "matplotlib.backends.backend_agg", "PIL.PngImagePlugin", "contourpy")
_parallel = True  # off in a batch, whose children already keep every core busy
_OK, _REFUSED = b"P", b"E"  # the child's answer starts with one of these: PNG bytes follow, or the refusal's text


def import_picture_modules() -> None:
    """Import what drawing needs (waiting for a thread that is importing it already)."""
    for name in PICTURE_MODULES:
        importlib.import_module(name)
    importlib.import_module("PIL.Image").preinit()  # the image plugins Pillow loads at its first save


def draw_in_parallel(allowed: bool) -> None:
    """Whether start() may fork: a batch turns it off, since a second process per grade would only compete."""
    global _parallel
    _parallel = allowed


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _child(draw: Callable[[], bytes], refused: type[Exception], out: int) -> None:
    answer = b""
    try:
        answer = _OK + draw()
    except refused as exc:
        answer = _REFUSED + str(exc).encode("utf-8", "replace")
    except BaseException:  # noqa: BLE001 - the parent draws it again and reports what happens there
        answer = b""
    finally:
        try:
            view = memoryview(answer)
            while view:
                view = view[os.write(out, view):]
        finally:
            os._exit(0)


def start(draw: Callable[[], bytes], refused: type[Exception]) -> Callable[[], bytes]:
    """Begin draw() in a forked child; returns a function that waits for its PNG, raising `refused` as draw() did.
    With one core, no fork, or parallel drawing turned off, the returned function simply draws here."""
    if not _parallel or not hasattr(os, "fork") or _cores() < 2:
        return draw
    import_picture_modules()  # no import half done by another thread at the fork: the child would wait for it forever
    for stream in (sys.stdout, sys.stderr):
        stream.flush()  # or the child could write the parent's pending output a second time
    read, write = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        return draw
    if pid == 0:
        os.close(read)
        _child(draw, refused, write)
    os.close(write)

    def result() -> bytes:
        with os.fdopen(read, "rb") as f:
            answer = f.read()
        os.waitpid(pid, 0)
        if answer[:1] == _OK:
            return answer[1:]
        if answer[:1] == _REFUSED:
            raise refused(answer[1:].decode("utf-8", "replace"))
        return draw()

    return result


class PrewarmPictures:
    """A pytest plugin: once the suite is collected, import the pictures' libraries in a thread. The grader then
    only waits (for the notebook, for each reply), so the import takes idle time, not the collection's."""

    def pytest_collection_finish(self, session: object) -> None:
        if not all(name in sys.modules for name in PICTURE_MODULES):  # a batch child has them from its parent
            threading.Thread(target=import_picture_modules, daemon=True, name="prewarm-pictures").start()
