"""`RayExecutor`: the same evaluations on Ray actors, one GPU each.

Each actor builds its evaluator from the (pickled) factory and evaluates what it
is sent; Ray gives an actor declared with ``num_gpus=1`` its own GPU through
``CUDA_VISIBLE_DEVICES``, which the evaluator's worker process inherits. Ray
connects to the cluster named by ``RAY_ADDRESS``, else starts a local instance.
Ray is an optional extra (``pip install 'kernel-bandit[ray]'``); without it the
executor says so in one line (`ExecutorError`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import Future
from typing import Any

from bandit.executors.base import BaseExecutor, Evaluated, EvaluatorFactory, ExecutorError, crashed
from profiling.hardware import GpuFacts
from profiling.measurement import Measurement
from profiling.tasks import Task

INSTALL_HINT = "executor=ray needs Ray, an optional extra: pip install 'kernel-bandit[ray]'"


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ExecutorError(INSTALL_HINT) from None
    return ray


class _Actor:
    """Runs on a Ray worker: one evaluator, evaluations one at a time."""

    def __init__(self, factory: EvaluatorFactory, index: int) -> None:
        self.evaluator = factory(index)

    def device(self) -> str:
        return self.evaluator.device

    def gpu_facts(self) -> GpuFacts:
        return self.evaluator.gpu_facts()

    def evaluate(self, task: Task, source: str) -> Measurement:
        try:
            return self.evaluator.evaluate(task, source)
        except Exception as e:  # an evaluator bug must not stop the run
            return crashed(e)

    def close(self) -> None:
        self.evaluator.close()


class RayExecutor(BaseExecutor):
    name = "ray"

    def __init__(
        self,
        factory: EvaluatorFactory,
        workers: int | None = None,
        *,
        gpus_per_worker: float = 1.0,
        address: str | None = None,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        """`workers`: None = one per GPU in the cluster. `address`: default ``RAY_ADDRESS``
        (None starts a local Ray). `init_options` go to ``ray.init`` (tests fake GPUs
        with ``{"num_gpus": 2}``)."""
        ray = import_ray()
        self._ray = ray
        self._actors: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False
        if not ray.is_initialized():
            address = address or os.environ.get("RAY_ADDRESS") or None
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         **(init_options or {}))
            except (ConnectionError, RuntimeError, ValueError) as e:
                raise ExecutorError(f"could not start or reach Ray ({address or 'local'}): {e}") from e
        if workers is None:
            gpus = int(ray.cluster_resources().get("GPU", 0))
            if gpus_per_worker > 0 and gpus < 1:
                raise ExecutorError("the Ray cluster has no GPU (set executor.workers for CPU workers)")
            workers = max(1, int(gpus / gpus_per_worker)) if gpus_per_worker > 0 else 1
        if workers < 1:
            raise ExecutorError(f"an executor needs at least one worker, got {workers}")
        self.workers = workers
        remote = ray.remote(num_gpus=gpus_per_worker, max_concurrency=1)(_Actor)
        try:
            self._actors = [remote.remote(factory, i) for i in range(workers)]
            self.device = ray.get(self._actors[0].device.remote())
            self._facts: GpuFacts = ray.get(self._actors[0].gpu_facts.remote())
        except Exception as e:
            self.close()
            raise ExecutorError(f"Ray workers did not start: {str(e).splitlines()[0]}") from e
        self._busy = [0] * workers

    def submit(self, task: Task, source: str) -> Future[Evaluated]:
        with self._lock:
            if self._closed:
                raise ExecutorError("the executor is closed")
            lane = min(range(self.workers), key=lambda i: self._busy[i])
            self._busy[lane] += 1
        ref = self._actors[lane].evaluate.remote(task, source)
        out: Future[Evaluated] = Future()
        inner = ref.future()

        def done(f: Future[Measurement]) -> None:
            with self._lock:
                self._busy[lane] -= 1
            try:
                out.set_result(Evaluated(f.result(), lane))
            except Exception as e:  # the actor died
                out.set_result(Evaluated(crashed(e, self.device), lane))

        inner.add_done_callback(done)
        return out

    def gpu_facts(self) -> GpuFacts:
        return self._facts

    def close(self) -> None:
        with self._lock:
            actors, self._actors = self._actors, []
            self._closed = True
        for a in actors:
            with contextlib.suppress(Exception):  # a dead actor has nothing left to close
                self._ray.get(a.close.remote(), timeout=30)
            self._ray.kill(a)
