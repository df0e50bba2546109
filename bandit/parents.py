"""Parent selection: which measured kernel each arm would refine now.

The policy's `ParentRule` names the pool: the best kernels of the arm's cluster
(``cluster_best``), of the whole frontier (``best``), or the reference program alone
(``reference``). Kernels a realizer wrote come first; the reference stands in until
there is one. A kernel is a parent only if the realizer can still make something new
of it with the arm's strategy: ``can_realize`` agrees, and a ``deterministic``
realizer has not been given that (parent, strategy) pair before. The fastest such
kernel within ``slack`` of the pool's best wins (kernels compare by
`Member.speedup`, never by medians of different evaluations), so a search stuck at a local optimum
goes on from the runners-up. Only when no kernel within ``slack`` can serve an arm any
more does the arm fall back to the pool's slower kernels (fastest first) and then to the
reference program: a deterministic search ends ("search exhausted") only when no measured
kernel has an untried move left, not when the few near the best have none (a replayed run
whose near-best kernels' children were never recorded, or a run whose near-best children
all failed, goes on from the other branches). An arm no kernel can serve is left out. A
realizer that samples and accepts every request always refines the best kernel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Set

from bandit.arms import Arm
from bandit.frontier import REFERENCE_ID, Frontier, Member
from bandit.policies.base import ParentRule
from strategies.types import Realizer, RealizeRequest

RequestFor = Callable[[Arm, Member], RealizeRequest]
Order = Callable[[list[Member], Arm], list[Member]]  # e.g. headroom on the arm's resource


def ranked(
    frontier: Frontier, rule: ParentRule, cluster: int, slack: float
) -> tuple[list[Member], list[Member]]:
    """Parent candidates for an arm of `cluster`, best first (see the module doc): the
    kernels within `slack` of the pool's best, and the fallback after them (the pool's
    slower kernels, fastest first, then the reference)."""
    reference = frontier.get(REFERENCE_ID)
    if rule is ParentRule.REFERENCE:
        return [reference], []
    pool = frontier.ranked(cluster if rule is ParentRule.CLUSTER_BEST else None, kernels_only=True)
    if not pool:
        return [reference], []
    floor = (pool[0].speedup or 0.0) / (1.0 + slack)  # at most (1 + slack) times slower
    near = [p for p in pool if (p.speedup or 0.0) >= floor]
    return near, [*pool[len(near) :], reference]


def parents(
    arms: Iterable[Arm],
    frontier: Frontier,
    rule: ParentRule,
    slack: float,
    realizer: Realizer,
    tried: Set[tuple[str, str]],
    request_for: RequestFor,
    order: Order | None = None,
) -> dict[Arm, Member]:
    """Each arm that can still yield a new kernel, and the kernel it would refine.
    ``order`` re-ranks an arm's candidates (the tuner prefers headroom on the
    resource the arm's strategy targets); None keeps fastest first."""
    by_cluster: dict[int | None, tuple[list[Member], list[Member]]] = {}
    out: dict[Arm, Member] = {}
    for arm in arms:
        key = arm.cluster if rule is ParentRule.CLUSTER_BEST else None
        if key not in by_cluster:
            by_cluster[key] = ranked(frontier, rule, arm.cluster, slack)
        near, fallback = by_cluster[key]
        for parent in (near if order is None else order(near, arm)) + fallback:
            if realizer.deterministic and (parent.id, arm.strategy) in tried:
                continue
            if realizer.can_realize(request_for(arm, parent)):
                out[arm] = parent
                break
    return out
