"""Seconds per phase of one evaluation, so a slow evaluation says where its time went.

`PhaseClock` adds the wall seconds of each ``with clock("name"):`` block to
``out["name_s"]`` (repeated blocks add up). The clock is bound at import, before
any candidate runs, so a candidate that patches ``time.perf_counter`` cannot skew
the harness's own accounting.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager

_now = time.perf_counter  # bound before any candidate is imported


class PhaseClock:
    def __init__(self, out: MutableMapping[str, float]) -> None:
        self.out = out

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = _now()
        try:
            yield
        finally:
            key = f"{name}_s"
            self.out[key] = self.out.get(key, 0.0) + (_now() - t0)
