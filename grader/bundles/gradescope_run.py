"""Inside Gradescope's container: `python -m grader.bundles.gradescope_run`, which run_autograder calls for each submission.

It finds the one notebook in ROOT/submission, grades it with time limits scaled to fit Gradescope's, and always
writes ROOT/results/results.json, then exits 0. A submission it cannot grade gets score 0 and a message saying
what was found; a failure of the grader itself gets score 0 and a message saying it is not the student's fault.
`--check` (run by setup.sh) only loads the settings, the rubric and the data, and reports the sandbox mode.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import grader
from grader import __version__, paths
from grader.errors import ConfigError
from grader.notebook.clean import file_name
from grader.sandbox.limits import Limits
from grader.grading.results import Status

ROOT_ENV = "GRADER_AUTOGRADER_ROOT"
TIMEOUT_ENV = "GRADER_TIMEOUT_SECONDS"
DEFAULT_ROOT = "/autograder"
DEFAULT_TIMEOUT = 600.0  # Gradescope's default; the bundle's gradescope.json says what the instructor set
SETTINGS_FILE = "gradescope.json"  # in ROOT/source, written by `python -m grader gradescope`
WATCHDOG_MARGIN = 20.0  # seconds before Gradescope's limit at which a "ran out of time" results.json is written
STARTUP_SECONDS = 25.0  # container start, imports and the hidden set, before the notebook runs
MIN_FACTOR = 0.05
SUBMISSION_TYPES = (".ipynb", ".py")  # in order of preference
IGNORED_PARTS = ("__MACOSX", ".ipynb_checkpoints", "__pycache__")
NOT_YOUR_FAULT = ("The autograder failed on its side while grading your submission. This is not your fault: please "
                  "tell your instructor, who can see the details and regrade it.")
OUT_OF_TIME = ("Grading did not finish within the autograder's time limit of {limit:g} s, so no score was given. "
               "Check that your notebook runs in a few minutes (for example, fewer epochs), then resubmit.")


@dataclass(frozen=True)
class Settings:
    """Where Gradescope's folders are and how long it gives one submission; `source` says where the limit came from."""

    root: Path
    timeout_seconds: float
    source: str

    @property
    def submission_dir(self) -> Path:
        return self.root / "submission"

    @property
    def results_dir(self) -> Path:
        return self.root / "results"


def load_settings(environ: Mapping[str, str] = os.environ) -> Settings:
    """The root from GRADER_AUTOGRADER_ROOT; the time limit from GRADER_TIMEOUT_SECONDS, else the bundle's settings."""
    root = Path(environ.get(ROOT_ENV) or DEFAULT_ROOT)
    if environ.get(TIMEOUT_ENV):
        raw, source = environ[TIMEOUT_ENV], f"the environment variable {TIMEOUT_ENV}"
    elif (root / "source" / SETTINGS_FILE).exists():
        path = root / "source" / SETTINGS_FILE
        raw, source = json.loads(path.read_text(encoding="utf-8")).get("timeout_seconds", DEFAULT_TIMEOUT), str(path)
    else:
        raw, source = DEFAULT_TIMEOUT, "the default"
    try:
        seconds = float(raw)
    except (TypeError, ValueError):
        seconds = float("nan")
    if not 0 < seconds < 10**6:
        raise ConfigError(f"{source}: the time limit must be a number of seconds above 0, got {raw!r}")
    return Settings(root=root, timeout_seconds=seconds, source=source)


@dataclass(frozen=True)
class Found:
    """What the submission folder holds: the file to grade, or why there is none (`problem`)."""

    path: Path | None
    files: tuple[str, ...]
    problem: str = ""


def visible_files(folder: Path) -> list[Path]:
    """Every file a student meant to submit: no hidden files, no macOS or Jupyter leftovers."""
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if path.is_file() and not any(p.startswith(".") or p in IGNORED_PARTS for p in parts):
            out.append(path)
    return out


def find_submission(folder: Path) -> Found:
    """The one notebook (or, without a notebook, the one .py file) in the folder."""
    files = visible_files(folder)
    names = tuple(file_name(str(p.relative_to(folder))) for p in files)  # text, whatever bytes the names hold
    for suffix in SUBMISSION_TYPES:
        matches = [p for p in files if p.suffix.lower() == suffix]
        if len(matches) == 1:
            return Found(matches[0], names)
        if len(matches) > 1:
            listed = ", ".join(str(p.relative_to(folder)) for p in matches)
            return Found(None, names, f"your submission holds {len(matches)} {suffix} files ({listed}); submit "
                                      "exactly one notebook, the one to grade")
    received = ", ".join(names) if names else "no files at all"
    return Found(None, names, f"your submission holds no notebook (.ipynb) or Python file (.py); received: "
                              f"{received}. Submit your notebook, for example backprop.ipynb")


def usable_seconds(timeout_seconds: float) -> float:
    """What of Gradescope's time limit one grading may take: start-up and the watchdog's margin come off it."""
    return timeout_seconds - WATCHDOG_MARGIN - STARTUP_SECONDS


def fit_limits(limits: Limits, timeout_seconds: float) -> tuple[Limits, float]:
    """The rubric's limits, exactly as `grade` and `grade-all` apply them, when its one deadline (grading_seconds)
    fits in Gradescope's time limit; otherwise every wall-clock limit scaled by the one factor that makes it fit
    (the build warns of this, and the student's output says so)."""
    usable = usable_seconds(timeout_seconds)
    factor = max(MIN_FACTOR, min(1.0, usable / limits.grading_seconds))
    fitted = limits if factor == 1.0 else limits.scaled(factor)
    # at MIN_FACTOR the scaled deadline could still pass the watchdog's: the grading's own deadline comes first
    return replace(fitted, grading_seconds=max(1.0, min(fitted.grading_seconds, usable))), factor


class ResultsWriter:
    """Writes results.json exactly once: whichever comes first, the grade or the watchdog's "out of time"."""

    def __init__(self, results_dir: Path) -> None:
        self.path = results_dir / "results.json"
        self._lock = threading.Lock()
        self.written = False

    def write(self, data: dict) -> bool:
        from grader.files import write_json

        with self._lock:
            if self.written:
                return False
            write_json(self.path, data)
            self.written = True
            return True


def failure_results(reason: str, *, status: str = "grader-failed", output: str = NOT_YOUR_FAULT,
                    detail: str = "") -> dict:
    """Score 0 with a message for the student; the cause goes to extra_data and stdout, which students never see."""
    return {"score": 0, "output": output, "output_format": "md", "stdout_visibility": "hidden", "tests": [],
            "extra_data": {"status": status, "reason": reason, "detail": detail, "grader_version": __version__}}


def what_ran(found: Found, path: Path, limits: Limits, factor: float, settings: Settings, graded: bool) -> str:
    """The first paragraphs of the student-visible output (Markdown): which file was graded, under which limits."""
    from grader.report.overview import md_text

    others = [n for n in found.files if n != str(path.relative_to(settings.submission_dir))]
    lines = [f"Submission file: {md_text(path.name, 300)}"
             + (f" (also received, not graded: {md_text(', '.join(others))})" if others else "")]
    if not graded:
        return lines[0]
    scaled = f", scaled by {factor:.2f} to fit the autograder's {settings.timeout_seconds:g} s" if factor < 1 else ""
    lines.append(f"Time limits: whole notebook {limits.notebook_seconds:g} s, one cell {limits.cell_seconds:g} s, "
                 f"one call into your code {limits.request_seconds:g} s{scaled}.")
    return "\n\n".join(lines)


def grade_results(settings: Settings, grade: Callable) -> dict:
    """Find, grade and turn the grade into Gradescope's results: the whole job, minus the safety nets."""
    from grader.grading.grade import error_report
    from grader.report.folder import noted, write_pages
    from grader.report.text import results_dict, results_json, summary_lines
    from grader.grading.rubric import load_rubric

    rubric = load_rubric()
    found = find_submission(settings.submission_dir)
    if found.path is None:
        report = error_report(settings.submission_dir, "submission", found.problem)
        return results_dict(report)
    limits, factor = fit_limits(rubric.limits, settings.timeout_seconds)
    report = grade(found.path, rubric=replace(rubric, limits=limits), student=found.path.stem)
    results = json.loads(results_json(report))  # under the size cap, whatever the notebook printed
    graded = report.status != Status.ERROR
    results["output"] = what_ran(found, found.path, limits, factor, settings, graded) + "\n\n" + results["output"]
    results["extra_data"].update(time_limit_factor=round(factor, 3), received=list(found.files),
                                 bundle=str(paths.ROOT), grader_package=str(Path(grader.__file__).parent))
    noted(results, write_pages(report, settings.results_dir, rubric))  # beside results.json, for instructors
    print("\n".join(summary_lines(report)), flush=True)  # for course staff: stdout_visibility is hidden
    return results


def start_watchdog(writer: ResultsWriter, settings: Settings, started: float,
                   exit_process: Callable[[int], object]) -> threading.Timer:
    """Before Gradescope kills the run, write an "out of time" results.json and exit, leaving no empty result."""
    def fire() -> None:
        data = failure_results("grading ran past the time limit", status=Status.TIMEOUT,
                               output=OUT_OF_TIME.format(limit=settings.timeout_seconds))
        if writer.write(data):
            print(f"watchdog: grading passed {settings.timeout_seconds:g} s minus {WATCHDOG_MARGIN:g} s; "
                  f"wrote {writer.path} and stopped", flush=True)
            exit_process(0)

    delay = max(0.0, settings.timeout_seconds - WATCHDOG_MARGIN - (time.monotonic() - started))
    timer = threading.Timer(delay, fire)
    timer.daemon = True
    timer.start()
    return timer


def run_once(environ: Mapping[str, str] = os.environ, *, grade: Callable | None = None,
             exit_process: Callable[[int], object] = os._exit) -> int:
    """Grade ROOT/submission into ROOT/results/results.json. Always returns 0 once results.json is written."""
    started = time.monotonic()
    root = Path(environ.get(ROOT_ENV) or DEFAULT_ROOT)
    writer, timer = ResultsWriter(root / "results"), None
    try:
        settings = load_settings(environ)
        timer = start_watchdog(writer, settings, started, exit_process)
        if grade is None:
            from grader.grading.grade import grade_submission as grade
        results = grade_results(settings, grade)
    except BaseException as exc:  # noqa: BLE001 - whatever happened, Gradescope must get a results.json
        detail = traceback.format_exc()
        print(f"the grader failed (not the student's fault):\n{detail}", flush=True)
        results = failure_results(f"{type(exc).__name__}: {exc}", detail=detail)
    finally:
        if timer is not None:
            timer.cancel()
    results["execution_time"] = round(time.monotonic() - started, 3)
    writer.write(results)
    return 0


def check(environ: Mapping[str, str] = os.environ) -> int:
    """For setup.sh: fail the image build, not a student's run, when the bundle is incomplete."""
    from grader import paths
    from grader.grading import assignment
    from grader.grading.rubric import load_rubric
    from grader.sandbox.bwrap import available_mode, probe_bwrap

    settings, rubric = load_settings(environ), load_rubric()
    task = assignment.load(rubric.assignment)
    task.public_data()
    if task.hidden_set(rubric) is None:
        print(f"warning: {paths.RUBRIC} has no [hidden] secret: the hidden test set will not be graded")
    limits, factor = fit_limits(rubric.limits, settings.timeout_seconds)
    print(f"time limit {settings.timeout_seconds:g} s (from {settings.source}); limits scaled by {factor:.2f}")
    problem = probe_bwrap()
    print(f"sandbox: {available_mode('auto')}" + (f" ({problem})" if problem else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--check"]:
        return check()
    return run_once()


if __name__ == "__main__":
    sys.exit(main())
