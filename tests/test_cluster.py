"""Grading a class on many machines: `grade-all --shard K/N` + `merge`, and `grade-all --scheduler` on a real Dask
cluster (a `dask scheduler` and two `dask worker` processes on 127.0.0.1, each in its own working folder).

The class is small and real: the reference solution, single-bug variants (tests/variants.py), the untouched
skeleton, and a notebook that searches its sandbox for the grading secret. Every output is compared with what the
local pool writes for the same class, with the timings taken out.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader import paths
from grader.batch.shards import shard_of
from grader.bench.cluster import dask_cluster, kill
from tests.variants import VARIANTS, apply
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

SECRET = "3f1c9a7e5b2d4f6081a3c5e7f9b1d3e5a7c9e1f3b5d7f9a1c3e5b7d9f1a3c5e7"
RUBRIC = f"""
[thresholds]
attempts = 1
[limits]
cell_seconds = 60
notebook_seconds = 60
request_seconds = 30
[hidden]
secret = "{SECRET}"
size = 300
"""
OUTPUTS = ("gradebook.csv", "canvas_import.csv", "grades.csv", "gradebook_detail.csv", "hand_grades.csv",
           "summary.md")
RUN = 240  # seconds for one grade-all of this class, on a loaded machine

# Reads every file the sandbox shows it but the system's and packages' read-only trees (/usr, what links into it,
# /opt, site-packages), and every visible process's environment and command line, looking for the secret, which it
# rebuilds from its reversed text at run time. (The limits above are generous: the machine is shared.)
SNOOP = f'''
import os
want, hits, seen = "{SECRET[::-1]}"[::-1].encode(), [], 0
def look(path):
    global seen
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 20)
    except OSError:
        return
    seen += 1
    if want in data:
        hits.append(path)
for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    for part in ("environ", "cmdline"):
        look(f"/proc/{{pid}}/{{part}}")
for top in sorted(set(os.listdir("/")) - {{"proc", "sys", "dev", "usr", "opt"}}):
    if os.path.islink("/" + top):
        continue
    for root, dirs, files in os.walk("/" + top):
        dirs[:] = [d for d in dirs if d not in ("site-packages", "dist-packages")]
        for name in files:
            look(os.path.join(root, name))
look(os.path.expanduser("~/.bash_history"))
raise RuntimeError(f"snoop: read {{seen}} files; the secret was in {{len(hits)}}: {{hits[:3]}}")
'''


def grade_all(source: Path, out: Path, *extra: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "grader", "grade-all", str(source), "--out", str(out),
                           "--rubric", str(source.parent / "rubric.toml"), *extra],
                          capture_output=True, text=True, timeout=RUN, cwd=paths.ROOT)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


def merge(*folders: Path, out: Path, rubric: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", "merge", *map(str, folders), "--out", str(out),
                           "--rubric", str(rubric)], capture_output=True, text=True, timeout=RUN, cwd=paths.ROOT)


def assert_same_outputs(out: Path, expected: Path) -> None:
    """outputs() of both folders are equal; a failure names the files that differ (pytest's own diff of a whole
    class's pages takes minutes)."""
    got, want = outputs(out), outputs(expected)
    differ = sorted(k for k in got.keys() | want.keys() if got.get(k) != want.get(k))
    assert not differ, f"{out} and {expected} differ in {differ}"


def outputs(out: Path) -> dict[str, object]:
    """Everything a TA reads in OUT, without timings: the class files, each student's results.json (without
    execution_time) and pages, and the rows (without seconds)."""
    found: dict[str, object] = {name: (out / name).read_text(encoding="utf-8") for name in OUTPUTS}
    for folder in sorted(p for p in out.iterdir() if (p / "results.json").exists()):
        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
        results.pop("execution_time")
        found[f"{folder.name}/results.json"] = results
        for page in ("feedback.html", "feedback_ta.html"):
            found[f"{folder.name}/{page}"] = (folder / page).read_bytes()
    rows = [json.loads(line) for line in (out / ".batch" / "state.jsonl").read_text().splitlines()]
    found["rows"] = sorted(({**r, "seconds": 0} for r in rows), key=lambda r: r["student"])
    return found


def gradebook(out: Path) -> list[dict[str, str]]:
    with open(out / "gradebook.csv", newline="") as f:
        return list(csv.DictReader(f))


def alive_under(base: Path) -> list[str]:
    """Command lines of processes that name a path under `base`."""
    left = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(base) in cmdline and int(pid) != os.getpid():
            left.append(f"{pid}: {cmdline}")
    return left


def none_left_under(base: Path) -> None:
    """Wait for every process under `base` to go (a killed process takes a moment); fail naming any that stay."""
    wait_until(lambda: not alive_under(base), 60, lambda: f"these to end: {alive_under(base)}")


@pytest.fixture(scope="module")
def klass(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("class") / "submissions"
    folder.mkdir()
    (folder.parent / "rubric.toml").write_text(RUBRIC)
    solution = nbformat.read(paths.SOLUTION, as_version=4)
    shutil.copyfile(paths.SOLUTION, folder / "alice.ipynb")
    shutil.copyfile(paths.SKELETON, folder / "zed.ipynb")
    for variant in VARIANTS[:3]:
        nbformat.write(apply(variant, solution), folder / f"{variant.name}.ipynb")
    snoop = nbformat.from_dict(solution)
    snoop.cells.append(nbformat.v4.new_code_cell(SNOOP))
    nbformat.write(snoop, folder / "snoop.ipynb")
    return folder


@pytest.fixture(scope="module")
def local(klass, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("local") / "out"
    grade_all(klass, out, "--jobs", "2")
    return out


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    base = tmp_path_factory.mktemp("dask")
    with dask_cluster(base, 2) as running:
        yield running
    none_left_under(base)  # no process outlives its test


def test_the_cluster_writes_what_the_local_pool_writes_and_a_rerun_skips_every_row(klass, local, cluster,
                                                                                     tmp_path):
    out = tmp_path / "out"
    done = grade_all(klass, out, "--scheduler", cluster.address)
    assert "cluster tcp://127.0.0.1:" in done.stderr and "2 workers" in done.stderr
    assert done.stderr.count("[6/6]") == 1 and "graded 6/6" in done.stderr  # one progress count for the cluster
    assert_same_outputs(out, local)
    assert "the secret was in 0:" in (out / "snoop" / "results.json").read_text()
    statuses = {r["student"]: r["status"] for r in gradebook(out)}
    assert statuses == dict.fromkeys(["alice", "snoop", "softmax_ce_mean", "softmax_grad_sign", "softmax_unstable",
                                      "zed"], "graded")
    again = grade_all(klass, out, "--scheduler", cluster.address)
    assert "skipping 6 unchanged submissions" in again.stderr and "graded 0 now" in again.stdout
    for folder in cluster.folders:  # the task folders are gone; the rubric a worker keeps is its user's only
        scratch = list(folder.rglob("grade-*"))
        assert not scratch, scratch
        rubrics = list(folder.rglob("rubric.toml"))
        assert rubrics and all(p.stat().st_mode & 0o077 == 0 for p in rubrics)


def test_the_grading_secret_never_reaches_a_sandbox_on_the_cluster_or_locally(klass, local, tmp_path):
    """The scheduler's workers are checked in the test above (their outputs equal the local ones); this one runs
    the search on a LocalCluster (`--cluster local:1`), whose worker is a process of its own too."""
    out = tmp_path / "out"
    done = grade_all(klass, out, "--cluster", "local:1", "--only", "snoop")
    assert "cluster local:1: 1 worker, 1 thread" in done.stderr
    for results in (out / "snoop" / "results.json", local / "snoop" / "results.json"):
        text = results.read_text()
        assert "the secret was in 0:" in text and SECRET not in text
        seen = int(text.split("snoop: read ")[1].split(" files")[0])
        assert seen > 100  # it did look: every process's environment and command line, and the files it sees
    snoop = {r["student"]: r for r in gradebook(out)}["snoop"]
    assert snoop["status"] == "graded" and snoop["total"] == "100"  # the search is scratch work, costing nothing


@pytest.fixture(scope="module")
def shards(klass, tmp_path_factory) -> list[Path]:
    base = tmp_path_factory.mktemp("shards")
    folders = [base / "s1", base / "s2"]
    for k, folder in enumerate(folders, 1):
        grade_all(klass, folder, "--shard", f"{k}/2", "--jobs", "2")
    return folders


def test_shards_merged_equal_one_run_and_each_shard_grades_only_its_students(klass, local, shards, tmp_path):
    for k, folder in enumerate(shards, 1):
        mine = {r["student"] for r in gradebook(folder)}
        assert mine == {p.stem for p in klass.iterdir() if shard_of(p.stem, 2) == k}
        assert "Shard %d/2 of the class" % k in (folder / "summary.md").read_text()
    assert {r["student"] for f in shards for r in gradebook(f)} == {p.stem for p in klass.iterdir()}
    done = merge(*shards, out=tmp_path / "merged", rubric=klass.parent / "rubric.toml")
    assert done.returncode == 0, done.stderr
    assert_same_outputs(tmp_path / "merged", local)
    assert sorted(p.name for p in (tmp_path / "merged" / "similarity").iterdir()) == \
        sorted(p.name for p in (local / "similarity").iterdir())


def refused(done: subprocess.CompletedProcess, out: Path) -> str:
    assert done.returncode == 2 and not out.exists(), done.stdout + done.stderr
    return done.stderr


def test_merge_refuses_a_missing_shard_other_rubrics_and_versions_and_clashing_overlaps(klass, shards, tmp_path):
    rubric = klass.parent / "rubric.toml"
    out = tmp_path / "merged"
    assert "shard 2/2 missing" in refused(merge(shards[0], out=out, rubric=rubric), out)
    other = tmp_path / "other.toml"
    other.write_text(RUBRIC.replace("attempts = 1", "attempts = 2"))
    assert "different rubric" in refused(merge(*shards, out=out, rubric=other), out)
    older = tmp_path / "older"
    shutil.copytree(shards[1], older)
    manifest = older / ".batch" / "shard.json"
    manifest.write_text(manifest.read_text().replace('"grader": "', '"grader": "0.0.1+'))
    assert "graded by grader 0.0.1+" in refused(merge(shards[0], older, out=out, rubric=rubric), out)
    other_class = tmp_path / "other-class"
    shutil.copytree(shards[1], other_class)
    manifest = other_class / ".batch" / "shard.json"
    data = json.loads(manifest.read_text())
    data["students"].append("mallory")
    manifest.write_text(json.dumps(data))
    assert "different class downloads" in refused(merge(shards[0], other_class, out=out, rubric=rubric), out)
    unfinished = tmp_path / "unfinished"
    shutil.copytree(shards[1], unfinished)
    state = unfinished / ".batch" / "state.jsonl"
    lines = state.read_text().splitlines()
    state.write_text("\n".join(lines[1:]) + "\n")
    message = refused(merge(shards[0], unfinished, out=out, rubric=rubric), out)
    assert "shard 2/2" in message and "unfinished" in message and json.loads(lines[0])["student"] in message
    deadline = tmp_path / "deadline"  # graded with a --timeout the other shard was not
    shutil.copytree(shards[1], deadline)
    manifest = deadline / ".batch" / "shard.json"
    data = json.loads(manifest.read_text())
    data["key_suffix"] += ":deadline=30.0"
    manifest.write_text(json.dumps(data))
    assert "different --timeout deadlines" in refused(merge(shards[0], deadline, out=out, rubric=rubric), out)
    # the same shard twice, alike, is fine; one whose row says another score is not
    twin = tmp_path / "twin"
    shutil.copytree(shards[0], twin)
    done = merge(shards[0], twin, shards[1], out=tmp_path / "twice", rubric=rubric)
    assert done.returncode == 0 and len(gradebook(tmp_path / "twice")) == 6, done.stderr
    state = twin / ".batch" / "state.jsonl"
    rows = [json.loads(line) for line in state.read_text().splitlines()]
    rows[0]["score"] += 1
    state.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert f"{rows[0]['student']} was graded differently" in refused(merge(shards[0], twin, shards[1], out=out,
                                                                           rubric=rubric), out)


def test_a_worker_killed_mid_batch_loses_no_row_and_duplicates_none(klass, local, tmp_path):
    source = tmp_path / "class"
    source.mkdir()
    shutil.copyfile(klass.parent / "rubric.toml", tmp_path / "rubric.toml")
    for i in range(6):
        shutil.copyfile(klass / ("alice.ipynb" if i % 2 else "softmax_unstable.ipynb"), source / f"s{i}.ipynb")
    out = tmp_path / "out"
    with dask_cluster(tmp_path / "dask", 2) as running:
        batch = subprocess.Popen([sys.executable, "-m", "grader", "grade-all", str(source), "--out", str(out),
                                  "--rubric", str(tmp_path / "rubric.toml"), "--scheduler", running.address],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=paths.ROOT)
        try:
            wait_until(lambda: batch.poll() is not None or list(running.folders[1].rglob("grade-*/grading.log")),
                       RUN, "worker 2 to start a grading")
            assert batch.poll() is None, "the batch ended before worker 2 started a grading"
            kill(running.workers[1])  # mid-grading: its task folder exists, its row is not back yet
            stdout, stderr = batch.communicate(timeout=RUN)
        finally:
            if batch.poll() is None:
                batch.kill()
                batch.wait()
    assert batch.returncode == 0, stderr[-3000:]
    rows = gradebook(out)
    assert sorted(r["student"] for r in rows) == [f"s{i}" for i in range(6)]
    assert {r["status"] for r in rows} == {"graded"}
    totals = {r["student"]: r["total"] for r in gradebook(local)}
    assert {r["student"]: r["total"] for r in rows} == {f"s{i}": totals["alice" if i % 2 else "softmax_unstable"]
                                                        for i in range(6)}
    state = [json.loads(line)["student"] for line in (out / ".batch" / "state.jsonl").read_text().splitlines()]
    assert sorted(state) == [f"s{i}" for i in range(6)]  # each row written once
    none_left_under(tmp_path / "dask")


# a worker whose host allows no user namespaces: inside its own user namespace, with no room for another
NO_USERNS = ("unshare", "--user", "--map-root-user", "sh", "-c",
             'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"', "sh")


@pytest.mark.usefixtures("needs_user_namespaces")
def test_a_worker_without_user_namespaces_refuses_unless_sandbox_none_is_explicit(klass, tmp_path):
    source = tmp_path / "class"
    source.mkdir()
    shutil.copyfile(klass.parent / "rubric.toml", tmp_path / "rubric.toml")
    shutil.copyfile(klass / "alice.ipynb", source / "alice.ipynb")
    with dask_cluster(tmp_path / "dask", 1, prefix=NO_USERNS) as running:
        for mode in ("auto", "bwrap"):
            done = grade_all(source, tmp_path / mode, "--scheduler", running.address, "--sandbox", mode,
                             check=False)
            assert done.returncode == 2, done.stderr[-2000:]
            assert "cannot sandbox submissions" in done.stderr and "--sandbox none" in done.stderr
            assert "user namespaces" in done.stderr and not (tmp_path / mode / "alice").exists()
        done = grade_all(source, tmp_path / "none", "--scheduler", running.address, "--sandbox", "none")
    assert gradebook(tmp_path / "none")[0]["total"] == "100"
    results = json.loads((tmp_path / "none" / "alice" / "results.json").read_text())
    assert results["extra_data"]["sandbox"] == "none"
