"""Conformance kit for arm masks: every mask and every test fake passes `check_mask`.

    from bandit.testing_masks import check_mask
    check_mask(MyMask(), arms, context)

Checks: the open arms are a subset of the arms, in their order; at least one arm
stays open whenever there is one; each masked arm has exactly one decision with a
one-line reason; decisions name only the given arms; the same input gives the same
result; an arm whose parent has no counters stays open.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bandit.arms import Arm
from bandit.masks import Mask, MaskContext, MaskResult


def check_mask(mask: Mask, arms: Sequence[Arm], context: MaskContext) -> MaskResult:
    assert isinstance(mask, Mask), f"{mask!r} does not satisfy the Mask protocol"
    assert isinstance(mask.name, str) and mask.name
    result = mask.apply(arms, context)
    assert isinstance(result, MaskResult)
    positions = [arms.index(a) for a in result.open]
    assert positions == sorted(positions), "open arms must keep the given order"
    assert set(result.open) <= set(arms)
    if arms:
        assert result.open, "at least one arm must stay open"
    masked = [d.arm for d in result.decisions if d.masked]
    assert len(masked) == len(set(masked)), "one decision per masked arm"
    assert not set(masked) & set(result.open)
    assert set(masked) | set(result.open) == set(arms), "an arm is either open or masked"
    for d in result.decisions:
        assert d.arm in arms
        assert d.reason.strip() and "\n" not in d.reason, f"bad reason {d.reason!r}"
    assert mask.apply(arms, context) == result, "a mask must be deterministic"
    blind = replace(context, parents={a: None for a in arms})
    assert mask.apply(arms, blind).open == tuple(arms), "no counters, no masking"
    return result
