"""Probes: hardware observers around one forward of a candidate (ncu, NVML, Triton).

`counters` (the typed records and the bottleneck classifier) is pure Python and
is what the bandit imports; nothing here imports torch at module level.
"""

from profiling.probes.base import (
    BaseProbe,
    CompiledStats,
    ForwardRun,
    PowerSample,
    Probe,
    ProbeRecord,
    ProbeReport,
    ProbeSet,
    ProbeTarget,
)
from profiling.probes.counters import (
    Bottleneck,
    Counters,
    KernelCounters,
    Thresholds,
    aggregate,
    classify,
    internal_kernel,
)

__all__ = [
    "BaseProbe",
    "Bottleneck",
    "CompiledStats",
    "Counters",
    "ForwardRun",
    "KernelCounters",
    "PowerSample",
    "Probe",
    "ProbeRecord",
    "ProbeReport",
    "ProbeSet",
    "ProbeTarget",
    "Thresholds",
    "aggregate",
    "classify",
    "internal_kernel",
]
