"""Response cache and replay: hits cost nothing, replay never spends, misses are fatal."""

from __future__ import annotations

import json

import pytest

from strategies.cache import CachedReply, ResponseCache, cache_key
from strategies.errors import RealizerError
from strategies.openai_realizer import OpenAIRealizer
from strategies.types import RealizationCost, RealizeRequest
from tests.fakes.chat_server import FakeChatServer, Reply
from tests.strategies.conftest import GOOD_SOURCE, fake_config


@pytest.fixture
def request_(task, strategy):
    return RealizeRequest(task=task, strategy=strategy, parent_source=task.module_source())


def test_key_depends_on_model_messages_and_params():
    msgs = [{"role": "user", "content": "hi"}]
    k = cache_key("m", msgs, {"temperature": 0.7, "seed": 0})
    assert k == cache_key("m", [dict(msgs[0])], {"seed": 0, "temperature": 0.7})  # order-free
    assert k != cache_key("m2", msgs, {"temperature": 0.7, "seed": 0})
    assert k != cache_key("m", [{"role": "user", "content": "hi!"}], {"temperature": 0.7, "seed": 0})
    assert k != cache_key("m", msgs, {"temperature": 0.2, "seed": 0})
    assert k != cache_key("m", msgs, {"temperature": 0.7, "seed": 1})
    assert len(k) == 64


def test_store_and_load_roundtrip(tmp_path):
    cache = ResponseCache(tmp_path, "read_write")
    reply = CachedReply("text", "stop", 3, 4)
    assert cache.get("ab" * 32) is None
    cache.put("ab" * 32, reply, {"model": "m"})
    assert cache.get("ab" * 32) == reply
    entry = json.loads((tmp_path / "ab" / ("ab" * 32 + ".json")).read_text())
    assert entry["request"] == {"model": "m"} and entry["reply"]["completion_tokens"] == 4
    assert ResponseCache(tmp_path, "off").get("ab" * 32) is None


def test_unknown_mode_is_rejected(tmp_path):
    with pytest.raises(RealizerError, match="unknown cache mode"):
        ResponseCache(tmp_path, "sometimes")


def test_cache_hit_costs_nothing(tmp_path, request_):
    with FakeChatServer([Reply.code(GOOD_SOURCE, prompt_tokens=400, completion_tokens=40)]) as server:
        realizer = OpenAIRealizer(fake_config(server.url, tmp_path, cache="read_write"))
        first = realizer.realize(request_)
        second = realizer.realize(request_)
    assert first.ok and second.ok and second.source == first.source
    assert first.cost.tokens == 440 and first.cost.usd > 0
    assert second.cost == RealizationCost()  # zero tokens, USD, seconds and calls
    assert len(server.requests) == 1
    assert realizer.stats.cache_hits == 1 and realizer.stats.prompt_tokens == 400


def test_a_new_seed_is_a_new_sample(tmp_path, task, strategy):
    replies = [Reply.code(GOOD_SOURCE), Reply.code(GOOD_SOURCE.replace("_softmax", "_other"))]
    with FakeChatServer(replies) as server:
        realizer = OpenAIRealizer(fake_config(server.url, tmp_path, cache="read_write"))
        for seed in (0, 1, 0, 1):
            realizer.realize(RealizeRequest(task=task, strategy=strategy,
                                            parent_source=task.module_source(), seed=seed))
    assert len(server.requests) == 2 and realizer.stats.cache_hits == 2


def test_replay_serves_a_recorded_run_without_spending(tmp_path, request_):
    replies = [Reply.code(GOOD_SOURCE, prompt_tokens=10, completion_tokens=1),
               Reply.text("I cannot do that.", prompt_tokens=20, completion_tokens=2)]
    with FakeChatServer(replies) as server:
        recorder = OpenAIRealizer(fake_config(server.url, tmp_path, cache="read_write"))
        recorded = [recorder.realize(request_),
                    recorder.realize(RealizeRequest(**{**request_.__dict__, "seed": 5}))]
    # the endpoint is gone now: replay must not need it (nor a key)
    replayer = OpenAIRealizer(fake_config(server.url, tmp_path, cache="replay",
                                          api_key_env="KB_UNSET_VARIABLE_FOR_TEST"))
    replayed = [replayer.realize(request_),
                replayer.realize(RealizeRequest(**{**request_.__dict__, "seed": 5}))]
    assert [r.source for r in replayed] == [r.source for r in recorded]
    assert [r.error for r in replayed] == [r.error for r in recorded]  # failures replay too
    assert all(r.cost == RealizationCost() for r in replayed)
    assert replayer.stats.cache_hits == 2 and replayer.stats.attempts == 0


def test_replay_miss_is_fatal_with_a_hint(tmp_path, request_):
    with FakeChatServer() as server:
        realizer = OpenAIRealizer(fake_config(server.url, tmp_path, cache="replay"))
        with pytest.raises(RealizerError) as info:
            realizer.realize(request_)
    assert server.requests == []
    text = str(info.value)
    assert "replay cache miss for" in text and "realizer.cache=read_write" in text and "\n" not in text


def test_failed_calls_are_not_cached(tmp_path, request_):
    with FakeChatServer([Reply.error(500)], default=Reply.code(GOOD_SOURCE)) as server:
        realizer = OpenAIRealizer(fake_config(server.url, tmp_path, cache="read_write", max_retries=0))
        assert not realizer.realize(request_).ok
        assert realizer.realize(request_).ok
        assert realizer.realize(request_).ok
    assert len(server.requests) == 2 and realizer.stats.cache_hits == 1
