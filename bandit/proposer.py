"""From the frontier to a proposal: the arms, each arm's parent, the realize request.

The arms are the frontier's clusters x the strategies the catalog offers for the
task on the evaluator's device (`Catalog.runnable`). Each arm's parent comes from
`bandit.parents` (headroom on the arm's target resource first, when the hardware
view ranks by it); the arm masks come from the hardware view. The request quotes
the parent's source, measurement and hardware counters and carries a seed that
depends only on the run's seed and the iteration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from bandit.arms import Arm
from bandit.attempt import Proposal
from bandit.frontier import Frontier, Member
from bandit.hardware import HardwareView
from bandit.masks import MaskDecision, MaskResult, headroom_first
from bandit.parents import parents
from bandit.policies.base import ParentRule
from profiling.hardware import GpuFacts
from profiling.tasks import Task
from strategies.catalog import Catalog
from strategies.types import Realizer, RealizeRequest


class Proposer:
    def __init__(
        self,
        task: Task,
        catalog: Catalog,
        device: str,
        frontier: Frontier,
        hardware: HardwareView,
        realizer: Realizer,
        rule: ParentRule,
        slack: float,
        seed: int,
    ) -> None:
        self.task, self.frontier, self.hardware, self.realizer = task, frontier, hardware, realizer
        self.rule, self.slack, self.seed = rule, slack, seed
        self.strategies = catalog.runnable(task.kind, device)
        self._by_id = {s.id: s for s in self.strategies}
        self.gpu = GpuFacts()  # the evaluator's GPU, set when the run starts
        self.tried: set[tuple[str, str]] = set()  # (parent id, strategy id) proposed so far
        self._arms: tuple[tuple[int, ...], tuple[Arm, ...]] = ((), ())

    def arms(self) -> tuple[Arm, ...]:
        """The allowed arms now: clusters in the frontier x runnable strategies."""
        clusters = self.frontier.clusters()
        if clusters != self._arms[0]:
            arms = tuple(Arm(c, s.family, s.id) for c in clusters for s in self.strategies)
            self._arms = (clusters, arms)
        return self._arms[1]

    def parents(self) -> dict[Arm, Member]:
        """Each arm that can still yield a new kernel and the kernel it would refine."""
        return parents(
            self.arms(),
            self.frontier,
            self.rule,
            self.slack,
            self.realizer,
            self.tried,
            lambda arm, parent: self.request(arm, parent, 0),
            self._headroom_first if self.hardware.headroom else None,
        )

    def masked(self, allowed: Mapping[Arm, Member], iteration: int) -> MaskResult:
        """The arm masks on the realizable arms (profiling parents seen the first time)."""
        return self.hardware.mask(
            {a: (p.id, p.candidate.source) for a, p in allowed.items()}, iteration
        )

    def proposal(
        self, iteration: int, arm: Arm, parent: Member, decisions: tuple[MaskDecision, ...]
    ) -> Proposal:
        """The chosen arm as a proposal; its (parent, strategy) pair counts as tried now,
        not at tell, so a batch of asks never proposes one pair twice."""
        self.tried.add((parent.id, arm.strategy))
        notes = tuple(f"{d.arm} {'masked' if d.masked else 'open'}: {d.reason}" for d in decisions)
        return Proposal(iteration, arm, parent, self.request(arm, parent, iteration), notes)

    def request(self, arm: Arm, parent: Member, iteration: int) -> RealizeRequest:
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
            self.seed * 1_000_003 + iteration,
        )

    def _counters(self, member: Member) -> Any:
        return member.measurement.counters or self.hardware.counters(member.id)

    def _headroom_first(self, pool: list[Member], arm: Arm) -> list[Member]:
        resource = self._by_id[arm.strategy].resource
        return headroom_first(pool, self._counters, resource, self.hardware.thresholds)
