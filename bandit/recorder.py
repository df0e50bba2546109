"""What the tuner remembers and tells: iteration records with the cumulative spend,
the JSONL run log, and the observers.

The tuner decides; the recorder writes it down. Every measured kernel goes to the
run log as it joins the frontier; every iteration becomes an `IterationRecord`
(cumulative tokens, USD and wall seconds carried over from the previous record),
is appended to the log with the policy's state, and is fanned out to observers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bandit.attempt import Attempt, Proposal
from bandit.budget import Spend
from bandit.frontier import Member
from bandit.observer import Observer, Observers
from bandit.records import NO_CANDIDATE, IterationRecord, RunStart, TuneResult
from bandit.runlog import LoggedRun, RunLog
from profiling.clock import Clock
from profiling.measurement import Measurement
from strategies.types import Realization


class Recorder:
    def __init__(
        self,
        run_log: RunLog | None,
        observers: Sequence[Observer] = (),
        clock: Clock | None = None,
    ) -> None:
        """`clock` measures the run's wall seconds (real time by default; a
        `VirtualClock` under replay, which the tuner charges recorded seconds)."""
        self.run_log = run_log
        self.clock = clock or Clock()
        self.observers = Observers(observers)
        self.records: list[IterationRecord] = []
        self._seconds0 = 0.0  # wall seconds of the run before this process (on resume)
        self._t0: float | None = None

    def start_clock(self) -> None:
        self._t0 = self.clock.now()

    def spend(self) -> Spend:
        last = self.records[-1] if self.records else None
        return Spend(
            iterations=len(self.records),
            tokens=last.tokens if last else 0,
            usd=last.cost_usd if last else 0.0,
            seconds=self._seconds0 + (self.clock.now() - self._t0 if self._t0 is not None else 0.0),
        )

    def open(self, header: Mapping[str, Any]) -> LoggedRun | None:
        """Start the run log with `header`, or read back an existing one (a resume):
        its records are restored here, the rest is the tuner's. ValueError when the
        log belongs to another run (task, size, policy or seed differ)."""
        log = self.run_log
        if log is None:
            return None
        if not log.exists():
            log.write_header(header)
            return None
        logged = log.read()
        for key in ("task", "size", "policy", "seed"):
            if logged.header.get(key) != header[key]:
                raise ValueError(
                    f"run log {log.path} belongs to another run: {key} is "
                    f"{logged.header.get(key)!r} there, {header[key]!r} here"
                )
        log.append_resume()
        self.records = list(logged.records)
        if self.records:
            self._seconds0 = self.records[-1].wall_s
        return logged

    def measured(self, source_hash: str, m: Measurement) -> None:
        if self.run_log is not None:
            self.run_log.append_measured(source_hash, m)

    def realized(self, key: str, r: Realization) -> None:
        if self.run_log is not None:
            self.run_log.append_realized(key, r)

    def kernel(self, member: Member) -> None:
        if self.run_log is not None:
            self.run_log.append_candidate(member)

    def counters(self, candidate_id: str, counters: Any, seconds: float) -> None:
        """A kernel's hardware counters, profiled after it was logged (a new parent)."""
        if self.run_log is not None:
            self.run_log.append_counters(candidate_id, counters, seconds)

    def started(self, start: RunStart) -> None:
        self.observers.on_start(start)

    def iteration(
        self,
        proposal: Proposal,
        outcome: Attempt,
        reward: float,
        best: Member,
        policy_state: Mapping[str, Any],
    ) -> IterationRecord:
        m = outcome.measurement
        ok = m is not None and m.ok
        prev = self.records[-1] if self.records else None
        cost = outcome.cost
        record = IterationRecord(
            iteration=proposal.iteration,
            arm=proposal.arm,
            parent_id=proposal.parent.id,
            candidate_id=outcome.final_id,
            status=str(m.status) if m is not None else NO_CANDIDATE,
            runtime_ms=m.runtime_ms if ok and m is not None else None,
            speedup=m.speedup if ok and m is not None else None,
            reward=float(reward),
            best_id=best.id,
            best_speedup=best.speedup or 1.0,
            best_runtime_ms=float(best.runtime_ms or 0.0),
            tokens_prompt=(prev.tokens_prompt if prev else 0) + cost.prompt_tokens,
            tokens_completion=(prev.tokens_completion if prev else 0) + cost.completion_tokens,
            cost_usd=(prev.cost_usd if prev else 0.0) + cost.usd,
            wall_s=self.spend().seconds,
            cost=cost,
            duplicate=outcome.duplicate,
            repairs=outcome.repairs,
            error=outcome.error,
            masks=proposal.masks,
        )
        self.records.append(record)
        if self.run_log is not None:
            self.run_log.append_iteration(record, policy_state)
        self.observers.on_iteration(record)
        return record

    def finished(self, result: TuneResult) -> None:
        if self.run_log is not None:
            self.run_log.append_end(result.stop_reason, result.error)
            self.run_log.close()
        self.observers.on_end(result)
