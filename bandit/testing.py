"""Conformance kit for bandit policies, in the manner of ``optuna.testing.pytest_samplers``.

Every policy — built-in or new — must pass it. In a test module::

    @pytest.fixture(params=["hucb", "ucb"])
    def policy_factory(request):
        return lambda seed: make_policy(request.param, seed)

    class TestMyPolicies(PolicyConformance):
        pass

Each check is also a plain function taking ``factory`` (seed -> a new policy),
so it can be called outside pytest. A policy whose class sets ``learns = False``
(it does not concentrate pulls on the best arm: uniform random, best-of-N, greedy
refinement) is exempt from the convergence check.

The simulation side — `Instance`, `play`, `mean_regret` and the two standard
instances — is what the regret tests use to compare policies: rewards come from a
table drawn once per (instance, environment seed), so runs are reproducible and a
resumed run sees exactly the rewards the uninterrupted one would have.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pytest

from bandit.arms import Arm
from bandit.policies.base import ArmStats, ParentRule, Policy

PolicyFactory = Callable[[int], Policy]
ArmsAt = Callable[[int], Sequence[Arm]]


# -- simulated instances --------------------------------------------------------------
@dataclass(frozen=True)
class Instance:
    """A stationary bandit: each arm's mean reward; rewards Bernoulli or Beta(mean, 8)."""

    means: Mapping[Arm, float]
    kind: str = "bernoulli"  # "bernoulli" | "beta"
    arms: tuple[Arm, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "arms", tuple(sorted(self.means)))
        if self.kind not in ("bernoulli", "beta"):
            raise ValueError(f"unknown instance kind {self.kind!r}")

    @property
    def best(self) -> Arm:
        return max(self.arms, key=lambda arm: self.means[arm])

    def rewards(self, rounds: int, env_seed: int) -> dict[Arm, np.ndarray]:
        """The reward each arm would give at each round (a longer table extends a shorter one)."""
        table = {}
        for i, arm in enumerate(self.arms):
            rng = np.random.default_rng([env_seed, i])
            mean = self.means[arm]
            if self.kind == "bernoulli":
                table[arm] = (rng.random(rounds) < mean).astype(float)
            else:  # Beta with the given mean and concentration 8
                mu = min(max(mean, 1e-3), 1 - 1e-3)
                table[arm] = rng.beta(8 * mu, 8 * (1 - mu), rounds)
        return table


def _arms(clusters: int, families: int, strategies: int) -> list[Arm]:
    return [
        Arm(c, f"fam{f}", f"fam{f}/s{s}")
        for c in range(clusters)
        for f in range(families)
        for s in range(strategies)
    ]


def flat_instance(kind: str = "bernoulli") -> Instance:
    """Eight arms in two clusters and two families; one clearly best arm (0.9 vs <= 0.6)."""
    arms = _arms(2, 2, 2)
    means = [0.2, 0.35, 0.1, 0.6, 0.3, 0.15, 0.9, 0.25]
    return Instance(dict(zip(arms, means, strict=True)), kind)


def hierarchical_instance(kind: str = "bernoulli") -> Instance:
    """60 arms (2 clusters x 6 families x 5 strategies) where structure matters.

    One family of cluster 0 is good throughout (0.5-0.7); everything else is poor
    (0.05-0.25), cluster 1 a little poorer, so the family level tells which
    subtree deserves the pulls long before every single arm is known.
    """
    rng = np.random.default_rng(12345)
    means = {}
    for arm in _arms(2, 6, 5):
        if arm.cluster == 0 and arm.family == "fam3":
            means[arm] = 0.5 + 0.05 * int(arm.strategy[-1])
        else:
            means[arm] = float(rng.uniform(0.05, 0.25)) - 0.03 * arm.cluster
    return Instance(means, kind)


def play(
    policy: Policy,
    instance: Instance,
    rounds: int,
    env_seed: int = 0,
    arms_at: ArmsAt | None = None,
    start: int = 0,
) -> list[Arm]:
    """Rounds ``start .. rounds-1`` of ask/tell; returns the arms chosen.

    ``arms_at(t)`` gives the allowed arms at round t (default: all of the instance).
    Fails if the policy chooses an arm that was not allowed.
    """
    table = instance.rewards(rounds, env_seed)
    chosen = []
    for t in range(start, rounds):
        allowed = instance.arms if arms_at is None else tuple(arms_at(t))
        arm = policy.ask(allowed)
        assert arm in allowed, f"{policy.name} chose {arm}, which is not allowed at round {t}"
        policy.tell(arm, float(table[arm][t]))
        chosen.append(arm)
    return chosen


def regret(instance: Instance, chosen: Sequence[Arm]) -> float:
    """Cumulative pseudo-regret: sum of (best mean - chosen arm's mean)."""
    best = instance.means[instance.best]
    return float(sum(best - instance.means[arm] for arm in chosen))


def mean_regret(
    factory: PolicyFactory, instance: Instance, rounds: int, seeds: Sequence[int]
) -> float:
    """Mean cumulative regret over ``seeds`` (each seeds both the policy and the rewards)."""
    return float(np.mean([regret(instance, play(factory(s), instance, rounds, s)) for s in seeds]))


# -- the checks -----------------------------------------------------------------------
def check_protocol(factory: PolicyFactory) -> None:
    policy = factory(0)
    assert isinstance(policy, Policy)
    assert isinstance(policy.name, str) and policy.name
    assert isinstance(policy.parent_rule, ParentRule)
    assert isinstance(policy.learns, bool)
    arms = flat_instance().arms
    with pytest.raises(ValueError):
        policy.ask([])
    arm = policy.ask(arms)
    assert arm in arms
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError):
            policy.tell(arm, bad)
    policy.tell(arm, 0.5)
    assert policy.stats() == {arm: ArmStats(1, 0.5, 0.5)}


def check_determinism(factory: PolicyFactory, rounds: int = 200) -> None:
    """Same seed and same rewards give the same arms; the seed is actually used."""
    instance = flat_instance()
    runs = [play(factory(seed), instance, rounds, env_seed=7) for seed in (3, 3, 4, 5, 6)]
    assert runs[0] == runs[1], "same seed and rewards, different choices"
    assert any(run != runs[0] for run in runs[2:]), "the seed changes nothing"


def check_order_invariance(factory: PolicyFactory, rounds: int = 100) -> None:
    """The order in which the allowed arms are passed does not matter."""
    instance = flat_instance()
    shuffle = np.random.default_rng(1)
    a = play(factory(0), instance, rounds)
    b = play(factory(0), instance, rounds, arms_at=lambda t: shuffle.permutation(instance.arms))
    assert a == b


def check_all_arms_tried(factory: PolicyFactory) -> None:
    """Every arm gets tried: 8 arms with a clear best, and 60 equally good arms."""
    flat = flat_instance()
    level = Instance(dict.fromkeys(hierarchical_instance().arms, 0.5))
    for instance in (flat, level):
        chosen = play(factory(0), instance, 1200)
        missing = set(instance.arms) - set(chosen)
        assert not missing, f"never tried: {sorted(missing)}"


def check_convergence(factory: PolicyFactory, rounds: int = 1500) -> None:
    """On a fixed Bernoulli and a Beta instance, the best arm gets the most pulls."""
    if not factory(0).learns:
        pytest.skip("policy declares learns = False: convergence not expected")
    for kind in ("bernoulli", "beta"):
        instance = flat_instance(kind)
        for seed in (0, 1):
            pulls = Counter(play(factory(seed), instance, rounds, env_seed=seed))
            top, count = pulls.most_common(1)[0]
            assert top == instance.best, f"{kind}, seed {seed}: most pulls on {top}: {pulls}"
            assert count > rounds / 3, f"{kind}, seed {seed}: best arm only {count}/{rounds}"


def check_masking(factory: PolicyFactory, rounds: int = 400) -> None:
    """Arms not passed to ask are never chosen, whatever was learned about them."""
    instance = flat_instance()
    best = instance.best
    mask = np.random.default_rng(3)

    def arms_at(t: int) -> list[Arm]:
        if t < 100:
            return list(instance.arms)
        keep = [arm for arm in instance.arms if arm != best and mask.random() < 0.6]
        return keep or [instance.arms[0]]

    chosen = play(factory(0), instance, rounds, arms_at=arms_at)  # play asserts "allowed"
    assert best not in chosen[100:]


def check_changing_arms(factory: PolicyFactory) -> None:
    """New clusters and arms appear, families get masked, the set is replaced entirely."""
    instance = hierarchical_instance()
    cluster0 = [arm for arm in instance.arms if arm.cluster == 0]
    no_fam3 = [arm for arm in instance.arms if arm.family != "fam3"]
    phases = [(0, cluster0), (300, list(instance.arms)), (900, no_fam3)]

    def arms_at(t: int) -> list[Arm]:
        return next(arms for start, arms in reversed(phases) if t >= start)

    policy = factory(0)
    chosen = play(policy, instance, 1500, arms_at=arms_at)
    assert {arm.cluster for arm in chosen[:300]} == {0}
    assert any(arm.cluster == 1 for arm in chosen[300:900]), "a new cluster was never tried"
    assert all(arm.family != "fam3" for arm in chosen[900:])
    fresh = [Arm(7, "other", "other/x"), Arm(8, "other", "other/y")]
    for _ in range(20):
        arm = policy.ask(fresh)
        assert arm in fresh
        policy.tell(arm, 0.0)
    assert set(fresh) <= set(policy.stats())


def check_stats(factory: PolicyFactory) -> None:
    """stats() reports exactly the told rewards: pulls, total, mean."""
    instance = flat_instance("beta")
    table = instance.rewards(300, 0)
    policy = factory(0)
    seen: dict[Arm, list[float]] = {}
    for t in range(300):
        arm = policy.ask(instance.arms)
        policy.tell(arm, float(table[arm][t]))
        seen.setdefault(arm, []).append(float(table[arm][t]))
    stats = policy.stats()
    assert set(stats) == set(seen)
    for arm, rewards in seen.items():
        assert stats[arm].pulls == len(rewards)
        assert stats[arm].total == pytest.approx(sum(rewards))
        assert stats[arm].mean == pytest.approx(sum(rewards) / len(rewards))


def check_batch_asks(factory: PolicyFactory) -> None:
    """Several asks before their tells (a parallel round) work and keep stats exact."""
    instance = flat_instance()
    policy = factory(0)
    for _ in range(30):
        batch = [policy.ask(instance.arms) for _ in range(4)]
        for arm in batch:
            policy.tell(arm, instance.means[arm])
    assert sum(s.pulls for s in policy.stats().values()) == 120


def check_resume(factory: PolicyFactory, split: int = 150, rounds: int = 400) -> None:
    """A policy restored from a JSON round trip of state_dict continues identically."""
    instance = hierarchical_instance("beta")
    whole = play(factory(11), instance, rounds, env_seed=5)

    first = factory(11)
    head = play(first, instance, split, env_seed=5)
    pending = first.ask(instance.arms)  # asked before the checkpoint, told after it
    state = json.loads(json.dumps(first.state_dict()))
    resumed = factory(99)  # another seed: the generator state must come from the checkpoint
    resumed.load_state_dict(state)
    assert resumed.stats() == first.stats()
    assert resumed.state_dict() == state
    resumed.tell(pending, float(instance.rewards(rounds, 5)[pending][split]))
    tail = play(resumed, instance, rounds, env_seed=5, start=split + 1)
    assert [*head, pending, *tail] == whole


def check_rejects_foreign_state(factory: PolicyFactory) -> None:
    policy = factory(0)
    state = policy.state_dict()
    with pytest.raises(ValueError):
        policy.load_state_dict({**state, "policy": "not-" + policy.name})


class PolicyConformance:
    """Tests every policy must pass; the subclass provides the ``policy_factory`` fixture."""

    def test_protocol(self, policy_factory: PolicyFactory) -> None:
        check_protocol(policy_factory)

    def test_determinism(self, policy_factory: PolicyFactory) -> None:
        check_determinism(policy_factory)

    def test_order_invariance(self, policy_factory: PolicyFactory) -> None:
        check_order_invariance(policy_factory)

    def test_all_arms_tried(self, policy_factory: PolicyFactory) -> None:
        check_all_arms_tried(policy_factory)

    def test_convergence(self, policy_factory: PolicyFactory) -> None:
        check_convergence(policy_factory)

    def test_masking(self, policy_factory: PolicyFactory) -> None:
        check_masking(policy_factory)

    def test_changing_arms(self, policy_factory: PolicyFactory) -> None:
        check_changing_arms(policy_factory)

    def test_stats(self, policy_factory: PolicyFactory) -> None:
        check_stats(policy_factory)

    def test_batch_asks(self, policy_factory: PolicyFactory) -> None:
        check_batch_asks(policy_factory)

    def test_resume(self, policy_factory: PolicyFactory) -> None:
        check_resume(policy_factory)

    def test_rejects_foreign_state(self, policy_factory: PolicyFactory) -> None:
        check_rejects_foreign_state(policy_factory)
