"""The tuning loop: ask the policy for an arm, realize, measure, reward, record.

`Tuner.run(budget)` drives the loop; `start` / `ask` / `realize` / `tell` are its
steps (Optuna's ask-and-tell style) so callers can drive or parallelize them
(`bandit.rounds`). The reference program is measured first as candidate ``"ref"``.
The rooms the loop delegates to: `bandit.proposer` (arms, parents, requests),
`bandit.measuring` (evaluations, the frontier), `bandit.attempt` (realize and
repair), `bandit.recorder` (records, run log, observers), `bandit.resume` (a run
started on an existing run log resumes without evaluating anything again) and
`bandit.stopping` (stop reasons). Given the same seed and the same measurements, a
run is deterministic.
"""

from __future__ import annotations

from bandit.arms import Arm
from bandit.attempt import Attempt, Proposal, attempt
from bandit.budget import Budget, Spend
from bandit.frontier import REFERENCE_ID, Frontier, Member
from bandit.hardware import HardwareView
from bandit.journal import JournaledRealizer
from bandit.measuring import Measurer, Run
from bandit.parts import TunerParts, TunerSettings
from bandit.policies.base import Policy
from bandit.proposer import Proposer
from bandit.recorder import Recorder
from bandit.records import IterationRecord, RunStart, TuneResult
from bandit.resume import header, restore
from bandit.runlog import RunLog
from bandit.stopping import TuneError, goal, no_arms
from profiling.clock import Clock
from profiling.evaluator import Evaluator, reference_candidate_source
from profiling.tasks import Task
from strategies.catalog import Catalog
from strategies.errors import RealizerError
from strategies.types import Realization, Realizer

__all__ = ["Run", "TuneError", "Tuner", "TunerParts", "TunerSettings"]


class Tuner:
    def __init__(
        self,
        task: Task,
        evaluator: Evaluator,
        realizer: Realizer,
        policy: Policy,
        catalog: Catalog,
        *,
        settings: TunerSettings | None = None,
        parts: TunerParts | None = None,
    ) -> None:
        """The arms are the catalog's strategies for the task's kind that the evaluator's
        device runs (`Catalog.runnable`), per kernel cluster. `parts`: the optional
        collaborators (run log, observers, clusterer, hardware view, clock; `TunerParts`)."""
        self.task, self.evaluator, self.realizer, self.policy = task, evaluator, realizer, policy
        self.settings = s = settings or TunerSettings()
        self.parts = p = parts or TunerParts()
        self.device = evaluator.device
        self.frontier = Frontier(p.clusterer)
        self.hardware = p.hardware or HardwareView()
        self.clock = p.clock or Clock()
        log = RunLog(p.run_log) if p.run_log is not None else None
        self.recorder = Recorder(log, p.observers, self.clock)
        self.hardware.on_profiled = self.recorder.counters  # the run log keeps them (resume)
        self.proposer = Proposer(
            task, catalog, self.device, self.frontier, self.hardware, realizer,
            policy.parent_rule, s.parent_slack, s.seed,
        )
        self.kernels = Measurer(
            task, evaluator, self.frontier, self.hardware, self.recorder, self.clock
        )
        self._realized: dict[str, Realization] = {}  # realizer answers logged before a resume
        self._next_iteration = 1
        self._started = False

    @property
    def records(self) -> tuple[IterationRecord, ...]:
        return tuple(self.recorder.records)

    @property
    def reference(self) -> Member:
        return self.frontier.get(REFERENCE_ID)

    def spend(self) -> Spend:
        return self.recorder.spend()

    def arms(self) -> tuple[Arm, ...]:
        """The allowed arms now: clusters in the frontier x runnable strategies."""
        return self.proposer.arms()

    def start(self) -> None:
        """Measure the reference, or restore everything from an existing run log."""
        if self._started:
            return
        self._started = True
        self.recorder.start_clock()
        self.proposer.gpu = gpu = self.evaluator.gpu_facts()
        policy, realizer = self.policy.name, self.realizer.name
        logged = self.recorder.open(
            header(self.task, policy, realizer, self.settings.seed, self.device, self.parts.meta)
        )
        if logged is not None:  # resume: the frontier, the policy, what was tried
            done = restore(logged, self.records, self.kernels.admit, self.hardware, self.policy)
            self.kernels.pending, self._realized = done.measured, done.realized
            self.proposer.tried, self._next_iteration = done.tried, done.next_iteration
        if REFERENCE_ID not in self.frontier:
            source = self.parts.reference_source or reference_candidate_source(self.task)
            self.kernels.reference(source)
        log = self.recorder.run_log
        self.recorder.started(
            RunStart(self.task, policy, realizer, self.device, gpu, self.reference, self.arms(),
                     self.records, log.path if log else None)
        )

    def ask(self) -> Proposal:
        """Let the policy pick an arm and resolve the parent kernel to refine."""
        self.start()
        allowed = self.proposer.parents()
        if not allowed:
            kind, any_arm = self.task.kind, bool(self.arms())
            raise TuneError(no_arms(self.realizer.name, kind, self.device, any_arm))
        iteration, self._next_iteration = self._next_iteration, self._next_iteration + 1
        masking = self.proposer.masked(allowed, iteration)
        arm = self.policy.ask(masking.open)
        return self.proposer.proposal(iteration, arm, allowed[arm], masking.decisions)

    def realize(self, proposal: Proposal, run: Run | None = None) -> Attempt:
        """Realize, evaluate (reusing known measurements) and repair. Raises RealizerError.
        Touches no tuner state but the clock, so a round's proposals may be realized in
        parallel threads (`bandit.rounds`); `run`: evaluate on an executor's worker."""
        return attempt(
            proposal,
            JournaledRealizer(self.realizer, self._realized, self.recorder.realized),
            lambda source: self.kernels.measure(source, run),
            self.frontier.lookup,
            self.settings.repair_turns,
        )

    def tell(self, proposal: Proposal, outcome: Attempt) -> IterationRecord:
        """Record the outcome: frontier, reward, policy update, log, observers."""
        for cand, m in outcome.measured:
            if cand.id in self.frontier:  # a second tell of the same proposal
                raise ValueError(f"proposal {proposal.iteration} was already told")
            self.recorder.kernel(self.kernels.admit(cand, m, proposal.iteration))
        m = outcome.measurement
        ok = m is not None and m.ok
        r = self.settings.reward(proposal.parent.speedup, m.speedup if m is not None else None, ok)
        self.policy.tell(proposal.arm, r)
        self.proposer.tried.add((proposal.parent.id, proposal.arm.strategy))
        best = self.frontier.best() or self.reference
        return self.recorder.iteration(proposal, outcome, r, best, self.policy.state_dict())

    def run(self, budget: Budget) -> TuneResult:
        """Iterate until the first exhausted budget limit (or a fatal realizer error)."""
        self.start()
        error: str | None = None
        try:
            while not (reason := budget.exhausted(self.spend()) or goal(budget, self.frontier)):
                try:
                    proposal = self.ask()
                except TuneError as e:  # no arm can yield a new kernel
                    reason = str(e)
                    break
                try:
                    outcome = self.realize(proposal)
                except RealizerError as e:
                    error = str(e)
                    break
                self.tell(proposal, outcome)
                if outcome.fatal:
                    error = outcome.fatal
                    break
            if error is not None:
                reason = f"realizer error: {error}"
        except KeyboardInterrupt:
            reason = "interrupted"
        return self.finish(reason, error)

    def finish(self, stop_reason: str, error: str | None = None) -> TuneResult:
        """Close the run log and tell observers; the result of the run so far."""
        log, best = self.recorder.run_log, self.frontier.best() or self.reference
        result = TuneResult(stop_reason, self.reference, best, self.records, tuple(self.frontier),
                            self.spend(), error, log.path if log else None)
        self.recorder.finished(result)
        return result
