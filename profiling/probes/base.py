"""The probe seam: hardware observers run around one forward of a candidate.

In the manner of Kernel Tuner's benchmark observers, a probe is selected by
settings, wraps one forward of a measured candidate and returns a typed
`ProbeRecord`. Two kinds share one protocol:

- in-worker probes (NVML, Triton's compiled-kernel stats) run in the evaluation
  worker: `BaseProbe.collect` calls `start`, the forward, then `stop`;
- out-of-process probes (Nsight Compute, which cannot attach to a running
  process) set ``in_worker = False`` and override `collect` to profile the
  target in a short-lived child of their own; they ignore ``run.forward``.

A probe never raises for a missing tool or a permission problem: `available`
returns the one-line reason, and `ProbeSet` says it once and carries on with
the probes that work.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable

from profiling.probes.counters import Counters
from profiling.tasks import Task


@dataclass(frozen=True)
class ProbeTarget:
    """What is profiled: a candidate module (defines ``ModelNew``) for a task."""

    task: Task
    source: str
    device: str = "cuda"
    reference: bool = False  # the task's reference program: no kernel filter


@dataclass(frozen=True)
class ForwardRun:
    """One forward to observe: the target, the forward callable (in the worker;
    synchronizes before it returns) and the candidate's module when loaded."""

    target: ProbeTarget
    forward: Callable[[], None] | None = None
    module: types.ModuleType | None = None


@dataclass(frozen=True)
class PowerSample:
    """NVML readings around one forward."""

    power_w: float | None = None
    sm_clock_mhz: float | None = None
    gpu_util_pct: float | None = None
    mem_util_pct: float | None = None


@dataclass(frozen=True)
class CompiledStats:
    """Triton's compiled-kernel facts (max over the candidate's kernels); no profiler needed."""

    n_regs: int | None = None
    n_spills: int | None = None
    shared_bytes: int | None = None
    num_warps: int | None = None

    @property
    def block_size(self) -> int | None:
        return self.num_warps * 32 if self.num_warps else None


@dataclass(frozen=True)
class ProbeRecord:
    """One probe's answer. Exactly the field of its kind is set; ``note`` says why
    nothing came back (tool missing, not permitted, child failed)."""

    probe: str
    seconds: float = 0.0
    counters: Counters | None = None
    power: PowerSample | None = None
    compiled: CompiledStats | None = None
    note: str = ""
    cached: bool = False

    @property
    def empty(self) -> bool:
        return self.counters is None and self.power is None and self.compiled is None


@runtime_checkable
class Probe(Protocol):
    name: str
    in_worker: bool  # True: runs inside the evaluation worker around its forward

    def available(self) -> str | None:
        """None when the probe can work here, else the one-line reason it cannot."""
        ...

    def collect(self, run: ForwardRun) -> ProbeRecord: ...

    def close(self) -> None: ...


class BaseProbe:
    """Defaults for the optional parts: always available, nothing to close, and
    `collect` = `start`, one forward, `stop`. Subclasses set ``name`` and implement
    `stop` (and `start` where they sample before the forward)."""

    name: ClassVar[str] = "base"
    in_worker: ClassVar[bool] = True

    def available(self) -> str | None:
        return None

    def start(self) -> None:
        return None

    def stop(self, run: ForwardRun) -> ProbeRecord:
        raise NotImplementedError

    def collect(self, run: ForwardRun) -> ProbeRecord:
        t0 = time.monotonic()
        self.start()
        if run.forward is not None:
            run.forward()
        record = self.stop(run)
        if record.seconds:
            return record
        return ProbeRecord(
            record.probe, time.monotonic() - t0, record.counters, record.power,
            record.compiled, record.note, record.cached,
        )

    def close(self) -> None:
        return None


@dataclass
class ProbeSet:
    """The probes a run selected; says once why one is unavailable, never raises."""

    probes: Sequence[Probe] = ()
    say: Callable[[str], None] = print
    _silenced: set[str] = field(default_factory=set)

    def usable(self, in_worker: bool | None = None) -> list[Probe]:
        out = []
        for p in self.probes:
            if in_worker is not None and p.in_worker != in_worker:
                continue
            reason = p.available()
            if reason is not None:
                self._once(p.name, f"probe {p.name} is off: {reason}")
                continue
            out.append(p)
        return out

    def collect(self, run: ForwardRun, in_worker: bool | None = None) -> tuple[ProbeRecord, ...]:
        records = []
        for p in self.usable(in_worker):
            try:
                rec = p.collect(run)
            except Exception as e:  # a probe must never fail an evaluation
                rec = ProbeRecord(p.name, note=f"{type(e).__name__}: {e}")
            if rec.note and rec.empty:
                self._once(f"{p.name}:{rec.note}", f"probe {p.name}: {rec.note}")
            records.append(rec)
        return tuple(records)

    def close(self) -> None:
        for p in self.probes:
            p.close()

    def _once(self, key: str, line: str) -> None:
        if key not in self._silenced:
            self._silenced.add(key)
            self.say(line)


def merged_counters(records: Iterable[ProbeRecord]) -> Counters | None:
    """The hardware counters among probe records (the first probe that has them)."""
    return next((r.counters for r in records if r.counters is not None), None)
