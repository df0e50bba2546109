"""The reward a measured candidate earns its arm: a number in [0, 1], failures 0.

Rewards compare speedups, and a speedup means one thing everywhere:
`Measurement.speedup`, the reference's time over the candidate's time, both timed
interleaved in the same worker. The child's speedup is compared with its parent's
(each from its own measurement), never absolute medians of different evaluations.

Kinds:

- ``relative_improvement`` (default): ``1 - s_parent / s_child`` clipped to
  [0, clip] — the fraction of the parent's runtime the child saved. A slower child
  earns 0, not a penalty.
- ``log_speedup``: ``log(s_child) / log(max_speedup)`` clipped to [0, clip] — the
  child's speedup over the reference on a log scale, where a ``max_speedup``-fold
  speedup (default 10x) earns 1 and no speedup earns 0. It rewards absolute speed,
  not progress over the parent.

A failed candidate (``ok`` False), a missing speedup, or a non-positive or
non-finite one earns 0. ``clip`` must lie in (0, 1] so that policies always see
rewards in [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

REWARD_KINDS = ("relative_improvement", "log_speedup")


@dataclass(frozen=True)
class RewardSpec:
    """How rewards are computed (``reward`` in conf/config.yaml); checked on creation."""

    kind: str = "relative_improvement"
    clip: float = 1.0
    max_speedup: float = 10.0  # log_speedup: the speedup that earns reward 1

    def __post_init__(self) -> None:
        if self.kind not in REWARD_KINDS:
            raise ValueError(
                f"unknown reward kind {self.kind!r}; choose one of: {', '.join(REWARD_KINDS)}"
            )
        if not 0.0 < self.clip <= 1.0:
            raise ValueError(f"reward clip must be in (0, 1], got {self.clip!r}")
        if not self.max_speedup > 1.0:
            raise ValueError(f"reward max_speedup must be > 1, got {self.max_speedup!r}")

    def __call__(
        self, parent_speedup: float | None, child_speedup: float | None, ok: bool
    ) -> float:
        return reward(
            self.kind, parent_speedup, child_speedup, ok, self.clip, max_speedup=self.max_speedup
        )


DEFAULT_MAX_SPEEDUP = RewardSpec.max_speedup


def reward(
    kind: str,
    parent_speedup: float | None,
    child_speedup: float | None,
    ok: bool,
    clip: float = 1.0,
    *,
    max_speedup: float = DEFAULT_MAX_SPEEDUP,
) -> float:
    if kind not in REWARD_KINDS:
        raise ValueError(f"unknown reward kind {kind!r}; choose one of: {', '.join(REWARD_KINDS)}")
    if not 0.0 < clip <= 1.0:
        raise ValueError(f"reward clip must be in (0, 1], got {clip!r}")
    if not max_speedup > 1.0:
        raise ValueError(f"reward max_speedup must be > 1, got {max_speedup!r}")
    if not ok or not _valid(child_speedup):
        return 0.0
    if kind == "relative_improvement":
        if not _valid(parent_speedup):
            return 0.0
        value = 1.0 - parent_speedup / child_speedup  # type: ignore[operator]
    else:
        value = math.log(child_speedup) / math.log(max_speedup)  # type: ignore[arg-type]
    return min(max(value, 0.0), clip)


def _valid(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x > 0.0
