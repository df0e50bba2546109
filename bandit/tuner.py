"""The tuning loop: ask the policy for an arm, realize, measure, reward, record.

`Tuner.run(budget)` drives the loop; `start` / `ask` / `realize` / `tell` are its
steps (Optuna's ask-and-tell style) so callers can drive or parallelize them. The
reference program is measured first as candidate ``"ref"``. Parent selection lives
in `bandit.parents`, the records, run log and observers in `bandit.recorder`; a
tuner started on an existing run log resumes from it without evaluating anything
again. Given the same seed and the same measurements, a run is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bandit.arms import Arm
from bandit.attempt import Attempt, Proposal, attempt
from bandit.budget import Budget, Spend
from bandit.executors.base import Evaluated
from bandit.frontier import REFERENCE_ID, Clusterer, Frontier, Member, source_hash
from bandit.hardware import HardwareView
from bandit.journal import JournaledRealizer
from bandit.masks import MaskResult, headroom_first
from bandit.observer import Observer
from bandit.parents import parents
from bandit.policies.base import Policy
from bandit.recorder import Recorder
from bandit.records import IterationRecord, RunStart, TuneResult
from bandit.reward import RewardSpec
from bandit.runlog import RunLog
from profiling.clock import Clock
from profiling.evaluator import Evaluator, reference_candidate_source
from profiling.hardware import GpuFacts
from profiling.measurement import Measurement
from profiling.tasks import Task
from strategies.errors import RealizerError
from strategies.types import Candidate, Realization, Realizer, RealizeRequest, Strategy

Run = Callable[[str], Evaluated]  # evaluates a source somewhere; says on which worker


class TuneError(RuntimeError):
    """The run cannot start or continue (e.g. the reference itself fails); one clear line."""


@dataclass(frozen=True)
class TunerSettings:
    seed: int = 0
    repair_turns: int = 0  # follow-up turns that feed a compile/runtime error back
    reward: RewardSpec = field(default_factory=RewardSpec)
    # a strategy used up on the best kernel moves on to kernels at most this much slower
    # than it (0.25: within 25 %), never to stragglers (see bandit.parents)
    parent_slack: float = 0.25


class Tuner:
    def __init__(
        self,
        task: Task,
        evaluator: Evaluator,
        realizer: Realizer,
        policy: Policy,
        strategies: Sequence[Strategy],
        *,
        settings: TunerSettings | None = None,
        run_log: str | Path | None = None,
        observers: Sequence[Observer] = (),
        clusterer: Clusterer | None = None,
        hardware: HardwareView | None = None,
        reference_source: str | None = None,
        meta: Mapping[str, Any] | None = None,
        clock: Clock | None = None,
    ) -> None:
        """`strategies`: those that apply to the task's kind (`Strategy.applies`) and whose
        target the evaluator's device runs become arms. `meta` goes into the run log header.
        `clusterer` groups the frontier (the arms' top level); `hardware` profiles parents,
        masks arms whose target resource is saturated and prefers parents with headroom
        (`bandit.hardware`); without them, one cluster and nothing masked.
        `clock` measures the run's seconds: real time by default; under replay a
        `VirtualClock`, charged every evaluation's (recorded) ``wall_s``."""
        self.task, self.evaluator, self.realizer, self.policy = task, evaluator, realizer, policy
        self.settings = settings or TunerSettings()
        self.device = evaluator.device
        self.strategies = tuple(
            s
            for s in strategies
            if s.applies(task.kind) and (s.target != "cuda" or self.device == "cuda")
        )
        self._by_id = {s.id: s for s in self.strategies}
        self.frontier = Frontier(clusterer)
        self.hardware = hardware or HardwareView()
        self.clock = clock or Clock()
        self.recorder = Recorder(
            RunLog(run_log) if run_log is not None else None, observers, self.clock
        )
        self.hardware.on_profiled = self.recorder.counters  # the run log keeps them (resume)
        self._reference_source = reference_source
        self._meta = dict(meta or {})
        self._tried: set[tuple[str, str]] = set()  # (parent id, strategy id) proposed so far
        self._replay: dict[str, Measurement] = {}  # measured before a resume, not yet used
        self._realized: dict[str, Realization] = {}  # realizer answers logged before a resume
        self._next_iteration = 1
        self._arms: tuple[tuple[int, ...], tuple[Arm, ...]] = ((), ())
        self._started = False
        self.gpu = GpuFacts()

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
        clusters = self.frontier.clusters()
        if clusters != self._arms[0]:
            self._arms = (
                clusters,
                tuple(Arm(c, s.family, s.id) for c in clusters for s in self.strategies),
            )
        return self._arms[1]

    def parents(self) -> dict[Arm, Member]:
        """Each arm that can still yield a new kernel and the kernel it would refine."""
        return parents(
            self.arms(),
            self.frontier,
            self.policy.parent_rule,
            self.settings.parent_slack,
            self.realizer,
            self._tried,
            lambda arm, parent: self._request(arm, parent, 0),
            self._headroom_first if self.hardware.headroom else None,
        )

    def _counters(self, member: Member) -> Any:
        return member.measurement.counters or self.hardware.counters(member.id)

    def _headroom_first(self, pool: list[Member], arm: Arm) -> list[Member]:
        resource = self._by_id[arm.strategy].resource
        return headroom_first(pool, self._counters, resource, self.hardware.thresholds)

    def masked(self, allowed: Mapping[Arm, Member], iteration: int) -> MaskResult:
        """The arm masks on the realizable arms (profiling parents seen the first time)."""
        return self.hardware.mask(
            {a: (p.id, p.candidate.source) for a, p in allowed.items()}, iteration
        )

    # -- start / resume ------------------------------------------------------------------

    def start(self) -> None:
        """Measure the reference, or restore everything from an existing run log."""
        if self._started:
            return
        self._started = True
        self.recorder.start_clock()
        self.gpu = self.evaluator.gpu_facts()
        log = self.recorder.run_log
        logged = self.recorder.open(self._header())
        if logged is not None:  # resume: the frontier, the policy, what was tried
            for lc in logged.candidates:
                self._add(lc.candidate, lc.measurement, lc.iteration, cluster=lc.cluster)
            for cid, counters in logged.counters.items():  # parents profiled before
                self.hardware.remember(cid, counters)
            self._replay = {
                **dict(logged.measured),
                **{source_hash(o.candidate.source): o.measurement for o in logged.orphans},
            }
            self._realized = dict(logged.realized)
            self._tried = {(r.parent_id, r.arm.strategy) for r in self.records}
            self._next_iteration = len(self.records) + 1
            if logged.policy_state is not None:
                self.policy.load_state_dict(dict(logged.policy_state))
        if REFERENCE_ID not in self.frontier:
            source = self._reference_source or reference_candidate_source(self.task)
            m = self.measure(source)
            if not m.ok or not m.runtime_ms:
                raise TuneError(
                    f"the reference program of task {self.task.name!r} failed to evaluate "
                    f"({m.status}): {m.error or 'no runtime'}"
                )
            self.recorder.kernel(self._add(Candidate(REFERENCE_ID, source), m, 0, cluster=0))
        self.recorder.started(
            RunStart(
                self.task,
                self.policy.name,
                self.realizer.name,
                self.device,
                self.gpu,
                self.reference,
                self.arms(),
                self.records,
                log.path if log else None,
            )
        )

    def _header(self) -> dict[str, Any]:
        t, s = self.task, self.settings
        return {
            "task": t.name,
            "kind": t.kind,
            "size": t.size,
            "policy": self.policy.name,
            "realizer": self.realizer.name,
            "seed": s.seed,
            "device": self.device,
            "meta": self._meta,
        }

    def _add(
        self, candidate: Candidate, m: Measurement, iteration: int, cluster: int | None = None
    ) -> Member:
        member = self.frontier.add(candidate, m, iteration, cluster=cluster)
        if m.counters is not None:  # probed with the evaluation: never profiled again
            self.hardware.remember(member.id, m.counters)
        return member

    def measure(self, source: str, run: Run | None = None) -> Measurement:
        """Evaluate `source` (a resumed run's unfinished measurement is reused) and charge
        its seconds to the clock. `run`: evaluate elsewhere (an executor's worker; the
        `Evaluated.lane` it reports is the clock lane), else on the tuner's evaluator."""
        cached = self._replay.pop(source_hash(source), None)
        if cached is not None:
            return cached
        if run is None:
            m, lane = self.evaluator.evaluate(self.task, source), None
        else:
            done = run(source)
            m, lane = done.measurement, done.lane
        self.recorder.measured(
            source_hash(source), m
        )  # before anything else: a kill now loses nothing
        self.clock.charge(m.wall_s, lane)
        return m

    # -- ask / realize / tell ------------------------------------------------------------

    def ask(self) -> Proposal:
        """Let the policy pick an arm and resolve the parent kernel to refine."""
        self.start()
        allowed = self.parents()
        if not allowed:
            raise TuneError(self._no_arms())
        iteration, self._next_iteration = self._next_iteration, self._next_iteration + 1
        masking = self.masked(allowed, iteration)
        arm = self.policy.ask(masking.open)
        # taken now, not at tell: a batch of asks never proposes one pair twice
        self._tried.add((allowed[arm].id, arm.strategy))
        notes = tuple(
            f"{d.arm} {'masked' if d.masked else 'open'}: {d.reason}" for d in masking.decisions
        )
        parent = allowed[arm]
        return Proposal(iteration, arm, parent, self._request(arm, parent, iteration), notes)

    def _request(self, arm: Arm, parent: Member, iteration: int) -> RealizeRequest:
        m = parent.measurement
        if m.counters is None and (c := self.hardware.counters(parent.id)) is not None:
            m = replace(m, counters=c)  # the prompt quotes the parent's counters
        return RealizeRequest(
            self.task,
            self._by_id[arm.strategy],
            parent.candidate.source,
            m,
            parent.candidate.params,
            self.gpu,
            self.settings.seed * 1_000_003 + iteration,
        )

    def realize(self, proposal: Proposal, run: Run | None = None) -> Attempt:
        """Realize, evaluate (reusing known measurements) and repair. Raises RealizerError.
        Touches no tuner state but the clock, so a round's proposals may be realized in
        parallel threads (`bandit.rounds`); `run` as in `measure`."""
        return attempt(
            proposal,
            JournaledRealizer(self.realizer, self._realized, self.recorder.realized),
            lambda source: self.measure(source, run),
            self.frontier.lookup,
            self.settings.repair_turns,
        )

    def tell(self, proposal: Proposal, outcome: Attempt) -> IterationRecord:
        """Record the outcome: frontier, reward, policy update, log, observers."""
        for cand, m in outcome.measured:
            if cand.id in self.frontier:  # a second tell of the same proposal
                raise ValueError(f"proposal {proposal.iteration} was already told")
            self.recorder.kernel(self._add(cand, m, proposal.iteration))
        m = outcome.measurement
        ok = m is not None and m.ok
        r = self.settings.reward(proposal.parent.speedup, m.speedup if m is not None else None, ok)
        self.policy.tell(proposal.arm, r)
        self._tried.add((proposal.parent.id, proposal.arm.strategy))
        best = self.frontier.best() or self.reference
        return self.recorder.iteration(proposal, outcome, r, best, self.policy.state_dict())

    # -- the loop ------------------------------------------------------------------------

    def run(self, budget: Budget) -> TuneResult:
        """Iterate until the first exhausted budget limit (or a fatal realizer error)."""
        self.start()
        error: str | None = None
        try:
            while not (reason := budget.exhausted(self.spend()) or self.goal(budget)):
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

    def goal(self, budget: Budget) -> str | None:
        """The roofline goal as a stop reason, once the best written kernel meets it."""
        if budget.stop_at_roofline is None:
            return None
        ranked = self.frontier.ranked(kernels_only=True)
        return budget.reached(ranked[0].measurement.roofline_fraction if ranked else None)

    def finish(self, stop_reason: str, error: str | None = None) -> TuneResult:
        """Close the run log and tell observers; the result of the run so far."""
        log = self.recorder.run_log
        result = TuneResult(
            stop_reason,
            self.reference,
            self.frontier.best() or self.reference,
            self.records,
            tuple(self.frontier),
            self.spend(),
            error,
            log.path if log else None,
        )
        self.recorder.finished(result)
        return result

    def _no_arms(self) -> str:
        if self.arms():
            return (
                f"search exhausted: the {self.realizer.name} realizer can change no kernel further"
            )
        return (
            f"no strategy in the catalog applies to task kind {self.task.kind!r} "
            f"on device {self.device!r}"
        )
