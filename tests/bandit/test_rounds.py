"""Batch rounds through an executor, on a replayed synthetic landscape and a virtual clock."""

from __future__ import annotations

import pytest

from bandit.budget import Budget
from bandit.executors import LocalExecutor
from bandit.policies import make_policy
from bandit.rounds import run_rounds
from bandit.tuner import Tuner, TunerParts
from experiments import TASKS_DIR
from profiling.clock import VirtualClock
from profiling.replay import ReplayEvaluator
from profiling.tasks import load_task
from strategies.catalog import load_catalog
from strategies.errors import RealizerError
from strategies.graph.realizer import GraphRealizer
from tests.fakes.landscapes import synthetic_landscape


@pytest.fixture(scope="module")
def task():
    return load_task("softmax", None, TASKS_DIR)


@pytest.fixture(scope="module")
def landscape(task, tmp_path_factory):
    return synthetic_landscape(task, tmp_path_factory.mktemp("land") / "softmax.jsonl", depth=2)


def _tuner(task, landscape, realizer=None, policy="hucb"):
    shared = ReplayEvaluator(landscape, noise="none")
    ex = LocalExecutor(lambda i: shared, workers=2)
    tuner = Tuner(task, ex, realizer or GraphRealizer(), make_policy(policy, 0),
                  load_catalog(), parts=TunerParts(clock=VirtualClock()))
    return tuner, ex


def test_rounds_of_four_on_two_workers(task, landscape):
    tuner, ex = _tuner(task, landscape)
    with ex:
        result = run_rounds(tuner, ex, Budget(iterations=10), batch=4)
    assert [r.iteration for r in result.records] == list(range(1, 11))  # rounds of 4, 4, 2
    pairs = [(r.parent_id, r.arm.strategy) for r in result.records]
    assert len(set(pairs)) == len(pairs)  # a round never proposes one pair twice
    kernels = [m for m in result.members if m.id != "ref"]
    serial = sum(m.measurement.wall_s for m in kernels)
    ref_s = result.reference.measurement.wall_s
    # two workers side by side: the rounds took at least half, and less than all, of the serial time
    assert serial / 2 - 1e-9 <= result.spend.seconds - ref_s < serial
    assert len({r.wall_s for r in result.records[:4]}) == 1  # one round, one time


def test_one_proposal_per_round_is_the_plain_loop(task, landscape):
    a, ex = _tuner(task, landscape, policy="thompson")
    with ex:
        rounds = run_rounds(a, ex, Budget(iterations=8), batch=1)
    b, ex2 = _tuner(task, landscape, policy="thompson")
    with ex2:
        plain = b.run(Budget(iterations=8))
    assert [(r.arm, r.runtime_ms, r.wall_s) for r in rounds.records] == [
        (r.arm, r.runtime_ms, r.wall_s) for r in plain.records
    ]


def test_a_realizer_error_stops_after_the_round_is_told(task, landscape):
    class FailsThird(GraphRealizer):
        calls = 0

        def realize(self, request):
            type(self).calls += 1
            if type(self).calls == 3:
                raise RealizerError("endpoint down")
            return super().realize(request)

    tuner, ex = _tuner(task, landscape, FailsThird())
    with ex:
        result = run_rounds(tuner, ex, Budget(iterations=12), batch=4)
    assert result.error == "endpoint down" and result.stop_reason == "realizer error: endpoint down"
    assert len(result.records) == 3  # the other three proposals of the first round


def test_a_seconds_budget_counts_rounds_in_recorded_seconds(task, landscape):
    tuner, ex = _tuner(task, landscape)
    with ex:
        result = run_rounds(tuner, ex, Budget(seconds=4.0), batch=4)
    assert result.stop_reason.startswith("seconds ") and len(result.records) % 4 == 0
