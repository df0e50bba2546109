"""UCB-family policies beat uniform random on stationary instances; hucb uses the hierarchy.

Mean cumulative pseudo-regret over 5 seeds, 1000 rounds. Measured ratios to random
(seeds 0-19 in groups of 5 agree within 0.02): flat instance hucb ~0.10, ucb ~0.21,
thompson ~0.04; hierarchical instance hucb ~0.34, ucb ~0.85, thompson ~0.44, and
hucb/ucb ~0.41. The bounds below leave a margin over those figures.
"""

from __future__ import annotations

import functools

import pytest

from bandit.policies import make_policy
from bandit.testing import flat_instance, hierarchical_instance, mean_regret

ROUNDS = 1000
SEEDS = range(5)


@functools.cache
def _regret(name: str, instance: str, kind: str) -> float:
    build = {"flat": flat_instance, "hierarchical": hierarchical_instance}[instance]
    return mean_regret(lambda seed: make_policy(name, seed), build(kind), ROUNDS, SEEDS)


@pytest.fixture(params=["bernoulli", "beta"])
def kind(request):
    return request.param


@pytest.mark.parametrize("name", ["hucb", "ucb", "thompson"])
def test_beats_random_on_a_flat_instance(name, kind):
    assert _regret(name, "flat", kind) < 0.4 * _regret("random", "flat", kind)


@pytest.mark.parametrize(("name", "bound"), [("hucb", 0.5), ("thompson", 0.6), ("ucb", 0.95)])
def test_beats_random_on_a_hierarchical_instance(name, bound, kind):
    assert _regret(name, "hierarchical", kind) < bound * _regret("random", "hierarchical", kind)


def test_hucb_uses_the_family_structure(kind):
    assert _regret("hucb", "hierarchical", kind) < 0.6 * _regret("ucb", "hierarchical", kind)
