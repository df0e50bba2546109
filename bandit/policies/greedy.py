"""Greedy refinement: always refine the best kernel found so far (parent_rule "best").

The policy never sees kernels, only rewards. A positive reward means the child
beat its parent — with the default relative-improvement reward and parent_rule
"best", that child is the new best kernel, hence the new parent. So the policy
keeps the set of arms tried since the last positive reward (the current parent's
tries): it first cycles through the allowed arms not in it, in an order drawn by
the seeded generator; once all were tried on this parent, it takes the arm with the
best mean reward over the whole run (ties by the generator). A positive reward
starts a new cycle.
"""

from __future__ import annotations

from bandit.arms import Arm
from bandit.policies.base import BasePolicy, ParentRule


class GreedyPolicy(BasePolicy):
    name = "greedy"
    parent_rule = ParentRule.BEST
    learns = False  # on a stationary instance every positive reward restarts the cycle

    def __init__(self, seed: int) -> None:
        super().__init__(seed)
        self._tried: set[Arm] = set()

    def _select(self, allowed: tuple[Arm, ...]) -> Arm:
        untried = [arm for arm in allowed if arm not in self._tried]
        if untried:
            arm = self._pick(untried)
        else:
            means = []
            for candidate in allowed:
                n, total, _ = self._count(candidate)
                means.append(total / n if n else 0.0)
            arm = self._argmax(allowed, means)
        self._tried.add(arm)
        return arm

    def _observe(self, arm: Arm, reward: float) -> None:
        if reward > 0.0:
            self._tried.clear()

    def _extra_state(self) -> dict:
        return {"tried": [arm.to_list() for arm in sorted(self._tried)]}

    def _load_extra(self, extra: dict) -> None:
        self._tried = {Arm.from_list(item) for item in extra["tried"]}
