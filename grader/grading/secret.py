"""The grading secret: at least 128 bits, kept in rubric.toml on the instructor's side only.

Real grading draws every test's inputs from the secret and the submission's own content hash, so inputs recorded
from one submission are no use in another while the same file grades identically twice. The hidden test set's seed
and the secret transform of the accuracy area's data derive from it too. Nothing here prints or logs the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from pathlib import Path

from grader.files import write_text


SECRET_BYTES = 32  # `new-secret` writes 256 bits
MIN_SECRET_BYTES = 16  # the contract's floor: 128 bits
_SECRET_LINE = re.compile(r"^\s*(secret|seed)\s*=.*$")


def new_secret() -> str:
    """A fresh secret from the operating system's generator, as hex."""
    return secrets.token_hex(SECRET_BYTES)


def check_secret(value: object) -> str | None:
    """The problem with a secret as read from the rubric, or None when it is a hex string of at least 128 bits."""
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-fA-F]+", value) or len(value) % 2:
        return "expected a hex string; run `python -m grader new-secret` to write one"
    if len(value) < 2 * MIN_SECRET_BYTES:
        return (f"expected at least {MIN_SECRET_BYTES * 8} bits ({2 * MIN_SECRET_BYTES} hex digits), got "
                f"{len(value) * 4}; run `python -m grader new-secret` to write a new one")
    return None


def derive(secret: str, purpose: str, *parts: str) -> int:
    """A 256-bit number for one purpose, from the secret by HMAC-SHA256 (parts: e.g. the submission's hash)."""
    message = "\0".join((purpose, *parts)).encode()
    return int.from_bytes(hmac.new(bytes.fromhex(secret), message, hashlib.sha256).digest(), "big")


def input_salt(secret: str, submission_sha256: str) -> int:
    """What every test's inputs are drawn with in real grading: the secret and this file's content hash."""
    return derive(secret, "test inputs", submission_sha256)


def hidden_seed(secret: str) -> int:
    """The hidden test set's seed: the same for every submission of the term."""
    return derive(secret, "hidden test set")


def write_secret(rubric_path: Path, secret: str | None = None) -> None:
    """Put a new secret into the rubric's [hidden] table, in place of the old secret (or a legacy seed)."""
    lines = rubric_path.read_text(encoding="utf-8").splitlines() if rubric_path.exists() else []
    line = f'secret = "{secret or new_secret()}"'
    table = next((i for i, text in enumerate(lines) if text.strip() == "[hidden]"), None)
    if table is None:
        lines += ["", "[hidden]", line]
    else:
        end = next((i for i in range(table + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
        old = [i for i in range(table + 1, end) if _SECRET_LINE.match(lines[i])]
        for i in reversed(old):
            del lines[i]
        lines.insert(old[0] if old else table + 1, line)
    write_text(rubric_path, "\n".join(lines) + "\n")
