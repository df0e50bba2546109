"""`LocalExecutor`: one thread per local evaluation worker, one worker per visible GPU.

Each worker is an `Evaluator` built by the factory for its index (on CUDA: a
`WorkerEvaluator` whose process sees only GPU ``i``; on the interpreter: N
independent worker processes; under replay: evaluators over the same landscape).
Submissions queue up and go to the first free worker.
"""

from __future__ import annotations

import os
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor

from bandit.executors.base import BaseExecutor, Evaluated, EvaluatorFactory, ExecutorError, crashed
from profiling.evaluator import Evaluator
from profiling.hardware import GpuFacts
from profiling.tasks import Task


def visible_gpus() -> list[str]:
    """The ids of the GPUs this process may use (``CUDA_VISIBLE_DEVICES``, else all torch sees)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [d.strip() for d in env.split(",") if d.strip() and d.strip() != "-1"]
    try:
        import torch
    except ImportError:  # pragma: no cover
        return []
    return [str(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []


class LocalExecutor(BaseExecutor):
    name = "local"

    def __init__(self, factory: EvaluatorFactory, workers: int = 1) -> None:
        if workers < 1:
            raise ExecutorError(f"an executor needs at least one worker, got {workers}")
        self.workers = workers
        self._evaluators: list[Evaluator] = []
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        try:
            for i in range(workers):
                self._evaluators.append(factory(i))
        except BaseException:
            self.close()
            raise
        self.device = self._evaluators[0].device
        self._free: queue.SimpleQueue[int] = queue.SimpleQueue()
        for i in range(workers):
            self._free.put(i)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kb-eval")

    def submit(self, task: Task, source: str) -> Future[Evaluated]:
        with self._lock:
            if self._pool is None:
                raise ExecutorError("the executor is closed")
            return self._pool.submit(self._run, task, source)

    def _run(self, task: Task, source: str) -> Evaluated:
        lane = self._free.get()
        ev = self._evaluators[lane]
        try:
            m = ev.evaluate(task, source)
        except Exception as e:  # an evaluator bug must not stop the run
            m = crashed(e, self.device)
        finally:
            self._free.put(lane)
        return Evaluated(m, lane)

    def gpu_facts(self) -> GpuFacts:
        if not self._evaluators:
            raise ExecutorError("the executor is closed")
        return self._evaluators[0].gpu_facts()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        evaluators, self._evaluators = self._evaluators, []
        for ev in evaluators:
            ev.close()
