"""Evaluation harness: tasks, the isolated worker, correctness, timing, roofline, guards.

The public surface::

    from profiling import EvalSettings, WorkerEvaluator, load_task, reference_candidate_source

    with WorkerEvaluator(EvalSettings(device="auto")) as ev:
        task = load_task("softmax", "smoke", tasks_dir=Path("experiments/tasks"))
        m = ev.evaluate(task, reference_candidate_source(task))

Every evaluator follows the `Evaluator` protocol and passes the kit in
:mod:`profiling.testing`. Hardware counters (``Measurement.counters``, a typed
`profiling.probes.Counters`) come from the probes selected in
`profiling.probes.ProbeSettings` (``WorkerEvaluator(probes=...)``: Nsight Compute,
NVML, Triton's compiled-kernel stats); the harness's own observations are
``Measurement.diagnostics``.
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
from profiling.measurement import (
    HarnessDiagnostics,
    Measurement,
    RooflineFloor,
    ShapeResult,
    Status,
    Timing,
)
from profiling.tasks import Task, TaskError, load_task

__all__ = [
    "EvalSettings",
    "Evaluator",
    "GpuFacts",
    "HarnessDiagnostics",
    "Measurement",
    "RooflineFloor",
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
