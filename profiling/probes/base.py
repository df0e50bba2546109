"""The probe seam: hardware observers run around one forward of a candidate.

In the manner of Kernel Tuner's benchmark observers, a probe is selected by
settings, wraps one forward of a measured candidate and returns a typed
`ProbeRecord`. Two kinds share one protocol:

- in-process probes (NVML, Triton's compiled-kernel stats) run in the process
  that runs the forward: `BaseProbe.collect` calls `start`, the forward, then
  `stop`;
- out-of-process probes (Nsight Compute, which cannot attach to a running
  process) set ``in_process = False`` and override `collect` to profile the
  target in a short-lived child of their own; they ignore ``run.forward``.

`profiling.probes.session` runs both for one candidate in one short-lived
child (`profiling.probes.child`): in-process probes around its last warm-up
forward, ncu on the next forward.

A probe never raises for a missing tool or a permission problem: `available`
returns the one-line reason, and `ProbeSet` says it once and carries on with
the probes that work.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "probe": self.probe,
            "seconds": self.seconds,
            "counters": self.counters.to_dict() if self.counters else None,
            "power": asdict(self.power) if self.power else None,
            "compiled": asdict(self.compiled) if self.compiled else None,
            "note": self.note,
            "cached": self.cached,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ProbeRecord:
        return cls(
            probe=str(d["probe"]),
            seconds=float(d.get("seconds", 0.0)),
            counters=Counters.from_dict(d["counters"]) if d.get("counters") else None,
            power=PowerSample(**d["power"]) if d.get("power") else None,
            compiled=CompiledStats(**d["compiled"]) if d.get("compiled") else None,
            note=str(d.get("note", "")),
            cached=bool(d.get("cached", False)),
        )


@dataclass(frozen=True)
class ProbeReport:
    """Every probe's answer for one candidate, merged: what the tuner attaches to a
    kernel. ``seconds`` is the wall time of the probing (child start included)."""

    counters: Counters | None = None
    power: PowerSample | None = None
    compiled: CompiledStats | None = None
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    cached: bool = False

    @classmethod
    def merge(cls, records: Iterable[ProbeRecord], seconds: float) -> ProbeReport:
        recs = list(records)
        return cls(
            counters=next((r.counters for r in recs if r.counters is not None), None),
            power=next((r.power for r in recs if r.power is not None), None),
            compiled=next((r.compiled for r in recs if r.compiled is not None), None),
            seconds=seconds,
            notes=tuple(f"{r.probe}: {r.note}" for r in recs if r.note),
            cached=bool(recs) and all(r.cached for r in recs),
        )


@runtime_checkable
class Probe(Protocol):
    name: str
    in_process: bool  # True: runs inside the process that runs the forward

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
    in_process: ClassVar[bool] = True

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

    def usable(self, in_process: bool | None = None) -> list[Probe]:
        out = []
        for p in self.probes:
            if in_process is not None and p.in_process != in_process:
                continue
            reason = p.available()
            if reason is not None:
                self.say_once(p.name, f"probe {p.name} is off: {reason}")
                continue
            out.append(p)
        return out

    def collect(self, run: ForwardRun, in_process: bool | None = None) -> tuple[ProbeRecord, ...]:
        records = []
        for p in self.usable(in_process):
            try:
                rec = p.collect(run)
            except Exception as e:  # a probe must never fail an evaluation
                rec = ProbeRecord(p.name, note=f"{type(e).__name__}: {e}")
            if rec.note and rec.empty:
                self.say_once(f"{p.name}:{rec.note}", f"probe {p.name}: {rec.note}")
            records.append(rec)
        return tuple(records)

    def close(self) -> None:
        for p in self.probes:
            p.close()

    def say_once(self, key: str, line: str) -> None:
        if key not in self._silenced:
            self._silenced.add(key)
            self.say(line)
