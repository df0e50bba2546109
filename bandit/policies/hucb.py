"""Hierarchical UCB: a cluster, then a strategy family in it, then a strategy.

Each level is the UCB rule of `bandit.policies.ucb` over that level's children
among the allowed arms: clusters present in the arm set (new clusters join as
untried children), the families allowed in the chosen cluster, the strategies
allowed in the chosen family. A child's statistics aggregate every arm recorded
below it, masked ones included (pulls and reward sums), so what was learned about
a cluster or a family is kept while some of its arms are masked; N is the sum of
the compared children's pulls. Untried children come first at every level, the
choice among them made by the seeded generator.

Options are flat UCB's (``c``, ``variant``). The ``tuned`` variant's bonus is
smaller, so it explores less: an arm under a family that looked poor early may
stay untried for a long time (raise ``c`` to compensate).
"""

from __future__ import annotations

from bandit.arms import Arm
from bandit.policies.base import ParentRule
from bandit.policies.ucb import UCBPolicy

_EMPTY = (0, 0.0, 0.0)


class HUCBPolicy(UCBPolicy):
    name = "hucb"
    parent_rule = ParentRule.CLUSTER_BEST

    def _select(self, allowed: tuple[Arm, ...]) -> Arm:
        node: dict[tuple[int] | tuple[int, str], tuple[int, float, float]] = {}
        for arm in self._records:
            n, total, sumsq = self._count(arm)
            for key in ((arm.cluster,), (arm.cluster, arm.family)):
                m, t, q = node.get(key, _EMPTY)
                node[key] = (m + n, t + total, q + sumsq)

        clusters = sorted({arm.cluster for arm in allowed})
        cluster = self._choose_ucb(clusters, [node.get((c,), _EMPTY) for c in clusters])
        families = sorted({arm.family for arm in allowed if arm.cluster == cluster})
        family = self._choose_ucb(families, [node.get((cluster, f), _EMPTY) for f in families])
        leaves = [arm for arm in allowed if arm.cluster == cluster and arm.family == family]
        return self._choose_ucb(leaves, [self._count(arm) for arm in leaves])
