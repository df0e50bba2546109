"""A real local HTTP server speaking the OpenAI chat-completions protocol.

Tests script its replies and then talk to it through the real ``openai`` SDK::

    from tests.fakes.chat_server import FakeChatServer, Reply

    with FakeChatServer([Reply.error(429), Reply.code(SOURCE, prompt_tokens=120)]) as server:
        realizer = OpenAIRealizer(OpenAIConfig(base_url=server.url, ...))
        ...
        assert server.usage.prompt_tokens == 120
        assert server.requests[-1].body["model"] == "fake-model"

It listens on 127.0.0.1 on a free port (``server.url`` ends in ``/v1``),
answers ``POST /v1/chat/completions`` with the next scripted `Reply` (or
``default`` once the queue is empty, else HTTP 500 "no scripted reply left"),
and ``GET /v1/models``. `Reply.connection_reset()` drops the connection with a
TCP reset; `Reply.server_dies()` stops the whole server (later calls are refused). Optional ``api_key`` (wrong bearer -> 401) and
``models`` (unknown model -> 404) imitate real servers without scripting.
`usage` totals the token counts of replies the client actually received
(a reply whose client gave up waiting is not counted).
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeChatServer", "RecordedRequest", "Reply", "Usage", "code_reply_text"]


def code_reply_text(source: str, prose: str = "Here is the kernel.") -> str:
    return f"{prose}\n\n```python\n{source.rstrip()}\n```\n"


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build with the class methods for the common cases."""

    status: int = 200
    content: str | None = ""
    finish_reason: str = "stop"
    prompt_tokens: int = 100
    completion_tokens: int = 50
    with_usage: bool = True
    delay_s: float = 0.0
    raw_body: str | None = None  # sent verbatim instead of JSON (malformed replies)
    headers: Mapping[str, str] = field(default_factory=dict)
    error_code: str | None = None
    reset: bool = False  # drop the connection (TCP reset) instead of answering
    stop_server: bool = False  # the server dies on this request: no answer, no more listening

    @classmethod
    def text(cls, content: str, **kw: Any) -> Reply:
        return cls(content=content, **kw)

    @classmethod
    def code(cls, source: str, prose: str = "Here is the kernel.", **kw: Any) -> Reply:
        """A well-formed answer: prose plus one ```python block holding ``source``."""
        return cls(content=code_reply_text(source, prose), **kw)

    @classmethod
    def truncated(cls, source: str, **kw: Any) -> Reply:
        """An answer cut off at max_tokens: open fence, half the code, finish_reason=length."""
        half = source[: len(source) // 2]
        return cls(content=f"```python\n{half}", finish_reason="length", **kw)

    @classmethod
    def error(cls, status: int, message: str = "", code: str | None = None, **kw: Any) -> Reply:
        return cls(status=status, content=message or f"fake error {status}", error_code=code, **kw)

    @classmethod
    def slow(cls, delay_s: float, source: str = "", **kw: Any) -> Reply:
        return cls(content=code_reply_text(source) if source else "slow", delay_s=delay_s, **kw)

    @classmethod
    def malformed(cls, body: str = '{"id": "chatcmpl-broken", "choices": [', **kw: Any) -> Reply:
        return cls(raw_body=body, with_usage=False, **kw)

    @classmethod
    def connection_reset(cls) -> Reply:
        return cls(reset=True, with_usage=False)

    @classmethod
    def server_dies(cls) -> Reply:
        return cls(stop_server=True, with_usage=False)

    @property
    def counts_usage(self) -> bool:
        return (
            self.status == 200
            and self.with_usage
            and self.raw_body is None
            and not (self.reset or self.stop_server)
        )


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: Any  # parsed JSON, or the raw text when it was not JSON

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []

    def text(self) -> str:
        """All message contents joined: handy for asserting what a prompt contains."""
        return "\n".join(str(m.get("content", "")) for m in self.messages)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    replies: int = 0  # delivered replies that carried usage

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class FakeChatServer:
    def __init__(
        self,
        replies: Iterable[Reply] = (),
        *,
        default: Reply | None = None,
        api_key: str | None = None,
        models: Collection[str] | None = None,
    ) -> None:
        self.default = default
        self.api_key = api_key
        self.models = tuple(models) if models is not None else None
        self._queue: deque[Reply] = deque(replies)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._requests: list[RecordedRequest] = []
        self._usage = Usage()
        self._httpd: ThreadingHTTPServer | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------
    def start(self) -> FakeChatServer:
        server = self

        class Handler(_Handler):
            fake = server

        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()

    def __enter__(self) -> FakeChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting and inspection ---------------------------------------
    @property
    def port(self) -> int:
        """The port it listens on (kept after `stop`, when nothing listens there any more)."""
        if self._port is None:
            raise RuntimeError("fake chat server was never started")
        return self._port

    @property
    def url(self) -> str:
        """The base_url to give an OpenAI client (ends in /v1)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Chat-completion requests received, in order (including ones answered with errors)."""
        with self._lock:
            return [r for r in self._requests if r.path.endswith("/chat/completions")]

    @property
    def usage(self) -> Usage:
        with self._lock:
            return self._usage

    # -- used by the handler --------------------------------------------
    def _next(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
                return Reply.error(401, "Incorrect API key provided", code="invalid_api_key")
            model = request.body.get("model") if isinstance(request.body, dict) else None
            if self.models is not None and model not in self.models:
                return Reply.error(404, f"The model `{model}` does not exist", code="model_not_found")
            if self._queue:
                return self._queue.popleft()
        return self.default or Reply.error(500, "fake server: no scripted reply left")

    def _delivered(self, reply: Reply) -> None:
        if reply.counts_usage:
            with self._lock:
                u = self._usage
                self._usage = Usage(
                    u.prompt_tokens + reply.prompt_tokens,
                    u.completion_tokens + reply.completion_tokens,
                    u.replies + 1,
                )

    def _record_other(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # concurrent clients must not see refused connections


class _Handler(BaseHTTPRequestHandler):
    fake: FakeChatServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _record(self, body: Any) -> RecordedRequest:
        headers = {k.lower(): v for k, v in self.headers.items()}
        return RecordedRequest(self.command, self.path, headers, body)

    def do_GET(self) -> None:
        self.fake._record_other(self._record(None))
        if self.path.rstrip("/").endswith("/models"):
            data = [{"id": m, "object": "model", "owned_by": "fake"} for m in self.fake.models or ()]
            self._send(200, json.dumps({"object": "list", "data": data}))
        else:
            self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}))

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace")
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self.fake._record_other(self._record(body))
            self._send(404, json.dumps({"error": {"message": f"no route {self.path}"}}))
            return
        reply = self.fake._next(self._record(body))
        if reply.reset or reply.stop_server:
            if reply.stop_server:  # shutdown() waits for serve_forever: from another thread
                threading.Thread(target=self.fake.stop, daemon=True).start()
            with contextlib.suppress(OSError):
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.close()
            return
        if reply.delay_s and self._wait_or_abandoned(reply.delay_s):
            return
        model = body.get("model", "") if isinstance(body, dict) else ""
        try:
            self._send(reply.status, _body(reply, model), reply.headers)
        except OSError:
            return
        self.fake._delivered(reply)

    def _wait_or_abandoned(self, delay_s: float) -> bool:
        """Sleep up to delay_s; True when the client hung up meanwhile (or the server stops)."""
        deadline = time.monotonic() + delay_s
        while (left := deadline - time.monotonic()) > 0:
            if self.fake._stopping.is_set() or self._peer_closed(min(left, 0.02)):
                return True
        return False

    def _peer_closed(self, wait_s: float) -> bool:
        readable, _, _ = select.select([self.connection], [], [], wait_s)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _send(self, status: int, text: str, headers: Mapping[str, str] | None = None) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


_counter = iter(range(1, 1 << 62))


def _body(reply: Reply, model: str) -> str:
    if reply.raw_body is not None:
        return reply.raw_body
    if reply.status != 200:
        err = {"message": reply.content, "type": "fake_error", "code": reply.error_code}
        return json.dumps({"error": err})
    out: dict[str, Any] = {
        "id": f"chatcmpl-fake-{next(_counter)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.content},
                "finish_reason": reply.finish_reason,
            }
        ],
    }
    if reply.with_usage:
        out["usage"] = {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens,
        }
    return json.dumps(out)
