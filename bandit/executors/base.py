"""The executor seam: where candidate evaluations run, one worker per GPU.

An `Executor` owns ``workers`` evaluation workers (each an `Evaluator`, e.g. a
`WorkerEvaluator` pinned to one GPU) and runs evaluations submitted to it on the
first free one. `submit` returns at once with a future of an `Evaluated`: the
measurement and the ``lane`` (worker index) that produced it, which the tuner
charges to its clock (concurrent lanes overlap in virtual time under replay).

Implementations: `LocalExecutor` (threads driving local evaluators) and
`RayExecutor` (Ray actors, ``num_gpus=1`` each, on a local Ray or the cluster
named by ``RAY_ADDRESS``). `BaseExecutor` gives the optional conveniences their
default bodies. Every implementation passes the kit in `bandit.executors.testing`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

from profiling.evaluator import Evaluator
from profiling.hardware import GpuFacts
from profiling.measurement import Measurement, Status
from profiling.tasks import Task

# builds worker `i`'s evaluator (called once per worker, in the process that runs it)
EvaluatorFactory = Callable[[int], Evaluator]


class ExecutorError(RuntimeError):
    """The executor cannot run (e.g. Ray is not installed, no cluster); one clear line."""


@dataclass(frozen=True)
class Evaluated:
    measurement: Measurement
    lane: int  # the worker that ran it, 0 .. workers-1


class Executor(Protocol):
    name: str
    workers: int
    device: str  # what the workers run on ("cuda", "interpret", or a replayed device)

    def submit(self, task: Task, source: str) -> Future[Evaluated]: ...

    def gpu_facts(self) -> GpuFacts: ...

    def close(self) -> None: ...


class BaseExecutor:
    """Defaults for an executor's optional conveniences (subclasses define the protocol)."""

    name = "base"
    workers = 1
    device = "cuda"

    def submit(self, task: Task, source: str) -> Future[Evaluated]:
        raise NotImplementedError

    def gpu_facts(self) -> GpuFacts:
        raise NotImplementedError

    def close(self) -> None:
        """Release the workers (idempotent)."""

    def evaluate(self, task: Task, source: str) -> Measurement:
        """One evaluation, waited for (an executor is then also an `Evaluator`)."""
        return self.submit(task, source).result().measurement

    def map(self, task: Task, sources: Sequence[str]) -> list[Evaluated]:
        """Evaluate all `sources` in parallel; results in the order of `sources`."""
        futures = [self.submit(task, s) for s in sources]
        return [f.result() for f in futures]

    def __enter__(self) -> BaseExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def crashed(error: BaseException, device: str = "") -> Measurement:
    """The measurement of an evaluation whose evaluator raised (a bug, not the candidate's)."""
    text = " ".join(f"{type(error).__name__}: {error}".split())[:300]
    return Measurement.failure(Status.CRASHED, f"executor: the evaluator raised {text}", device=device)
