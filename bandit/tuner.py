"""The tuning loop: ask the policy for an arm, realize, measure, reward, record.

`Tuner.run(budget)` drives the whole loop; `start`/`ask`/`realize`/`tell` expose its
steps (Optuna's ask-and-tell style) so callers can drive or parallelize them. The
reference program is measured first as candidate ``"ref"``: its runtime is the
baseline of every speedup. Every measured kernel and every iteration is appended to
the JSONL run log; a tuner started on an existing log resumes from it without
evaluating anything again. Given the same seed and the same measurements, a run is
deterministic.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bandit.arms import Arm
from bandit.attempt import Attempt, Proposal, attempt
from bandit.budget import Budget, Spend
from bandit.frontier import REFERENCE_ID, Clusterer, Frontier, Member, source_hash
from bandit.observer import Observer, Observers
from bandit.policies.base import PARENT_RULES, Policy
from bandit.records import NO_CANDIDATE, IterationRecord, RunStart, TuneResult
from bandit.reward import reward as compute_reward
from bandit.runlog import RunLog
from profiling.evaluator import Evaluator, reference_candidate_source
from profiling.hardware import GpuFacts
from profiling.measurement import Measurement
from profiling.tasks import Task
from strategies.errors import RealizerError
from strategies.types import Candidate, Realizer, RealizeRequest, Strategy


class TuneError(RuntimeError):
    """The run cannot start or continue (e.g. the reference itself fails); one clear line."""


@dataclass(frozen=True)
class TunerSettings:
    seed: int = 0
    repair_turns: int = 0
    reward_kind: str = "relative_improvement"
    reward_clip: float = 1.0
    reward_max_speedup: float = 10.0  # log_speedup: the speedup that earns reward 1
    device: str | None = None  # "cuda" | "interpret"; None: the evaluator's `device`
    # deterministic realizers: a strategy used up on the best kernel moves on to kernels
    # at most this much slower than it (0.25: within 25 %), never to stragglers
    parent_slack: float = 0.25


class Tuner:
    def __init__(
        self,
        task: Task,
        evaluator: Evaluator,
        realizer: Realizer,
        policy: Policy,
        strategies: Sequence[Strategy] | Any,
        *,
        settings: TunerSettings | None = None,
        run_log: str | Path | RunLog | None = None,
        observers: Sequence[Observer] = (),
        clusterer: Clusterer | None = None,
        reference_source: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        """`strategies`: a `Catalog` or a sequence of `Strategy`; those that apply to the
        task's kind and whose target the device runs become arms. `meta` goes into the
        run log header (e.g. the resolved config)."""
        self.task, self.evaluator, self.realizer, self.policy = task, evaluator, realizer, policy
        self.settings = settings or TunerSettings()
        if policy.parent_rule not in PARENT_RULES:
            raise ValueError(f"unknown parent_rule {policy.parent_rule!r} of policy {policy.name}")
        self.device = self.settings.device or str(getattr(evaluator, "device", "cuda"))
        self.strategies = _runnable(strategies, task.kind, self.device)
        self._by_id = {s.id: s for s in self.strategies}
        self.frontier = Frontier(clusterer)
        self.run_log = (
            run_log
            if isinstance(run_log, RunLog)
            else (RunLog(run_log) if run_log is not None else None)
        )
        self.observers = Observers(observers)
        self._reference_source = reference_source
        self._meta = dict(meta or {})
        self._records: list[IterationRecord] = []
        self._tried: set[tuple[str, str]] = set()  # (parent id, strategy id) proposed so far
        self._replay: dict[str, Measurement] = {}  # orphans of an unfinished iteration
        self._next_iteration = 1
        self._seconds0 = 0.0
        self._t0 = 0.0
        self._started = False
        self._arms: tuple[tuple[int, ...], tuple[Arm, ...]] = ((), ())
        self.gpu = GpuFacts()

    # -- state ------------------------------------------------------------------

    @property
    def records(self) -> tuple[IterationRecord, ...]:
        return tuple(self._records)

    @property
    def reference(self) -> Member:
        return self.frontier.get(REFERENCE_ID)

    def spend(self) -> Spend:
        last = self._records[-1] if self._records else None
        return Spend(
            iterations=len(self._records),
            tokens=last.tokens if last else 0,
            usd=last.cost_usd if last else 0.0,
            seconds=self._seconds0 + (time.monotonic() - self._t0 if self._started else 0.0),
        )

    def arms(self) -> tuple[Arm, ...]:
        """The allowed arms now: clusters in the frontier x runnable strategies."""
        clusters = self.frontier.clusters()
        if clusters != self._arms[0]:
            arms = tuple(Arm(c, s.family, s.id) for c in clusters for s in self.strategies)
            self._arms = (clusters, arms)
        return self._arms[1]

    # -- start / resume -----------------------------------------------------------

    def start(self) -> None:
        """Measure the reference, or restore everything from an existing run log."""
        if self._started:
            return
        self._t0 = time.monotonic()
        self._started = True
        self.gpu = self.evaluator.gpu_facts()
        if self.run_log is not None and self.run_log.exists():
            self._restore(self.run_log)
        elif self.run_log is not None:
            self.run_log.write_header(self._header())
        if REFERENCE_ID not in self.frontier:
            self._measure_reference()
        self.observers.on_start(
            RunStart(
                task=self.task,
                policy=self.policy.name,
                realizer=self.realizer.name,
                device=self.device,
                gpu=self.gpu,
                reference=self.reference,
                arms=self.arms(),
                records=tuple(self._records),
                run_log=self.run_log.path if self.run_log else None,
            )
        )

    def _header(self) -> dict[str, Any]:
        return {
            "task": self.task.name,
            "kind": self.task.kind,
            "size": self.task.size,
            "policy": self.policy.name,
            "realizer": self.realizer.name,
            "seed": self.settings.seed,
            "device": self.device,
            "meta": self._meta,
        }

    def _restore(self, log: RunLog) -> None:
        logged = log.read()
        mine = self._header()
        for key in ("task", "size", "policy", "seed"):
            if logged.header.get(key) != mine[key]:
                raise ValueError(
                    f"run log {log.path} belongs to another run: {key} is "
                    f"{logged.header.get(key)!r} there, {mine[key]!r} here"
                )
        for lc in logged.candidates:
            self.frontier.add(lc.candidate, lc.measurement, lc.iteration, cluster=lc.cluster)
        self._replay = {source_hash(o.candidate.source): o.measurement for o in logged.orphans}
        self._records = list(logged.records)
        self._tried = {(r.parent_id, r.arm.strategy) for r in self._records}
        self._next_iteration = len(self._records) + 1
        if self._records:
            self._seconds0 = self._records[-1].wall_s
        if logged.policy_state is not None:
            self.policy.load_state_dict(dict(logged.policy_state))

    def _measure_reference(self) -> None:
        source = self._reference_source or reference_candidate_source(self.task)
        m = self._evaluate(source)
        if not m.ok or not m.runtime_ms:
            raise TuneError(
                f"the reference program of task {self.task.name!r} failed to evaluate "
                f"({m.status}): {m.error or 'no runtime'}"
            )
        member = self.frontier.add(Candidate(REFERENCE_ID, source), m, 0, cluster=0)
        if self.run_log is not None:
            self.run_log.append_candidate(member)

    def _evaluate(self, source: str) -> Measurement:
        cached = self._replay.pop(source_hash(source), None)
        return cached if cached is not None else self.evaluator.evaluate(self.task, source)

    # -- ask / realize / tell -----------------------------------------------------------

    def ask(self) -> Proposal:
        """Let the policy pick an arm and resolve the parent kernel to refine."""
        self.start()
        parents = self.parents()
        if not parents:
            raise TuneError(self._no_arms())
        arm = self.policy.ask(tuple(parents))
        iteration = self._next_iteration
        self._next_iteration += 1
        parent = parents[arm]
        return Proposal(iteration, arm, parent, self._request(arm, parent, iteration))

    def realizable_arms(self) -> tuple[Arm, ...]:
        """`arms()` less those that can yield no new kernel from any eligible parent."""
        return tuple(self.parents())

    def parents(self) -> dict[Arm, Member]:
        """Each realizable arm and the kernel it would refine now.

        The parent is the best kernel a realizer wrote (per the policy's parent
        rule), the reference program until there is one. A realizer with a
        ``can_realize`` check (the offline one) declines some (parent, strategy)
        pairs, and a ``deterministic`` realizer would only repeat a pair already
        tried: for such realizers an arm's parent is the fastest kernel (within
        ``parent_slack`` of the best) that can still yield something new with the
        arm's strategy, so a search stuck at a local optimum goes on from the
        runners-up, and an arm no such kernel can serve is left out. An LLM realizer
        that samples always refines the best kernel.
        """
        check = getattr(self.realizer, "can_realize", None)
        deterministic = bool(getattr(self.realizer, "deterministic", False))
        ranked_by_cluster: dict[int | None, list[Member]] = {}
        out: dict[Arm, Member] = {}
        for arm in self.arms():
            key = arm.cluster if self.policy.parent_rule == "cluster_best" else None
            if key not in ranked_by_cluster:
                ranked_by_cluster[key] = self._ranked(key, narrow=bool(check or deterministic))
            for parent in ranked_by_cluster[key]:
                if deterministic and (parent.id, arm.strategy) in self._tried:
                    continue
                if check is None or check(self._request(arm, parent, 0)):
                    out[arm] = parent
                    break
        return out

    def _ranked(self, cluster: int | None, narrow: bool) -> list[Member]:
        """Parent candidates, best first: the reference alone under the "reference"
        rule or before any kernel exists; else the best kernel, or (``narrow``) every
        kernel within ``parent_slack`` of it."""
        if self.policy.parent_rule == "reference":
            return [self.reference]
        ranked = self.frontier.ranked(cluster, kernels_only=True)
        if not ranked:
            return [self.reference]
        if not narrow:
            return ranked[:1]
        limit = (ranked[0].runtime_ms or 0.0) * (1.0 + self.settings.parent_slack)
        return [p for p in ranked if (p.runtime_ms or 0.0) <= limit]

    def _request(self, arm: Arm, parent: Member, iteration: int) -> RealizeRequest:
        return RealizeRequest(
            task=self.task,
            strategy=self._by_id[arm.strategy],
            parent_source=parent.candidate.source,
            parent_measurement=parent.measurement,
            parent_params=parent.candidate.params,
            gpu=self.gpu,
            seed=self.settings.seed * 1_000_003 + iteration,
        )

    def realize(self, proposal: Proposal) -> Attempt:
        """Realize, evaluate (reusing known measurements) and repair. Raises RealizerError."""
        return attempt(
            proposal,
            self.realizer,
            self._evaluate,
            self.frontier.lookup,
            self.settings.repair_turns,
        )

    def tell(self, proposal: Proposal, outcome: Attempt) -> IterationRecord:
        """Record the outcome: frontier, reward, policy update, spend, log, observers."""
        for cand, m in outcome.measured:
            if cand.id in self.frontier:  # a second tell of the same proposal
                raise ValueError(f"proposal {proposal.iteration} was already told")
            member = self.frontier.add(cand, m, proposal.iteration)
            if self.run_log is not None:
                self.run_log.append_candidate(member)
        m = outcome.measurement
        ok = m is not None and m.ok
        child_ms = m.runtime_ms if ok and m is not None else None
        ref_ms = self.reference.runtime_ms
        r = compute_reward(
            self.settings.reward_kind,
            proposal.parent.runtime_ms,
            child_ms,
            ref_ms,
            ok,
            clip=self.settings.reward_clip,
            max_speedup=self.settings.reward_max_speedup,
        )
        self.policy.tell(proposal.arm, r)
        best = self.frontier.best() or self.reference
        prev = self._records[-1] if self._records else None
        cost = outcome.cost
        record = IterationRecord(
            iteration=proposal.iteration,
            arm=proposal.arm,
            parent_id=proposal.parent.id,
            candidate_id=outcome.final_id,
            status=str(m.status) if m is not None else NO_CANDIDATE,
            runtime_ms=child_ms,
            speedup=_ratio(ref_ms, child_ms),
            reward=float(r),
            best_id=best.id,
            best_speedup=_ratio(ref_ms, best.runtime_ms) or 1.0,
            best_runtime_ms=float(best.runtime_ms or 0.0),
            tokens_prompt=(prev.tokens_prompt if prev else 0) + cost.prompt_tokens,
            tokens_completion=(prev.tokens_completion if prev else 0) + cost.completion_tokens,
            cost_usd=(prev.cost_usd if prev else 0.0) + cost.usd,
            wall_s=self.spend().seconds,
            cost=cost,
            duplicate=outcome.duplicate,
            repairs=outcome.repairs,
            error=outcome.error,
        )
        self._records.append(record)
        self._tried.add((proposal.parent.id, proposal.arm.strategy))
        if self.run_log is not None:
            self.run_log.append_iteration(record, self.policy.state_dict())
        self.observers.on_iteration(record)
        return record

    # -- the loop ---------------------------------------------------------------------

    def run(self, budget: Budget) -> TuneResult:
        """Iterate until the first exhausted budget limit (or a fatal realizer error)."""
        self.start()
        error: str | None = None
        try:
            while True:
                reason = budget.exhausted(self.spend())
                if reason:
                    break
                try:
                    proposal = self.ask()
                except TuneError:  # no arm can yield a new kernel
                    reason = self._no_arms()
                    break
                try:
                    outcome = self.realize(proposal)
                except RealizerError as e:
                    error = str(e)
                    reason = f"realizer error: {error}"
                    break
                self.tell(proposal, outcome)
                if outcome.fatal:
                    error = outcome.fatal
                    reason = f"realizer error: {error}"
                    break
        except KeyboardInterrupt:
            reason = "interrupted"
        return self.finish(reason, error)

    def finish(self, stop_reason: str, error: str | None = None) -> TuneResult:
        """Close the run log and tell observers; the result of the run so far."""
        if self.run_log is not None:
            self.run_log.append_end(stop_reason, error)
            self.run_log.close()
        result = TuneResult(
            stop_reason=stop_reason,
            reference=self.reference,
            best=self.frontier.best() or self.reference,
            records=tuple(self._records),
            members=tuple(self.frontier),
            spend=self.spend(),
            error=error,
            run_log=self.run_log.path if self.run_log else None,
        )
        self.observers.on_end(result)
        return result

    def _no_arms(self) -> str:
        if self.arms():
            return f"search exhausted: the {self.realizer.name} realizer can change no kernel further"
        return (
            f"no strategy in the catalog applies to task kind {self.task.kind!r} "
            f"on device {self.device!r}"
        )


def _runnable(strategies: Sequence[Strategy] | Any, kind: str, device: str) -> tuple[Strategy, ...]:
    if hasattr(strategies, "for_kind"):
        pool = tuple(strategies.for_kind(kind))
    else:
        pool = tuple(s for s in strategies if s.applies(kind))
    return tuple(s for s in pool if s.target != "cuda" or device == "cuda")


def _ratio(ref_ms: float | None, ms: float | None) -> float | None:
    return ref_ms / ms if ref_ms and ms else None
