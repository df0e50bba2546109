"""The reward a measured candidate earns its arm: a number in [0, 1], failures 0.

Kinds:

- ``relative_improvement`` (default): ``(t_parent - t_child) / t_parent`` clipped
  to [0, clip] — the fraction of the parent's runtime the child saved. A slower
  child earns 0, not a penalty.
- ``log_speedup``: ``log(t_ref / t_child) / log(max_speedup)`` clipped to
  [0, clip] — the child's speedup over the reference on a log scale, where a
  ``max_speedup``-fold speedup (default 10x) earns 1 and no speedup earns 0. It
  rewards absolute speed, not progress over the parent.

A failed candidate (``ok`` False), a missing timing, or a non-positive or
non-finite timing earns 0. ``clip`` must lie in (0, 1] so that policies always
see rewards in [0, 1].
"""

from __future__ import annotations

import math

REWARD_KINDS = ("relative_improvement", "log_speedup")
DEFAULT_MAX_SPEEDUP = 10.0


def reward(
    kind: str,
    parent_ms: float | None,
    child_ms: float | None,
    ref_ms: float | None,
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
    base = parent_ms if kind == "relative_improvement" else ref_ms
    if not ok or not (_valid(base) and _valid(child_ms)):
        return 0.0
    if kind == "relative_improvement":
        value = (base - child_ms) / base
    else:
        value = math.log(base / child_ms) / math.log(max_speedup)
    return min(max(value, 0.0), clip)


def _valid(ms: float | None) -> bool:
    return ms is not None and math.isfinite(ms) and ms > 0.0
