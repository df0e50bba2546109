import socket

import pytest

from profiling.channel import Channel, ChannelClosed, ChannelTimeout, finite_or_none


def test_roundtrip_timeout_and_close():
    a, b = socket.socketpair()
    ca, cb = Channel(a), Channel(b)
    ca.send({"x": [1, 2.5, "s"], "nan": float("nan")})
    got = cb.recv(timeout=1)
    assert got["x"] == [1, 2.5, "s"]
    with pytest.raises(ChannelTimeout):
        cb.recv(timeout=0.05)
    ca.close()
    with pytest.raises(ChannelClosed):
        cb.recv(timeout=1)
    cb.close()


def test_finite_or_none():
    assert finite_or_none({"a": [float("inf"), 1.0], "b": float("nan"), "c": "x"}) == {
        "a": [None, 1.0],
        "b": None,
        "c": "x",
    }
