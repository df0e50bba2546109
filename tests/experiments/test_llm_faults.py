"""A tuning run against a misbehaving LLM endpoint (tests/fakes/chat_server.py): 429
storms, 5xx, timeouts, connection resets, malformed and empty replies, a reply
without code, then the server dies. The run ends with a clear reason, every token
the server delivered is counted exactly once, and failures show per arm."""

from __future__ import annotations

from bandit.budget import Budget
from bandit.policies import make_policy
from bandit.tuner import Tuner, TunerParts
from experiments import TASKS_DIR
from experiments.tracking import PER_STRATEGY, arm_metrics
from profiling.tasks import load_task
from strategies.catalog import load_catalog
from strategies.openai_realizer import OpenAIRealizer
from tests.bandit.tuner_fakes import FakeEvaluator
from tests.fakes.chat_server import FakeChatServer, Reply
from tests.strategies.conftest import fake_config

SOURCE = """import torch
import torch.nn as nn


class ModelNew(nn.Module):  # variant {n}
    def forward(self, x):
        return torch.softmax(x, dim=-1)
"""


def code(n: int, tokens: int = 100) -> Reply:
    return Reply.code(SOURCE.format(n=n), prompt_tokens=tokens, completion_tokens=tokens // 2)


FAULTS = [
    Reply.error(429), Reply.error(429), code(1, 110),  # a 429 storm, then an answer
    Reply.error(500), Reply.error(502), code(2, 120),  # 5xx
    Reply.slow(5.0), code(3, 130),  # a timeout
    Reply.connection_reset(), code(4, 140),  # a reset connection
    Reply.malformed(), code(5, 150),  # malformed JSON
    Reply.text("", prompt_tokens=160, completion_tokens=0),  # an empty reply (tokens count)
    Reply.text("I would rather not.", prompt_tokens=170, completion_tokens=9),  # no code block
    Reply.error(503), Reply.error(503), Reply.error(503), Reply.error(503),  # retries run out
    code(6, 180),
    Reply.server_dies(),  # mid-run: nothing answers any more
]  # fmt: skip


def test_run_survives_endpoint_faults_and_counts_tokens_once(tmp_path):
    task = load_task("softmax", "smoke", tasks_dir=TASKS_DIR)
    strategies = load_catalog()
    with FakeChatServer(FAULTS) as server:
        realizer = OpenAIRealizer(fake_config(server.url, tmp_path, timeout_s=0.5, max_retries=3))
        tuner = Tuner(
            task,
            FakeEvaluator(),
            realizer,
            make_policy("ucb", 0),
            strategies,
            parts=TunerParts(run_log=tmp_path / "runlog.jsonl"),
        )
        result = tuner.run(Budget(iterations=50))
        realizer.close()
    # a clear reason: the server died, the realizer says so in one line
    assert result.stop_reason.startswith("realizer error:"), result.stop_reason
    assert "\n" not in result.stop_reason
    last = result.records[-1]
    assert last.tokens_prompt == server.usage.prompt_tokens > 0
    assert last.tokens_completion == server.usage.completion_tokens
    statuses = [r.status for r in result.records]
    assert statuses.count("ok") == 6  # six answers with code made it
    assert len(result.records) >= 8  # plus the failed realizations
    failures = {k: v for k, v in arm_metrics(result).items() if k.endswith("/failures")}
    assert sum(v for k, v in failures.items() if k.startswith(PER_STRATEGY)) == len(result.records) - 6
