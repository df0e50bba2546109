"""The tuner's view of the hardware: counters per kernel, profiled once, and the masks.

`HardwareView` asks a profiler (the evaluator's probe capability, injected as a
plain callable so the bandit never imports a profiler) for the counters of the
reference and of each kernel the first time it becomes a parent, caches them
by candidate id, and applies the arm masks with those counters. Every mask
decision is kept in order (`decisions`) for the run log and MLflow. Without a
profiler nothing is profiled and nothing is masked: today's behaviour.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields

from bandit.arms import Arm
from bandit.frontier import REFERENCE_ID
from bandit.masks import (
    DEFAULT_SATURATION,
    Mask,
    MaskContext,
    MaskDecision,
    MaskResult,
    apply_masks,
    masks_from,
)
from profiling.probes.counters import Counters

MASK_NAMES = ("saturation", "none")


@dataclass(frozen=True)
class HardwareSettings:
    """The hardware-aware parts of the search (config: keys of the ``policy`` group).

    ``clusters``: runtime-behaviour clusters of the frontier, re-fitted every
    ``recluster_every`` correct kernels (1: one cluster, as without clustering).
    ``masks``: arm masks applied before the policy chooses (``saturation``; empty
    or ``none``: off); ``saturation``: per-resource utilization (0-1) at which a
    resource counts as saturated. ``headroom``: among near-best parents, prefer one
    with headroom on the strategy's target resource. Masks and headroom act only on
    kernels a probe measured; without a profiler they change nothing.
    """

    clusters: int = 1
    recluster_every: int = 5
    masks: tuple[str, ...] = ("saturation",)
    saturation: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SATURATION))
    headroom: bool = True

    def __post_init__(self) -> None:
        if self.clusters < 1 or self.recluster_every < 1:
            raise ValueError("policy.clusters and policy.recluster_every must be >= 1")
        for name in self.masks:
            if name not in MASK_NAMES:
                raise ValueError(f"unknown mask {name!r} (masks: {', '.join(MASK_NAMES)})")
        masks_from(self.masks, self.saturation)  # thresholds checked here


HARDWARE_KEYS = tuple(f.name for f in fields(HardwareSettings))  # read from the policy group


@dataclass(frozen=True)
class Profiled:
    """A profiler's answer for one kernel: counters (None: none came back) and wall seconds."""

    counters: Counters | None
    seconds: float = 0.0


ProfileFn = Callable[[str, str, bool], Profiled]  # (candidate id, source, is reference)


@dataclass(frozen=True)
class MaskEvent:
    """One round of masking, as logged: the iteration it preceded and its decisions."""

    iteration: int
    decisions: tuple[MaskDecision, ...]

    def to_dict(self) -> dict[str, object]:
        return {"iteration": self.iteration, "decisions": [d.to_dict() for d in self.decisions]}


class HardwareView:
    def __init__(
        self,
        profile: ProfileFn | None = None,
        masks: Sequence[Mask] = (),
        resources: Mapping[str, str] | None = None,
        thresholds: Mapping[str, float] | None = None,
        headroom: bool = True,
    ) -> None:
        """`on_profiled(id, counters, seconds)` hears of every profiling (the run log)."""
        self.on_profiled: Callable[[str, Counters | None, float], None] | None = None
        self._profile = profile
        self.masks = tuple(masks)
        self.resources = dict(resources or {})
        self.thresholds = dict(DEFAULT_SATURATION if thresholds is None else thresholds)
        self.headroom = headroom
        self._counters: dict[str, Counters | None] = {}
        self.seconds = 0.0  # profiling wall time so far
        self.profiled = 0  # kernels a profiler returned counters for
        self.events: list[MaskEvent] = []
        self._last: tuple[MaskDecision, ...] = ()

    @property
    def enabled(self) -> bool:
        return self._profile is not None

    def counters(self, candidate_id: str) -> Counters | None:
        """Counters known for a kernel (never profiles)."""
        return self._counters.get(candidate_id)

    def known(self, candidate_id: str) -> bool:
        return candidate_id in self._counters

    def remember(self, candidate_id: str, counters: Counters | None) -> None:
        """Counters measured elsewhere (a resumed run log, a probed evaluation)."""
        self._counters[candidate_id] = counters

    def ensure(self, candidate_id: str, source: str, reference: bool = False) -> Counters | None:
        """The kernel's counters, profiling it the first time (None without a profiler)."""
        if candidate_id in self._counters or self._profile is None:
            return self._counters.get(candidate_id)
        answer = self._profile(candidate_id, source, reference)
        self.seconds += answer.seconds
        self.profiled += answer.counters is not None
        self._counters[candidate_id] = answer.counters
        if self.on_profiled is not None:
            self.on_profiled(candidate_id, answer.counters, answer.seconds)
        return answer.counters

    def mask(self, parents: Mapping[Arm, tuple[str, str]], iteration: int) -> MaskResult:
        """Apply the masks to ``parents`` (arm -> (parent id, parent source)), profiling
        parents seen for the first time. A new event is logged only when the decisions
        differ from the previous round's.

        The reference program is profiled (the prompt and the clusters read it) but never
        masks an arm: a strategy on the reference is not applied to that program, the
        realizer writes a new kernel, so the reference's saturation says nothing about it
        (on the H200, swiglu's eager reference at 89 % DRAM throughput and 60 % of its floor
        masked the arm that leads to its best kernel, 1.50x)."""
        arms = tuple(parents)
        by_arm = {
            arm: self.ensure(pid, src, reference=pid == REFERENCE_ID)
            for arm, (pid, src) in parents.items()
        }
        if not self.masks or not arms:
            return MaskResult(arms)
        evidence = {
            arm: None if parents[arm][0] == REFERENCE_ID else counters
            for arm, counters in by_arm.items()
        }
        result = apply_masks(self.masks, arms, MaskContext(evidence, self.resources))
        if result.decisions != self._last:
            self._last = result.decisions
            self.events.append(MaskEvent(iteration, result.decisions))
        return result


def hardware_view(
    settings: HardwareSettings, profile: ProfileFn | None, resources: Mapping[str, str]
) -> HardwareView:
    """The view a run's settings ask for (masks named ``none`` are left out)."""
    names = [n for n in settings.masks if n != "none"]
    return HardwareView(
        profile, masks_from(names, settings.saturation), resources, settings.saturation,
        settings.headroom,
    )
