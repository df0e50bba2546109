"""What the tuner reports: one record per iteration, the run's start and its result."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bandit.arms import Arm
from bandit.budget import Spend
from bandit.frontier import Member
from profiling.hardware import GpuFacts
from profiling.tasks import Task
from strategies.types import RealizationCost

NO_CANDIDATE = "no_candidate"  # record status when the realizer produced no source


@dataclass(frozen=True)
class IterationRecord:
    """One tuning iteration: the decision, its outcome, and the cumulative spend after it."""

    iteration: int  # 1-based
    arm: Arm
    parent_id: str
    candidate_id: str | None  # None when the realizer produced no source
    status: str  # a Measurement status value, or NO_CANDIDATE
    runtime_ms: float | None  # of the candidate, when correct
    speedup: float | None  # the candidate's Measurement.speedup, when correct
    reward: float
    best_id: str
    best_speedup: float  # the best kernel's Measurement.speedup (1.0: the reference)
    best_runtime_ms: float
    tokens_prompt: int  # cumulative
    tokens_completion: int  # cumulative
    cost_usd: float  # cumulative
    wall_s: float  # cumulative wall seconds of the run
    cost: RealizationCost = field(default_factory=RealizationCost)  # this iteration's
    duplicate: bool = False  # the source was measured before; its measurement was reused
    repairs: int = 0  # repair turns taken
    error: str = ""  # realizer or evaluator error text (short)
    # arm-mask decisions in force when the arm was chosen ("masked: <reason>" or
    # "kept open: <reason>"), for the run log and MLflow; empty when nothing was masked
    masks: tuple[str, ...] = ()

    @property
    def tokens(self) -> int:
        return self.tokens_prompt + self.tokens_completion

    @property
    def failures(self) -> int:
        """Pulls that produced no correct kernel (no source, failed checks, errors)."""
        return self.pulls - self.successes

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["arm"] = self.arm.to_list()
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> IterationRecord:
        d = dict(d)
        d["arm"] = Arm.from_list(d["arm"])
        d["cost"] = RealizationCost(**d.get("cost", {}))
        d["masks"] = tuple(d.get("masks", ()))
        return cls(**d)


@dataclass(frozen=True)
class ArmSummary:
    """What was spent on and earned by one arm (or strategy, or family)."""

    pulls: int = 0
    reward_total: float = 0.0
    tokens_prompt: int = 0
    tokens_completion: int = 0
    usd: float = 0.0
    successes: int = 0  # iterations that produced a correct kernel

    @property
    def mean_reward(self) -> float:
        return self.reward_total / self.pulls if self.pulls else 0.0

    @property
    def tokens(self) -> int:
        return self.tokens_prompt + self.tokens_completion

    @property
    def failures(self) -> int:
        """Pulls that produced no correct kernel (no source, failed checks, errors)."""
        return self.pulls - self.successes

    def add(self, r: IterationRecord) -> ArmSummary:
        return ArmSummary(
            self.pulls + 1,
            self.reward_total + r.reward,
            self.tokens_prompt + r.cost.prompt_tokens,
            self.tokens_completion + r.cost.completion_tokens,
            self.usd + r.cost.usd,
            self.successes + (r.status == "ok"),
        )


def summarize(
    records: Iterable[IterationRecord], key: Callable[[Arm], Hashable] = lambda a: a
) -> dict[Any, ArmSummary]:
    """Per-arm totals; `key` groups arms, e.g. by ``a.strategy`` or ``a.family``."""
    out: dict[Any, ArmSummary] = {}
    for r in records:
        k = key(r.arm)
        out[k] = out.get(k, ArmSummary()).add(r)
    return dict(sorted(out.items(), key=lambda kv: str(kv[0])))


@dataclass(frozen=True)
class RunStart:
    """What observers learn when a run starts (or resumes)."""

    task: Task
    policy: str
    realizer: str
    device: str
    gpu: GpuFacts
    reference: Member
    arms: tuple[Arm, ...]  # the arms allowed at the start
    records: tuple[IterationRecord, ...] = ()  # iterations restored from the run log
    run_log: Path | None = None

    @property
    def resumed(self) -> bool:
        return bool(self.records)


@dataclass(frozen=True)
class TuneResult:
    """The end of a run: why it stopped, what it found, what it spent."""

    stop_reason: str
    reference: Member
    best: Member
    records: tuple[IterationRecord, ...]
    members: tuple[Member, ...]  # every measured kernel, the reference first
    spend: Spend
    error: str | None = None  # a fatal realizer error that stopped the run
    run_log: Path | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def best_speedup(self) -> float:
        """The best kernel's `Measurement.speedup` (reference time / its time, timed
        interleaved in the same worker); 1.0 when the reference is the best."""
        return self.best.speedup or 1.0

    def by_strategy(self) -> dict[str, ArmSummary]:
        return summarize(self.records, key=lambda a: a.strategy)

    def by_family(self) -> dict[str, ArmSummary]:
        return summarize(self.records, key=lambda a: a.family)
