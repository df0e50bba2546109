from __future__ import annotations

import dataclasses
import math

import pytest

from bandit.budget import Budget, Spend


def test_spend_is_immutable_and_adds():
    spend = Spend()
    more = spend.add(iterations=1, tokens=100, usd=0.5, seconds=2.0).add(tokens=20)
    assert spend == Spend()
    assert more == Spend(1, 120, 0.5, 2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        more.tokens = 0  # type: ignore[misc]
    with pytest.raises(ValueError):
        spend.add(tokens=-1)


def test_needs_a_limit():
    with pytest.raises(ValueError, match="at least one limit"):
        Budget()
    with pytest.raises(ValueError, match="at least one limit"):
        Budget(None, None, None, None)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"iterations": -1},
        {"tokens": 1.5},
        {"usd": math.inf},
        {"seconds": math.nan},
        {"iterations": True},
        {"usd": "1"},
    ],
)
def test_bad_limits(kwargs):
    with pytest.raises(ValueError):
        Budget(**kwargs)


def test_single_limits():
    assert Budget(iterations=40).exhausted(Spend(iterations=39)) is None
    assert Budget(iterations=40).exhausted(Spend(iterations=40)) == "iterations 40/40"
    assert Budget(tokens=10000).exhausted(Spend(tokens=10234)) == "tokens 10234/10000"
    assert Budget(usd=1.0).exhausted(Spend(usd=1.25)) == "usd 1.25/1.00"
    assert Budget(seconds=60).exhausted(Spend(seconds=61.04)) == "seconds 61.0/60.0"
    assert Budget(seconds=60).exhausted(Spend(iterations=10**6, tokens=10**9)) is None


def test_combined_limits_report_the_first_reached():
    budget = Budget(iterations=100, tokens=5000, usd=2.0, seconds=None)
    spend = Spend(iterations=10, tokens=100, usd=0.1, seconds=1e6)
    assert budget.exhausted(spend) is None
    assert budget.exhausted(spend.add(usd=5.0)) == "usd 5.10/2.00"
    assert budget.exhausted(spend.add(tokens=6000, usd=5.0)) == "tokens 6100/5000"
    assert budget.exhausted(Spend(iterations=100, tokens=9999, usd=9.0)) == "iterations 100/100"


def test_zero_limit_is_exhausted_at_once():
    assert Budget(iterations=1).exhausted(Spend(iterations=1)) == "iterations 1/1"
    for bad in (0, -1):
        with pytest.raises(ValueError, match="positive"):
            Budget(iterations=bad)
    with pytest.raises(ValueError, match="positive"):
        Budget(usd=0.0)


def test_roofline_goal_names_the_reason():
    b = Budget(iterations=40, stop_at_roofline=0.9)
    assert b.reached(None) is None and b.reached(0.89) is None
    assert b.reached(0.93) == "roofline 0.93 >= 0.90"
    assert Budget(iterations=1).reached(1.0) is None  # off by default
    for bad in (0.0, 1.5, True, "0.9"):
        with pytest.raises(ValueError, match="stop_at_roofline"):
            Budget(iterations=1, stop_at_roofline=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one limit"):
        Budget(stop_at_roofline=0.9)  # a goal alone may never be met
