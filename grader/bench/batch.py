"""Figures for `make bench`: a class mix graded with JOBS=1 and JOBS=2 (throughput and speed-up), and the batch
parent's peak memory.

Every batch runs in a fresh process (`python -m grader.bench.batch parent ...`), so its peak RSS is its own. All
grading is real. The class mix is the reference solution, the released skeleton (what a student who has not started
hands in) and single-bug variants of the solution (tests/variants.py). A LoadWatch runs for each whole batch, so a
figure that other processes disturbed says so; the folder of a batch with a failed row is kept, not deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from grader import paths
from grader.bench.load import LoadWatch

MIX_SIZE = 30
MEMORY_SIZES = (30, 200)
SPEEDUP_TARGET = 1.9
RATE_TARGET = 60.0  # notebooks per minute on 2 cores with JOBS=2
MEMORY_TOLERANCE = 0.10


def make_class(folder: Path, copies: int, source: Path = paths.SOLUTION) -> Path:
    """`copies` students, each with a copy of `source` (the reference solution by default)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(copies):
        shutil.copyfile(source, folder / f"student{i:04d}.ipynb")
    return folder


def make_mix(folder: Path, size: int) -> Path:
    """A class of `size`: a third reference solutions, a sixth untouched skeletons, the rest single-bug variants."""
    import nbformat

    if str(paths.ROOT) not in sys.path:
        sys.path.insert(0, str(paths.ROOT))
    from tests.variants import VARIANTS, apply  # the single-bug notebooks the tests grade, from the checkout

    folder.mkdir(parents=True, exist_ok=True)
    solution = nbformat.read(paths.SOLUTION, as_version=4)
    bugs = iter(VARIANTS * (size // len(VARIANTS) + 1))
    for i in range(size):
        path = folder / f"student{i:04d}.ipynb"
        if i % 6 in (0, 3):
            shutil.copyfile(paths.SOLUTION, path)
        elif i % 6 == 1:
            shutil.copyfile(paths.SKELETON, path)
        else:
            nbformat.write(apply(next(bugs), solution), path)
    return folder


# Every cell in turn in one namespace, errors skipped: what the sandbox runs, without the grader or the sandbox.
_PLAIN_RUNNER = """import json, sys
ns = {"__name__": "__main__"}
for source in json.load(open(sys.argv[1], encoding="utf-8")):
    try:
        exec(compile(source, "<cell>", "exec"), ns)
    except BaseException:
        pass
"""


def plain_cpu(folder: Path, work: Path) -> float:
    """CPU seconds per notebook of running the class's own code plainly with python: each distinct notebook once,
    weighted by how many students handed it in. The most a batch could reach is the cores' seconds over this."""
    from grader.notebook.extract import read_submission

    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(paths.PUBLIC_DATA, work / paths.DATA_NAME)
    (work / "run_cells.py").write_text(_PLAIN_RUNNER, encoding="utf-8")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    copies: dict[str, int] = {}
    for path in sorted(folder.iterdir()):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest not in copies:
            cells = work / f"{digest[:16]}.json"
            cells.write_text(json.dumps([c.source for c in read_submission(path).cells]), encoding="utf-8")
        copies[digest] = copies.get(digest, 0) + 1
    costs = {}
    for digest in copies:
        watch = LoadWatch()
        with watch:
            subprocess.run([sys.executable, "run_cells.py", f"{digest[:16]}.json"], cwd=work, env=env, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        costs[digest] = watch.usage.cpu
    return sum(costs[d] * n for d, n in copies.items()) / sum(copies.values())


def run_parent(folder: Path, out: Path, jobs: int) -> dict:
    """One batch in a fresh process, watched; returns its .batch/run.json plus the watch's `usage`."""
    cmd = [sys.executable, "-m", "grader.bench.batch", "parent", str(folder), str(out), str(jobs)]
    watch = LoadWatch()
    with watch:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return {**json.loads((out / ".batch" / "run.json").read_text()), "usage": watch.usage}


def _failed(result: dict) -> int:
    return sum(n for status, n in result["statuses"].items() if status != "graded")


def _batch_line(label: str, result: dict) -> str:
    usage, students = result["usage"], sum(result["statuses"].values())
    line = (f"  {label}: {result['seconds']:.1f} s, {60 * students / result['seconds']:.1f} notebooks/minute, "
            f"statuses {result['statuses']}; {usage.cpu / students:.2f} CPU-s per notebook, "
            f"{usage.cpu / usage.wall:.2f} cores busy")
    return line + (f"\n    {usage.note()}" if usage.note() else "")


def report_lines(one: dict, two: dict, big: dict, kept: Path | None, plain: float = 0.0) -> list[str]:
    ratio = one["seconds"] / two["seconds"] if two["seconds"] else 0.0
    rate = 60 * sum(two["statuses"].values()) / two["seconds"] if two["seconds"] else 0.0
    small, large = (r["parent_peak_rss_kib"] / 1024 for r in (two, big))
    cores = os.cpu_count() or 1
    ceiling = 60 * cores / plain if plain else 0.0  # notebooks a minute if grading cost nothing
    growth = (large - small) / small if small else 0.0
    lines = [
        f"batch: a class mix of {MIX_SIZE} (reference, skeleton and single-bug notebooks) on {os.cpu_count()} cores",
        _batch_line("JOBS=1", one),
        _batch_line("JOBS=2", two),
        f"  class mix at JOBS=2: {rate:.1f} notebooks/minute (target >= {RATE_TARGET:.0f} on 2 cores, "
        f"{'ok' if rate >= RATE_TARGET else 'BELOW'})",
        *([f"  the same notebooks run plainly with python (every cell, errors skipped): {plain:.2f} CPU-s per "
           f"notebook, so {cores} cores could run at most {ceiling:.1f} a minute with no grading at all; grading "
           f"reaches {rate / ceiling:.0%} of that"] if plain else []),
        f"  speed-up JOBS=2 over JOBS=1: {ratio:.2f}x (target >= {SPEEDUP_TARGET}x, "
        f"{'ok' if ratio >= SPEEDUP_TARGET else 'BELOW'})",
        _batch_line(f"{MEMORY_SIZES[1]} copies of the reference solution, JOBS=2", big),
        f"  parent peak memory: {MEMORY_SIZES[0]} submissions {small:.1f} MiB, {MEMORY_SIZES[1]} submissions "
        f"{large:.1f} MiB ({growth:+.1%}; {'ok' if abs(growth) <= MEMORY_TOLERANCE else 'ABOVE'} target "
        f"{MEMORY_TOLERANCE:.0%})",
    ]
    if any(r["usage"].contaminated for r in (one, two, big)):
        lines.append("  some figures above are CONTAMINATED by other processes: rerun on a quiet machine")
    if kept:
        lines.append(f"  rows failed: their folders are kept in {kept} (see .batch/logs/ in each out folder)")
    return lines


def bench() -> list[str]:
    """Run the batch benchmark; returns the lines to print. The work folder is removed unless a row failed."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    mix = make_mix(tmp / "mix", MIX_SIZE)
    one = run_parent(mix, tmp / "out1", 1)
    two = run_parent(mix, tmp / "out2", 2)
    plain = plain_cpu(mix, tmp / "plain")
    large = MEMORY_SIZES[1]
    big = run_parent(make_class(tmp / f"class{large}", large), tmp / f"out{large}", 2)
    failed = any(_failed(r) for r in (one, two, big))
    if not failed:
        shutil.rmtree(tmp, ignore_errors=True)
    return report_lines(one, two, big, tmp if failed else None, plain)


def main(argv: list[str] | None = None) -> int:
    """`parent FOLDER OUT JOBS` runs one batch (for run_parent); no arguments runs the whole benchmark."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["parent"]:
        from grader.batch.grade_all import BatchOptions, grade_class

        grade_class(BatchOptions(Path(argv[1]), Path(argv[2]), jobs=int(argv[3])), tty=False)
        return 0
    print("\n".join(bench()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
