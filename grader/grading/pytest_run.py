"""The one way the grader runs pytest in-process: grading, collecting the points, the self-check and the warm-up.

pytest's own output is captured, never printed: callers show its tail only when pytest itself failed.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

# no:unraisableexception: its gc.collect passes cost every grade time, and the warnings it would raise are off anyway.
# --disable-plugin-autoload: whatever pytest plugins happen to be installed stay out of grading (and cost no time)
PYTEST_ARGS = ("-q", "-p", "no:cacheprovider", "-p", "no:warnings", "-p", "no:unraisableexception",
               "--disable-plugin-autoload", "-o", "addopts=", "-o", "console_output_style=classic")

OK, TESTS_FAILED, INTERRUPTED = 0, 1, 2  # pytest.ExitCode's values, without importing pytest to compare


@dataclass(frozen=True)
class PytestRun:
    """pytest's exit code and everything it printed."""

    code: int
    output: str

    @property
    def ran(self) -> bool:
        """The tests ran (whether or not they passed): pytest itself did not fail."""
        return self.code in (OK, TESTS_FAILED)

    def tail(self, chars: int = 3000) -> str:
        return self.output[-chars:]


def run_pytest(paths: Sequence[str], rootdir: str, *, plugins: Sequence[object] = (), options: Sequence[str] = (),
               args: Sequence[str] = PYTEST_ARGS) -> PytestRun:
    """pytest.main on `paths` with `rootdir`, then `options`, then `args` (the grading's PYTEST_ARGS unless the
    caller needs others), with stdout and stderr captured."""
    import pytest  # noqa: PLC0415 - imported when first needed: grading starts the sandbox meanwhile

    captured = io.StringIO()
    with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
        code = pytest.main([*paths, "--rootdir", rootdir, *options, *args], plugins=list(plugins))
    return PytestRun(int(code), captured.getvalue())
