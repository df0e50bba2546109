"""experiments/bench_tuner.py: its instant fakes are protocol peers (the conformance
kits), and a short measurement of the loop's overhead runs."""

from __future__ import annotations

import pytest

from experiments import bench_tuner
from experiments.bench_tuner import InstantEvaluator, InstantRealizer
from profiling.measurement import Status
from profiling.tasks import Task
from profiling.testing import EvaluatorCase, EvaluatorConformance
from strategies.catalog import load_catalog
from strategies.testing import RealizerCase, RealizerConformance
from strategies.types import RealizeRequest

TASK = Task("bench", "bench.py", "", "softmax")


class TestInstantRealizer(RealizerConformance):
    @pytest.fixture
    def realizer_case(self):
        strategy = load_catalog().runnable("softmax", InstantEvaluator.device)[0]
        requests = (RealizeRequest(TASK, strategy, "class ModelNew: pass\n"),)
        return RealizerCase(make=InstantRealizer, requests=requests, charges=True)


class TestInstantEvaluator(EvaluatorConformance):
    @pytest.fixture
    def evaluator_case(self):
        return EvaluatorCase(
            make=InstantEvaluator, task=TASK, expected={"class ModelNew: pass\n": Status.OK}
        )


def test_overhead_is_measured_per_iteration():
    per, once = bench_tuner.measure("hucb", 12, lambda folder: [], log=True)
    assert len(per) == 11 and all(ms > 0 for ms in per)
    assert once > 0
