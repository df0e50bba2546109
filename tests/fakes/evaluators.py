"""An evaluator test fake: a real `Evaluator` peer replaying recorded measurements."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from profiling.hardware import GpuFacts
from profiling.measurement import Measurement, ShapeResult, Status, Timing
from profiling.tasks import Task

RECORDED_ON = GpuFacts(name="NVIDIA H200 (recorded)")


def source_key(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


def ok_measurement(candidate_ms: float, reference_ms: float = 1.0, device: str = "H200") -> Measurement:
    """An OK measurement whose reference and candidate were timed together."""
    shape = ShapeResult(
        "default",
        Timing(candidate_ms, 0.98 * candidate_ms, 1.02 * candidate_ms, 100),
        Timing(reference_ms, 0.98 * reference_ms, 1.02 * reference_ms, 100),
    )
    return Measurement(Status.OK, shapes=(shape,), device=device, trials=5)


class RecordedEvaluator:
    """Serves measurements recorded on a GPU, keyed by source hash; never runs anything.

    A source that was not recorded is a ``runtime_error`` measurement (not an
    exception). ``calls`` counts evaluations; ``closed`` counts ``close()`` calls.
    """

    def __init__(
        self,
        recorded: Mapping[str, Measurement],
        *,
        device: str = "cuda",
        facts: GpuFacts = RECORDED_ON,
    ) -> None:
        self.table = {source_key(s): m for s, m in recorded.items()}
        self.device = device
        self.facts = facts
        self.calls = 0
        self.closed = 0

    def evaluate(self, task: Task, source: str) -> Measurement:
        self.calls += 1
        m = self.table.get(source_key(source))
        if m is None:
            return Measurement.failure(
                Status.RUNTIME_ERROR, f"no recorded measurement for this source on {task.name}",
                device=self.facts.name,
            )
        return m

    def gpu_facts(self) -> GpuFacts:
        return self.facts

    def close(self) -> None:
        self.closed += 1
