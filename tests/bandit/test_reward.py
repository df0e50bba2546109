"""Rewards compare speedups (reference time / candidate time, interleaved in one worker)."""

from __future__ import annotations

import math

import pytest

from bandit.reward import RewardSpec, reward


def test_relative_improvement():
    assert reward("relative_improvement", 2.0, 4.0, True) == pytest.approx(0.5)
    assert reward("relative_improvement", 3.0, 4.0, True) == pytest.approx(0.25)
    assert reward("relative_improvement", 2.0, 4.0 / 3.0, True) == 0.0  # slower: no penalty
    assert reward("relative_improvement", 2.0, 2.0, True) == 0.0
    assert reward("relative_improvement", 2.0, 20.0, True, clip=0.5) == 0.5


@pytest.mark.parametrize("kind", ["relative_improvement", "log_speedup"])
@pytest.mark.parametrize(
    ("parent", "child", "ok"),
    [
        (2.0, 4.0, False),
        (None, 1.0, True),
        (2.0, None, True),
        (2.0, math.nan, True),
        (2.0, math.inf, True),
        (0.0, 0.0, True),
        (2.0, -1.0, True),
    ],
)
def test_failures_and_missing_timings_give_zero(kind, parent, child, ok):
    assert reward(kind, parent, child, ok) == 0.0


def test_log_speedup():
    assert reward("log_speedup", None, 10.0, True) == pytest.approx(1.0)
    assert reward("log_speedup", None, math.sqrt(10.0), True) == pytest.approx(0.5)
    assert reward("log_speedup", 8.0, 2.0, True, max_speedup=4.0) == pytest.approx(0.5)
    assert reward("log_speedup", None, 1000.0, True) == 1.0  # clipped
    assert reward("log_speedup", None, 1000.0, True, clip=0.8) == 0.8
    assert reward("log_speedup", 1.0, 0.5, True) == 0.0  # slower than the reference


def test_rewards_stay_in_unit_interval():
    for parent in (0.1, 1.0, 10.0):
        for child in (0.01, 1.0, 2.0, 1000.0):
            for kind in ("relative_improvement", "log_speedup"):
                assert 0.0 <= reward(kind, parent, child, True) <= 1.0


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown reward kind 'speed'"):
        reward("speed", 1.0, 1.0, True)
    with pytest.raises(ValueError, match="clip"):
        reward("relative_improvement", 1.0, 1.0, True, clip=2.0)
    with pytest.raises(ValueError, match="clip"):
        reward("relative_improvement", 1.0, 1.0, True, clip=0.0)
    with pytest.raises(ValueError, match="max_speedup"):
        reward("log_speedup", 1.0, 1.0, True, max_speedup=1.0)


def test_spec_checks_on_creation_and_computes_the_same_reward():
    with pytest.raises(ValueError, match="unknown reward kind"):
        RewardSpec(kind="speed")
    with pytest.raises(ValueError, match="clip"):
        RewardSpec(clip=0.0)
    spec = RewardSpec("log_speedup", 0.9, 4.0)
    assert spec(None, 2.0, True) == reward("log_speedup", None, 2.0, True, 0.9, max_speedup=4.0)
