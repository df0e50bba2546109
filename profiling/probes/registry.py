"""Probes by name, chosen by settings (``probe.names: [ncu, nvml, triton]``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from profiling.probes.base import Probe, ProbeSet
from profiling.probes.compiled import TritonProbe
from profiling.probes.counters import Thresholds
from profiling.probes.ncu import NcuProbe, NcuSettings
from profiling.probes.nvml import NvmlProbe

PROBE_NAMES = ("ncu", "nvml", "triton")


@dataclass(frozen=True)
class ProbeSettings:
    """Which probes run and on what: the reference and every new parent always
    (when any probe is selected), every candidate with ``every_candidate``."""

    names: tuple[str, ...] = ()
    every_candidate: bool = False
    ncu: NcuSettings = field(default_factory=NcuSettings)
    thresholds: Thresholds = field(default_factory=Thresholds)

    def __post_init__(self) -> None:
        unknown = [n for n in self.names if n not in PROBE_NAMES]
        if unknown:
            raise ValueError(
                f"unknown probe {unknown[0]!r} (probes: {', '.join(PROBE_NAMES)})"
            )


def make_probe(name: str, settings: ProbeSettings) -> Probe:
    if name == "ncu":
        return NcuProbe(settings.ncu)
    if name == "nvml":
        return NvmlProbe()
    if name == "triton":
        return TritonProbe()
    raise ValueError(f"unknown probe {name!r} (probes: {', '.join(PROBE_NAMES)})")


def make_probes(
    settings: ProbeSettings, say: Callable[[str], None] = print, names: Sequence[str] | None = None
) -> ProbeSet:
    return ProbeSet([make_probe(n, settings) for n in (names or settings.names)], say=say)
