"""The Triton probe: compiled-kernel facts with no profiler (registers, spills,
shared memory, warps), read from the candidate module's JIT caches after its
forward ran. Reuses `profiling.resources.kernel_resources`."""

from __future__ import annotations

from typing import ClassVar

from profiling.probes.base import BaseProbe, CompiledStats, ForwardRun, ProbeRecord
from profiling.resources import kernel_resources


def compiled_stats(resources: dict[str, float]) -> CompiledStats | None:
    """`CompiledStats` from `kernel_resources`' mapping; None when it found no kernel."""
    if not resources:
        return None

    def get(key: str) -> int | None:
        v = resources.get(key)
        return None if v is None else int(v)

    return CompiledStats(get("n_regs"), get("n_spills"), get("shared"), get("num_warps"))


class TritonProbe(BaseProbe):
    name: ClassVar[str] = "triton"

    def stop(self, run: ForwardRun) -> ProbeRecord:
        stats = compiled_stats(kernel_resources(run.module))
        note = "" if stats is not None else "no compiled Triton kernel in the candidate"
        return ProbeRecord(self.name, compiled=stats, note=note)
