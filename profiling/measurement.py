"""The evaluator's verdict on one candidate: status, timings, counters.

`Measurement` is the record every other package consumes (the bandit turns it
into reward, the realizers quote it in prompts, tracking writes it as JSONL).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class Status(str, Enum):
    OK = "ok"
    SYNTAX_ERROR = "syntax_error"
    COMPILE_ERROR = "compile_error"
    RUNTIME_ERROR = "runtime_error"
    INCORRECT = "incorrect"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    REJECTED = "rejected"

    def __str__(self) -> str:  # so f-strings print "ok", not "Status.OK"
        return self.value


@dataclass(frozen=True)
class Timing:
    """Summary of repeated timings of one callable, in milliseconds."""

    median_ms: float
    p20_ms: float
    p80_ms: float
    reps: int

    @property
    def spread(self) -> float:
        """Relative inter-quantile spread (p80 - p20) / median."""
        return (self.p80_ms - self.p20_ms) / self.median_ms if self.median_ms > 0 else math.inf


@dataclass(frozen=True)
class ShapeResult:
    """Timings of reference and candidate at one size preset."""

    size: str
    candidate: Timing | None
    reference: Timing | None
    compiled_reference: Timing | None = None

    @property
    def speedup(self) -> float | None:
        if self.candidate is None or self.reference is None or self.candidate.median_ms <= 0:
            return None
        return self.reference.median_ms / self.candidate.median_ms


@dataclass(frozen=True)
class Measurement:
    """What the harness concluded about one candidate.

    `runtime_ms`, `ref_runtime_ms` and `speedup` refer to the primary size
    (the first entry of `shapes`). `timing_kind` is "gpu" for device-event
    timings and "interpreter" for Triton-interpreter wall time on the CPU,
    which is *not* a GPU figure. `counters` holds hardware counters by metric
    name (ncu/NVML) when they were collected. `roofline_fraction` is
    floor_ms / runtime_ms (1.0 = at the physical floor).
    """

    status: Status
    error: str = ""
    shapes: tuple[ShapeResult, ...] = ()
    counters: Mapping[str, float] = field(default_factory=dict)
    floor_ms: float | None = None
    device: str = ""
    timing_kind: str = "gpu"
    trials: int = 0
    max_rel_error: float | None = None
    wall_s: float = 0.0
    resources: Mapping[str, float] = field(default_factory=dict)  # n_regs, n_spills, shared

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def runtime_ms(self) -> float | None:
        t = self.shapes[0].candidate if self.shapes else None
        return t.median_ms if t else None

    @property
    def ref_runtime_ms(self) -> float | None:
        t = self.shapes[0].reference if self.shapes else None
        return t.median_ms if t else None

    @property
    def compile_runtime_ms(self) -> float | None:
        t = self.shapes[0].compiled_reference if self.shapes else None
        return t.median_ms if t else None

    @property
    def speedup(self) -> float | None:
        return self.shapes[0].speedup if self.shapes else None

    @property
    def speedup_vs_compile(self) -> float | None:
        c, r = self.compile_runtime_ms, self.runtime_ms
        return c / r if c and r else None

    @property
    def roofline_fraction(self) -> float | None:
        r = self.runtime_ms
        return self.floor_ms / r if self.floor_ms and r else None

    @classmethod
    def failure(cls, status: Status, error: str, **kw: Any) -> Measurement:
        return cls(status=status, error=error[:2000], **kw)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        d["counters"] = dict(self.counters)
        d["resources"] = dict(self.resources)
        d.update(
            runtime_ms=self.runtime_ms,
            ref_runtime_ms=self.ref_runtime_ms,
            compile_runtime_ms=self.compile_runtime_ms,
            speedup=self.speedup,
            roofline_fraction=self.roofline_fraction,
        )
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Measurement:
        def timing(t: Mapping[str, Any] | None) -> Timing | None:
            return Timing(**t) if t else None

        shapes = tuple(
            ShapeResult(
                size=s["size"],
                candidate=timing(s.get("candidate")),
                reference=timing(s.get("reference")),
                compiled_reference=timing(s.get("compiled_reference")),
            )
            for s in d.get("shapes", ())
        )
        return cls(
            status=Status(d["status"]),
            error=d.get("error", ""),
            shapes=shapes,
            counters=dict(d.get("counters", {})),
            floor_ms=d.get("floor_ms"),
            device=d.get("device", ""),
            timing_kind=d.get("timing_kind", "gpu"),
            trials=d.get("trials", 0),
            max_rel_error=d.get("max_rel_error"),
            wall_s=d.get("wall_s", 0.0),
            resources=dict(d.get("resources", {})),
        )
