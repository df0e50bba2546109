"""Epsilon-greedy: explore uniformly with probability epsilon, else the best mean.

Arms never pulled are tried first. After that, the k-th ask (k = 0, 1, ...)
explores with probability ``epsilon * decay**k`` (``decay`` 1.0 keeps epsilon
fixed) and otherwise takes the arm with the best mean reward, pending asks
counting as reward 0; ties and exploration use the seeded generator.
"""

from __future__ import annotations

from typing import Any

from bandit.arms import Arm
from bandit.policies.base import BasePolicy, ParentRule, check_range


class EpsilonGreedyPolicy(BasePolicy):
    name = "egreedy"
    parent_rule = ParentRule.CLUSTER_BEST

    def __init__(self, seed: int, *, epsilon: float = 0.1, decay: float = 1.0) -> None:
        super().__init__(seed)
        self.epsilon = check_range(self.name, "epsilon", epsilon, 0.0, 1.0)
        self.decay = check_range(self.name, "decay", decay, 0.0, 1.0)

    def options(self) -> dict[str, Any]:
        return {"epsilon": self.epsilon, "decay": self.decay}

    def _select(self, allowed: tuple[Arm, ...]) -> Arm:
        counts = [self._count(arm) for arm in allowed]
        untried = [arm for arm, (n, _, _) in zip(allowed, counts, strict=True) if n == 0]
        if untried:
            return self._pick(untried)
        if self._rng.random() < self.epsilon * self.decay**self._asks:
            return self._pick(allowed)
        return self._argmax(allowed, [total / n for n, total, _ in counts])
