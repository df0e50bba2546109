"""The real Tuner and offline realizer on a replayed (synthetic) landscape, on a virtual clock."""

from __future__ import annotations

import pytest

from bandit.budget import Budget
from bandit.policies import make_policy
from bandit.tuner import Tuner, TunerParts
from experiments import TASKS_DIR
from profiling.clock import VirtualClock
from profiling.replay import ReplayEvaluator
from profiling.tasks import load_task
from strategies.catalog import load_catalog
from strategies.graph.realizer import GraphRealizer
from tests.fakes.landscapes import synthetic_landscape


@pytest.fixture(scope="module")
def task():
    return load_task("softmax", None, TASKS_DIR)


@pytest.fixture(scope="module")
def landscape(task, tmp_path_factory):
    return synthetic_landscape(task, tmp_path_factory.mktemp("land") / "softmax.jsonl", depth=4)


def _tune(task, landscape, policy="hucb", seed=0, budget=None):
    clock = VirtualClock()
    ev = ReplayEvaluator(landscape, seed=seed)
    tuner = Tuner(task, ev, GraphRealizer(), make_policy(policy, seed), load_catalog(),
                  parts=TunerParts(clock=clock))
    return tuner.run(budget or Budget(iterations=12)), ev, clock


def test_a_replayed_run_charges_exactly_the_recorded_evaluation_seconds(task, landscape):
    result, ev, clock = _tune(task, landscape)
    assert result.stop_reason == "iterations 12/12"
    charged = sum(m.measurement.wall_s for m in result.members)
    assert result.spend.seconds == pytest.approx(charged) == pytest.approx(clock.now())
    assert ev.hits + ev.misses == len(result.members) and ev.hits > 3
    assert result.best.runtime_ms < result.reference.runtime_ms


def test_a_seconds_budget_means_recorded_gpu_seconds(task, landscape):
    result, _, clock = _tune(task, landscape, budget=Budget(seconds=3.0))
    assert result.stop_reason.startswith("seconds ")
    assert clock.now() >= 3.0
    # the run stops at the first iteration that crosses the budget: before it, less was spent
    before = result.spend.seconds - result.members[-1].measurement.wall_s
    assert before < 3.0 + 1e-9


def test_replay_is_deterministic_per_seed(task, landscape):
    a, _, _ = _tune(task, landscape, "thompson", seed=3)
    b, _, _ = _tune(task, landscape, "thompson", seed=3)
    assert [(r.arm, r.runtime_ms) for r in a.records] == [(r.arm, r.runtime_ms) for r in b.records]


def test_kernels_beyond_the_landscape_are_explicit_misses(task, landscape):
    result, ev, _ = _tune(task, landscape, "greedy", budget=Budget(iterations=20))
    misses = [r for r in result.records if r.status == "not_recorded"]
    # greedy goes deeper than the 2 recorded moves; a missed kernel proposed again is a duplicate
    assert ev.misses == len([r for r in misses if not r.duplicate]) > 0
    assert all(r.reward == 0.0 and r.runtime_ms is None for r in misses)
