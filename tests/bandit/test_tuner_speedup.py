"""One meaning of speedup: every number is a `Measurement.speedup` (reference time /
candidate time, timed interleaved in the same worker); the reference's own is 1."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bandit import Budget, Tuner, TunerParts, TunerSettings, make_policy
from profiling.measurement import Measurement
from profiling.tasks import Task
from tests.bandit.tuner_fakes import (
    REF_MS,
    REF_SOURCE,
    STRATEGIES,
    TASK,
    FakeEvaluator,
    FakeRealizer,
    catalog,
    ok,
)


@dataclass
class DriftingEvaluator(FakeEvaluator):
    """The machine slows down after the reference: every later evaluation times both
    programs `drift` times slower (ratios unchanged), and the reference's own
    interleaved self-ratio is a little off 1, as timing noise makes it."""

    drift: float = 2.0

    def evaluate(self, task: Task, source: str) -> Measurement:
        m = super().evaluate(task, source)
        if source == REF_SOURCE:
            return ok(REF_MS, ref_ms=REF_MS * 1.04)
        if m.ok and m.runtime_ms:
            return ok(m.runtime_ms * self.drift, ref_ms=REF_MS * self.drift)
        return m


def run(strategy: str, iterations: int = 1):
    tuner = Tuner(
        TASK,
        DriftingEvaluator(),
        FakeRealizer(),
        make_policy("greedy", 0),
        catalog(s for s in STRATEGIES if s.id == strategy),
        settings=TunerSettings(seed=0),
        parts=TunerParts(reference_source=REF_SOURCE),
    )
    return tuner.run(Budget(iterations=iterations))


def test_reward_compares_speedups_not_medians_of_different_evaluations():
    result = run("tiling/rows")  # 0.8x the runtime: speedup 1.25, measured 2x slower
    (record,) = result.records
    assert record.runtime_ms == pytest.approx(REF_MS * 0.8 * 2.0)  # slower than the reference's
    assert record.speedup == pytest.approx(1.25)
    assert record.reward == pytest.approx(1.0 - 1.0 / 1.25)  # vs the reference's speedup 1
    assert record.best_speedup == pytest.approx(1.25) and result.best_speedup == record.best_speedup


def test_the_reference_speedup_is_one_and_a_child_is_rewarded_against_its_parent():
    result = run("tiling/rows", iterations=2)  # rows applied twice: 1.25x, then 1.5625x
    first, second = result.records
    assert result.reference.speedup == 1.0 and result.reference.measurement.speedup != 1.0
    assert second.parent_id == first.candidate_id
    assert second.reward == pytest.approx(1.0 - 1.25 / 1.5625)
    assert result.best_speedup == pytest.approx(1.5625)


def test_best_speedup_is_one_while_the_reference_is_best():
    result = run("fusion/broken")  # fails to compile: the reference stays the best
    assert result.best.id == "ref"
    assert result.records[0].best_speedup == 1.0 and result.best_speedup == 1.0
