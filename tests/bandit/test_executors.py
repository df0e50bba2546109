"""Executors pass the conformance kit: local threads, and Ray actors on fake GPUs."""

from __future__ import annotations

import builtins
import sys

import pytest

from bandit.executors import ExecutorError, LocalExecutor, make_executor, visible_gpus
from bandit.executors.testing import RAISE, TASK, ExecutorConformance, SleepyEvaluator, sleepy
from profiling.measurement import Status
from profiling.testing import EvaluatorCase, EvaluatorConformance


class TestKitEvaluatorConforms(EvaluatorConformance):
    @pytest.fixture
    def evaluator_case(self):
        return EvaluatorCase(make=lambda: SleepyEvaluator(0), task=TASK, expected={"abc": Status.OK})


class TestLocalExecutorIsAnEvaluator(EvaluatorConformance):
    @pytest.fixture
    def evaluator_case(self):
        return EvaluatorCase(
            make=lambda: LocalExecutor(sleepy(), 2), task=TASK,
            expected={"abc": Status.OK, RAISE: Status.CRASHED},
        )


class TestLocalExecutor(ExecutorConformance):
    @pytest.fixture
    def executor_factory(self):
        return lambda factory, workers: LocalExecutor(factory, workers)


@pytest.fixture(scope="module")
def ray_two_fake_gpus():
    ray = pytest.importorskip("ray")  # an optional third-party extra
    ray.init(num_gpus=2, num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
class TestRayExecutor(ExecutorConformance):
    @pytest.fixture
    def executor_factory(self, ray_two_fake_gpus):
        from bandit.executors.ray_actors import RayExecutor

        return lambda factory, workers: RayExecutor(factory, workers)

    def test_one_actor_per_gpu_by_default(self, ray_two_fake_gpus):
        from bandit.executors.ray_actors import RayExecutor

        with RayExecutor(sleepy()) as ex:
            assert ex.workers == 2
            pids = {d.measurement.device.split("-pid-")[1] for d in ex.map(TASK, ["a"] * 6)}
            assert len(pids) == 2  # two actor processes, each holding one (fake) GPU


def test_without_ray_the_ray_executor_says_so_in_one_line(monkeypatch):
    real_import = builtins.__import__

    def no_ray(name, *args, **kw):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kw)

    monkeypatch.delitem(sys.modules, "ray", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(ExecutorError, match=r"pip install 'kernel-bandit\[ray\]'") as e:
        make_executor("ray", sleepy(), 1)
    assert "\n" not in str(e.value)


def test_make_executor_local_and_unknown(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert visible_gpus() == ["3", "5"]
    with make_executor("local", sleepy()) as ex:
        assert ex.workers == 2  # one per visible GPU
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with make_executor("local", sleepy()) as ex:
        assert ex.workers == 1
    with pytest.raises(ExecutorError, match="unknown executor"):
        make_executor("dask", sleepy())
    with pytest.raises(ExecutorError, match="at least one worker"):
        LocalExecutor(sleepy(), 0)


@pytest.mark.slow
def test_an_unpicklable_factory_is_a_one_line_executor_error(ray_two_fake_gpus):
    import threading

    from bandit.executors.ray_actors import RayExecutor

    lock = threading.Lock()
    with pytest.raises(ExecutorError, match="Ray workers did not start") as e:
        RayExecutor(lambda i: lock, 1)
    assert "\n" not in str(e.value)
