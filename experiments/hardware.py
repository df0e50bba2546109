"""The tune app's hardware-aware pieces: the clusterer, the hardware view, the profiling line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bandit.clustering import RuntimeClusterer
from bandit.hardware import HardwareSettings, HardwareView, Profiled, hardware_view
from profiling.probes.session import ProbeSession
from profiling.tasks import Task
from strategies.types import Strategy

if TYPE_CHECKING:
    from experiments.settings import TuneSettings


def clusterer(settings: HardwareSettings, seed: int) -> RuntimeClusterer | None:
    """Runtime-behaviour clustering when more than one cluster is asked for."""
    if settings.clusters <= 1:
        return None
    return RuntimeClusterer(settings.clusters, settings.recluster_every, seed)


def hardware(
    settings: TuneSettings,
    task: Task,
    device: str,
    strategies: Sequence[Strategy],
    probes: ProbeSession,
) -> HardwareView:
    """Parents profiled by the selected probes (in the tuner's process: a short-lived
    child per kernel), and the masks. Under replay, counters come with the recorded
    measurements (a landscape recorded with ``probe.every_candidate``)."""
    profile = None
    if settings.probe.names and device != "replay":

        def profile(cid: str, source: str, reference: bool) -> Profiled:
            report = probes.profile_task(task, source, device, reference)
            return Profiled(report.counters, report.seconds)

    return hardware_view(settings.hardware, profile, {s.id: s.resource for s in strategies})


def profiling_line(view: HardwareView) -> str:
    """How many kernels the probes profiled and what it cost."""
    each = f" ({view.seconds / view.profiled:.1f} s each)" if view.profiled else ""
    return f"hardware profiling: {view.profiled} kernels, {view.seconds:.1f} s{each}"
