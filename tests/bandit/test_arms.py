from __future__ import annotations

import json

import pytest

from bandit.arms import Arm


def test_arms_are_frozen_ordered_and_serializable():
    a, b, c = (
        Arm(0, "tiling", "tiling/x"),
        Arm(0, "tiling", "tiling/y"),
        Arm(1, "fusion", "fusion/a"),
    )
    assert sorted([c, b, a]) == [a, b, c]
    assert {a, Arm(0, "tiling", "tiling/x")} == {a}
    assert Arm.from_list(json.loads(json.dumps(c.to_list()))) == c
    assert str(c) == "c1:fusion/a"
    with pytest.raises(AttributeError):
        a.cluster = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    "args",
    [(0, "tiling", "fusion/x"), (0, "tiling", "tiling"), (0, "", "/x"), (0, "tiling", "tilingx/y")],
)
def test_strategy_must_be_a_full_id_of_its_family(args):
    with pytest.raises(ValueError, match="full id"):
        Arm(*args)


def test_cluster_must_be_an_int():
    with pytest.raises(TypeError):
        Arm("0", "tiling", "tiling/x")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Arm(True, "tiling", "tiling/x")
