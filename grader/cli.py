"""Command line: `python -m grader VERB ...`. One subparser per verb; each verb's work lives in its stage.

The parsers import nothing heavy; a verb's modules load only when that verb runs. Errors the core raises as
GraderError become a one-line message and exit code 2 here, and nowhere else.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import NoReturn
from pathlib import Path

from grader import __version__, paths
from grader.errors import ConfigError, GraderError

ROSTER_HELP = ("a Canvas gradebook export (Grades > Export): matches students whose file names give no Canvas "
               "user id, and fills the SIS columns of canvas_import.csv")
SANDBOX_CHOICES = ("auto", "bwrap", "none")
SANDBOX_HELP = ("bwrap: always isolate (fail if impossible); none: no isolation (loud warning); "
                "auto: bwrap when the host allows it (default)")

DEADLINE_HELP = ("seconds for the whole grading of one submission, in place of the rubric's [limits] "
                 "grading_seconds: past it, the tests not run yet fail as timed out and what was earned is kept. "
                 "grade, grade-all and the Gradescope bundle apply this one deadline the same way")


# --- the verbs: parse, then call into the stage that does the work ------------------------------------------------

def _probe_meanwhile(sandbox: str) -> None:
    """Find out whether bubblewrap works while the grader's modules load; grading then reads the cached answer."""
    if sandbox != "none":
        from grader.sandbox.bwrap import probe_bwrap

        threading.Thread(target=probe_bwrap, daemon=True, name="probe-bwrap").start()


def _grade(args: argparse.Namespace) -> int:
    _probe_meanwhile(args.sandbox)
    from grader.grading.grade import grade_safely
    from grader.grading.rubric import load_rubric, with_grading_seconds
    from grader.notebook.clean import terminal
    from grader.report.drawing import PrewarmPictures
    from grader.report.folder import write_grade
    from grader.report.text import summary_lines

    out = args.out or Path("out") / args.path.stem
    rubric = with_grading_seconds(load_rubric(args.rubric), args.timeout)
    report, _ = grade_safely(args.path, rubric=rubric, sandbox=args.sandbox, student=args.student,
                             plugins=(PrewarmPictures(),))
    written = write_grade(report, out, rubric)
    pages = written.pages
    print("\n".join(summary_lines(report)))
    feedback = (f"{pages.student} (for the student), {pages.ta} (for TAs)" if pages.student else "none")
    print(terminal(f"results:  {written.results}") + "\n" + terminal(f"feedback: {feedback}")
          + (f"\n{terminal(f'          {pages.problem}')}" if pages.problem else ""))
    return 0


def _check(args: argparse.Namespace) -> int:
    from grader.selfcheck.terminal import run

    return run(args)


def _stop_on_sigterm() -> None:
    """SIGTERM stops the batch the way Ctrl-C does: children killed, finished rows kept."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handler)


def _grade_all(args: argparse.Namespace) -> int:
    from grader.batch.grade_all import BatchOptions, grade_class
    from grader.batch.summary import plural

    from grader.batch.cluster import check_address
    from grader.batch.shards import parse_shard

    if args.jobs < 0 or (args.timeout is not None and args.timeout <= 0):
        raise ConfigError("--jobs must be 0 (all cores) or more, and --timeout a positive number of seconds")
    if args.scheduler and args.cluster:
        raise ConfigError("give --scheduler ADDRESS or --cluster local:N, not both")
    scheduler = check_address(args.scheduler or args.cluster) if args.scheduler or args.cluster else None
    _stop_on_sigterm()
    opts = BatchOptions(source=args.submissions, out=args.out, jobs=args.jobs, rubric=args.rubric,
                        patterns=tuple(args.pattern), force=args.force, sandbox=args.sandbox, timeout=args.timeout,
                        only=tuple(args.only), times=args.times, canvas_roster=args.roster,
                        shard=parse_shard(args.shard) if args.shard else None, scheduler=scheduler)
    result = grade_class(opts)
    counts = ", ".join(f"{n} {s}" for s, n in result.statuses.items() if n)
    print(f"{plural(result.students, 'student')} ({counts or 'none'}); graded {result.graded} now, "
          f"skipped {result.reused} unchanged, in {result.seconds:.1f} s")
    print(f"gradebook: {result.gradebook}\nsummary:   {args.out / 'summary.md'}, {args.out / 'summary.png'}")
    if result.interrupted:
        print("interrupted: the finished rows are saved; run the same command again to finish", file=sys.stderr)
        return 130
    return 0


def _merge(args: argparse.Namespace) -> int:
    from grader.batch.merge import merge_shards
    from grader.batch.summary import plural

    done = merge_shards(args.shards, args.out, args.rubric, args.times)
    counts = ", ".join(f"{n} {s}" for s, n in done.statuses.items() if n)
    print(f"merged {len(args.shards)} shard folders: {plural(done.students, 'student')} ({counts or 'none'})")
    print(f"gradebook: {done.gradebook}\nsummary:   {args.out / 'summary.md'}, {args.out / 'summary.png'}")
    return 0


def _rubric(args: argparse.Namespace) -> int:
    from grader.course.rubric_text import rubric_text
    from grader.grading.rubric import load_rubric

    print(rubric_text(load_rubric(args.rubric)))
    return 0


def _merge_hand_grades(args: argparse.Namespace) -> int:
    from grader.wording import points
    from grader.course.build import rebuild
    from grader.grading.rubric import load_rubric

    done = rebuild(args.out, load_rubric(args.rubric), times=args.times, canvas_roster=args.roster)
    entered = sum(1 for f in done.finals for g in f.hand.values() if g.points is not None)
    still = sum(len(f.hand_open) for f in done.finals if not f.pending)
    print(f"merged {entered} hand grades ({still} still to enter); totals out of {points(done.possible)}")
    print("wrote " + ", ".join(str(p) for p in done.written) + "; updated the feedback pages")
    return 0


def _hand_grade(args: argparse.Namespace) -> int:
    from grader.handgrade.run import Options, serve

    _stop_on_sigterm()
    return serve(Options(out=args.out, rubric=args.rubric, port=args.port, browser=args.browser,
                         import_csv=args.import_csv, discard_csv=args.discard_csv, times=args.times))


def _release(args: argparse.Namespace) -> int:
    from grader.notebook.release import release

    written = release(args.solution, args.out)
    print(f"wrote {written} from {args.solution}")
    return 0


def _student_zip(args: argparse.Namespace) -> int:
    from grader.bundles.student_kit import TOP, build_student_zip
    from grader.grading.rubric import load_rubric

    written, files = build_student_zip(args.out, load_rubric(args.rubric))
    tests = sum(1 for name in files if "/suite/test_" in name)
    print(f"wrote {written}: {len(files)} files under {TOP}/ ({tests} public test modules); "
          "audited: no solution, no hidden tests, no hidden seed or thresholds")
    return 0


def _gradescope(args: argparse.Namespace) -> int:
    from grader.bundles.gradescope import run

    return run(args.out, args.timeout)


# --- the parsers ---------------------------------------------------------------------------------------------------

def _add_grade(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", nargs="?", type=Path, default=paths.SOLUTION,
                   help="the notebook (.ipynb) or script (.py) to grade (default: the reference solution)")
    p.add_argument("--out", type=Path, default=None, help="folder for results.json, feedback.html and "
                   "feedback_ta.html (default: out/<file name without extension>)")
    p.add_argument("--rubric", type=Path, default=None, help="rubric file (default: rubric.toml)")
    p.add_argument("--sandbox", choices=SANDBOX_CHOICES, default="auto", help=SANDBOX_HELP)
    p.add_argument("--student", default=None, help="the student's name for the report (default: file name)")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help=DEADLINE_HELP)
    p.epilog = ("Exit code 0 when the submission was graded, whatever its score; non-zero only when the grader "
                "itself could not work.")


def _add_check(p: argparse.ArgumentParser) -> None:
    from grader.selfcheck.terminal import add_arguments  # the student kit's check: one check, one output

    add_arguments(p)


def _add_grade_all(p: argparse.ArgumentParser) -> None:
    p.add_argument("submissions", type=Path,
                   help="a folder of submissions, or the .zip the LMS exports (Canvas names are understood)")
    p.add_argument("--out", type=Path, default=Path("out/class"), help="folder for gradebook.csv, summary.md, "
                   "summary.png and <student>/results.json (default: %(default)s)")
    p.add_argument("--jobs", "-j", type=int, default=0,
                   help="submissions graded at once, one sandboxed process each (default: all cores)")
    p.add_argument("--rubric", type=Path, default=None, help="rubric file (default: rubric.toml)")
    p.add_argument("--pattern", action="append", default=[], metavar="REGEX",
                   help="how file names name students: a regular expression with a (?P<student>...) group, "
                        "matched against each path inside the class folder; may be repeated (default: Canvas "
                        "names, one folder per student, or <student>.ipynb)")
    p.add_argument("--force", action="store_true", help="regrade everything, even submissions unchanged since "
                   "the last run")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help=DEADLINE_HELP)
    p.add_argument("--sandbox", choices=SANDBOX_CHOICES, default="auto",
                   help="passed to each grading process (default: %(default)s)")
    p.add_argument("--only", action="append", default=[], metavar="STUDENT",
                   help="regrade just this student (may be repeated) and keep every other row as it is")
    p.add_argument("--times", type=Path, default=None, help="CSV of student,submitted[,due] times for the late "
                   "policy, where the LMS download does not give them")
    p.add_argument("--roster", type=Path, default=None, metavar="GRADEBOOK.csv", help=ROSTER_HELP)
    p.add_argument("--shard", default=None, metavar="K/N", help="grade only shard K of N (a fixed split by "
                   "student), e.g. one task of a Slurm array each; then `merge` the N folders")
    p.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT", help="grade on the workers of this "
                   "Dask scheduler (pip install -e '.[cluster]'); submissions and results travel as bytes")
    p.add_argument("--cluster", default=None, metavar="local:N", help="grade on a Dask cluster of N worker "
                   "processes started on this machine")
    p.epilog = ("Exit code 0 when every student has a row (whatever the scores), 130 when interrupted; run "
                "again to finish: unchanged submissions are skipped. On a cluster, a worker host where bubblewrap "
                "cannot isolate refuses unless --sandbox none is given.")


def _add_merge(p: argparse.ArgumentParser) -> None:
    p.add_argument("shards", nargs="+", type=Path, metavar="OUT_K",
                   help="the --out folder of every `grade-all --shard K/N` run")
    p.add_argument("--out", type=Path, required=True, help="a new folder for the whole class")
    p.add_argument("--rubric", type=Path, default=None, help="the rubric the shards were graded under "
                   "(default: rubric.toml)")
    p.add_argument("--times", type=Path, default=None, help="CSV of student,submitted[,due] (default: the one "
                   "the shards were given)")
    p.epilog = ("Refuses, and writes nothing, when a shard is missing or unfinished, when shards come from "
                "different classes, rubrics or grader versions, or when one student was graded differently twice.")


def _add_rubric(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rubric", type=Path, default=None, help="rubric file (default: rubric.toml)")


def _add_merge_hand_grades(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("out/class"),
                   help="the batch's folder, holding hand_grades.csv (default: %(default)s)")
    p.add_argument("--rubric", type=Path, default=None, help="rubric file (default: rubric.toml)")
    p.add_argument("--times", type=Path, default=None, help="CSV of student,submitted[,due] (default: the one "
                   "the batch was given)")
    p.add_argument("--roster", type=Path, default=None, metavar="GRADEBOOK.csv",
                   help=ROSTER_HELP + " (default: the one the batch was given)")
    p.epilog = ("Checks every row of OUT/hand_grades.csv first; on a bad row nothing is written and the exit "
                "code is 2.")


def _add_hand_grade(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", type=Path, metavar="OUT", help="the batch's folder (grade-all --out), holding "
                   "hand_grades.csv")
    p.add_argument("--rubric", type=Path, default=None, help="rubric file (default: rubric.toml)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: 0, any free port)")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--open", dest="browser", action="store_const", const="open", default="auto",
                       help="open the URL in a browser (default: only where there is a display)")
    shown.add_argument("--no-browser", dest="browser", action="store_const", const="no",
                       help="only print the URL")
    side = p.add_mutually_exclusive_group()
    side.add_argument("--import", dest="import_csv", type=Path, default=None, metavar="CSV",
                      help="take this hand_grades.csv's rows where they differ from the database (checked first, "
                           "like merge-hand-grades)")
    side.add_argument("--discard-csv", action="store_true",
                      help="keep the database's grades: OUT/hand_grades.csv is not read (a broken one is no bar) "
                           "but moved to OUT/.batch/hand_grades.discarded.csv and written afresh")
    p.add_argument("--times", type=Path, default=None, help="CSV of student,submitted[,due] (default: the one "
                   "the batch was given)")
    p.epilog = ("Serves a page on 127.0.0.1 with a random token in its URL, to grade the hand-graded items one "
                "question at a time across all students, names hidden. Every change is kept at once in "
                "OUT/.batch/hand_grades.sqlite; after each one, hand_grades.csv, the LMS files and the feedback "
                "pages are rebuilt as merge-hand-grades does. Keys on the page: j/k next/previous, 1-9 rubric "
                "items, g points, c comment, ? all keys. Ctrl-C stops it; a killed server loses nothing.")


def _add_release(p: argparse.ArgumentParser) -> None:
    p.add_argument("--solution", type=Path, default=paths.SOLUTION,
                   help="the reference notebook with solution regions (default: %(default)s)")
    p.add_argument("--out", type=Path, default=paths.SKELETON, help="where to write the skeleton (default: %(default)s)")


def _add_student_zip(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("dist") / "student.zip",
                   help="where to write the zip (default: %(default)s)")
    p.add_argument("--rubric", type=Path, default=None,
                   help="the grading rubric the public part is taken from (default: rubric.toml)")


def _add_gradescope(p: argparse.ArgumentParser) -> None:
    from grader.bundles.gradescope_run import DEFAULT_TIMEOUT

    p.add_argument("--out", type=Path, default=Path("dist/autograder.zip"),
                   help="where to write the bundle (default: %(default)s)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="the autograder timeout set on "
                   "Gradescope, in seconds; the notebook's limits are scaled to fit it (default: %(default)g)")


def _new_secret(args: argparse.Namespace) -> int:
    from grader.grading import secret
    from grader.grading.rubric import load_rubric

    secret.write_secret(args.rubric)
    load_rubric(args.rubric)  # the file still parses, with the new secret
    print(f"wrote a new {secret.SECRET_BYTES * 8}-bit secret to {args.rubric} ([hidden] secret); the hidden test set "
          "and every test's inputs change with it. Rebuild the Gradescope bundle (make gradescope) and keep the "
          "file out of anything students receive.")
    return 0


def _add_new_secret(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rubric", type=Path, default=paths.RUBRIC, help="the rubric to write it to (default: %(default)s)")


def _packages(args: argparse.Namespace) -> int:
    from grader.grading.rubric import load_rubric

    print("\n".join(load_rubric(args.rubric).packages))
    return 0


def _add_packages(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rubric", type=Path, default=None, help="the rubric to read (default: rubric.toml)")


# verb -> (one-line help, add the verb's arguments, run it)
VERBS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {
    "release": ("generate the student skeleton (assignment/) from the reference solution", _add_release, _release),
    "grade": ("grade one submission and write OUT/results.json", _add_grade, _grade),
    "gradescope": ("build the autograder bundle (dist/autograder.zip) to upload to Gradescope", _add_gradescope,
                   _gradescope),
    "grade-all": ("grade a whole class (folder or LMS zip) in parallel into OUT/gradebook.csv", _add_grade_all,
                  _grade_all),
    "merge": ("merge the folders of `grade-all --shard K/N` into one class (gradebook, LMS files, summary)",
              _add_merge, _merge),
    "check": ("student self-check: run only the public tests on a notebook, through the sandbox", _add_check,
              _check),
    "merge-hand-grades": ("merge OUT/hand_grades.csv into the LMS files and each student's feedback",
                          _add_merge_hand_grades, _merge_hand_grades),
    "hand-grade": ("grade the hand-graded items in the browser (a local app; grades kept in SQLite)",
                   _add_hand_grade, _hand_grade),
    "rubric": ("the effective rubric as TOML that --rubric reads back (no secret)", _add_rubric, _rubric),
    "student-zip": ("build the student release: skeleton, public data and self-check", _add_student_zip,
                    _student_zip),
    "new-secret": ("write a new grading secret (256 bits) into rubric.toml; do it once a term", _add_new_secret,
                   _new_secret),
    "packages": ("print the packages submissions may import (the rubric's [packages] allowed), one a line",
                 _add_packages, _packages),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb, (help_text, add, run) in VERBS.items():
        sub = verbs.add_parser(verb, help=help_text, description=help_text)
        add(sub)
        sub.set_defaults(run=run)
    return parser


def require_project() -> None:
    """Refuse to run without the project's files, rather than grade every submission against data that is not there
    (a non-editable install run outside the project's folder)."""
    if not paths.PUBLIC_DATA.is_file():
        try:
            here = f"{Path.cwd()} and the folders above it"
        except OSError:  # the current folder was deleted
            here = "the current folder"
        where = (f"{paths.ROOT_VARIABLE}={paths.ROOT}" if os.environ.get(paths.ROOT_VARIABLE)
                 else f"{here}, or {paths.PACKAGE_PARENT}")
        raise ConfigError(f"no project folder found (looked for data/{paths.DATA_NAME} in {where}): run the grader "
                          f"from the project's folder (the one with rubric.toml and data/), or set "
                          f"{paths.ROOT_VARIABLE} to it")


def exit_now(code: int) -> NoReturn:
    """End the process once its output is flushed, without the interpreter's teardown: every verb has written
    and closed its files by the time it returns, and unloading matplotlib, scipy and pytest costs a grade time."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can reach the reader anyway
            pass
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a name or message the escaping missed still never crashes a print
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    try:
        require_project()
        return args.run(args)
    except GraderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
