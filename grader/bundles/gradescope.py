"""`python -m grader gradescope --out dist/autograder.zip`: build the autograder bundle to upload to Gradescope.

The zip holds, at its top level: setup.sh and run_autograder (from grader/bundles/templates/gradescope), the grader
package, rubric.toml (with the hidden-data settings), the public data, constraints.txt, pyproject.toml, README.md,
and gradescope.json with the settings chosen at build time. It never holds the solution or the project's tests.
The same sources give the same zip, byte for byte.
"""

from __future__ import annotations

import json
import math
import sys
import zipfile
from pathlib import Path

from grader import __version__, paths
from grader.errors import ConfigError
from grader.files import replacing
from grader.bundles.gradescope_run import DEFAULT_TIMEOUT, SETTINGS_FILE, fit_limits, usable_seconds
from grader.sandbox.limits import Limits

TEMPLATES = Path(__file__).resolve().parent / "templates" / "gradescope"
SCRIPTS = ("setup.sh", "run_autograder")
PROJECT_FILES = ("rubric.toml", "constraints.txt", "pyproject.toml", "README.md", f"data/{paths.DATA_NAME}")
PACKAGE = "grader"
SKIPPED = ("__pycache__", ".pyc", ".ipynb")  # bytecode, and never a notebook: the solution must not ship
SECRET_FILES = ("rubric.toml",)  # the hidden seed: unpacked readable by root only
MIN_TIMEOUT, MAX_TIMEOUT = 120.0, 24 * 3600.0
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the zip depends only on its contents


def package_files(root: Path) -> list[str]:
    """The grader package's files, relative to root, without bytecode or notebooks."""
    out = []
    for path in sorted((root / PACKAGE).rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not any(part.endswith(SKIPPED) for part in path.relative_to(root).parts):
            out.append(rel)
    return out


def bundle_entries(root: Path, timeout_seconds: float) -> dict[str, tuple[bytes, int]]:
    """Archive name -> (content, Unix mode), in the order they are written."""
    entries: dict[str, tuple[bytes, int]] = {}
    for name in SCRIPTS:
        entries[name] = ((TEMPLATES / name).read_bytes(), 0o755)
    for rel in PROJECT_FILES:
        if not (root / rel).is_file():
            raise ConfigError(f"{root / rel}: missing; the Gradescope bundle needs it")
        entries[rel] = ((root / rel).read_bytes(), 0o600 if rel in SECRET_FILES else 0o644)
    for rel in package_files(root):
        entries[rel] = ((root / rel).read_bytes(), 0o644)
    settings = {"timeout_seconds": timeout_seconds, "grader_version": __version__}
    entries[SETTINGS_FILE] = ((json.dumps(settings, indent=2) + "\n").encode(), 0o644)
    return entries


def check_timeout(seconds: float) -> float:
    if not MIN_TIMEOUT <= seconds <= MAX_TIMEOUT:
        raise ConfigError(f"--timeout: Gradescope's time limit in seconds, from {MIN_TIMEOUT:g} to "
                          f"{MAX_TIMEOUT:g}; got {seconds:g}")
    return seconds


def warn_if_scaled(limits: Limits, timeout_seconds: float) -> None:
    """Say so when Gradescope would grade under shorter limits than `make grade` and `grade-all`: same rubric,
    same deadline, same score only when the timeout holds the rubric's grading_seconds."""
    _, factor = fit_limits(limits, timeout_seconds)
    if factor < 1.0:
        needed = math.ceil(limits.grading_seconds + timeout_seconds - usable_seconds(timeout_seconds))
        print(f"warning: a {timeout_seconds:g} s autograder timeout does not hold the rubric's grading_seconds = "
              f"{limits.grading_seconds:g}; Gradescope will grade with every time limit scaled by {factor:.2f}, "
              f"so a slow notebook may score lower there than with make grade. Build with --timeout {needed} "
              f"(and set that timeout on Gradescope) or lower [limits] grading_seconds.", file=sys.stderr)


def build_bundle(out: str | Path, *, timeout_seconds: float = DEFAULT_TIMEOUT, root: Path = paths.ROOT) -> Path:
    """Write the zip to `out` (its folder is created) and return its path. Validates the rubric first."""
    from grader.grading.rubric import load_rubric

    check_timeout(timeout_seconds)
    rubric = load_rubric(root / "rubric.toml")  # a bad rubric fails here, with its line, not on Gradescope
    warn_if_scaled(rubric.limits, timeout_seconds)
    entries = bundle_entries(root, timeout_seconds)
    out = Path(out)
    with replacing(out) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, (content, mode) in entries.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.external_attr = (0o100000 | mode) << 16  # a regular file with this mode, for unzip
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content)
    return out


def run(out: Path, timeout: float = DEFAULT_TIMEOUT) -> int:
    """`python -m grader gradescope`: build the bundle and say where it goes."""
    from grader.grading.rubric import load_rubric

    written = build_bundle(out, timeout_seconds=timeout)
    with zipfile.ZipFile(written) as zf:
        count = len(zf.namelist())
    print(f"wrote {written} ({count} files, {written.stat().st_size // 1024} KiB) for a {timeout:g} s timeout")
    if load_rubric().hidden_seed is None:
        print("warning: rubric.toml has no [hidden] secret, so the hidden test set will not be graded; "
              "write one with: python -m grader new-secret")
    print("upload it on Gradescope: the assignment's Configure Autograder page, 'Zip file upload'")
    return 0
