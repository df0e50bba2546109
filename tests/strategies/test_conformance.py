"""Every realizer passes the conformance kit (strategies.testing).

The offline realizer (the graph templates), the OpenAI realizer against the local chat server (good
replies, replies without code, HTTP errors), the same realizer replaying a
recorded cache with the endpoint gone, and the scripted test fake.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from profiling.tasks import load_task
from strategies.graph.realizer import GraphRealizer
from strategies.openai_realizer import OpenAIRealizer
from strategies.testing import RealizerCase, RealizerConformance, check_realizer
from strategies.types import RealizeRequest
from tests.fakes.chat_server import FakeChatServer, Reply
from tests.fakes.realizers import ScriptedRealizer
from tests.strategies.conftest import GOOD_SOURCE, fake_config

FOREIGN = Path(__file__).parents[1] / "profiling" / "fixtures" / "tasks" / "pair_stats.py"


def _requests(task, catalog, ids, seeds=(0,)):
    return tuple(
        RealizeRequest(task=task, strategy=catalog.get(i), parent_source=task.module_source(), seed=s)
        for i in ids
        for s in seeds
    )


@pytest.fixture(scope="module")
def foreign_task():
    return load_task(str(FOREIGN))


LONE_CONV = Path(__file__).with_name("kernelbench") / "45_lone_conv.py"


class TestOffline(RealizerConformance):
    """realizer=offline: the templates for every task, the bundled kinds and any file."""

    @pytest.fixture
    def realizer_case(self, task, catalog, foreign_task):
        return RealizerCase(
            make=GraphRealizer,
            requests=_requests(task, catalog, ("tiling/rows_per_program", "parallelism/warps_up",
                                               "pipelining/chunked_loop"))
            + _requests(foreign_task, catalog, ("parallelism/warps_up", "parallelism/split_row")),
            failing=_requests(task, catalog, ("tiling/split_k", "tiling/grouped_order"))
            + _requests(foreign_task, catalog, ("tiling/split_k",)),
            rejected_task=load_task(str(LONE_CONV)),
        )


class TestOpenAIGoodReplies(RealizerConformance):
    @pytest.fixture
    def realizer_case(self, task, catalog, tmp_path):
        reply = Reply.code(GOOD_SOURCE, prompt_tokens=120, completion_tokens=30)
        with FakeChatServer(default=reply) as server:
            yield RealizerCase(
                make=lambda: OpenAIRealizer(fake_config(server.url, tmp_path)),
                requests=_requests(task, catalog, ("tiling/rows_per_program",), seeds=(0, 1)),
                spent_tokens=lambda: server.usage.total_tokens,
                charges=True,
            )


class TestOpenAIBadReplies(RealizerConformance):
    @pytest.fixture(params=["no_code", "truncated", "http_500"])
    def realizer_case(self, request, task, catalog, tmp_path):
        reply = {
            "no_code": Reply.text("I would rather not.", prompt_tokens=50, completion_tokens=7),
            "truncated": Reply.truncated(GOOD_SOURCE, prompt_tokens=50, completion_tokens=8192),
            "http_500": Reply.error(500, "overloaded"),
        }[request.param]
        with FakeChatServer(default=reply) as server:
            yield RealizerCase(
                make=lambda: OpenAIRealizer(fake_config(server.url, tmp_path, max_retries=1)),
                requests=(),
                failing=_requests(task, catalog, ("tiling/rows_per_program", "parallelism/warps_up")),
                spent_tokens=lambda: server.usage.total_tokens,
                charges=True,
            )


class TestReplay(RealizerConformance):
    @pytest.fixture
    def realizer_case(self, task, catalog, tmp_path):
        good = _requests(task, catalog, ("tiling/rows_per_program",), seeds=(0, 1))
        bad = _requests(task, catalog, ("parallelism/warps_up",))
        with FakeChatServer([Reply.code(GOOD_SOURCE), Reply.code(GOOD_SOURCE.replace("_soft", "_s")),
                             Reply.text("no kernel today")]) as server:
            recorder = OpenAIRealizer(fake_config(server.url, tmp_path, cache="read_write"))
            for req in (*good, *bad):
                recorder.realize(req)
            recorder.close()
        # the endpoint is gone: replay needs neither it nor a key
        config = fake_config(server.url, tmp_path, cache="replay", api_key_env="KB_UNSET_FOR_TEST")
        return RealizerCase(make=lambda: OpenAIRealizer(config), requests=good, failing=bad)


class TestScriptedFake(RealizerConformance):
    @pytest.fixture
    def realizer_case(self, task, catalog, foreign_task):
        fake = ScriptedRealizer({"tiling/rows_per_program": GOOD_SOURCE}, tokens=5,
                                kinds=("softmax",))
        return RealizerCase(
            make=lambda: fake,
            requests=_requests(task, catalog, ("tiling/rows_per_program",)),
            failing=_requests(task, catalog, ("parallelism/warps_up",)),
            rejected_task=foreign_task,
            spent_tokens=lambda: fake.spent,
            charges=True,
        )


def test_the_kit_catches_a_realizer_that_lies(task, catalog):
    """A realizer whose can_realize says no but realize succeeds fails the kit."""

    class Liar(ScriptedRealizer):
        def can_realize(self, request):
            return False

    case = RealizerCase(make=lambda: Liar({"tiling/rows_per_program": GOOD_SOURCE}),
                        requests=_requests(task, catalog, ("tiling/rows_per_program",)))
    with pytest.raises(AssertionError, match="can_realize said no"):
        check_realizer(case)


def test_the_kit_catches_double_counted_costs(task, catalog):
    class Double(ScriptedRealizer):
        def realize(self, request):
            r = super().realize(request)
            self.spent -= self.tokens // 2  # the provider charged half of what is reported
            return r

    fake = Double({"tiling/rows_per_program": GOOD_SOURCE}, tokens=4)
    case = RealizerCase(make=lambda: fake, requests=_requests(task, catalog, ("tiling/rows_per_program",)),
                        spent_tokens=lambda: fake.spent, charges=True)
    with pytest.raises(AssertionError, match="charged"):
        check_realizer(case)
