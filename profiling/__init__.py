"""Evaluation harness: tasks, the isolated worker, correctness, timing, guards.

The public surface (see ``.notes/API.md``)::

    from profiling import EvalSettings, WorkerEvaluator, load_task, reference_candidate_source

    with WorkerEvaluator(EvalSettings(device="auto")) as ev:
        task = load_task("softmax", "smoke")
        m = ev.evaluate(task, reference_candidate_source(task))

Importing this package does not import torch; the worker process does.
"""

from profiling.evaluator import (
    EvalSettings,
    Evaluator,
    WorkerEvaluator,
    WorkerStartError,
    reference_candidate_source,
    resolve_device,
)
from profiling.hardware import GpuFacts
from profiling.measurement import Measurement, ShapeResult, Status, Timing
from profiling.tasks import Task, TaskError, load_task

__all__ = [
    "EvalSettings",
    "Evaluator",
    "GpuFacts",
    "Measurement",
    "ShapeResult",
    "Status",
    "Task",
    "TaskError",
    "Timing",
    "WorkerEvaluator",
    "WorkerStartError",
    "load_task",
    "reference_candidate_source",
    "resolve_device",
]
