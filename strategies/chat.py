"""One chat completion against an OpenAI-compatible endpoint, with our own retries.

The SDK's retries are turned off (``max_retries=0``) so that every attempt is
seen and counted here: 429, 5xx, timeouts, connection errors and malformed
replies are retried with exponential backoff (honouring ``Retry-After``);
authentication failures, unknown models and exhausted quota are fatal
(`RealizerError`, one line); anything else fails only this realization.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import openai

from profiling.errors import trim
from strategies.cache import CachedReply
from strategies.errors import RealizerError

_DUMMY_KEY = "sk-no-key-needed"
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})  # noqa: S104 - a host name, not a bind


@dataclass(frozen=True)
class ChatSettings:
    base_url: str
    model: str
    api_key: str
    timeout_s: float
    max_retries: int
    backoff_s: float
    backoff_max_s: float


@dataclass(frozen=True)
class ChatOutcome:
    """The completed reply (None when every attempt failed) and what it took."""

    reply: CachedReply | None
    error: str
    prompt_tokens: int
    completion_tokens: int
    attempts: int
    seconds: float


def resolve_api_key(api_key_env: str | None, base_url: str, needed: bool = True) -> str:
    """The key from ``$api_key_env``; a dummy one for local servers or when no variable is named."""
    if not api_key_env:
        return _DUMMY_KEY
    key = os.environ.get(api_key_env, "")
    if key:
        return key
    if not needed or (urlparse(base_url).hostname or "") in _LOCAL_HOSTS:
        return _DUMMY_KEY
    raise RealizerError(
        f"environment variable {api_key_env} is not set: export the API key for {base_url} "
        "(for a local server without keys set realizer.api_key_env=null)"
    )


class ChatClient:
    def __init__(
        self,
        settings: ChatSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        client: openai.OpenAI | None = None,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._client = client or openai.OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key,
            timeout=settings.timeout_s,
            max_retries=0,
        )

    def close(self) -> None:
        self._client.close()

    def complete(self, messages: Sequence[dict[str, str]], params: dict[str, Any]) -> ChatOutcome:
        s = self.settings
        start = time.monotonic()
        attempts = 0
        error = ""
        while True:
            attempts += 1
            wait: float | None = None
            try:
                resp = self._client.chat.completions.create(
                    model=s.model, messages=list(messages), **params  # type: ignore[arg-type]
                )
                reply = _parse(resp)
                return ChatOutcome(
                    reply, "", reply.prompt_tokens, reply.completion_tokens, attempts,
                    time.monotonic() - start,
                )
            except openai.APITimeoutError:
                error = f"no reply within {s.timeout_s:g} s"
            except openai.APIConnectionError as e:
                error = f"cannot reach {s.base_url}: {trim(str(e.__cause__ or e), 300)}"
                if attempts > s.max_retries:
                    raise RealizerError(error) from None
            except openai.APIStatusError as e:
                _raise_if_fatal(e, s)
                error = f"HTTP {e.status_code} from {s.base_url}: {_server_message(e)}"
                if e.status_code != 429 and e.status_code < 500:
                    break  # a bad request: retrying would get the same answer
                wait = _retry_after(e)
            except (ValueError, TypeError, AttributeError, IndexError) as e:
                error = f"malformed reply from {s.base_url}: {trim(str(e), 300)}"
            if attempts > s.max_retries:
                break
            backoff = min(s.backoff_s * 2 ** (attempts - 1), s.backoff_max_s)
            self._sleep(min(wait, s.backoff_max_s) if wait is not None else backoff)
        suffix = f" (after {attempts} attempts)" if attempts > 1 else ""
        return ChatOutcome(None, error + suffix, 0, 0, attempts, time.monotonic() - start)


def _parse(resp: Any) -> CachedReply:
    choice = resp.choices[0]
    usage = resp.usage
    return CachedReply(
        text=choice.message.content or "",
        finish_reason=str(choice.finish_reason or ""),
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
    )


def _raise_if_fatal(e: openai.APIStatusError, s: ChatSettings) -> None:
    msg = _server_message(e)
    if e.status_code in (401, 403):
        raise RealizerError(
            f"HTTP {e.status_code} from {s.base_url}: the API key was refused ({msg})"
        ) from None
    if e.status_code == 404:
        raise RealizerError(
            f"HTTP 404 from {s.base_url}: unknown model {s.model!r} or wrong base_url ({msg})"
        ) from None
    if e.status_code == 429 and _error_code(e) == "insufficient_quota":
        raise RealizerError(f"HTTP 429 from {s.base_url}: quota exhausted ({msg})") from None


def _error_code(e: openai.APIStatusError) -> str:
    body = e.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("code") or "")
    return ""


def _server_message(e: openai.APIStatusError) -> str:
    body = e.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return trim(str(inner["message"]), 300)
    return trim(e.message, 300)


def _retry_after(e: openai.APIStatusError) -> float | None:
    try:
        value = e.response.headers.get("retry-after")
        return max(0.0, float(value)) if value else None
    except (ValueError, AttributeError):
        return None
