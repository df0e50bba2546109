"""Records shared by the catalog, the realizers and their callers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from profiling.hardware import GpuFacts
from profiling.measurement import Measurement
from profiling.tasks import Task

FAMILIES = (
    "tiling", "fusion", "vectorization", "memory_layout", "pipelining", "parallelism", "math",
)  # fmt: skip
RESOURCES = ("dram", "l2", "sm", "launch")


@dataclass(frozen=True)
class Strategy:
    """One concrete optimization the bandit can choose, e.g. ``tiling/grouped_order``."""

    id: str  # "family/name"
    family: str
    name: str
    description: str
    resource: str  # one of RESOURCES: the hardware unit this strategy relieves
    guidance: str  # expert prompt text for the LLM realizer
    applies_to: tuple[str, ...] = ()  # task kinds; empty = every kind
    target: str = "triton"  # "triton" or "cuda" (CUDA C++ through CuPy)

    def applies(self, kind: str) -> bool:
        return not self.applies_to or kind in self.applies_to


@dataclass(frozen=True)
class RealizationCost:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usd: float = 0.0
    seconds: float = 0.0
    calls: int = 0

    def __add__(self, other: RealizationCost) -> RealizationCost:
        return RealizationCost(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.usd + other.usd,
            self.seconds + other.seconds,
            self.calls + other.calls,
        )

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Candidate:
    """A kernel: a complete KernelBench ``ModelNew`` module and where it came from."""

    id: str
    source: str
    parent_id: str | None = None
    strategy_id: str | None = None
    cost: RealizationCost = field(default_factory=RealizationCost)
    params: Mapping[str, Any] = field(default_factory=dict)  # offline realizer's knobs


@dataclass(frozen=True)
class RealizeRequest:
    """Everything a realizer may look at; bounded, never the run's history."""

    task: Task
    strategy: Strategy
    parent_source: str  # the parent kernel (the task's reference ``Model`` source at first)
    parent_measurement: Measurement | None = None
    parent_params: Mapping[str, Any] = field(default_factory=dict)
    gpu: GpuFacts = field(default_factory=GpuFacts)
    seed: int = 0


@dataclass(frozen=True)
class Realization:
    """A realizer's answer: source on success, else an error; cost either way."""

    source: str | None
    cost: RealizationCost = field(default_factory=RealizationCost)
    error: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.source is not None


class Realizer(Protocol):
    """Turns (parent kernel, strategy) into a new candidate source. Never runs it.

    Every member is part of the contract; `BaseRealizer` gives the optional ones
    their defaults, so callers never probe for them.

    - ``name``: a short label for logs and tracking.
    - ``deterministic``: the answer depends only on the request; the tuner then
      never proposes the same (parent, strategy) pair twice.
    - ``check_task(task)``: raises `RealizerError` (one line) up front for a task
      this realizer cannot work on.
    - ``can_realize(request)``: a cheap check that `realize` would produce a new
      kernel; the tuner masks the arms it declines.
    - ``realize`` / ``repair``: never raise for a bad answer: a failure is a
      `Realization` with ``source=None`` and an error text, its cost still counted.
      `RealizerError` is reserved for fatal, user-caused problems.
    - ``close()``: release connections; calling it twice is harmless.
    """

    name: str
    deterministic: bool

    def check_task(self, task: Task) -> None: ...

    def can_realize(self, request: RealizeRequest) -> bool: ...

    def realize(self, request: RealizeRequest) -> Realization: ...

    def repair(
        self, request: RealizeRequest, source: str, measurement: Measurement
    ) -> Realization:
        """One repair turn after a compile/runtime error; may decline (source None)."""
        ...

    def close(self) -> None: ...


class BaseRealizer:
    """Defaults for the optional parts of `Realizer`; subclasses define ``realize``."""

    name: str = "realizer"
    deterministic: bool = False

    def check_task(self, task: Task) -> None:
        """Every task is accepted unless a subclass says otherwise."""

    def can_realize(self, request: RealizeRequest) -> bool:
        """Try every request unless a subclass knows better."""
        return True

    def realize(self, request: RealizeRequest) -> Realization:
        raise NotImplementedError

    def repair(self, request: RealizeRequest, source: str, measurement: Measurement) -> Realization:
        return Realization(None, error=f"the {self.name} realizer does not repair")

    def close(self) -> None:
        """Nothing to release."""
