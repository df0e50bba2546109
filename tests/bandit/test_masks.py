from __future__ import annotations

import pytest

from bandit.arms import Arm
from bandit.masks import (
    BaseMask,
    MaskContext,
    MaskDecision,
    NoMask,
    SaturationMask,
    apply_masks,
    masks_from,
)
from bandit.testing_masks import check_mask
from profiling.probes.counters import Counters

RESOURCES = {
    "vectorization/wide_loads": "dram",
    "tiling/grouped_order": "l2",
    "parallelism/num_warps_up": "sm",
    "fusion/fuse_elementwise": "launch",
}
ARMS = [Arm(0, s.split("/")[0], s) for s in RESOURCES]


def ctr(**kw: object) -> Counters:
    base: dict[str, object] = {"launches": 1, "duration_ns": 1e5}
    base.update(kw)
    return Counters(**base)  # type: ignore[arg-type]


def ctx(c: Counters | None) -> MaskContext:
    return MaskContext({a: c for a in ARMS}, RESOURCES)


def test_saturated_dram_masks_dram_strategies_with_a_reason() -> None:
    r = check_mask(SaturationMask(), ARMS, ctx(ctr(launches=2, dram_pct=91.0, l2_pct=50.0,
                                                   sm_pct=20.0)))
    assert r.masked == (ARMS[0],)
    (d,) = r.decisions
    assert d.masked and "dram at 91%" in d.reason and ">= 80%" in d.reason
    assert r.open == tuple(ARMS[1:])


def test_thresholds_come_from_config() -> None:
    c = ctx(ctr(launches=2, dram_pct=70.0, l2_pct=78.0, sm_pct=85.0))
    assert set(SaturationMask().apply(ARMS, c).masked) == {ARMS[1], ARMS[2]}
    loose = SaturationMask({"dram": 0.65, "sm": 0.9})
    assert check_mask(loose, ARMS, c).masked == (ARMS[0],)  # no l2 threshold: never masked
    with pytest.raises(ValueError, match="dram"):
        SaturationMask({"dram": 80})


def test_single_launch_masks_launch_fusion() -> None:
    r = SaturationMask().apply(ARMS, ctx(ctr(launches=1, dram_pct=10.0)))
    assert r.masked == (ARMS[3],) and "one launch already" in r.decisions[0].reason
    assert SaturationMask().apply(ARMS, ctx(ctr(launches=3))).masked == ()


def test_at_least_one_arm_stays_open_the_least_saturated() -> None:
    c = ctx(ctr(launches=1, dram_pct=99.0, l2_pct=80.0, sm_pct=95.0))
    r = check_mask(SaturationMask(), ARMS[:3], c)
    assert r.open == (ARMS[1],)  # l2 is 5 points past its line; the others further
    reopened = [d for d in r.decisions if not d.masked]
    assert [d.arm for d in reopened] == [ARMS[1]] and "kept open" in reopened[0].reason


def test_unprofiled_parent_and_unknown_resource_are_never_masked() -> None:
    assert check_mask(SaturationMask(), ARMS, ctx(None)).open == tuple(ARMS)
    odd = Arm(0, "tiling", "tiling/new_idea")
    assert SaturationMask().apply([odd], MaskContext({odd: ctr(dram_pct=99.0)}, {})).open == (odd,)


class MaskEverything(BaseMask):
    name = "everything"

    def decide(self, arm: Arm, context: MaskContext) -> MaskDecision | None:
        if context.parents.get(arm) is None:
            return None
        return MaskDecision(arm, True, "test fake masks every profiled arm", 1.0)


def test_fakes_and_chains_pass_the_kit() -> None:
    c = ctx(ctr(dram_pct=10.0))
    r = check_mask(MaskEverything(), ARMS, c)
    assert r.open == tuple(ARMS)  # all tie: all re-opened, each with a reason
    check_mask(NoMask(), ARMS, c)
    chained = apply_masks(masks_from(["saturation", "none"]), ARMS, ctx(ctr(dram_pct=95.0,
                                                                           launches=2)))
    assert chained.masked == (ARMS[0],)
    assert apply_masks([], ARMS, c).open == tuple(ARMS)
    with pytest.raises(ValueError, match="unknown mask"):
        masks_from(["nope"])
    assert check_mask(SaturationMask(), [], c).open == ()


def test_headroom_first_prefers_an_unsaturated_parent() -> None:
    from bandit.masks import headroom_first

    fast_full = ("a", ctr(dram_pct=95.0))
    slower_room = ("b", ctr(dram_pct=40.0))
    unknown = ("c", None)
    order = headroom_first([fast_full, slower_room, unknown], lambda p: p[1], "dram")
    assert [p[0] for p in order] == ["b", "c", "a"]
    assert [p[0] for p in headroom_first([fast_full, slower_room], lambda p: p[1], "sm")] == [
        "a", "b"]  # sm unknown on both: fastest first
    assert headroom_first([fast_full], lambda p: p[1], None) == [fast_full]
