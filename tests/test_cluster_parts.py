"""The parts of cluster grading that need no cluster: the shard split, the addresses accepted, and reading a
worker's tar of a student's folder safely."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile

import pytest

from grader.batch import cluster
from grader.batch.remote import pack
from grader.batch.shards import parse_shard, shard_of
from grader.errors import ConfigError

NAMES = [f"student{i:04d}" for i in range(1000)]


def test_the_split_is_the_same_in_every_process_and_roughly_even():
    here = [shard_of(name, 4) for name in NAMES]
    code = ("from grader.batch.shards import shard_of\n"
            "print(*[shard_of(f'student{i:04d}', 4) for i in range(1000)])")
    for seed in ("1", "2"):
        there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                               env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}).stdout.split()
        assert [int(k) for k in there] == here
    counts = [here.count(k) for k in (1, 2, 3, 4)]
    assert set(here) == {1, 2, 3, 4} and all(200 <= c <= 300 for c in counts), counts
    assert all(shard_of(name, 1) == 1 for name in NAMES[:20])


@pytest.mark.parametrize("text", ["0/3", "4/3", "2", "a/b", "1/0", "-1/2", "2/3/4"])
def test_a_bad_shard_is_refused_saying_what_is_expected(text):
    with pytest.raises(ConfigError, match="K/N"):
        parse_shard(text)


def test_shard_text_is_parsed():
    assert (parse_shard("2/8").k, parse_shard(" 2 / 8 ").n) == (2, 8)


@pytest.mark.parametrize("text", ["tcp://head:8786", "tls://head:8786", "local:2"])
def test_scheduler_addresses_are_accepted(text):
    assert cluster.check_address(text) == text


@pytest.mark.parametrize("text", ["head:8786", "local:0", "local:x", "http://head:8787"])
def test_other_addresses_are_refused(text):
    with pytest.raises(ConfigError, match="scheduler address"):
        cluster.check_address(text)


def tar_of(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buf.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def test_a_packed_folder_comes_back_whole_and_replaces_what_was_there(tmp_path):
    source = tmp_path / "worker"
    source.mkdir()
    (source / "results.json").write_text('{"score": 3}')
    (source / "feedback.html").write_bytes(b"<p>\xe2\x9c\x93</p>")
    folder = tmp_path / "client" / "alice"
    folder.mkdir(parents=True)
    (folder / "feedback_ta.html").write_text("an old page the worker did not write again")
    cluster.unpack(pack(source), folder)
    assert sorted(p.name for p in folder.iterdir()) == ["feedback.html", "results.json"]
    assert (folder / "feedback.html").read_bytes() == b"<p>\xe2\x9c\x93</p>"


@pytest.mark.parametrize("bad", [
    (member("../escape.txt"), b"x"),
    (member("/tmp/absolute.txt"), b"x"),
    (member("sub/dir.txt"), b"x"),
    (member("link", tarfile.SYMTYPE, "/etc/passwd"), b""),
    (member("hard", tarfile.LNKTYPE, "results.json"), b""),
    (member("fifo", tarfile.FIFOTYPE), b""),
])
def test_an_entry_that_is_not_a_plain_file_of_the_folder_is_refused_and_nothing_is_written(tmp_path, bad):
    folder = tmp_path / "alice"
    blob = tar_of((member("results.json"), b"{}"), bad)
    with pytest.raises(cluster.ClusterError, match="unexpected entry"):
        cluster.unpack(blob, folder)
    assert not folder.exists() and not (tmp_path / "escape.txt").exists()


def test_a_folder_over_the_size_cap_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "MAX_FOLDER_BYTES", 1000)
    with pytest.raises(cluster.ClusterError, match="MiB"):
        cluster.unpack(tar_of((member("a.html"), b"x" * 600), (member("b.html"), b"y" * 600)), tmp_path / "alice")
    assert not (tmp_path / "alice").exists()


def test_a_worker_answer_becomes_the_row_file_the_folder_and_the_log(tmp_path):
    from grader.batch.grade_all import _Pending
    from grader.batch.inputs import StudentFile

    source = tmp_path / "worker"
    source.mkdir()
    (source / "results.json").write_text("{}")
    p = _Pending(StudentFile("alice", tmp_path / "alice.ipynb", "alice.ipynb", 0.0), "ab" * 32, "key",
                 tmp_path / "out" / "alice", tmp_path / "out" / ".batch" / "rows" / "alice.json")
    log = tmp_path / "out" / ".batch" / "logs" / "alice.log"
    done = cluster.receive(p, {"row": '{"student": "alice"}', "files": pack(source), "log": "graded\n",
                               "exit_code": 0, "timed_out": False, "seconds": 2.5}, log)
    assert (done.exit_code, done.timed_out, done.seconds, done.job.name) == (0, False, 2.5, "alice")
    assert p.row.read_text() == '{"student": "alice"}' and log.read_text() == "graded\n"
    assert (p.out_dir / "results.json").read_text() == "{}"


@pytest.mark.slow
def test_similarity_shares_are_the_same_in_every_process(tmp_path):
    """A shard's merge compares the class in another process than a whole run would: the shares must not depend
    on the interpreter's string-hash seed."""
    import nbformat

    from grader import paths
    from tests.variants import VARIANTS, apply

    solution = nbformat.read(paths.SOLUTION, as_version=4)
    for variant in VARIANTS[:2]:
        nbformat.write(apply(variant, solution), tmp_path / f"{variant.name}.ipynb")
    code = ("import sys, tempfile\nfrom pathlib import Path\nfrom grader.course.similarity import compare_class\n"
            "from grader.grading import assignment\n"
            "files = {p.stem: p for p in Path(sys.argv[1]).glob('*.ipynb')}\n"
            "found = compare_class(files, {}, assignment.load('backprop').SKELETON, 0.1, Path(tempfile.mkdtemp()))\n"
            "print([(p.a, p.b, p.share_a, p.share_b) for p in found.pairs])")
    shares = {subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True,
                             env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}).stdout for seed in ("1", "2")}
    assert len(shares) == 1 and "(" in shares.pop()
