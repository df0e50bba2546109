"""The LLM realizer: any OpenAI-compatible endpoint (OpenAI, vLLM, SGLang, Ollama).

Every realization records its cost: prompt/completion tokens from the
endpoint's ``usage``, USD from the configured price table, latency, and the
number of HTTP attempts. A reply served from the response cache costs nothing
(zero tokens, USD, seconds and calls) and is counted in `stats.cache_hits`.
A reply without a usable code block, or one cut off at ``max_tokens``, is a
failed realization whose tokens still count.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from profiling.measurement import Measurement
from strategies.cache import CACHE_MODES, CachedReply, ResponseCache, cache_key
from strategies.chat import ChatClient, ChatSettings, resolve_api_key
from strategies.errors import RealizerError
from strategies.extract import extract_code
from strategies.prompt import (
    DEFAULT_LIMITS,
    Message,
    PromptLimits,
    realize_messages,
    repair_messages,
)
from strategies.types import BaseRealizer, Realization, RealizationCost, RealizeRequest


@dataclass(frozen=True)
class OpenAIConfig:
    """Settings of the OpenAI-compatible realizer; these defaults are the defaults
    (``conf/realizer/openai.yaml`` mirrors them and documents each field). Repair
    turns are the tuner's setting, not the realizer's: `repair` answers one turn."""

    base_url: str = "https://api.openai.com/v1"
    model: str = "gpt-4.1"
    api_key_env: str | None = "OPENAI_API_KEY"
    temperature: float | None = 0.7
    max_tokens: int = 8192
    max_tokens_field: str = "max_tokens"  # "max_completion_tokens" for OpenAI reasoning models
    send_seed: bool = False
    timeout_s: float = 180.0
    max_retries: int = 4
    backoff_s: float = 2.0
    backoff_max_s: float = 60.0
    price_input_per_mtok: float = 2.0
    price_output_per_mtok: float = 8.0
    cache: str = "read_write"
    cache_dir: str = ".cache/llm"

    def __post_init__(self) -> None:
        problems = []
        if self.cache not in CACHE_MODES:
            problems.append(f"cache must be one of {', '.join(CACHE_MODES)}, not {self.cache!r}")
        if self.max_tokens_field not in ("max_tokens", "max_completion_tokens"):
            problems.append("max_tokens_field must be max_tokens or max_completion_tokens")
        for name in ("max_tokens", "timeout_s"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be positive")
        for name in ("max_retries", "backoff_s", "backoff_max_s",
                     "price_input_per_mtok", "price_output_per_mtok"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must not be negative")
        if not self.model:
            problems.append("model must be set")
        if problems:
            raise RealizerError("bad openai realizer config: " + "; ".join(problems))

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> OpenAIConfig:
        """From a config section (``name`` ignored); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        opts = {k: v for k, v in options.items() if k != "name"}
        unknown = sorted(set(opts) - known)
        if unknown:
            raise RealizerError(
                f"unknown openai realizer option(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})"
            )
        return cls(**opts)

    def usd(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.price_input_per_mtok
                + completion_tokens * self.price_output_per_mtok) / 1e6


@dataclass(frozen=True)
class RealizerStats:
    """Running totals of one realizer, for logs and tests."""

    requests: int = 0  # realize/repair calls
    attempts: int = 0  # HTTP requests sent
    retries: int = 0
    cache_hits: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usd: float = 0.0


class OpenAIRealizer(BaseRealizer):
    name = "openai"

    def __init__(
        self,
        config: OpenAIConfig = OpenAIConfig(),
        *,
        limits: PromptLimits = DEFAULT_LIMITS,
        chat: ChatClient | None = None,
    ) -> None:
        self.config = config
        self.limits = limits
        self.cache = ResponseCache(config.cache_dir, config.cache)
        if chat is None:
            key = resolve_api_key(config.api_key_env, config.base_url, needed=config.cache != "replay")
            chat = ChatClient(ChatSettings(
                base_url=config.base_url, model=config.model, api_key=key,
                timeout_s=config.timeout_s, max_retries=config.max_retries,
                backoff_s=config.backoff_s, backoff_max_s=config.backoff_max_s,
            ))
        self._chat = chat
        self._lock = threading.Lock()
        self._stats = RealizerStats()

    @property
    def stats(self) -> RealizerStats:
        with self._lock:
            return self._stats

    def close(self) -> None:
        self._chat.close()

    def realize(self, request: RealizeRequest) -> Realization:
        return self._complete(realize_messages(request, self.limits), request.seed)

    def repair(self, request: RealizeRequest, source: str, measurement: Measurement) -> Realization:
        return self._complete(repair_messages(request, source, measurement, self.limits), request.seed)

    def sampling_params(self, seed: int) -> dict[str, Any]:
        """What goes into the request besides model and messages (and into the cache key)."""
        c = self.config
        params: dict[str, Any] = {c.max_tokens_field: c.max_tokens}
        if c.temperature is not None:
            params["temperature"] = c.temperature
        if c.send_seed:
            params["seed"] = seed
        return params

    def _complete(self, messages: list[Message], seed: int) -> Realization:
        self._count(requests=1)
        params = self.sampling_params(seed)
        # the seed is the sample index: it keys the cache even when not sent
        key = cache_key(self.config.model, messages, {**params, "seed": seed})
        reply = self.cache.get(key)
        if reply is not None:
            self._count(cache_hits=1)
            return self._realization(reply, RealizationCost())
        outcome = self._chat.complete(messages, params)
        cost = RealizationCost(
            prompt_tokens=outcome.prompt_tokens,
            completion_tokens=outcome.completion_tokens,
            usd=self.config.usd(outcome.prompt_tokens, outcome.completion_tokens),
            seconds=outcome.seconds,
            calls=outcome.attempts,
        )
        self._count(attempts=outcome.attempts, retries=outcome.attempts - 1,
                    prompt_tokens=cost.prompt_tokens, completion_tokens=cost.completion_tokens,
                    usd=cost.usd)
        if outcome.reply is None:
            self._count(failures=1)
            return Realization(None, cost, outcome.error)
        self.cache.put(key, outcome.reply, {"model": self.config.model, "messages": messages, **params})
        return self._realization(outcome.reply, cost)

    def _realization(self, reply: CachedReply, cost: RealizationCost) -> Realization:
        if reply.finish_reason == "length":
            error = f"reply truncated at max_tokens={self.config.max_tokens} (finish_reason=length)"
            self._count(failures=1)
            return Realization(None, cost, error)
        extraction = extract_code(reply.text)
        if not extraction.ok:
            self._count(failures=1)
        return Realization(extraction.source, cost, extraction.error)

    def _count(self, **delta: float) -> None:
        with self._lock:
            s = self._stats
            self._stats = replace(s, **{k: getattr(s, k) + v for k, v in delta.items()})
