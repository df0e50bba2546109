"""The policy protocol and the bookkeeping every built-in policy shares.

A policy never runs anything: the tuner asks it for an arm among the arms allowed
now (masking is the tuner's business: arms not passed are never chosen), realizes
and measures a candidate, and tells it the reward. Built-in policies are seeded
with their own ``numpy.random.Generator`` and are deterministic given the same
sequence of asks and tells; the order of the arms passed to ``ask`` does not
matter. ``state_dict`` is plain JSON (including the generator's state), so a run
resumed from it continues exactly as the uninterrupted run would have.

Batches: an arm asked for but not yet told is *pending*. Until its reward arrives
it counts as one more pull with reward 0 ("virtual loss"), so several asks before
the tells of a round spread over arms instead of repeating the same one. With one
ask per tell this changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np

from bandit.arms import Arm


class ParentRule(str, Enum):
    """Which kernel the tuner refines for an arm (see `bandit.parents`)."""

    CLUSTER_BEST = "cluster_best"  # the best kernel of the arm's cluster
    BEST = "best"  # the best kernel overall
    REFERENCE = "reference"  # always the task's reference program

    def __str__(self) -> str:
        return self.value


PARENT_RULES = tuple(r.value for r in ParentRule)
STATE_VERSION = 1

T = TypeVar("T")


@dataclass(frozen=True)
class ArmStats:
    pulls: int
    mean: float
    total: float


@runtime_checkable
class Policy(Protocol):
    name: str
    parent_rule: ParentRule  # which kernel the tuner refines
    learns: bool  # concentrates its pulls on the best arm (the kit checks convergence)

    def ask(self, arms: Sequence[Arm]) -> Arm: ...

    def tell(self, arm: Arm, reward: float) -> None: ...

    def stats(self) -> Mapping[Arm, ArmStats]: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, d: dict) -> None: ...


class _Record:
    """Running statistics of one arm (mutable, private)."""

    __slots__ = ("pending", "pulls", "sumsq", "total")

    def __init__(self, pulls: int = 0, total: float = 0.0, sumsq: float = 0.0, pending: int = 0):
        self.pulls, self.total, self.sumsq, self.pending = pulls, total, sumsq, pending


class BasePolicy:
    """Per-arm statistics, the seeded generator, validation and state (de)serialization.

    Subclasses set ``name``/``parent_rule``, implement `_select`, and may override
    `_observe` (extra bookkeeping on tell), `options` and `_extra_state`/`_load_extra`.
    ``learns`` declares whether the policy concentrates its pulls on the best arm
    (the conformance kit checks convergence only for those that do).
    """

    name: ClassVar[str] = "base"
    parent_rule: ClassVar[ParentRule] = ParentRule.CLUSTER_BEST
    learns: ClassVar[bool] = True

    def __init__(self, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"policy seed must be a non-negative int, got {seed!r}")
        self._rng = np.random.default_rng(int(seed))
        self._records: dict[Arm, _Record] = {}
        self._asks = 0

    # -- the protocol ---------------------------------------------------------------
    def ask(self, arms: Sequence[Arm]) -> Arm:
        allowed = tuple(sorted(set(arms)))
        if not allowed:
            raise ValueError(f"{self.name}: ask() needs at least one allowed arm")
        for arm in allowed:
            if not isinstance(arm, Arm):
                raise TypeError(f"{self.name}: ask() takes Arm objects, got {arm!r}")
        arm = self._select(allowed)
        self._record(arm).pending += 1
        self._asks += 1
        return arm

    def tell(self, arm: Arm, reward: float) -> None:
        if not isinstance(arm, Arm):
            raise TypeError(f"{self.name}: tell() takes an Arm, got {arm!r}")
        reward = float(reward)
        if not 0.0 <= reward <= 1.0:  # also rejects NaN
            raise ValueError(f"{self.name}: reward must be in [0, 1], got {reward!r}")
        rec = self._record(arm)
        rec.pulls += 1
        rec.total += reward
        rec.sumsq += reward * reward
        rec.pending = max(rec.pending - 1, 0)
        self._observe(arm, reward)

    def stats(self) -> Mapping[Arm, ArmStats]:
        return {
            arm: ArmStats(rec.pulls, rec.total / rec.pulls, rec.total)
            for arm, rec in sorted(self._records.items())
            if rec.pulls > 0
        }

    def options(self) -> dict[str, Any]:
        """The constructor's keyword options (everything but the seed)."""
        return {}

    def state_dict(self) -> dict:
        return {
            "policy": self.name,
            "version": STATE_VERSION,
            "options": self.options(),
            "rng": self._rng.bit_generator.state,
            "asks": self._asks,
            "arms": [
                [*arm.to_list(), rec.pulls, rec.total, rec.sumsq, rec.pending]
                for arm, rec in sorted(self._records.items())
            ],
            "extra": self._extra_state(),
        }

    def load_state_dict(self, d: dict) -> None:
        if d.get("policy") != self.name:
            raise ValueError(f"state belongs to policy {d.get('policy')!r}, not {self.name!r}")
        if d.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported policy state version {d.get('version')!r}")
        if dict(d.get("options", {})) != self.options():
            raise ValueError(
                f"{self.name}: saved options {d.get('options')} differ from {self.options()}"
            )
        rng = np.random.default_rng()
        rng.bit_generator.state = d["rng"]
        records: dict[Arm, _Record] = {}
        for *key, pulls, total, sumsq, pending in d["arms"]:
            records[Arm.from_list(key)] = _Record(
                int(pulls), float(total), float(sumsq), int(pending)
            )
        self._rng, self._records, self._asks = rng, records, int(d["asks"])
        self._load_extra(d.get("extra", {}))

    # -- hooks ----------------------------------------------------------------------
    def _select(self, allowed: tuple[Arm, ...]) -> Arm:
        raise NotImplementedError

    def _observe(self, arm: Arm, reward: float) -> None:
        """Called after the statistics took ``reward`` for ``arm``."""

    def _extra_state(self) -> dict:
        return {}

    def _load_extra(self, extra: dict) -> None:
        """Restore what `_extra_state` saved."""

    # -- helpers for subclasses -----------------------------------------------------
    def _record(self, arm: Arm) -> _Record:
        rec = self._records.get(arm)
        if rec is None:
            rec = self._records[arm] = _Record()
        return rec

    def _count(self, arm: Arm) -> tuple[int, float, float]:
        """(pulls, reward total, squared total); pending asks count as pulls with reward 0."""
        rec = self._records.get(arm)
        return (0, 0.0, 0.0) if rec is None else (rec.pulls + rec.pending, rec.total, rec.sumsq)

    def _pick(self, items: Sequence[T]) -> T:
        """One of ``items`` uniformly (the generator is used only when there is a choice)."""
        if len(items) == 1:
            return items[0]
        return items[int(self._rng.integers(len(items)))]

    def _argmax(self, items: Sequence[T], scores: Sequence[float]) -> T:
        """The best-scoring item; exact ties are broken uniformly by the generator."""
        best = max(scores)
        return self._pick([it for it, s in zip(items, scores, strict=True) if s >= best])


def check_range(policy: str, option: str, value: Any, low: float, high: float = math.inf) -> float:
    """``value`` as a float in [low, high], else a one-line ValueError."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"policy {policy!r}: option {option} must be a number, got {value!r}"
        ) from None
    if not low <= number <= high:
        bound = f"in [{low}, {high}]" if math.isfinite(high) else f">= {low}"
        raise ValueError(f"policy {policy!r}: option {option} must be {bound}, got {value!r}")
    return number
