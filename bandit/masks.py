"""Arm masks: hardware-aware pruning of the arms before the policy chooses.

A mask looks at each arm's parent kernel (its typed hardware `Counters`, when a
probe measured them) and the resource the arm's strategy targets (the catalog's
``resource``: dram, l2, sm, launch), and closes arms that cannot help: raising
DRAM throughput on a kernel already at 92 % of peak DRAM bandwidth is a wasted
iteration. Masks sit between the tuner's arm set and ``policy.ask``; policies
never see masked arms and never know masks exist.

Rules every mask keeps (`BaseMask.apply` enforces them, the conformance kit
`check_mask` tests them):

- at least one arm stays open: when every arm would be masked, the least
  saturated ones are re-opened, with a reason saying so;
- every decision (masked or re-opened) carries a one-line reason, for the run
  log and MLflow;
- an arm whose parent has no counters is never masked (no evidence, no pruning).

`bandit` imports only the typed record (`profiling.probes.counters`), never a
profiler.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, TypeVar, runtime_checkable

from bandit.arms import Arm
from profiling.probes.counters import Counters

DEFAULT_SATURATION = {"dram": 0.80, "sm": 0.80, "l2": 0.75, "launch": 1.0}
T = TypeVar("T")


@dataclass(frozen=True)
class MaskDecision:
    arm: Arm
    masked: bool  # False: re-opened so that one arm stays open
    reason: str
    margin: float = 0.0  # how far past its threshold the resource is (for re-opening)

    def to_dict(self) -> dict[str, object]:
        return {"arm": str(self.arm), "masked": self.masked, "reason": self.reason}


@dataclass(frozen=True)
class MaskContext:
    """What a mask may look at: each arm's parent counters (None: not profiled)
    and each strategy's target resource."""

    parents: Mapping[Arm, Counters | None] = field(default_factory=dict)
    resources: Mapping[str, str] = field(default_factory=dict)  # strategy id -> resource


@dataclass(frozen=True)
class MaskResult:
    open: tuple[Arm, ...]
    decisions: tuple[MaskDecision, ...] = ()

    @property
    def masked(self) -> tuple[Arm, ...]:
        return tuple(d.arm for d in self.decisions if d.masked)


@runtime_checkable
class Mask(Protocol):
    name: str

    def apply(self, arms: Sequence[Arm], context: MaskContext) -> MaskResult: ...


class BaseMask:
    """Subclasses implement `decide` (a decision to mask one arm, or None);
    `apply` adds the at-least-one-open rule and keeps the arms' order."""

    name: ClassVar[str] = "base"

    def decide(self, arm: Arm, context: MaskContext) -> MaskDecision | None:
        raise NotImplementedError

    def apply(self, arms: Sequence[Arm], context: MaskContext) -> MaskResult:
        decisions = {a: d for a in arms if (d := self.decide(a, context)) is not None and d.masked}
        if arms and len(decisions) == len(arms):
            least = min(d.margin for d in decisions.values())
            for a, d in list(decisions.items()):
                if d.margin == least:
                    decisions[a] = MaskDecision(
                        a, False, f"kept open, every arm was masked: {d.reason}", d.margin
                    )
        open_arms = tuple(a for a in arms if a not in decisions or not decisions[a].masked)
        return MaskResult(open_arms, tuple(decisions[a] for a in arms if a in decisions))


class NoMask(BaseMask):
    """Every arm open: today's behaviour."""

    name: ClassVar[str] = "none"

    def decide(self, arm: Arm, context: MaskContext) -> MaskDecision | None:
        return None


class SaturationMask(BaseMask):
    """Masks an arm whose strategy's target resource is saturated on its parent.

    ``thresholds``: utilization (0-1) at or above which a resource counts as
    saturated, per resource; a resource without a threshold is never masked.
    ``launch`` utilization is 1 / launches, so its default 1.0 masks launch-
    reducing strategies only on a parent that is already a single launch.
    """

    name: ClassVar[str] = "saturation"

    def __init__(self, thresholds: Mapping[str, float] | None = None) -> None:
        self.thresholds = dict(DEFAULT_SATURATION if thresholds is None else thresholds)
        for res, t in self.thresholds.items():
            if not 0.0 < float(t) <= 1.0:
                raise ValueError(f"mask threshold for {res!r} must be in (0, 1], got {t!r}")

    def decide(self, arm: Arm, context: MaskContext) -> MaskDecision | None:
        counters = context.parents.get(arm)
        resource = context.resources.get(arm.strategy)
        if counters is None or resource is None or resource not in self.thresholds:
            return None
        used = counters.utilization(resource)
        limit = self.thresholds[resource]
        if used is None or used < limit:
            return None
        what = (
            "one launch already" if resource == "launch" else f"{resource} at {100 * used:.0f}%"
        )
        return MaskDecision(
            arm, True, f"{arm.strategy} targets {resource}: parent {what} >= {100 * limit:.0f}%",
            used - limit,
        )


def masks_from(names: Sequence[str], thresholds: Mapping[str, float] | None = None) -> list[Mask]:
    known = {"none": NoMask, "saturation": SaturationMask}
    out: list[Mask] = []
    for n in names:
        if n not in known:
            raise ValueError(f"unknown mask {n!r} (masks: {', '.join(known)})")
        out.append(SaturationMask(thresholds) if n == "saturation" else NoMask())
    return out


def apply_masks(masks: Sequence[Mask], arms: Sequence[Arm], context: MaskContext) -> MaskResult:
    """Masks in order, each on what the previous left open; decisions concatenated."""
    result = MaskResult(tuple(arms))
    decisions: list[MaskDecision] = []
    for m in masks:
        result = m.apply(result.open, context)
        decisions.extend(result.decisions)
    return MaskResult(result.open, tuple(decisions))


def headroom_first(
    parents: Sequence[T],
    counters_of: Callable[[T], Counters | None],
    resource: str | None,
    thresholds: Mapping[str, float] | None = None,
) -> list[T]:
    """``parents`` (fastest first) reordered so those with headroom on ``resource``
    come first; the order is otherwise kept. A parent without counters, or a
    resource without a threshold, counts as having headroom, so with no profiler
    this is the identity (today's choice: the fastest eligible kernel)."""
    limits = DEFAULT_SATURATION if thresholds is None else thresholds
    if resource is None or resource not in limits:
        return list(parents)

    def saturated(p: T) -> bool:
        c = counters_of(p)
        used = c.utilization(resource) if c is not None else None
        return used is not None and used >= limits[resource]

    return sorted(parents, key=saturated)  # stable: False (headroom) first
