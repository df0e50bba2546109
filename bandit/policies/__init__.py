"""Bandit policies behind one ask/tell protocol, built by name with `make_policy`.

==========  ============  =====================================================
name        parent_rule   arm choice
==========  ============  =====================================================
hucb        cluster_best  UCB per level: cluster, then family, then strategy
ucb         cluster_best  flat UCB1 (or UCB1-Tuned) over (cluster, strategy)
thompson    cluster_best  Beta posteriors, Bernoulli trick for [0, 1] rewards
egreedy     cluster_best  best mean, uniform exploration with prob. epsilon
random      cluster_best  uniform over the allowed arms
greedy      best          untried arms for the current best kernel, then best mean
best_of_n   reference     uniform; every candidate a fresh child of the reference
==========  ============  =====================================================

Each module's docstring gives the exact rule; `bandit.testing` is the conformance
kit all of them pass.
"""

from __future__ import annotations

import inspect
from typing import Any

from bandit.policies.base import PARENT_RULES, ArmStats, BasePolicy, ParentRule, Policy
from bandit.policies.best_of_n import BestOfNPolicy
from bandit.policies.egreedy import EpsilonGreedyPolicy
from bandit.policies.greedy import GreedyPolicy
from bandit.policies.hucb import HUCBPolicy
from bandit.policies.random import RandomPolicy
from bandit.policies.thompson import ThompsonPolicy
from bandit.policies.ucb import UCBPolicy

POLICIES: dict[str, type[BasePolicy]] = {
    cls.name: cls
    for cls in (
        HUCBPolicy,
        UCBPolicy,
        ThompsonPolicy,
        EpsilonGreedyPolicy,
        RandomPolicy,
        GreedyPolicy,
        BestOfNPolicy,
    )
}
POLICY_NAMES = tuple(POLICIES)


def default_options(name: str) -> dict[str, Any]:
    """The options policy ``name`` takes, with their defaults (what conf/policy/<name>.yaml holds)."""
    params = inspect.signature(_policy_class(name).__init__).parameters.values()
    return {p.name: p.default for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY}


def make_policy(name: str, seed: int, **options: Any) -> Policy:
    """A new policy; one-line ValueError for an unknown name, option or option value."""
    cls = _policy_class(name)
    known = default_options(name)
    unknown = sorted(set(options) - set(known))
    if unknown:
        takes = f"it takes: {', '.join(known)}" if known else "it takes no options"
        raise ValueError(f"policy {name!r} has no option {', '.join(unknown)} ({takes})")
    return cls(seed, **options)


def _policy_class(name: str) -> type[BasePolicy]:
    try:
        return POLICIES[name]
    except KeyError:
        raise ValueError(
            f"unknown policy {name!r}; choose one of: {', '.join(POLICY_NAMES)}"
        ) from None


__all__ = [
    "PARENT_RULES",
    "POLICIES",
    "POLICY_NAMES",
    "ArmStats",
    "BasePolicy",
    "BestOfNPolicy",
    "EpsilonGreedyPolicy",
    "GreedyPolicy",
    "HUCBPolicy",
    "ParentRule",
    "Policy",
    "RandomPolicy",
    "ThompsonPolicy",
    "UCBPolicy",
    "default_options",
    "make_policy",
]
