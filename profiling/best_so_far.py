"""Which speedup would be a task's new best: the bar the costly after-checks share.

The re-measure from a fresh process (`profiling.remeasure`), the out-of-bounds check
(`profiling.sanitizer`) and the input probes (``EvalSettings.probe_scope``) run, in their
``best`` modes, only on a measurement that would
become its task's new best, i.e. the one that would count. `BestSoFar` keeps that bar
per task (`profiling.tasks.task_key`): a speedup beats it when it is above every speedup
that stood so far; a measurement that stood raises it.
"""

from __future__ import annotations

from profiling.measurement import Measurement
from profiling.tasks import Task, task_key


class BestSoFar:
    """The best speedup per task that stood its check; ``floor`` before any stood."""

    def __init__(self, floor: float = 0.0) -> None:
        self.floor = floor
        self._best: dict[str, float] = {}

    def bar(self, task: Task) -> float:
        """The speedup a measurement of ``task`` must beat to be its new best."""
        return self._best.get(task_key(task), self.floor)

    def beats(self, task: Task, m: Measurement) -> bool:
        return (m.speedup or 0.0) > self.bar(task)

    def stood(self, task: Task, m: Measurement) -> None:
        """``m`` passed its check: its speedup raises its task's bar."""
        key = task_key(task)
        self._best[key] = max(self._best.get(key, self.floor), m.speedup or 0.0)
