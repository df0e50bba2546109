"""Best-of-N: independent samples from the reference kernel, strategies uniform at random.

Every candidate is a child of the reference (parent_rule "reference"), so nothing
is refined twice; the best of the N results wins. The arm choice is `RandomPolicy`'s.
"""

from __future__ import annotations

from bandit.policies.base import ParentRule
from bandit.policies.random import RandomPolicy


class BestOfNPolicy(RandomPolicy):
    name = "best_of_n"
    parent_rule = ParentRule.REFERENCE
