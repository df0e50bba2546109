"""Conformance kit for executors (every implementation and every test fake passes it).

In a test module::

    @pytest.fixture
    def executor_factory():
        return lambda factory, workers: LocalExecutor(factory, workers)

    class TestLocal(ExecutorConformance):
        pass

Each check is also a plain function of ``make`` ((evaluator factory, workers) ->
a new executor). The kit's evaluator, `SleepyEvaluator`, is a real `Evaluator`
peer, picklable so Ray actors can build it: it sleeps, then reports a "runtime"
equal to the source's length, the worker index and process id in ``device``.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable

import pytest

from bandit.executors.base import BaseExecutor, EvaluatorFactory, ExecutorError
from profiling.hardware import GpuFacts
from profiling.measurement import Measurement, ShapeResult, Status, Timing
from profiling.tasks import Task

MakeExecutor = Callable[[EvaluatorFactory, int], BaseExecutor]
TASK = Task(name="kit", path="kit.py", source="", kind="softmax", size="smoke")
RAISE = "raise"  # a source the kit's evaluator raises on (an evaluator bug)


class SleepyEvaluator:
    device = "interpret"

    def __init__(self, index: int, sleep_s: float = 0.0) -> None:
        self.index, self.sleep_s, self.closed = index, sleep_s, False

    def gpu_facts(self) -> GpuFacts:
        return GpuFacts(name="kit")

    def evaluate(self, task: Task, source: str) -> Measurement:
        if source == RAISE:
            raise RuntimeError("kit evaluator bug")
        time.sleep(self.sleep_s)
        t = Timing(float(len(source)), float(len(source)), float(len(source)), 1)
        return Measurement(
            Status.OK,
            shapes=(ShapeResult(task.size, t, Timing(100.0, 100.0, 100.0, 1)),),
            device=f"worker-{self.index}-pid-{os.getpid()}",
            timing_kind="interpreter",
            wall_s=self.sleep_s,
        )

    def close(self) -> None:
        self.closed = True


def sleepy(sleep_s: float = 0.0) -> EvaluatorFactory:
    return functools.partial(SleepyEvaluator, sleep_s=sleep_s)


def check_results_follow_sources(make: MakeExecutor) -> None:
    with make(sleepy(), 2) as ex:
        sources = ["x" * n for n in (5, 1, 9, 3, 7)]
        done = ex.map(TASK, sources)
        assert [d.measurement.runtime_ms for d in done] == [5.0, 1.0, 9.0, 3.0, 7.0]
        assert all(0 <= d.lane < ex.workers for d in done)
        assert ex.evaluate(TASK, "abc").runtime_ms == 3.0


def check_workers_run_in_parallel(make: MakeExecutor, sleep_s: float = 0.4) -> None:
    with make(sleepy(sleep_s), 2) as ex:
        assert ex.workers == 2
        ex.map(TASK, ["warm", "warm up"])  # starting workers is not what is timed
        t0 = time.monotonic()
        done = ex.map(TASK, ["a", "bb", "ccc", "dddd"])
        elapsed = time.monotonic() - t0
        assert {d.lane for d in done} == {0, 1}
        assert len({d.measurement.device.split("-pid-")[0] for d in done}) == 2
        assert elapsed < 4 * sleep_s * 0.8, f"4 evaluations on 2 workers took {elapsed:.2f} s"


def check_evaluator_errors_become_crashed(make: MakeExecutor) -> None:
    with make(sleepy(), 1) as ex:
        m = ex.evaluate(TASK, RAISE)
        assert m.status is Status.CRASHED and "kit evaluator bug" in m.error
        assert ex.evaluate(TASK, "ok").ok  # the executor goes on


def check_close(make: MakeExecutor) -> None:
    ex = make(sleepy(), 1)
    assert ex.gpu_facts().name == "kit" and ex.device == "interpret"
    ex.close()
    ex.close()  # idempotent
    with pytest.raises(ExecutorError):
        ex.submit(TASK, "late")


class ExecutorConformance:
    """Tests every executor must pass; the subclass provides the ``executor_factory`` fixture."""

    def test_results_follow_sources(self, executor_factory: MakeExecutor) -> None:
        check_results_follow_sources(executor_factory)

    def test_workers_run_in_parallel(self, executor_factory: MakeExecutor) -> None:
        check_workers_run_in_parallel(executor_factory)

    def test_evaluator_errors_become_crashed(self, executor_factory: MakeExecutor) -> None:
        check_evaluator_errors_become_crashed(executor_factory)

    def test_close(self, executor_factory: MakeExecutor) -> None:
        check_close(executor_factory)
