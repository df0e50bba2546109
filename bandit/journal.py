"""Realizer answers written down the moment they arrive, replayed on resume.

`JournaledRealizer` wraps the run's realizer for one attempt: a request whose
answer is in the run log (a run killed after the LLM replied, before the
iteration was recorded) is answered from the log, with its original cost, so
the tokens are counted once, in the iteration that finally uses them; any
other request goes to the realizer and its answer is logged before it is used.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, MutableMapping

from bandit.frontier import source_hash
from bandit.runlog import dumps
from profiling.measurement import Measurement
from strategies.types import BaseRealizer, Realization, Realizer, RealizeRequest


def request_key(request: RealizeRequest, turn: str, failed_source: str | None = None) -> str:
    """What identifies one realizer call within a run."""
    ident = {
        "turn": turn,
        "strategy": request.strategy.id,
        "parent": source_hash(request.parent_source),
        "params": dict(request.parent_params),
        "seed": request.seed,
        "failed": source_hash(failed_source) if failed_source is not None else None,
    }
    return hashlib.sha256(dumps(ident).encode()).hexdigest()[:32]


class JournaledRealizer(BaseRealizer):
    def __init__(
        self,
        inner: Realizer,
        logged: MutableMapping[str, Realization],
        record: Callable[[str, Realization], None],
    ) -> None:
        self.inner, self.logged, self.record = inner, logged, record
        self.name = inner.name

    def _answer(self, key: str, call: Callable[[], Realization]) -> Realization:
        known = self.logged.pop(key, None)
        if known is not None:
            return known
        r = call()
        self.record(key, r)
        return r

    def realize(self, request: RealizeRequest) -> Realization:
        return self._answer(request_key(request, "realize"), lambda: self.inner.realize(request))

    def repair(self, request: RealizeRequest, source: str, measurement: Measurement) -> Realization:
        return self._answer(
            request_key(request, "repair", source),
            lambda: self.inner.repair(request, source, measurement),
        )
