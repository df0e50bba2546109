"""Executors: where evaluations run (`local` threads over local workers, or `ray` actors)."""

from __future__ import annotations

from bandit.executors.base import (
    BaseExecutor,
    Evaluated,
    EvaluatorFactory,
    Executor,
    ExecutorError,
)
from bandit.executors.local import LocalExecutor, visible_gpus

EXECUTORS = ("local", "ray")

__all__ = [
    "EXECUTORS",
    "BaseExecutor",
    "Evaluated",
    "EvaluatorFactory",
    "Executor",
    "ExecutorError",
    "LocalExecutor",
    "make_executor",
    "visible_gpus",
]


def make_executor(
    name: str, factory: EvaluatorFactory, workers: int | None = None, device: str = "cuda"
) -> BaseExecutor:
    """Build the executor `name` with `workers` workers (None: one per visible GPU, at
    least one). Ray actors hold one GPU each on ``device="cuda"``, none otherwise."""
    if name == "local":
        return LocalExecutor(factory, workers or max(1, len(visible_gpus())))
    if name == "ray":
        from bandit.executors.ray_actors import RayExecutor

        return RayExecutor(factory, workers, gpus_per_worker=1.0 if device == "cuda" else 0.0)
    raise ExecutorError(f"unknown executor {name!r} (choose one of {', '.join(EXECUTORS)})")
