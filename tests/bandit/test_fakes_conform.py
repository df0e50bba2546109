"""The Tuner tests' fakes are real protocol peers: they pass the realizer and
evaluator conformance kits (strategies.testing, profiling.testing)."""

from __future__ import annotations

import pytest

from profiling.measurement import Status
from profiling.testing import EvaluatorCase, EvaluatorConformance
from strategies.testing import RealizerCase, RealizerConformance
from strategies.types import RealizeRequest
from tests.bandit.tuner_fakes import (
    REF_SOURCE,
    STRATEGIES,
    TASK,
    CheckingRealizer,
    FakeEvaluator,
    FakeRealizer,
    render,
)

BY_ID = {s.id: s for s in STRATEGIES}


def request(sid: str, **params: int) -> RealizeRequest:
    source = render(params) if params else REF_SOURCE
    return RealizeRequest(TASK, BY_ID[sid], source, parent_params=params)


REQUESTS = (request("tiling/rows"), request("tiling/cols", **{"tiling/rows": 1}))
USED_UP = (request("vectorization/wide", **{"vectorization/wide": 1}),)


class TestFakeRealizer(RealizerConformance):
    @pytest.fixture
    def realizer_case(self):
        return RealizerCase(make=FakeRealizer, requests=REQUESTS, failing=USED_UP)


class TestCheckingRealizer(RealizerConformance):
    @pytest.fixture(params=[False, True], ids=["sampling", "deterministic"])
    def realizer_case(self, request):
        return RealizerCase(
            make=lambda: CheckingRealizer(deterministic=request.param),
            requests=REQUESTS,
            failing=USED_UP,
        )


class TestFakeEvaluator(EvaluatorConformance):
    @pytest.fixture
    def evaluator_case(self):
        return EvaluatorCase(
            make=FakeEvaluator,
            task=TASK,
            expected={
                REF_SOURCE: Status.OK,
                render({"tiling/rows": 1}): Status.OK,
                render({"fusion/broken": 1, "broken": True}): Status.COMPILE_ERROR,
            },
        )
