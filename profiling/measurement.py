"""The evaluator's verdict on one candidate: status, timings, floor, diagnostics.

`Measurement` is the record every other package consumes (the bandit turns it
into reward, the realizers quote it in prompts, tracking writes it as JSONL).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any

from profiling.probes.counters import Counters

_LEGACY = frozenset(
    ("tf32_reference_error", "hidden_work_wall_ms", "hidden_work_event_ms", "sync_overhead_ms")
)


class Status(str, Enum):
    OK = "ok"
    SYNTAX_ERROR = "syntax_error"
    COMPILE_ERROR = "compile_error"
    RUNTIME_ERROR = "runtime_error"
    INCORRECT = "incorrect"
    TIMEOUT = "timeout"
    CRASHED = "crashed"
    REJECTED = "rejected"
    # replay only: the kernel is not in the recorded landscape (never a guessed timing)
    NOT_RECORDED = "not_recorded"

    def __str__(self) -> str:  # so f-strings print "ok", not "Status.OK"
        return self.value


SLOW = 1.5  # a timed call slower than this times its callable's p20 is slow
# the default hold (``device.hold_us``): on an H200, five of seven fast kernels had 11-21 %
# of their timed calls slow without one (host launch time in the events) and none with
# 300 us (`experiments.bench_hold`, 2026-11-30-h200-s11.md); it costs 0.3 ms of spin a call
DEFAULT_HOLD_US = 300.0


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

    @property
    def wide(self) -> bool:
        """More than a fifth of the calls were slow: the p80 exceeds `SLOW` x the p20."""
        return self.p80_ms > SLOW * self.p20_ms


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
class RooflineFloor:
    """The physical floor under the primary size's runtime (see :mod:`profiling.roofline`)."""

    ms: float  # max(memory_ms, compute_ms)
    bytes: int  # bytes that must cross DRAM at least once
    flops: int | None  # the arithmetic the compute term counts (None: no compute term)
    bound: str  # "memory" or "compute": the term that sets ``ms``
    memory_ms: float | None = None
    compute_ms: float | None = None
    # where ``flops`` came from: "task" (its get_flops()) or "graph analysis" (None: older
    # records, or no FLOPs)
    flops_source: str | None = None
    peak: str | None = None  # the matmul peak of the compute term: "bf16", "tf32" or "fp32"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RooflineFloor:
        return cls(
            ms=float(d["ms"]),
            bytes=int(d.get("bytes", 0)),
            flops=d.get("flops"),
            bound=str(d.get("bound", "memory")),
            memory_ms=d.get("memory_ms"),
            compute_ms=d.get("compute_ms"),
            flops_source=d.get("flops_source"),
            peak=d.get("peak"),
        )


@dataclass(frozen=True)
class HarnessDiagnostics:
    """What the harness noticed besides the timings; None where it was not measured.

    ``tf32_reference_error``: how far a TF32 reference drifts from the fp32 one
    (fp32 tasks). ``hidden_work_*``: wall-clock vs device-event time of the
    candidate's timed calls, and the sync overhead calibrated on the reference
    (the side-stream check). ``n_regs``/``n_spills``/``shared_bytes``: the
    largest over the candidate's compiled Triton kernels. ``peak_gpu_bytes``:
    the evaluation's peak GPU allocation above what the worker held before it
    (the L2 flush buffer is the worker's); ``task_io_bytes``: the task's own
    input + output bytes at the primary size; ``timing_sets``: rotation sets
    that fit in free memory. ``speedup_outside``: the speedup re-measured from a
    fresh process (only above the re-measure threshold). ``sanitizer_s``: seconds
    of the out-of-bounds check's memcheck child and ``sanitizer_errors`` the device
    memory errors it reported (only for checked candidates, `profiling.sanitizer`).
    ``probe_*``: 1.0 when
    an odd-size probe was checked or a probe was skipped because the reference
    did not allow it (:mod:`profiling.input_probes`); ``probes_not_best``: 1.0 when the
    probes did not run because the candidate would not be a new best
    (``probe_scope=best``). ``host_call_ms``, ``host_call_p80_ms``, ``slow_calls``,
    ``slow_call_host_ms``, ``fast_call_host_ms`` (`profiling.timing.host_stats`): the host's
    side of the candidate's timed calls, ``ref_host_call_ms`` and ``ref_slow_calls`` the
    reference's; ``hold_us``: the device hold queued before each timed call's start event
    (``device.hold_us``; absent when none). ``*_s`` (`profiling.phases`): wall seconds of each phase in
    the worker (``baseline``: the torch.compile reference, once per task; ``load``;
    ``trials``, which includes compiling the candidate; ``probes``: the signed and
    wide-range inputs; ``size_probe``: the odd size, which compiles the candidate again;
    ``timing``; ``recheck``) and of the children run after it (``remeasure``,
    ``sanitizer``, ``profile``: Nsight Compute on every candidate); the rest of
    ``Measurement.wall_s`` is the worker's start, the channel and the static check.
    """

    tf32_reference_error: float | None = None
    hidden_work_wall_ms: float | None = None
    hidden_work_event_ms: float | None = None
    sync_overhead_ms: float | None = None
    n_regs: float | None = None
    n_spills: float | None = None
    shared_bytes: float | None = None
    peak_gpu_bytes: float | None = None
    task_io_bytes: float | None = None
    timing_sets: float | None = None
    speedup_outside: float | None = None
    sanitizer_s: float | None = None
    sanitizer_errors: float | None = None
    probe_size_checked: float | None = None
    probe_size_skipped: float | None = None
    probe_signed_skipped: float | None = None
    probe_wide_skipped: float | None = None
    probes_not_best: float | None = None
    num_warps: float | None = None
    host_call_ms: float | None = None
    host_call_p80_ms: float | None = None
    slow_calls: float | None = None
    slow_call_host_ms: float | None = None
    fast_call_host_ms: float | None = None
    ref_host_call_ms: float | None = None
    ref_slow_calls: float | None = None
    hold_us: float | None = None
    baseline_s: float | None = None
    load_s: float | None = None
    trials_s: float | None = None
    probes_s: float | None = None
    size_probe_s: float | None = None
    timing_s: float | None = None
    recheck_s: float | None = None
    remeasure_s: float | None = None
    profile_s: float | None = None

    @property
    def phases(self) -> dict[str, float]:
        """Seconds per phase present, in the order they run (tables, bench_scale)."""
        pairs = (("baseline", self.baseline_s), ("load", self.load_s), ("trials", self.trials_s),
                 ("probes", self.probes_s), ("size_probe", self.size_probe_s),
                 ("timing", self.timing_s),
                 ("recheck", self.recheck_s), ("remeasure", self.remeasure_s),
                 ("sanitizer", self.sanitizer_s), ("profile", self.profile_s))
        return {k: v for k, v in pairs if v is not None}

    @property
    def resources(self) -> dict[str, float]:
        """Compiled-kernel resources present, by their short names (prompts, tables)."""
        pairs = (
            ("n_regs", self.n_regs),
            ("n_spills", self.n_spills),
            ("shared", self.shared_bytes),
            ("num_warps", self.num_warps),
        )
        return {k: v for k, v in pairs if v is not None}

    def as_dict(self) -> dict[str, float]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HarnessDiagnostics:
        names = {f.name for f in fields(cls)}
        known = {("shared_bytes" if k == "shared" else k): v for k, v in d.items()}
        return cls(**{k: float(v) for k, v in known.items() if k in names and v is not None})


@dataclass(frozen=True)
class Measurement:
    """What the harness concluded about one candidate.

    `runtime_ms`, `ref_runtime_ms` and `speedup` refer to the primary size
    (the first entry of `shapes`). `speedup` is reference time / candidate
    time, both timed interleaved in the same worker. `timing_kind` is "gpu" for
    device-event timings and "interpreter" for Triton-interpreter wall time on
    the CPU, which is *not* a GPU figure. `counters`: the typed hardware
    counters a probe measured (`profiling.probes`), None when none was run; the
    harness's own observations are in `diagnostics`. `roofline_fraction` is
    floor ms / runtime_ms (1.0 = at the physical floor).
    """

    status: Status
    error: str = ""
    shapes: tuple[ShapeResult, ...] = ()
    counters: Counters | None = None
    floor: RooflineFloor | None = None
    device: str = ""
    timing_kind: str = "gpu"
    trials: int = 0
    max_rel_error: float | None = None
    wall_s: float = 0.0
    diagnostics: HarnessDiagnostics = field(default_factory=HarnessDiagnostics)

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def evaluation_s(self) -> float:
        """``wall_s`` without the hardware profiling of ``probe.every_candidate`` (a landscape
        recorded with counters replays the evaluation's own seconds)."""
        return max(self.wall_s - (self.diagnostics.profile_s or 0.0), 0.0)

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
    def floor_ms(self) -> float | None:
        return self.floor.ms if self.floor else None

    @property
    def resources(self) -> dict[str, float]:
        """Compiled-kernel resources (n_regs, n_spills, shared), kept for old callers."""
        return self.diagnostics.resources

    @property
    def roofline_fraction(self) -> float | None:
        r, f = self.runtime_ms, self.floor_ms
        return f / r if f and r else None

    @classmethod
    def failure(cls, status: Status, error: str, **kw: Any) -> Measurement:
        return cls(status=status, error=error[:2000], **kw)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        d["counters"] = self.counters.to_dict() if self.counters is not None else None
        d["diagnostics"] = self.diagnostics.as_dict()
        d.update(
            floor_ms=self.floor_ms,
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

        raw = dict(d.get("counters") or {})
        # Old run logs: floor_ms at the top, floor_* and harness entries in counters,
        # compiled-kernel resources in "resources"; untyped metric-name counters are dropped.
        typed = "launches" in raw and "duration_ns" in raw
        counters = Counters.from_dict(raw) if typed else None
        legacy = {} if typed else {
            k: raw.pop(k) for k in list(raw) if k.startswith("floor_") or k in _LEGACY
        }
        diag = {**legacy, **dict(d.get("resources") or {}), **dict(d.get("diagnostics") or {})}
        floor = None
        if d.get("floor"):
            floor = RooflineFloor.from_dict(d["floor"])
        elif d.get("floor_ms") is not None:
            floor = RooflineFloor(
                ms=float(d["floor_ms"]),
                bytes=int(legacy.get("floor_bytes", 0)),
                flops=int(legacy["floor_flops"]) if "floor_flops" in legacy else None,
                bound="compute" if legacy.get("floor_compute_bound") else "memory",
                memory_ms=legacy.get("floor_memory_ms"),
                compute_ms=legacy.get("floor_compute_ms"),
            )
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
            counters=counters,
            floor=floor,
            device=d.get("device", ""),
            timing_kind=d.get("timing_kind", "gpu"),
            trials=d.get("trials", 0),
            max_rel_error=d.get("max_rel_error"),
            wall_s=d.get("wall_s", 0.0),
            diagnostics=HarnessDiagnostics.from_dict(diag),
        )
