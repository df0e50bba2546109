"""Clocks for a tuning run's wall-seconds budget: real time, or virtual time under replay.

The tuner reads `now()` for `Spend.seconds` and calls `charge(seconds, lane)` after
every evaluation with that evaluation's `Measurement.wall_s`. On a GPU the real
clock ignores charges (the seconds have passed already); under replay the
`VirtualClock` advances by the *recorded* evaluation seconds instead, so a
`budget.seconds` limit means the same on a CPU replay as on the GPU it was
recorded on.

Concurrency: evaluations that run at the same time on different workers are
charged to different ``lane``s. Between two `settle()` calls lanes run side by
side (``now()`` is the start plus the busiest lane's total); `settle()` closes
the round. Charges without a lane are serial.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable


class Clock:
    """Real monotonic time (the default). Subclasses override what they model."""

    virtual = False

    def now(self) -> float:
        return time.monotonic()

    def charge(self, seconds: float, lane: Hashable | None = None) -> None:
        """Account for an evaluation of `seconds` run on worker `lane`; real time: nothing."""

    def settle(self) -> None:
        """A round of concurrent evaluations ended; real time: nothing."""


class VirtualClock(Clock):
    """Time that moves only when evaluation seconds are charged (thread-safe)."""

    virtual = True

    def __init__(self, start: float = 0.0) -> None:
        if start < 0:
            raise ValueError(f"a clock starts at a time >= 0, got {start}")
        self._base = float(start)
        self._lanes: dict[Hashable, float] = {}
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._base + max(self._lanes.values(), default=0.0)

    def charge(self, seconds: float, lane: Hashable | None = None) -> None:
        if not seconds >= 0:  # also refuses NaN
            raise ValueError(f"cannot charge {seconds!r} seconds")
        with self._lock:
            if lane is None:
                self._base += max(self._lanes.values(), default=0.0) + seconds
                self._lanes.clear()
            else:
                self._lanes[lane] = self._lanes.get(lane, 0.0) + seconds

    def settle(self) -> None:
        with self._lock:
            self._base += max(self._lanes.values(), default=0.0)
            self._lanes.clear()
