"""Measuring sources for the tuner and admitting measured kernels to the frontier.

Every measurement is written to the run log before anything else uses it (a kill
then loses nothing) and its seconds are charged to the run's clock. A resumed run
reuses the measurements taken before the kill (``pending``, by source hash) instead
of evaluating those sources again. A kernel probed with its evaluation joins the
frontier with its counters remembered, so it is never profiled again.
"""

from __future__ import annotations

from collections.abc import Callable

from bandit.executors.base import Evaluated
from bandit.frontier import REFERENCE_ID, Frontier, Member, source_hash
from bandit.hardware import HardwareView
from bandit.recorder import Recorder
from bandit.stopping import TuneError
from profiling.clock import Clock
from profiling.evaluator import Evaluator
from profiling.measurement import Measurement
from profiling.tasks import Task
from strategies.types import Candidate

Run = Callable[[str], Evaluated]  # evaluates a source somewhere; says on which worker


class Measurer:
    def __init__(
        self,
        task: Task,
        evaluator: Evaluator,
        frontier: Frontier,
        hardware: HardwareView,
        recorder: Recorder,
        clock: Clock,
    ) -> None:
        self.task, self.evaluator, self.frontier = task, evaluator, frontier
        self.hardware, self.recorder, self.clock = hardware, recorder, clock
        self.pending: dict[str, Measurement] = {}  # measured before a resume, not yet used

    def measure(self, source: str, run: Run | None = None) -> Measurement:
        """Evaluate `source` (a resumed run's unfinished measurement is reused) and charge
        its seconds to the clock. `run`: evaluate elsewhere (an executor's worker; the
        `Evaluated.lane` it reports is the clock lane), else on the tuner's evaluator."""
        cached = self.pending.pop(source_hash(source), None)
        if cached is not None:
            return cached
        if run is None:
            m, lane = self.evaluator.evaluate(self.task, source), None
        else:
            done = run(source)
            m, lane = done.measurement, done.lane
        self.recorder.measured(source_hash(source), m)  # first: a kill now loses nothing
        self.clock.charge(m.wall_s, lane)
        return m

    def admit(
        self, candidate: Candidate, m: Measurement, iteration: int, cluster: int | None = None
    ) -> Member:
        """Add a measured kernel to the frontier (not to the run log)."""
        member = self.frontier.add(candidate, m, iteration, cluster=cluster)
        if m.counters is not None:  # probed with the evaluation: never profiled again
            self.hardware.remember(member.id, m.counters)
        return member

    def reference(self, source: str) -> Member:
        """Measure the reference program, the baseline of every speedup, and log it.
        TuneError when it fails: no run can go on."""
        m = self.measure(source)
        if not m.ok or not m.runtime_ms:
            raise TuneError(
                f"the reference program of task {self.task.name!r} failed to evaluate "
                f"({m.status}): {m.error or 'no runtime'}"
            )
        member = self.admit(Candidate(REFERENCE_ID, source), m, 0, cluster=0)
        self.recorder.kernel(member)
        return member
