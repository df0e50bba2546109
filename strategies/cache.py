"""On-disk cache of chat replies, keyed by what determines the reply.

The key is the sha256 of (model, messages, sampling parameters); each entry is
one JSON file ``<cache_dir>/<key[:2]>/<key>.json``. Modes: ``off`` (never
read or write), ``read_write`` (serve hits, store new replies), ``replay``
(serve hits only; a miss is a `RealizerError`, so a replay never spends).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from strategies.errors import RealizerError

CACHE_MODES = ("off", "read_write", "replay")


@dataclass(frozen=True)
class CachedReply:
    """A completed reply as the endpoint sent it (text, finish reason, usage)."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


def cache_key(model: str, messages: Sequence[Mapping[str, str]], params: Mapping[str, Any]) -> str:
    blob = json.dumps(
        {"model": model, "messages": list(messages), "params": dict(params)},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    def __init__(self, directory: str | Path, mode: str = "read_write") -> None:
        if mode not in CACHE_MODES:
            raise RealizerError(f"unknown cache mode {mode!r} (choose one of {', '.join(CACHE_MODES)})")
        self.directory = Path(directory).expanduser()
        self.mode = mode

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedReply | None:
        """The stored reply, None on a miss; raises `RealizerError` on a miss in replay mode."""
        if self.mode == "off":
            return None
        path = self._path(key)
        try:
            entry = json.loads(path.read_text())
            return CachedReply(**entry["reply"])
        except (OSError, ValueError, KeyError, TypeError):
            if self.mode == "replay":
                raise RealizerError(
                    f"replay cache miss for {key[:16]} in {self.directory}: "
                    "run with realizer.cache=read_write first"
                ) from None
            return None

    def put(self, key: str, reply: CachedReply, request: Mapping[str, Any]) -> None:
        if self.mode != "read_write":
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"key": key, "request": dict(request), "reply": asdict(reply)}, indent=1))
        tmp.replace(path)
