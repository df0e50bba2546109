"""Typed hardware counters: per kernel launch, per candidate, and the bottleneck class.

`KernelCounters` is one profiled launch (one row of ``ncu --csv --page raw``);
`aggregate` folds the launches of one candidate's forward into one `Counters`:
percentages and rates weighted by launch duration (a 2 µs helper kernel does not
outvote a 200 µs main kernel), bytes and durations summed, registers, spills and
shared memory the maximum over launches, warp-stall reasons weighted and ranked.

`internal_kernel` recognizes PyTorch's own kernels by name (fills, copies,
elementwise/reduce helpers, in any ``at::`` namespace, ``c10::``, ``cub::``,
``thrust::``; e.g. ``void at::vectorized_elementwise_kernel<...>``) so a candidate's counters describe the kernels it wrote, not the
``torch.empty``/``zero_`` around them. Vendor-library GEMMs (cuBLAS, cuDNN) are
not filtered: when a candidate calls them they are its work.

`classify` derives a `Bottleneck` from the aggregate with `Thresholds`
(documented on the class). This module is pure Python: the bandit imports it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

INTERNAL_PATTERNS = (r"\bat::", r"\bc10::", r"\bcub::", r"\bthrust::")
_INTERNAL = re.compile("|".join(INTERNAL_PATTERNS))


def internal_kernel(name: str) -> bool:
    """True for PyTorch's own helper kernels (fill, copy, elementwise, cub reductions)."""
    return bool(_INTERNAL.search(name))


@dataclass(frozen=True)
class KernelCounters:
    """One profiled kernel launch. Percentages are 0-100; None: not collected."""

    name: str
    duration_ns: float
    sm_pct: float | None = None  # sm__throughput: compute pipelines, % of peak
    dram_pct: float | None = None
    l2_pct: float | None = None  # lts__throughput
    l2_hit_pct: float | None = None
    l1_pct: float | None = None  # l1tex__throughput
    occupancy_pct: float | None = None  # achieved: sm__warps_active % of peak
    registers: int | None = None  # per thread
    spill_bytes: float | None = None  # local-memory traffic (register spills)
    shared_bytes: int | None = None  # per block, static + dynamic
    block_size: int | None = None
    grid_size: int | None = None
    dram_read_bytes: float | None = None
    dram_write_bytes: float | None = None
    # reason -> warps stalled on it per issued instruction (ncu's WarpStateStats ratio)
    stalls: Mapping[str, float] = field(default_factory=dict)


class Bottleneck(str, Enum):
    DRAM = "dram"
    L2 = "l2"
    L1 = "l1"
    COMPUTE = "compute"
    LATENCY = "latency"  # nothing busy, warps stalled: occupancy or dependency latency
    LAUNCH = "launch"  # short launches or host gaps dominate
    BALANCED = "balanced"  # two units both busy at about the same level
    NEAR_ROOFLINE = "near_roofline"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Counters:
    """One candidate's forward, aggregated over its own kernels' launches."""

    launches: int
    duration_ns: float  # summed over launches
    sm_pct: float | None = None
    dram_pct: float | None = None
    l2_pct: float | None = None
    l2_hit_pct: float | None = None
    l1_pct: float | None = None
    occupancy_pct: float | None = None
    registers: int | None = None  # max over launches
    spill_bytes: float | None = None
    shared_bytes: int | None = None
    block_size: int | None = None  # of the longest launch
    dram_read_bytes: float | None = None
    dram_write_bytes: float | None = None
    stalls: tuple[tuple[str, float], ...] = ()  # top reasons (ratio), largest first
    excluded_launches: int = 0  # PyTorch-internal launches left out
    kernels: tuple[KernelCounters, ...] = ()
    source: str = "ncu"  # which probe measured it

    def utilization(self, resource: str) -> float | None:
        """How busy the unit a strategy targets is, 0-1 (None: unknown).

        ``launch``: 1 / launches, i.e. 1.0 when the forward is already one launch
        and there is nothing left to fuse away.
        """
        pct = {"dram": self.dram_pct, "l2": self.l2_pct, "l1": self.l1_pct, "sm": self.sm_pct}
        if resource == "launch":
            return 1.0 / self.launches if self.launches > 0 else None
        value = pct.get(resource)
        return None if value is None else value / 100.0

    @property
    def mean_launch_us(self) -> float:
        return self.duration_ns / self.launches / 1e3 if self.launches else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stalls"] = [list(s) for s in self.stalls]
        d["kernels"] = [{**asdict(k), "stalls": dict(k.stalls)} for k in self.kernels]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Counters:
        kernels = tuple(
            KernelCounters(**{**k, "stalls": dict(k.get("stalls", {}))})
            for k in d.get("kernels", ())
        )
        stalls = tuple((str(r), float(v)) for r, v in d.get("stalls", ()))
        rest = {k: v for k, v in d.items() if k not in ("kernels", "stalls")}
        return cls(**rest, stalls=stalls, kernels=kernels)


def _weighted(kernels: Sequence[KernelCounters], attr: str) -> float | None:
    pairs = [(getattr(k, attr), k.duration_ns) for k in kernels if getattr(k, attr) is not None]
    if not pairs:
        return None
    total = sum(w for _, w in pairs)
    if total <= 0:
        return sum(v for v, _ in pairs) / len(pairs)
    return sum(v * w for v, w in pairs) / total


def _maximum(kernels: Sequence[KernelCounters], attr: str) -> Any:
    values = [getattr(k, attr) for k in kernels if getattr(k, attr) is not None]
    return max(values) if values else None


def _summed(kernels: Sequence[KernelCounters], attr: str) -> float | None:
    values = [getattr(k, attr) for k in kernels if getattr(k, attr) is not None]
    return float(sum(values)) if values else None


def aggregate(
    kernels: Iterable[KernelCounters],
    *,
    exclude_internal: bool = True,
    top_stalls: int = 3,
    source: str = "ncu",
) -> Counters | None:
    """Fold launches into one record; None when there are none.

    With ``exclude_internal`` PyTorch's own kernels are left out, unless they are
    all there is (the reference program, or a candidate that only calls torch).
    """
    launches = list(kernels)
    if not launches:
        return None
    kept = [k for k in launches if not internal_kernel(k.name)] if exclude_internal else launches
    if not kept:
        kept = launches
    total_ns = sum(k.duration_ns for k in kept)
    reasons: dict[str, float] = {}
    for k in kept:
        w = k.duration_ns / total_ns if total_ns > 0 else 1.0 / len(kept)
        for reason, pct in k.stalls.items():
            reasons[reason] = reasons.get(reason, 0.0) + w * pct
    ranked = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:top_stalls]
    longest = max(kept, key=lambda k: k.duration_ns)
    return Counters(
        launches=len(kept),
        duration_ns=float(total_ns),
        sm_pct=_weighted(kept, "sm_pct"),
        dram_pct=_weighted(kept, "dram_pct"),
        l2_pct=_weighted(kept, "l2_pct"),
        l2_hit_pct=_weighted(kept, "l2_hit_pct"),
        l1_pct=_weighted(kept, "l1_pct"),
        occupancy_pct=_weighted(kept, "occupancy_pct"),
        registers=_maximum(kept, "registers"),
        spill_bytes=_summed(kept, "spill_bytes"),
        shared_bytes=_maximum(kept, "shared_bytes"),
        block_size=longest.block_size,
        dram_read_bytes=_summed(kept, "dram_read_bytes"),
        dram_write_bytes=_summed(kept, "dram_write_bytes"),
        stalls=tuple((r, round(v, 3)) for r, v in ranked),
        excluded_launches=len(launches) - len(kept),
        kernels=tuple(kept),
        source=source,
    )


@dataclass(frozen=True)
class Thresholds:
    """Where `classify` draws its lines (fractions 0-1 of peak unless noted).

    - ``near_roofline``: runtime within this fraction of the physical floor
      (floor_ms / runtime_ms >= 0.85) is near-roofline whatever the counters say.
    - ``launch_us``: a mean launch shorter than this (µs) is launch-bound; so is a
      forward whose kernels fill less than ``busy_time`` of the measured runtime
      (host gaps between launches dominate).
    - ``busy``: a unit at or above this fraction of its peak is busy. Among busy
      memory levels the lowest one is the bottleneck (DRAM, then L2, then L1:
      DRAM traffic also crosses L2, so a busy L2 over a busy DRAM is DRAM-bound);
      the SM is the bottleneck when it is busier than every memory level.
    - ``balanced_gap``: when the SM and the busiest memory unit are both ``busy``
      and within this many points of each other, the kernel is balanced (DRAM and
      L2 both busy is still DRAM-bound: the same traffic crosses both).
    - Below ``busy`` everywhere the kernel waits on latency (too few warps to
      hide it, or dependent loads): latency/occupancy-bound.
    """

    near_roofline: float = 0.85
    launch_us: float = 5.0
    busy_time: float = 0.5
    busy: float = 0.60
    balanced_gap: float = 0.10


DEFAULT_THRESHOLDS = Thresholds()
_UNITS = (
    (Bottleneck.DRAM, "dram_pct"),
    (Bottleneck.L2, "l2_pct"),
    (Bottleneck.L1, "l1_pct"),
    (Bottleneck.COMPUTE, "sm_pct"),
)


def classify(
    counters: Counters | None,
    *,
    roofline_fraction: float | None = None,
    runtime_ms: float | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Bottleneck:
    """The bottleneck class of one candidate (see `Thresholds` for the rules)."""
    t = thresholds
    if roofline_fraction is not None and roofline_fraction >= t.near_roofline:
        return Bottleneck.NEAR_ROOFLINE
    if counters is None or counters.launches == 0:
        return Bottleneck.UNKNOWN
    if counters.mean_launch_us < t.launch_us:
        return Bottleneck.LAUNCH
    if runtime_ms and counters.duration_ns / 1e6 < t.busy_time * runtime_ms:
        return Bottleneck.LAUNCH
    level = {b: getattr(counters, a) / 100.0 for b, a in _UNITS if getattr(counters, a) is not None}
    busy = (Bottleneck.DRAM, Bottleneck.L2, Bottleneck.L1)
    if not level:
        return Bottleneck.UNKNOWN
    if max(level.values()) < t.busy:
        return Bottleneck.LATENCY
    memory = [b for b in busy if level.get(b, 0.0) >= t.busy]
    sm = level.get(Bottleneck.COMPUTE)
    if not memory:
        return Bottleneck.COMPUTE
    mem_top = max(level[b] for b in memory)
    if sm is not None and sm >= t.busy and abs(sm - mem_top) <= t.balanced_gap:
        return Bottleneck.BALANCED
    if sm is not None and sm > mem_top:
        return Bottleneck.COMPUTE
    return memory[0]
