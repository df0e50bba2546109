"""Thompson sampling with a Beta posterior per arm, via the Bernoulli trick.

Rewards are in [0, 1], not 0/1, so each told reward r is turned into one
Bernoulli(r) outcome drawn from the policy's generator (Agrawal & Goyal, 2012):
a success adds 1 to alpha, a failure 1 to beta. The posterior of an arm is
Beta(prior_alpha + successes, prior_beta + failures + pending) — pending asks
count as failures until told, so a batch of asks spreads out. Each ask draws one
sample per allowed arm and takes the largest; an unseen arm samples its prior.
"""

from __future__ import annotations

from typing import Any

from bandit.arms import Arm
from bandit.policies.base import BasePolicy, ParentRule, check_range


class ThompsonPolicy(BasePolicy):
    name = "thompson"
    parent_rule = ParentRule.CLUSTER_BEST

    def __init__(self, seed: int, *, prior_alpha: float = 1.0, prior_beta: float = 1.0) -> None:
        super().__init__(seed)
        self.prior_alpha = check_range(self.name, "prior_alpha", prior_alpha, 1e-9)
        self.prior_beta = check_range(self.name, "prior_beta", prior_beta, 1e-9)
        self._successes: dict[Arm, int] = {}

    def options(self) -> dict[str, Any]:
        return {"prior_alpha": self.prior_alpha, "prior_beta": self.prior_beta}

    def _select(self, allowed: tuple[Arm, ...]) -> Arm:
        alphas, betas = [], []
        for arm in allowed:
            n, _, _ = self._count(arm)  # pulls + pending
            wins = self._successes.get(arm, 0)
            alphas.append(self.prior_alpha + wins)
            betas.append(self.prior_beta + n - wins)
        samples = self._rng.beta(alphas, betas)
        return self._argmax(allowed, samples.tolist())

    def _observe(self, arm: Arm, reward: float) -> None:
        if self._rng.random() < reward:
            self._successes[arm] = self._successes.get(arm, 0) + 1

    def _extra_state(self) -> dict:
        return {"successes": [[*arm.to_list(), n] for arm, n in sorted(self._successes.items())]}

    def _load_extra(self, extra: dict) -> None:
        self._successes = {Arm.from_list(key): int(n) for *key, n in extra["successes"]}
