"""The OpenAI realizer against a real local HTTP server speaking chat completions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from profiling.hardware import GpuFacts
from profiling.measurement import Measurement, RooflineFloor, ShapeResult, Status, Timing
from profiling.probes.counters import Counters
from strategies.errors import RealizerError
from strategies.openai_realizer import OpenAIConfig, OpenAIRealizer
from strategies.types import RealizeRequest
from tests.fakes.chat_server import FakeChatServer, Reply
from tests.strategies.conftest import GOOD_SOURCE, fake_config

H100 = GpuFacts(
    name="NVIDIA H100 80GB HBM3",
    sm_count=132,
    l2_bytes=50 * 2**20,
    smem_per_block_bytes=227 * 1024,
    dram_gbps=3000.0,
    peak_tflops=750.0,
    compute_capability="9.0",
)


def usd(prompt: int, completion: int) -> float:
    return (prompt * 3.0 + completion * 15.0) / 1e6


@pytest.fixture
def request_(task, strategy):
    return RealizeRequest(task=task, strategy=strategy, parent_source=task.module_source(), gpu=H100)


def run(replies, tmp_path, request, **cfg):
    with FakeChatServer(replies) as server:
        realizer = OpenAIRealizer(fake_config(server.url, tmp_path, **cfg))
        result = realizer.realize(request)
        realizer.close()
    return result, server, realizer


def test_good_reply_yields_source_and_exact_cost(tmp_path, request_):
    result, server, realizer = run(
        [Reply.code(GOOD_SOURCE, prompt_tokens=1234, completion_tokens=567)], tmp_path, request_
    )
    assert result.ok and result.error == ""
    assert result.source == GOOD_SOURCE
    assert (result.cost.prompt_tokens, result.cost.completion_tokens) == (1234, 567)
    assert result.cost.prompt_tokens == server.usage.prompt_tokens
    assert result.cost.completion_tokens == server.usage.completion_tokens
    assert result.cost.usd == pytest.approx(usd(1234, 567), rel=1e-12)
    assert result.cost.calls == 1 and result.cost.seconds > 0
    body = server.requests[0].body
    assert body["model"] == "fake-model"
    assert body["temperature"] == 0.7 and body["max_tokens"] == 8192
    assert "seed" not in body
    assert realizer.stats.retries == 0 and realizer.stats.failures == 0


def test_reply_without_code_block_fails_but_counts_tokens(tmp_path, request_):
    text = "Sure! Just use tl.max and tl.sum in a row-wise kernel. " + GOOD_SOURCE
    result, _, _ = run([Reply.text(text, prompt_tokens=800, completion_tokens=90)], tmp_path, request_)
    assert result.source is None
    assert "no fenced ```python code block" in result.error
    assert (result.cost.prompt_tokens, result.cost.completion_tokens) == (800, 90)
    assert result.cost.usd == pytest.approx(usd(800, 90), rel=1e-12)


def test_truncated_reply_fails_but_counts_tokens(tmp_path, request_):
    result, server, realizer = run(
        [Reply.truncated(GOOD_SOURCE, prompt_tokens=700, completion_tokens=8192)], tmp_path, request_
    )
    assert result.source is None
    assert "truncated" in result.error and "finish_reason=length" in result.error
    assert result.cost.tokens == server.usage.total_tokens == 700 + 8192
    assert realizer.stats.failures == 1


def test_unclosed_fence_is_truncation_even_with_stop(tmp_path, request_):
    reply = Reply.text("```python\n" + GOOD_SOURCE, finish_reason="stop")
    result, _, _ = run([reply], tmp_path, request_)
    assert result.source is None and "not closed" in result.error


def test_code_failing_static_checks_is_a_failed_realization(tmp_path, request_):
    bad = GOOD_SOURCE.replace("import torch\n", "import torch\nimport subprocess\n", 1)
    result, _, _ = run([Reply.code(bad)], tmp_path, request_)
    assert result.source is None and "'subprocess' is not allowed" in result.error


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_transient_error_then_success_is_retried(tmp_path, request_, status):
    replies = [Reply.error(status), Reply.code(GOOD_SOURCE, prompt_tokens=111, completion_tokens=22)]
    result, server, realizer = run(replies, tmp_path, request_)
    assert result.ok
    assert len(server.requests) == 2 and result.cost.calls == 2
    assert realizer.stats.retries == 1 and realizer.stats.attempts == 2
    assert (result.cost.prompt_tokens, result.cost.completion_tokens) == (111, 22)
    assert result.cost.usd == pytest.approx(usd(111, 22), rel=1e-12)


def test_retry_after_header_is_honoured_up_to_the_cap(tmp_path, request_):
    sleeps: list[float] = []
    replies = [Reply.error(429, headers={"retry-after": "0.005"}), Reply.error(429, headers={"retry-after": "30"}),
               Reply.code(GOOD_SOURCE)]
    with FakeChatServer(replies) as server:
        realizer = OpenAIRealizer(fake_config(server.url, tmp_path))
        realizer._chat._sleep = sleeps.append
        assert realizer.realize(request_).ok
    assert sleeps == [0.005, 0.01]  # the second Retry-After is capped at backoff_max_s


def test_backoff_doubles_between_retries(tmp_path, request_):
    sleeps: list[float] = []
    with FakeChatServer(default=Reply.error(500)) as server:
        cfg = fake_config(server.url, tmp_path, backoff_s=1.0, backoff_max_s=3.0, max_retries=4)
        realizer = OpenAIRealizer(cfg)
        realizer._chat._sleep = sleeps.append
        result = realizer.realize(request_)
    assert not result.ok
    assert sleeps == [1.0, 2.0, 3.0, 3.0]


def test_persistent_server_error_fails_after_all_retries(tmp_path, request_):
    with FakeChatServer(default=Reply.error(500, "overloaded")) as server:
        realizer = OpenAIRealizer(fake_config(server.url, tmp_path, max_retries=3))
        result = realizer.realize(request_)
    assert result.source is None
    assert "HTTP 500" in result.error and "overloaded" in result.error
    assert "after 4 attempts" in result.error
    assert len(server.requests) == 4 and result.cost.calls == 4
    assert result.cost.tokens == 0 and result.cost.usd == 0.0
    assert realizer.stats.retries == 3 and realizer.stats.failures == 1


def test_bad_request_is_not_retried(tmp_path, request_):
    result, server, _ = run([Reply.error(400, "context too long")], tmp_path, request_)
    assert result.source is None and "HTTP 400" in result.error and "context too long" in result.error
    assert len(server.requests) == 1


def test_slow_reply_times_out_and_is_retried(tmp_path, request_):
    replies = [Reply.slow(3.0, GOOD_SOURCE, prompt_tokens=999, completion_tokens=999),
               Reply.code(GOOD_SOURCE, prompt_tokens=10, completion_tokens=20)]
    result, server, _ = run(replies, tmp_path, request_, timeout_s=0.3)
    assert result.ok and result.cost.calls == 2
    # only the reply that arrived carries tokens, on both sides of the wire
    assert (result.cost.prompt_tokens, result.cost.completion_tokens) == (10, 20)
    assert server.usage.prompt_tokens == 10 and server.usage.replies == 1


def test_persistent_timeout_is_a_failed_realization(tmp_path, request_):
    with FakeChatServer(default=Reply.slow(3.0)) as server:
        realizer = OpenAIRealizer(fake_config(server.url, tmp_path, timeout_s=0.2, max_retries=1))
        result = realizer.realize(request_)
    assert result.source is None
    assert "no reply within 0.2 s" in result.error and "after 2 attempts" in result.error
    assert result.cost.tokens == 0


def test_malformed_json_is_retried_then_reported(tmp_path, request_):
    result, _, _ = run([Reply.malformed(), Reply.code(GOOD_SOURCE)], tmp_path, request_)
    assert result.ok and result.cost.calls == 2
    with FakeChatServer(default=Reply.malformed("<html>bad gateway</html>")) as server:
        realizer = OpenAIRealizer(fake_config(server.url, tmp_path, max_retries=1))
        result = realizer.realize(request_)
    assert result.source is None and "malformed reply" in result.error
    assert result.cost.tokens == 0 and result.cost.calls == 2


def test_tokens_of_every_completed_reply_add_up(tmp_path, request_):
    replies = [
        Reply.error(429),
        Reply.code(GOOD_SOURCE, prompt_tokens=100, completion_tokens=10),
        Reply.error(503),
        Reply.text("no code here", prompt_tokens=200, completion_tokens=20),
        Reply.truncated(GOOD_SOURCE, prompt_tokens=300, completion_tokens=30),
        Reply.code(GOOD_SOURCE, with_usage=False),
    ]
    with FakeChatServer(replies) as server:
        realizer = OpenAIRealizer(fake_config(server.url, tmp_path))
        results = [realizer.realize(request_) for _ in range(4)]
    assert [r.ok for r in results] == [True, False, False, True]
    total_p = sum(r.cost.prompt_tokens for r in results)
    total_c = sum(r.cost.completion_tokens for r in results)
    assert (total_p, total_c) == (server.usage.prompt_tokens, server.usage.completion_tokens) == (600, 60)
    assert sum(r.cost.usd for r in results) == pytest.approx(usd(600, 60), rel=1e-12)
    assert sum(r.cost.calls for r in results) == len(server.requests) == 6
    stats = realizer.stats
    assert (stats.requests, stats.attempts, stats.retries, stats.failures) == (4, 6, 2, 2)
    assert (stats.prompt_tokens, stats.completion_tokens) == (600, 60)


def test_concurrent_realizations_account_exactly(tmp_path, request_):
    n = 8
    replies = [Reply.code(GOOD_SOURCE, prompt_tokens=10 + i, completion_tokens=i) for i in range(n)]
    with FakeChatServer(replies) as server:
        realizer = OpenAIRealizer(fake_config(server.url, tmp_path))
        with ThreadPoolExecutor(max_workers=n) as pool:
            results = list(pool.map(lambda _: realizer.realize(request_), range(n)))
    assert all(r.ok for r in results) and len(results) == n
    assert sum(r.cost.tokens for r in results) == server.usage.total_tokens
    assert realizer.stats.prompt_tokens == server.usage.prompt_tokens


# -- fatal, user-caused errors ------------------------------------------------


def _one_line(e: BaseException) -> str:
    text = str(e)
    assert "\n" not in text
    return text


def test_wrong_api_key_raises_one_clear_line(tmp_path, request_, monkeypatch):
    monkeypatch.setenv("KB_TEST_KEY", "sk-wrong")
    with FakeChatServer(api_key="sk-right") as server:
        realizer = OpenAIRealizer(fake_config(server.url, tmp_path, api_key_env="KB_TEST_KEY"))
        with pytest.raises(RealizerError) as info:
            realizer.realize(request_)
    assert "401" in _one_line(info.value) and "API key" in str(info.value)
    assert len(server.requests) == 1  # not retried
    assert server.requests[0].headers["authorization"] == "Bearer sk-wrong"


def test_right_api_key_from_env_is_sent(tmp_path, request_, monkeypatch):
    monkeypatch.setenv("KB_TEST_KEY", "sk-right")
    with FakeChatServer([Reply.code(GOOD_SOURCE)], api_key="sk-right") as server:
        realizer = OpenAIRealizer(fake_config(server.url, tmp_path, api_key_env="KB_TEST_KEY"))
        assert realizer.realize(request_).ok


def test_scripted_401_is_fatal(tmp_path, request_):
    with pytest.raises(RealizerError, match="401"):
        run([Reply.error(401, "Incorrect API key provided")], tmp_path, request_)


def test_unknown_model_raises_one_clear_line(tmp_path, request_):
    with FakeChatServer(models=["other-model"]) as server:
        realizer = OpenAIRealizer(fake_config(server.url, tmp_path))
        with pytest.raises(RealizerError) as info:
            realizer.realize(request_)
    assert "404" in _one_line(info.value) and "'fake-model'" in str(info.value)


def test_exhausted_quota_is_fatal(tmp_path, request_):
    with pytest.raises(RealizerError, match="quota"):
        run([Reply.error(429, "You exceeded your quota", code="insufficient_quota")], tmp_path, request_)


def test_unreachable_endpoint_raises_after_retries(tmp_path, request_):
    server = FakeChatServer().start()
    url = server.url
    server.stop()  # nothing listens on that port any more
    realizer = OpenAIRealizer(fake_config(url, tmp_path, max_retries=1))
    with pytest.raises(RealizerError) as info:
        realizer.realize(request_)
    assert "cannot reach" in _one_line(info.value) and url in str(info.value)


def test_missing_key_variable_for_a_remote_endpoint_is_fatal(tmp_path, monkeypatch):
    monkeypatch.delenv("KB_TEST_MISSING", raising=False)
    cfg = fake_config("https://api.example.com/v1", tmp_path, api_key_env="KB_TEST_MISSING")
    with pytest.raises(RealizerError, match="KB_TEST_MISSING is not set"):
        OpenAIRealizer(cfg)


def test_missing_key_variable_for_localhost_uses_a_dummy(tmp_path, request_, monkeypatch):
    monkeypatch.delenv("KB_TEST_MISSING", raising=False)
    with FakeChatServer([Reply.code(GOOD_SOURCE)]) as server:
        realizer = OpenAIRealizer(fake_config(server.url, tmp_path, api_key_env="KB_TEST_MISSING"))
        assert realizer.realize(request_).ok
    assert server.requests[0].headers["authorization"].startswith("Bearer ")


# -- sampling parameters --------------------------------------------------------


def test_sampling_options_reach_the_request(tmp_path, task, strategy):
    req = RealizeRequest(task=task, strategy=strategy, parent_source=task.module_source(), seed=7)
    _, server, _ = run([Reply.code(GOOD_SOURCE)], tmp_path, req, temperature=None, send_seed=True,
                       max_tokens=1000, max_tokens_field="max_completion_tokens")
    body = server.requests[0].body
    assert "temperature" not in body and "max_tokens" not in body
    assert body["max_completion_tokens"] == 1000 and body["seed"] == 7


def test_config_validation_is_one_line():
    with pytest.raises(RealizerError, match="cache must be one of"):
        OpenAIConfig(cache="sometimes")
    with pytest.raises(RealizerError, match="unknown openai realizer option"):
        OpenAIConfig.from_options({"name": "openai", "modle": "x"})
    assert OpenAIConfig.from_options({"name": "openai", "model": "x"}).model == "x"


# -- repair -------------------------------------------------------------------------


def test_repair_feeds_the_error_back(tmp_path, request_):
    error = "CompilationError: at 12:8: tl.arange's arguments must be of type tl.constexpr"
    failed = Measurement.failure(Status.COMPILE_ERROR, error)
    result = None
    with FakeChatServer([Reply.code(GOOD_SOURCE, prompt_tokens=50, completion_tokens=5)]) as server:
        realizer = OpenAIRealizer(fake_config(server.url, tmp_path))
        broken = GOOD_SOURCE.replace("BLOCK: tl.constexpr", "BLOCK")
        result = realizer.repair(request_, broken, failed)
    assert result.ok and result.cost.prompt_tokens == 50
    msgs = server.requests[0].messages
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert "def _softmax_kernel(x_ptr, y_ptr, n_cols, BLOCK):" in msgs[2]["content"]
    assert error in msgs[3]["content"] and "compile_error" in msgs[3]["content"]
    assert request_.strategy.id in msgs[3]["content"]


# -- prompt contents -------------------------------------------------------------


def test_prompt_carries_guidance_parent_measurement_and_gpu(tmp_path, task, strategy):
    parent = GOOD_SOURCE.replace("_softmax_kernel", "_parent_kernel_v3")
    measurement = Measurement(
        status=Status.INCORRECT,
        error="max relative error 0.31 at index (3, 17) exceeds tolerance 1e-05",
        shapes=(ShapeResult("default", Timing(0.5, 0.49, 0.52, 100), Timing(0.8, 0.79, 0.81, 100)),),
        counters=Counters(1, 4e5, dram_pct=87.5, sm_pct=20.0),
        floor=RooflineFloor(ms=0.25, bytes=1 << 20, flops=None, bound="memory"),
    )
    req = RealizeRequest(task=task, strategy=strategy, parent_source=parent,
                         parent_measurement=measurement, gpu=H100)
    _, server, _ = run([Reply.code(GOOD_SOURCE)], tmp_path, req)
    text = server.requests[0].text()
    assert strategy.guidance.strip()[:200] in text and strategy.description in text and strategy.id in text
    assert "_parent_kernel_v3" in text
    assert "max relative error 0.31" in text
    assert "NVIDIA H100 80GB HBM3" in text and "132" in text and "3000 GB/s" in text
    assert "DRAM 88%" in text and "DRAM-bound" in text and "1.6x" in text and "50% of the physical floor" in text
    assert "torch.softmax(x, dim=-1)" in text  # the reference program
    assert "```python" in server.requests[0].messages[0]["content"]  # the output contract
