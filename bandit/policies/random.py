"""Uniform random choice among the allowed arms (the baseline every policy must beat)."""

from __future__ import annotations

from bandit.arms import Arm
from bandit.policies.base import BasePolicy, ParentRule


class RandomPolicy(BasePolicy):
    name = "random"
    parent_rule = ParentRule.CLUSTER_BEST
    learns = False

    def _select(self, allowed: tuple[Arm, ...]) -> Arm:
        return self._pick(allowed)
