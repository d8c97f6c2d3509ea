"""The data-only channel between the grader and the sandboxed worker (both sides import this module).

A frame is `u64 body length | body`, and a body is `u32 JSON length | JSON | (u64 length | .npy bytes)*`.
Values are JSON with three tagged objects: {"t": [...]} a tuple, {"d": [[key, value], ...]} a dict and
{"a": n} the n-th array. Arrays travel as .npy bytes read with allow_pickle=False, so nothing is ever unpickled.
This module needs only the standard library and numpy: it is bound into the sandbox next to worker.py.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import select
import struct
import time
from collections.abc import Sequence
from enum import Enum
from typing import Any

import numpy as np

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # the largest legitimate reply (a few arrays of a training set) is far smaller
MAX_JSON_BYTES = 2 * 1024 * 1024  # structure only: arrays travel as blobs, so a reply's JSON stays small
MAX_DEPTH = 64
class Word(str, Enum):
    """A member is its own wire string: json, f-strings and == "text" all see the plain value (Python 3.10 too)."""

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, spec: str) -> str:
        return str.__format__(self, spec)


class Op(Word):
    """What a frame asks for or is: the grader's requests, and the worker's ready, callback and answer frames."""

    CELL = "cell"
    CALL = "call"
    NEW = "new"
    GET = "get"
    SET = "set"
    SPY = "spy"
    SPIED = "spied"
    GRADER_METHOD = "grader_method"
    DEFINED = "defined"
    SEED = "seed"
    PING = "ping"
    STOP = "stop"
    READY = "ready"
    CALLBACK = "callback"
    ANSWER = "answer"


class Kind(Word):
    """Why a request failed, as the worker says in its reply's "kind"."""

    RAISED = "raised"  # the student's code raised (or called sys.exit)
    TIMEOUT = "timeout"  # it ran past the request's time limit
    MISSING = "missing"  # no such name, handle, method or class
    UNSENDABLE = "unsendable"  # the result is not plain data
    TOO_LARGE = "too_large"  # the reply is over the frame limit
    INTERNAL = "internal"  # a malformed request or a bug in the worker


ARRAY_KINDS = frozenset("biufc")  # bool, signed, unsigned, float, complex
_FRAME = struct.Struct("<Q")
_JSON = struct.Struct("<I")
_NPY_MAGIC = b"\x93NUMPY"
_MAX_HEADER = 10 + 10000  # numpy's default limit on a .npy header
_SCALARS = (str, int, float, type(None))


class ChannelError(Exception):
    """The peer closed the channel, sent a malformed frame, or did not answer in time."""

    def __init__(self, message: str, *, reason: str = "malformed") -> None:
        super().__init__(message)
        self.reason = reason  # "eof", "timeout", "too_large" or "malformed"


class NotPlainData(Exception):
    """A value holds something other than arrays, numbers, bools, strings, None, lists, tuples and dicts."""

    def __init__(self, type_name: str, where: str) -> None:
        super().__init__(f"{where} is an object of type {type_name}")
        self.type_name = type_name
        self.where = where


# ---- values -------------------------------------------------------------------------------------------------


def encode_value(value: Any, blobs: list[bytes], where: str = "the value", depth: int = 0) -> Any:
    """A JSON-able tree for `value`; arrays are appended to `blobs` as .npy bytes. Raises NotPlainData."""
    if depth > MAX_DEPTH:
        raise NotPlainData("(nested too deeply)", where)
    if value is None or type(value) in (bool, str):
        return value
    if type(value) in (int, float):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in ARRAY_KINDS:
        if value.dtype.kind == "c":  # JSON has no complex numbers: send it as a 0-d array
            return {"a": _encode_array(np.asarray(value), blobs, where)}
        return value.item()  # a numpy scalar comes back as a Python number
    if isinstance(value, np.ndarray):
        return {"a": _encode_array(value, blobs, where)}
    if type(value) in (list, tuple):
        items = [encode_value(v, blobs, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
        return items if type(value) is list else {"t": items}
    if type(value) is dict:
        return {"d": [[encode_value(k, blobs, f"a key of {where}", depth + 1),
                       encode_value(v, blobs, f"{where}[{k!r}]", depth + 1)] for k, v in value.items()]}
    for plain in (bool, int, float, str):  # a subclass such as IntEnum travels as its plain value
        if isinstance(value, plain):
            return plain(value)
    raise NotPlainData(type(value).__name__, where)


def is_plain(value: Any, depth: int = 0) -> bool:
    """Whether encode_value would accept value, without copying any array."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, np.ndarray):
        return value.dtype.kind in ARRAY_KINDS and value.dtype.fields is None
    if type(value) in (list, tuple):
        return all(is_plain(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(is_plain(k, depth + 1) and is_plain(v, depth + 1) for k, v in value.items())
    return value is None or isinstance(value, (bool, int, float, str)) or (
        isinstance(value, np.generic) and value.dtype.kind in ARRAY_KINDS)


def _encode_array(value: np.ndarray, blobs: list[bytes], where: str) -> int:
    arr = np.asarray(value)
    if arr.dtype.kind not in ARRAY_KINDS or arr.dtype.fields is not None:
        raise NotPlainData(f"ndarray of dtype {arr.dtype}", where)
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    blobs.append(buf.getvalue())
    return len(blobs) - 1


def decode_value(tree: Any, blobs: list[bytes], depth: int = 0) -> Any:
    """The value a tree stands for. Validates every node; raises ChannelError on anything unexpected."""
    if depth > MAX_DEPTH:
        raise ChannelError("the value is nested too deeply")
    if type(tree) in (bool, *_SCALARS):
        return tree
    if type(tree) is list:
        return [decode_value(v, blobs, depth + 1) for v in tree]
    if type(tree) is not dict or len(tree) != 1:
        raise ChannelError(f"unexpected node of type {type(tree).__name__}")
    (tag, body), = tree.items()
    if tag == "t" and type(body) is list:
        return tuple(decode_value(v, blobs, depth + 1) for v in body)
    if tag == "d" and type(body) is list:
        return _decode_dict(body, blobs, depth)
    if tag == "a" and type(body) is int and 0 <= body < len(blobs):
        return decode_array(blobs[body])
    raise ChannelError(f"unexpected tagged node {tag!r}")


def _decode_dict(pairs: list[Any], blobs: list[bytes], depth: int) -> dict[Any, Any]:
    out = {}
    for pair in pairs:
        if type(pair) is not list or len(pair) != 2:
            raise ChannelError("a dict entry is not a [key, value] pair")
        key = decode_value(pair[0], blobs, depth + 1)
        try:
            hash(key)
        except TypeError:
            raise ChannelError(f"a dict key of type {type(key).__name__} is not hashable") from None
        out[key] = decode_value(pair[1], blobs, depth + 1)
    return out


# the header numpy's write_array gives a plain array, read without ast: every frame of a train test holds several
_PLAIN_HEADER = re.compile(rb"\{'descr': '([<>|][biufc][0-9]{1,2})', 'fortran_order': (False|True), "
                           rb"'shape': \(((?:[0-9]{1,18}, )*[0-9]{1,18},?|)\), \} *\n")


def _plain_header(view: memoryview) -> tuple[tuple[int, ...], bool, np.dtype, int] | None:
    """shape, fortran order, dtype and data offset of a version 1.0 header in numpy's own layout; None otherwise."""
    if bytes(view[6:8]) != b"\x01\x00" or len(view) < 10:
        return None
    size = int.from_bytes(view[8:10], "little")
    match = _PLAIN_HEADER.fullmatch(bytes(view[10:10 + size]))
    if match is None:
        return None
    descr, fortran, dims = match.groups()
    try:
        dtype = np.dtype(descr.decode())
    except TypeError:  # "<i3": no such dtype; numpy's own reader then says why
        return None
    shape = tuple(int(d) for d in dims.replace(b",", b" ").split())
    return shape, fortran == b"True", dtype, 10 + size


def _numpy_header(view: memoryview) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    head = io.BytesIO(view[:_MAX_HEADER])
    try:
        version = np.lib.format.read_magic(head)
        reader = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}[version]
        shape, fortran, dtype = reader(head)
    except (ValueError, KeyError, SyntaxError, TypeError) as e:
        raise ChannelError(f"an array's header cannot be read: {str(e)[:100]}") from None
    return shape, fortran, dtype, head.tell()


def decode_array(blob: bytes | memoryview) -> np.ndarray:
    """An ndarray of numeric or bool dtype from .npy bytes, never unpickling; writable, without a copy when the
    frame buffer is writable. The header is parsed by numpy's own (literal-only) reader."""
    view = memoryview(blob)
    if bytes(view[: len(_NPY_MAGIC)]) != _NPY_MAGIC:
        raise ChannelError("an array is not in .npy format")
    shape, fortran, dtype, offset = _plain_header(view) or _numpy_header(view)
    if any(type(d) is not int or d < 0 for d in shape):
        raise ChannelError(f"an array's shape is not valid: {str(shape)[:100]}")
    if dtype.hasobject or dtype.kind not in ARRAY_KINDS or dtype.fields is not None:
        raise ChannelError(f"an array has the unsupported dtype {dtype}")
    count = math.prod(shape)
    if len(view) - offset != count * dtype.itemsize:
        raise ChannelError("an array's data does not match its shape")
    if count == 0:
        return np.empty(shape, dtype)
    flat = np.frombuffer(view, dtype=dtype, count=count, offset=offset)
    arr = flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)
    return arr if arr.flags.writeable else arr.copy()


# ---- frames -------------------------------------------------------------------------------------------------


def pack(message: dict[str, Any], blobs: Sequence[bytes] = ()) -> bytes:
    """One frame holding a JSON message and its array blobs."""
    head = json.dumps(message, separators=(",", ":")).encode()
    parts = [_JSON.pack(len(head)), head]
    for b in blobs:
        parts += [_FRAME.pack(len(b)), b]
    body_len = sum(len(p) for p in parts)
    return b"".join([_FRAME.pack(body_len), *parts])


def unpack(body: bytes | bytearray | memoryview, max_json: int = MAX_JSON_BYTES) -> tuple[dict[str, Any], list[memoryview]]:
    """The message and blobs of a frame body; raises ChannelError unless the body is exactly well-formed."""
    body = memoryview(body)
    if len(body) < _JSON.size:
        raise ChannelError("a frame is too short")
    (n,) = _JSON.unpack_from(body)
    if n > max_json:
        raise ChannelError(f"a message's JSON part of {n} bytes is larger than the limit of {max_json}",
                           reason="too_large")
    end = _JSON.size + n
    if end > len(body):
        raise ChannelError("a frame's JSON part is cut short")
    try:
        message = json.loads(bytes(body[_JSON.size : end]))
    except (ValueError, RecursionError) as e:
        raise ChannelError(f"a frame's JSON cannot be parsed: {str(e)[:100]}") from None
    if type(message) is not dict:
        raise ChannelError("a frame's JSON is not an object")
    blobs, pos = [], end
    while pos < len(body):
        if pos + _FRAME.size > len(body):
            raise ChannelError("a frame's blob header is cut short")
        (size,) = _FRAME.unpack_from(body, pos)
        pos += _FRAME.size
        if pos + size > len(body):
            raise ChannelError("a frame's blob is cut short")
        blobs.append(body[pos : pos + size])  # a view: arrays decoded from it need no copy
        pos += size
    return message, blobs


def send(fd: int, message: dict[str, Any], blobs: Sequence[bytes] = (), deadline: float | None = None) -> None:
    """Write one frame; with a deadline the fd must be non-blocking."""
    send_frame(fd, pack(message, blobs), deadline)


def send_frame(fd: int, frame: bytes, deadline: float | None = None) -> None:
    view = memoryview(frame)
    while view:
        if deadline is not None:
            _wait(fd, select.POLLOUT, deadline)
        try:
            n = os.write(fd, view)
        except BlockingIOError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            raise ChannelError("the other side closed the channel", reason="eof") from None
        view = view[n:]


def receive(fd: int, max_bytes: int = MAX_MESSAGE_BYTES, deadline: float | None = None,
            max_json: int = MAX_JSON_BYTES) -> tuple[dict[str, Any], list[memoryview]]:
    """Read one frame. Frames larger than max_bytes, or JSON parts larger than max_json, are refused unparsed."""
    (size,) = _FRAME.unpack(_read_exact(fd, _FRAME.size, deadline))
    if size > max_bytes:
        raise ChannelError(f"a message of {size} bytes is larger than the limit of {max_bytes}", reason="too_large")
    return unpack(_read_exact(fd, size, deadline), max_json)


def _read_exact(fd: int, n: int, deadline: float | None) -> bytearray:
    buf = bytearray(n)
    view, got = memoryview(buf), 0
    while got < n:
        if deadline is not None:
            _wait(fd, select.POLLIN, deadline)
        try:
            k = os.readv(fd, [view[got:]])
        except BlockingIOError:
            continue
        if k == 0:
            raise ChannelError("the other side closed the channel", reason="eof")
        got += k
    return buf


def _wait(fd: int, event: int, deadline: float) -> None:
    poller = select.poll()
    poller.register(fd, event)
    remaining = deadline - time.monotonic()
    if not poller.poll(max(0.0, remaining) * 1000):
        raise ChannelError("no answer within the time limit", reason="timeout")
