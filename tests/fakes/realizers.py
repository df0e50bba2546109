"""A realizer test fake: a real `Realizer` peer with scripted answers, no network."""

from __future__ import annotations

from collections.abc import Mapping

from profiling.tasks import Task
from strategies.errors import RealizerError
from strategies.types import BaseRealizer, Realization, RealizationCost, RealizeRequest


class ScriptedRealizer(BaseRealizer):
    """Answers each strategy id with a fixed source; any other strategy fails.

    Deterministic, and honest about it: ``can_realize`` says yes exactly for the
    scripted strategies. ``tokens`` per realization are reported as cost and
    added to ``spent`` (the "provider's" meter). ``kinds``: the task kinds it
    accepts (empty: all).
    """

    name = "scripted"
    deterministic = True

    def __init__(
        self, sources: Mapping[str, str], *, tokens: int = 0, kinds: tuple[str, ...] = ()
    ) -> None:
        self.sources = dict(sources)
        self.tokens = tokens
        self.kinds = kinds
        self.spent = 0
        self.closed = 0

    def check_task(self, task: Task) -> None:
        if self.kinds and task.kind not in self.kinds:
            raise RealizerError(f"the scripted realizer has no answer for kind {task.kind!r}")

    def can_realize(self, request: RealizeRequest) -> bool:
        return request.strategy.id in self.sources

    def realize(self, request: RealizeRequest) -> Realization:
        self.spent += self.tokens
        cost = RealizationCost(prompt_tokens=self.tokens, calls=1 if self.tokens else 0)
        source = self.sources.get(request.strategy.id)
        if source is None:
            return Realization(None, cost, f"no scripted answer for {request.strategy.id}")
        return Realization(source, cost)

    def close(self) -> None:
        self.closed += 1
