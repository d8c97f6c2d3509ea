"""Similar code across a class, for a human to look at: exact duplicates first, then pairs whose code overlaps.

Each submission's code cells are fingerprinted by winnowing (copydetect), with the skeleton's own code removed as
boilerplate, so the code every student was given does not count. A pair is listed when the share of either one's
code found in the other reaches the rubric's threshold. Each listed pair gets a side-by-side page of the matching
regions (templates/similarity.html.j2, all code in it escaped). A listed pair is a reason to look, never a verdict:
shared hints, a tutor or a common source explain many.
"""

from __future__ import annotations

import hashlib
import io
import itertools
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.errors import ConfigError

DEFAULT_THRESHOLD = 0.6
NOISE_TOKENS = 25  # shortest match that counts, in filtered tokens (copydetect's default)
GUARANTEE_TOKENS = 30  # every match this long is found
MIN_OWN_TOKENS = 100  # less code of one's own than this (say, the untouched skeleton) is not compared
FOLDER = "similarity"
CSP = "default-src 'none'; style-src 'unsafe-inline'"


def parse_threshold(table: dict, source: str = "rubric.toml") -> float:
    """[similarity] threshold: the share of code in common from which a pair is listed (0 to 1; 1 lists none)."""
    for key in table:
        if key != "threshold":
            raise ConfigError(f"{source}: [similarity] {key}: unknown key; expected: threshold")
    value = table.get("threshold", DEFAULT_THRESHOLD)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ConfigError(f"{source}: [similarity] threshold: expected a share above 0 and at most 1, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Pair:
    """Two students whose code overlaps: the share of each one's code found in the other, and the page."""

    a: str
    b: str
    share_a: float
    share_b: float
    page: str

    @property
    def share(self) -> float:
        return max(self.share_a, self.share_b)


@dataclass(frozen=True)
class Similarity:
    duplicates: tuple[tuple[str, ...], ...]
    pairs: tuple[Pair, ...]
    threshold: float
    not_compared: tuple[str, ...] = ()


def code_of(path: Path) -> str | None:
    """The code cells of a submission, joined; None when it cannot be read."""
    from grader.errors import SubmissionError
    from grader.notebook.extract import read_submission

    try:
        return "\n\n".join(c.source for c in read_submission(path).cells)
    except SubmissionError:
        return None


def stable_hash(text: str) -> int:
    """A k-gram's hash that is the same in every process: copydetect's built-in hash() of a str changes with
    PYTHONHASHSEED, which made the shares differ from run to run (and between shards and a whole run)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big",
                          signed=True)


def _fingerprint(code: str, boilerplate: Any = None) -> Any:
    import copydetect.utils  # noqa: PLC0415 - loaded only after a batch
    from copydetect import CodeFingerprint  # noqa: PLC0415

    copydetect.utils.hash = stable_hash  # the module's global shadows the builtin it calls
    return CodeFingerprint("submission.py", NOISE_TOKENS, GUARANTEE_TOKENS - NOISE_TOKENS + 1,
                           boilerplate=boilerplate, fp=io.StringIO(code))


def duplicates(hashes: dict[str, str]) -> tuple[tuple[str, ...], ...]:
    """Groups of students who sent byte-identical files (same sha256)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for student, sha in sorted(hashes.items()):
        if sha:
            groups[sha].append(student)
    return tuple(sorted(tuple(g) for g in groups.values() if len(g) > 1))


def compare_class(files: dict[str, Path], hashes: dict[str, str], skeleton: Path, threshold: float,
                  out: Path) -> Similarity:
    """Compare every pair of students' code; write a side-by-side page per listed pair under out/similarity/."""
    import shutil

    import numpy as np
    from copydetect import compare_files

    shutil.rmtree(out / FOLDER, ignore_errors=True)  # pages of an earlier run would list pairs no longer found
    skeleton_code = code_of(skeleton) or ""
    boilerplate = np.array(sorted(_fingerprint(skeleton_code).hashes)) if skeleton_code else None
    prints, skipped = {}, []
    for student, path in sorted(files.items()):
        code = code_of(path)
        fp = _fingerprint(code, boilerplate) if code else None
        if fp is None or fp.token_coverage < MIN_OWN_TOKENS:
            skipped.append(student)
        else:
            prints[student] = fp
    dups = duplicates(hashes)
    same = {frozenset(p) for g in dups for p in itertools.combinations(g, 2)}
    pairs = []
    for a, b in itertools.combinations(sorted(prints), 2):
        fa, fb = prints[a], prints[b]
        if frozenset((a, b)) in same or len(fa.hashes & fb.hashes) < threshold * min(len(fa.hashes), len(fb.hashes)):
            continue  # exact duplicates are listed already; too few shared fingerprints cannot reach the threshold
        _, (share_a, share_b), slices = compare_files(fa, fb)
        if max(share_a, share_b) >= threshold:
            page = f"{FOLDER}/{a}--{b}.html"
            _write_page(out / page, (a, fa.raw_code, slices[0], share_a), (b, fb.raw_code, slices[1], share_b))
            pairs.append(Pair(a, b, float(share_a), float(share_b), page))
    pairs.sort(key=lambda p: (-p.share, p.a, p.b))
    return Similarity(dups, tuple(pairs), threshold, tuple(skipped))


def _marked(code: str, slices: Any) -> list[tuple[str, bool]]:
    """The code in parts, each with whether it is a region found in both (the template marks those)."""
    parts, last = [], 0
    for start, end in sorted(zip(slices[0].tolist(), slices[1].tolist())) if len(slices) and len(slices[0]) else ():
        start = max(start, last)
        parts += [(code[last:start], False), (code[start:end], True)]
        last = max(last, end)
    parts.append((code[last:], False))
    return parts


def _write_page(path: Path, left: tuple, right: tuple) -> None:
    from grader.files import write_text  # noqa: PLC0415
    from grader.templating import render  # noqa: PLC0415

    columns = [{"name": name, "share": f"{share:.0%}", "parts": _marked(code, slices)}
               for name, code, slices, share in (left, right)]
    write_text(path, render(__file__, "similarity.html.j2", csp=CSP, a=left[0], b=right[0], columns=columns))


def summary_lines(result: Similarity) -> list[str]:
    """The summary.md section: exact duplicates first, then the similar pairs with links to their pages."""
    lines = ["", "## Similar submissions (for a person to review)", "",
             "These pairs are flagged for a human to look at. They are not a verdict: shared hints, a study group or a "
             "common source can explain them. The skeleton's code is not counted.", ""]
    if result.duplicates:
        lines += ["### Identical files (same sha256)", ""]
        lines += [f"- {', '.join(group)}" for group in result.duplicates] + [""]
    lines += [f"### Code in common at or above {result.threshold:.0%}", ""]
    if not result.pairs:
        lines.append("No pair reaches the threshold.")
    lines += [f"- [{p.a} and {p.b}]({p.page}): {p.share_a:.0%} of {p.a}'s code and {p.share_b:.0%} of {p.b}'s"
              for p in result.pairs]
    if result.not_compared:
        lines += ["", f"Not compared (unreadable, or too little code of their own): {', '.join(result.not_compared)}"]
    return lines
