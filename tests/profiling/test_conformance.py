"""Every evaluator passes the conformance kit (profiling.testing): the worker harness on
Triton's interpreter and the recorded-measurement fake."""

from __future__ import annotations

import pytest

from profiling.measurement import Measurement, Status
from profiling.testing import EvaluatorCase, EvaluatorConformance, check_evaluator
from tests.fakes.evaluators import RecordedEvaluator, ok_measurement

from .conftest import candidate, task

SYNTAX_ERROR = "class ModelNew(\n"


class TestWorkerEvaluator(EvaluatorConformance):
    @pytest.fixture
    def evaluator_case(self, interp_ev):
        return EvaluatorCase(
            make=lambda: interp_ev,  # the shared worker: close() then evaluate() starts a new one
            task=task("row_softmax"),
            expected={
                candidate("softmax_ok"): Status.OK,
                candidate("exception"): Status.RUNTIME_ERROR,
                candidate("wrong_values"): Status.INCORRECT,
                SYNTAX_ERROR: Status.SYNTAX_ERROR,
            },
        )


class TestRecordedFake(EvaluatorConformance):
    @pytest.fixture
    def evaluator_case(self):
        recorded = {
            "fast": ok_measurement(0.5),
            "wrong": Measurement.failure(Status.INCORRECT, "outside tolerance", device="H200"),
        }
        return EvaluatorCase(
            make=lambda: RecordedEvaluator(recorded),
            task=task("row_softmax"),
            expected={"fast": Status.OK, "wrong": Status.INCORRECT, "unseen": Status.RUNTIME_ERROR},
        )


def test_the_kit_catches_an_evaluator_that_raises():
    class Raising(RecordedEvaluator):
        def evaluate(self, task, source):
            raise RuntimeError("worker died")

    case = EvaluatorCase(make=lambda: Raising({}), task=task("row_softmax"),
                         expected={"x": Status.RUNTIME_ERROR})
    with pytest.raises(pytest.fail.Exception, match="worker died"):
        check_evaluator(case)


def test_the_kit_catches_a_wrong_status():
    case = EvaluatorCase(make=lambda: RecordedEvaluator({"x": ok_measurement(1.0)}),
                         task=task("row_softmax"), expected={"x": Status.INCORRECT})
    with pytest.raises(AssertionError, match="expected incorrect"):
        check_evaluator(case)
