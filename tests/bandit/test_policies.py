"""Every built-in policy passes the conformance kit; plus what is specific to each."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from pathlib import Path

import pytest
import yaml

from bandit.arms import Arm
from bandit.hardware import HARDWARE_KEYS, HardwareSettings
from bandit.policies import POLICY_NAMES, default_options, make_policy
from bandit.testing import PolicyConformance, flat_instance, play

CONF = Path(__file__).resolve().parents[2] / "conf" / "policy"


@pytest.fixture(params=POLICY_NAMES)
def policy_factory(request):
    return lambda seed: make_policy(request.param, seed)


class TestBuiltinPolicies(PolicyConformance):
    pass


@pytest.fixture(
    params=[
        ("hucb", {"variant": "tuned", "c": 2.0}),
        ("ucb", {"variant": "tuned", "c": 1.0}),
        ("egreedy", {"epsilon": 0.2, "decay": 0.99}),
        ("thompson", {"prior_alpha": 0.5, "prior_beta": 2.0}),
    ],
    ids=lambda p: p[0],
)
def optioned_factory(request):
    name, options = request.param
    return lambda seed: make_policy(name, seed, **options)


class TestPoliciesWithOptions(PolicyConformance):
    @pytest.fixture
    def policy_factory(self, optioned_factory):
        return optioned_factory


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_conf_file_holds_the_defaults(name):
    conf = yaml.safe_load((CONF / f"{name}.yaml").read_text())
    assert conf.pop("name") == name
    hardware = {k: conf.pop(k) for k in list(conf) if k in HARDWARE_KEYS}
    assert conf == default_options(name)
    defaults = asdict(HardwareSettings())
    for key, value in hardware.items():  # the tuner's keys, not the policy's
        want = list(defaults[key]) if isinstance(defaults[key], tuple) else defaults[key]
        assert value == want, f"conf/policy/{name}.yaml {key}"


def test_make_policy_errors_are_one_line():
    cases = [
        (("nope", 0), {}),
        (("ucb", 0), {"epsilon": 0.1}),
        (("random", 0), {"c": 1}),
        (("egreedy", 0), {"epsilon": 2}),
        (("hucb", 0), {"variant": "x"}),
        (("hucb", 0), {"c": "big"}),
        (("hucb", -1), {}),
    ]
    for args, options in cases:
        with pytest.raises(ValueError) as err:
            make_policy(*args, **options)
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="choose one of: hucb, ucb"):
        make_policy("nope", 0)
    with pytest.raises(ValueError, match="it takes: c, variant"):
        make_policy("ucb", 0, epsilon=0.1)


def test_parent_rules():
    rules = {name: make_policy(name, 0).parent_rule for name in POLICY_NAMES}
    assert rules == {
        "hucb": "cluster_best",
        "ucb": "cluster_best",
        "thompson": "cluster_best",
        "egreedy": "cluster_best",
        "random": "cluster_best",
        "greedy": "best",
        "best_of_n": "reference",
    }


def test_load_rejects_changed_options():
    state = make_policy("ucb", 0, c=1.0).state_dict()
    with pytest.raises(ValueError, match="options"):
        make_policy("ucb", 0, c=2.0).load_state_dict(state)


def test_hucb_walks_the_hierarchy_untried_first():
    arms = [Arm(c, f, f"{f}/{s}") for c in (0, 1) for f in ("a", "b") for s in ("x", "y")]
    policy = make_policy("hucb", 0)
    first = [policy.ask(arms) for _ in range(2)]  # pending asks count: both clusters first
    assert {arm.cluster for arm in first} == {0, 1}
    for arm in first:
        policy.tell(arm, 0.0)
    new = Arm(5, "a", "a/x")
    assert policy.ask([*arms, new]) == new  # a new cluster is untried


def test_hucb_aggregates_families():
    """A family that paid off is preferred over an untouched strategy of a poor family."""
    good = [Arm(0, "good", f"good/{i}") for i in range(3)]
    poor = [Arm(0, "poor", f"poor/{i}") for i in range(3)]
    policy = make_policy("hucb", 0, c=0.1)
    for _ in range(10):
        policy.tell(good[0], 0.9)
        policy.tell(poor[0], 0.1)
    chosen = policy.ask(good[1:] + poor[1:])
    assert chosen.family == "good"


def test_greedy_cycles_then_exploits_and_restarts_on_improvement():
    arms = [Arm(0, "f", f"f/{i}") for i in range(4)]
    policy = make_policy("greedy", 0)
    cycle = []
    for _ in range(4):
        arm = policy.ask(arms)
        cycle.append(arm)
        policy.tell(arm, 0.0)
    assert sorted(cycle) == arms  # every arm once for this parent
    policy.tell(arms[2], 0.0)
    # all tried, no improvement: best mean (all zero -> a tie broken by the generator)
    assert policy.ask(arms) in arms
    policy.tell(arms[1], 0.5)  # a new best kernel: a new cycle
    assert len({policy.ask(arms) for _ in range(4)}) == 4


def test_random_is_roughly_uniform():
    instance = flat_instance()
    pulls = Counter(play(make_policy("random", 0), instance, 800))
    assert set(pulls) == set(instance.arms)
    assert max(pulls.values()) < 2 * min(pulls.values())


def test_egreedy_decay_stops_exploring():
    instance = flat_instance()
    chosen = play(make_policy("egreedy", 0, epsilon=1.0, decay=0.9), instance, 400)
    assert Counter(chosen[200:]).most_common(1)[0][1] == 200
