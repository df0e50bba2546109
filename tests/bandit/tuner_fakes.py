"""Fakes for Tuner tests: a realizer that edits a params header, an evaluator that
replays runtimes from a table keyed by strategy/params. No GPU, no network.

They are real protocol peers (a `BaseRealizer`, a full `Evaluator`) and pass the
conformance kits (tests/bandit/test_fakes_conform.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from profiling.hardware import GpuFacts
from profiling.measurement import Measurement, ShapeResult, Status, Timing
from profiling.tasks import Task
from strategies.catalog import Catalog
from strategies.errors import RealizerError
from strategies.types import BaseRealizer, Realization, RealizationCost, RealizeRequest, Strategy

REF_SOURCE = "class ModelNew:  # the reference\n    pass\n"
REF_MS = 10.0
_HEADER = re.compile(r"^# fake-params: (\{.*\})$", re.MULTILINE)

TASK = Task(name="fake", path="fake.py", source="", kind="softmax", size="smoke")


def strategy(sid: str, target: str = "triton", applies_to: tuple[str, ...] = ()) -> Strategy:
    family, name = sid.split("/")
    return Strategy(
        sid, family, name, f"{name} description", "dram", "guidance", applies_to, target
    )


STRATEGIES = (
    strategy("tiling/rows"),
    strategy("tiling/cols"),
    strategy("vectorization/wide"),
    strategy("fusion/broken"),
    strategy("parallelism/cuda_grid", target="cuda"),
    strategy("memory_layout/matmul_only", applies_to=("matmul",)),
)
KINDS = ("softmax", "matmul")  # the task kinds the fake catalog knows


def catalog(strategies: Iterable[Strategy] = STRATEGIES) -> Catalog:
    """The strategies as the tuner takes them: a catalog that knows the fake kinds."""
    return Catalog(tuple(strategies), KINDS)

# per application of a strategy: the runtime factor and how often it can apply
FACTORS: dict[str, tuple[float, int]] = {
    "tiling/rows": (0.8, 2),
    "tiling/cols": (0.95, 3),
    "vectorization/wide": (0.7, 1),
    "fusion/broken": (0.5, 1),
    "parallelism/cuda_grid": (0.6, 1),
}


def params_of(source: str) -> dict[str, Any] | None:
    m = _HEADER.search(source)
    return json.loads(m.group(1)) if m else None


def render(params: Mapping[str, Any]) -> str:
    return f"# fake-params: {json.dumps(dict(params), sort_keys=True)}\nclass ModelNew: pass\n"


def ok(ms: float, ref_ms: float = REF_MS) -> Measurement:
    def t(x: float) -> Timing:
        return Timing(x, x * 0.98, x * 1.02, 20)

    return Measurement(
        Status.OK,
        shapes=(ShapeResult("smoke", t(ms), t(ref_ms)),),
        device="interpret",
        timing_kind="interpreter",
        trials=2,
    )


@dataclass
class FakeRealizer(BaseRealizer):
    """Applies a strategy by bumping its count in the params header.

    - returns no source when the strategy is used up (like the offline realizer);
    - ``fusion/broken`` yields a kernel that fails to compile until repaired;
    - ``fail_at``: raise RealizerError at that (1-based) realize call;
    - ``tokens``: prompt/completion tokens and USD charged per call.
    """

    name: str = "fake"
    tokens: tuple[int, int] = (0, 0)
    usd: float = 0.0
    fail_at: int | None = None
    fail_repair: bool = False
    calls: int = 0
    repairs: int = 0
    seeds: list[int] = field(default_factory=list)

    def _cost(self) -> RealizationCost:
        return RealizationCost(self.tokens[0], self.tokens[1], self.usd, 0.0, 1)

    def realize(self, request: RealizeRequest) -> Realization:
        self.calls += 1
        self.seeds.append(request.seed)
        if self.fail_at is not None and self.calls >= self.fail_at:
            raise RealizerError("fake endpoint unreachable")
        params = dict(request.parent_params)
        sid = request.strategy.id
        _, limit = FACTORS.get(sid, (1.0, 0))
        if params.get(sid, 0) >= limit:
            return Realization(None, self._cost(), error=f"{sid} does not change the kernel")
        params[sid] = params.get(sid, 0) + 1
        if sid == "fusion/broken":
            params["broken"] = True
        return Realization(render(params), self._cost(), params=params)

    def repair(self, request: RealizeRequest, source: str, measurement: Measurement) -> Realization:
        self.repairs += 1
        if self.fail_repair:
            raise RealizerError("fake key revoked")
        params = params_of(source) or {}
        params.pop("broken", None)
        return Realization(render(params), self._cost(), params=params)


@dataclass
class FakeEvaluator:
    """Replays runtimes: REF_MS times the product of each applied strategy's factor."""

    device: str = "interpret"
    calls: int = 0
    sources: list[str] = field(default_factory=list)
    closed: bool = False

    def evaluate(self, task: Task, source: str) -> Measurement:
        self.calls += 1
        self.sources.append(source)
        params = params_of(source)
        if params is None:
            return ok(REF_MS)
        if params.get("broken"):
            return Measurement.failure(Status.COMPILE_ERROR, "error: fake compile failure")
        ms = REF_MS
        for sid, n in params.items():
            ms *= FACTORS.get(sid, (1.0, 0))[0] ** n
        return ok(ms)

    def gpu_facts(self) -> GpuFacts:
        return GpuFacts(name="Fake GPU", sm_count=4)

    def close(self) -> None:
        self.closed = True


@dataclass
class RecordingObserver:
    starts: list[Any] = field(default_factory=list)
    iterations: list[Any] = field(default_factory=list)
    ends: list[Any] = field(default_factory=list)

    def on_start(self, start: Any) -> None:
        self.starts.append(start)

    def on_iteration(self, record: Any) -> None:
        self.iterations.append(record)

    def on_end(self, result: Any) -> None:
        self.ends.append(result)


@dataclass
class CheckingRealizer(FakeRealizer):
    """A FakeRealizer that also answers ``can_realize`` (like the offline realizer)."""

    checks: int = 0
    deterministic: bool = False

    def can_realize(self, request: RealizeRequest) -> bool:
        self.checks += 1
        sid = request.strategy.id
        _, limit = FACTORS.get(sid, (1.0, 0))
        return dict(request.parent_params).get(sid, 0) < limit
