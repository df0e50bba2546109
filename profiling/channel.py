"""The private parent↔worker channel: length-prefixed JSON frames over a socket.

The worker gets its end as an inherited file descriptor (never stdin/stdout),
so whatever candidate code prints cannot corrupt the protocol. Frames are JSON,
not pickle: the parent never unpickles bytes that candidate code could forge.
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import struct
import time
from typing import Any

_HEADER = struct.Struct(">Q")
MAX_FRAME = 256 * 1024 * 1024


class ChannelClosed(EOFError):
    """The other end went away (the worker died, or the parent closed it)."""


class ChannelTimeout(TimeoutError):
    """No complete frame arrived within the deadline."""


class Channel:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @classmethod
    def from_fd(cls, fd: int) -> Channel:
        return cls(socket.socket(fileno=fd))

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, obj: Any) -> None:
        data = json.dumps(obj, allow_nan=True).encode()
        self.sock.settimeout(None)
        try:
            self.sock.sendall(_HEADER.pack(len(data)) + data)
        except OSError as e:
            raise ChannelClosed(str(e)) from e

    def recv(self, timeout: float | None = None) -> Any:
        """The next frame; raises ChannelTimeout or ChannelClosed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        (n,) = _HEADER.unpack(self._read(_HEADER.size, deadline))
        if n > MAX_FRAME:
            raise ChannelClosed(f"frame of {n} bytes is larger than the limit")
        return json.loads(self._read(n, deadline))

    def _read(self, n: int, deadline: float | None) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ChannelTimeout("no reply in time")
                self.sock.settimeout(left)
            else:
                self.sock.settimeout(None)
            try:
                chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            except TimeoutError as e:
                raise ChannelTimeout("no reply in time") from e
            except OSError as e:
                raise ChannelClosed(str(e)) from e
            if not chunk:
                raise ChannelClosed("the other end closed the channel")
            buf.extend(chunk)
        return bytes(buf)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


def finite_or_none(obj: Any) -> Any:
    """A copy of a JSON-able structure with NaN/Inf floats replaced by None."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_or_none(v) for v in obj]
    return obj
