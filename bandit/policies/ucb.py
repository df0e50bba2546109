"""Flat UCB over (cluster, strategy) arms, and the UCB rule hierarchical UCB reuses.

Score of a child with ``n`` pulls (pending asks count as reward-0 pulls), reward
total ``s`` and squared total ``q``, among children with ``N`` pulls in all:

- ``ucb1``:  s/n + c * sqrt(ln N / n)            (c = sqrt(2) is Auer et al.'s UCB1)
- ``tuned``: s/n + c/sqrt(2) * sqrt(ln N / n * min(1/4, V)),
  V = q/n - (s/n)^2 + sqrt(2 ln N / n)          (c = sqrt(2) is Auer et al.'s UCB1-Tuned)

Rewards are in [0, 1]. Children never pulled come first, the choice among them
(and among exact score ties) made by the policy's seeded generator.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeVar

from bandit.arms import Arm
from bandit.policies.base import BasePolicy, ParentRule, check_range

VARIANTS = ("ucb1", "tuned")
DEFAULT_C = 1.414

K = TypeVar("K")


def ucb_scores(counts: Sequence[tuple[int, float, float]], c: float, variant: str) -> list[float]:
    """Scores of children given (n, total, squared total) each; every n must be > 0."""
    log_n = math.log(sum(n for n, _, _ in counts))
    scores = []
    for n, total, sumsq in counts:
        mean = total / n
        if variant == "ucb1":
            bonus = c * math.sqrt(log_n / n)
        else:
            var = max(sumsq / n - mean * mean, 0.0) + math.sqrt(2.0 * log_n / n)
            bonus = c / math.sqrt(2.0) * math.sqrt(log_n / n * min(0.25, var))
        scores.append(mean + bonus)
    return scores


def check_ucb_options(policy: str, c: Any, variant: Any) -> tuple[float, str]:
    if variant not in VARIANTS:
        raise ValueError(
            f"policy {policy!r}: option variant must be one of {', '.join(VARIANTS)}, got {variant!r}"
        )
    return check_range(policy, "c", c, 0.0), str(variant)


class UCBPolicy(BasePolicy):
    """UCB1 (or UCB1-Tuned) over the allowed arms, ignoring the hierarchy."""

    name = "ucb"
    parent_rule = ParentRule.CLUSTER_BEST

    def __init__(self, seed: int, *, c: float = DEFAULT_C, variant: str = "ucb1") -> None:
        super().__init__(seed)
        self.c, self.variant = check_ucb_options(self.name, c, variant)

    def options(self) -> dict[str, Any]:
        return {"c": self.c, "variant": self.variant}

    def _select(self, allowed: tuple[Arm, ...]) -> Arm:
        return self._choose_ucb(allowed, [self._count(arm) for arm in allowed])

    def _choose_ucb(self, keys: Sequence[K], counts: Sequence[tuple[int, float, float]]) -> K:
        untried = [k for k, (n, _, _) in zip(keys, counts, strict=True) if n == 0]
        if untried:
            return self._pick(untried)
        if len(keys) == 1:
            return keys[0]
        return self._argmax(keys, ucb_scores(counts, self.c, self.variant))
