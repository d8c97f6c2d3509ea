"""The data-only codec: what crosses the sandbox boundary, and how the grader side refuses everything else."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pickle
import struct
import time

import numpy as np
import pytest

from grader.sandbox.inside import protocol
from grader.sandbox.inside.protocol import ChannelError, NotPlainData


def roundtrip(value):
    blobs: list[bytes] = []
    tree = protocol.encode_value(value, blobs)
    message, received = protocol.unpack(protocol.pack({"v": tree}, blobs)[8:])
    return protocol.decode_value(message["v"], received)


def test_plain_values_come_back_with_their_types():
    value = {"a": [1, 2.5, True, None, "s"], 3: (1, (2, 3)), (1, "k"): {"nested": []}, None: False}
    out = roundtrip(value)
    assert out == value and type(out[3]) is tuple and type(out[3][1]) is tuple and type(out["a"]) is list


def test_arrays_keep_dtype_shape_and_are_writable():
    for arr in (np.arange(12.0).reshape(3, 4), np.array([True, False]), np.arange(6, dtype=np.int8)[::2],
                np.array(3.5), np.zeros((0, 2)), np.asfortranarray(np.ones((2, 3))), np.array([1 + 2j])):
        out = roundtrip(arr)
        assert out.dtype == arr.dtype and out.shape == arr.shape and np.array_equal(out, arr)
        out[...] = 0  # the grader may change what it received


def test_a_complex_numpy_scalar_travels_as_a_0d_array():
    out = roundtrip(np.complex128(1 + 2j))
    assert isinstance(out, np.ndarray) and out.shape == () and out == 1 + 2j


def test_a_json_part_over_the_limit_is_refused_unparsed():
    body = protocol.pack({"v": [0] * (protocol.MAX_JSON_BYTES // 2 + 1)})[8:]
    with pytest.raises(ChannelError, match="JSON part") as info:
        protocol.unpack(body)
    assert info.value.reason == "too_large"
    assert protocol.unpack(body, max_json=len(body))[0]["v"][0] == 0  # the worker reads long cell sources


def test_an_array_header_with_negative_dimensions_is_refused():
    good = io.BytesIO()
    np.save(good, np.zeros((2, 2)), allow_pickle=False)
    forged = good.getvalue().replace(b"(2, 2)", b"(-2, -2)", 1)
    with pytest.raises(ChannelError, match="shape"):
        protocol.decode_array(forged)


def test_numpy_scalars_become_python_numbers():
    out = roundtrip([np.float64(1.5), np.int32(7), np.bool_(True), np.float32(0.25)])
    assert out == [1.5, 7, True, 0.25] and [type(x) for x in out] == [float, int, bool, float]


def test_nan_and_infinity_survive():
    out = roundtrip([float("nan"), float("inf"), -float("inf")])
    assert np.isnan(out[0]) and out[1:] == [float("inf"), -float("inf")]


@pytest.mark.parametrize("value, type_name, where", [
    (object(), "object", "the value"),
    ([1, {"k": print}], "builtin_function_or_method", "the value[1]['k']"),
    (np.array([object()]), "ndarray of dtype object", "the value"),
    (np.zeros(2, dtype=[("a", "f8")]), "ndarray of dtype [('a', '<f8')]", "the value"),
    ({1, 2}, "set", "the value"),
])
def test_anything_else_is_not_plain_data(value, type_name, where):
    with pytest.raises(NotPlainData) as info:
        protocol.encode_value(value, [])
    assert (info.value.type_name, info.value.where) == (type_name, where)
    assert not protocol.is_plain(value)


def test_a_pickled_object_array_is_refused_without_unpickling(tmp_path):
    marker = tmp_path / "pwned"

    class Boom:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    buf = io.BytesIO()
    np.save(buf, np.array([Boom()], dtype=object), allow_pickle=True)
    with pytest.raises(ChannelError, match="cannot be read|unsupported dtype"):
        protocol.decode_value({"a": 0}, [buf.getvalue()])
    with pytest.raises(ChannelError, match="not in .npy format"):
        protocol.decode_value({"a": 0}, [pickle.dumps(Boom())])
    assert not marker.exists()


def test_an_npz_archive_is_not_an_array():
    buf = io.BytesIO()
    np.savez(buf, x=np.ones(2))
    with pytest.raises(ChannelError, match="not in .npy format"):
        protocol.decode_value({"a": 0}, [buf.getvalue()])


@pytest.mark.parametrize("tree", [
    {"x": 1}, {"t": 1}, {"a": 5}, {"a": -1}, {"a": True}, {"d": [[1]]}, {"d": [[[1], 2]]}, {"t": [1], "d": []},
])
def test_malformed_trees_are_refused(tree):
    with pytest.raises(ChannelError):
        protocol.decode_value(tree, [b"\x93NUMPY"])


def test_deep_nesting_is_refused_on_both_sides():
    deep: list = []
    for _ in range(protocol.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(NotPlainData):
        protocol.encode_value(deep, [])
    tree = json.loads("[" * 200 + "]" * 200)
    with pytest.raises(ChannelError, match="nested too deeply"):
        protocol.decode_value(tree, [])


def test_frames_cross_a_pipe_and_oversized_ones_are_refused_before_reading():
    r, w = os.pipe()
    os.set_blocking(r, False)
    fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 1 << 20)  # the whole frame fits: no reader thread needed
    try:
        blobs: list[bytes] = []
        tree = protocol.encode_value(np.ones((1000, 16)), blobs)
        protocol.send(w, {"id": 1, "value": tree}, blobs)
        message, got = protocol.receive(r, deadline=time.monotonic() + 5)
        assert message["id"] == 1 and protocol.decode_value(message["value"], got).shape == (1000, 16)
        os.write(w, struct.pack("<Q", 10**9))
        with pytest.raises(ChannelError) as info:
            protocol.receive(r, max_bytes=1 << 20, deadline=time.monotonic() + 5)
        assert info.value.reason == "too_large"
    finally:
        os.close(r)
        os.close(w)


def test_a_silent_peer_times_out_and_a_closed_one_is_eof():
    r, w = os.pipe()
    os.set_blocking(r, False)
    with pytest.raises(ChannelError) as info:
        protocol.receive(r, deadline=time.monotonic() + 0.05)
    assert info.value.reason == "timeout"
    os.write(w, b"\x05\x00")
    os.close(w)
    with pytest.raises(ChannelError) as info:
        protocol.receive(r, deadline=time.monotonic() + 1)
    assert info.value.reason == "eof"
    os.close(r)


@pytest.mark.parametrize("body", [
    b"", b"\x10\x00\x00\x00{}", b"\x02\x00\x00\x00[]", b"\x02\x00\x00\x00{}\x09\x00\x00\x00\x00\x00\x00\x00abc",
    b"\x03\x00\x00\x00{x}", b"\x02\x00\x00\x00{}\x01",
])
def test_malformed_frame_bodies_are_refused(body):
    with pytest.raises(ChannelError):
        protocol.unpack(body)
