"""Observers: what the tuner tells the outside world (progress bars, MLflow, files).

The tuner calls every observer's hooks in order; an observer that raises is
reported once as a warning and then skipped, so a broken progress bar or an
unreachable tracking server never stops tuning. `bandit` itself never imports
MLflow: the tracking observer lives in `experiments.tracking`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Protocol

from bandit.records import IterationRecord, RunStart, TuneResult


class Observer(Protocol):
    def on_start(self, start: RunStart) -> None: ...

    def on_iteration(self, record: IterationRecord) -> None: ...

    def on_end(self, result: TuneResult) -> None: ...


class Observers:
    """Fans hooks out to several observers, isolating their failures."""

    def __init__(self, observers: Sequence[Observer] = ()) -> None:
        self._observers = list(observers)
        self._broken: set[int] = set()

    def _call(self, hook: str, call: Callable[[Observer], None]) -> None:
        for i, obs in enumerate(self._observers):
            if i in self._broken:
                continue
            try:
                call(obs)
            except Exception as e:  # an observer never stops tuning
                self._broken.add(i)
                warnings.warn(
                    f"observer {type(obs).__name__} failed in {hook} and is disabled: {e}",
                    RuntimeWarning,
                    stacklevel=3,
                )

    def on_start(self, start: RunStart) -> None:
        self._call("on_start", lambda o: o.on_start(start))

    def on_iteration(self, record: IterationRecord) -> None:
        self._call("on_iteration", lambda o: o.on_iteration(record))

    def on_end(self, result: TuneResult) -> None:
        self._call("on_end", lambda o: o.on_end(result))
