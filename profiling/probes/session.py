"""One probing of one candidate: every selected probe, one short-lived child.

`ProbeSession.profile(target)` is what an evaluator calls for the reference,
each new parent, or every candidate: with ncu selected and usable, ncu wraps the
child (`profiling.probes.ncu`); otherwise, when in-process probes are selected
(NVML, Triton), the child runs on its own. Either way the in-process probes run
around the child's last warm-up forward. The answer is one `ProbeReport`,
cached by (task, size, source); anything missing is said once (`ProbeSet`) and
never raised.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from profiling.probes.base import ProbeRecord, ProbeReport, ProbeSet, ProbeTarget
from profiling.probes.child import child_argv, child_env, read_result, write_spec
from profiling.probes.ncu import NcuProbe, Runner, cache_key
from profiling.probes.registry import ProbeSettings, make_probe
from profiling.tasks import Task


class ProbeSession:
    def __init__(
        self,
        settings: ProbeSettings,
        say: Callable[[str], None] = print,
        runner: Runner | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """``env``: extra variables for the probing child (a worker's pinned GPU)."""
        self.settings = settings
        self._run = runner or subprocess.run
        self._env = dict(env or {})
        self.ncu = NcuProbe(settings.ncu, runner, env) if "ncu" in settings.names else None
        in_process = [make_probe(n, settings) for n in settings.names if n != "ncu"]
        # the parent checks availability once (says why not); the child runs what is usable
        self._probes = ProbeSet([*([self.ncu] if self.ncu else []), *in_process], say=say)
        self._cache: dict[str, ProbeReport] = {}

    @property
    def enabled(self) -> bool:
        return bool(self.settings.names)

    def __enter__(self) -> ProbeSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def profile_task(
        self, task: Task, source: str, device: str, reference: bool = False
    ) -> ProbeReport:
        """`profile` of one kernel of `task` on `device`; off (said once) unless CUDA."""
        if not self.enabled:
            return ProbeReport()
        if device != "cuda":
            self.say_once("device", "hardware probes are off: they need a CUDA device")
            return ProbeReport(notes=("hardware probes need a CUDA device",))
        return self.profile(ProbeTarget(task, source, device, reference=reference))

    def profile(self, target: ProbeTarget) -> ProbeReport:
        if not self.enabled:
            return ProbeReport()
        key = cache_key(target)
        if key in self._cache:
            return _cached(self._cache[key])
        t0 = time.monotonic()
        usable = self._probes.usable()
        child = tuple(p.name for p in usable if p.in_process)
        records: list[ProbeRecord] = []
        if self.ncu is not None and self.ncu in usable:
            rec, inner = self.ncu.profile(target, child)
            records += [rec, *inner]
        elif child:
            records += self._plain(target, child)
        report = ProbeReport.merge(records, time.monotonic() - t0)
        for note in report.notes:
            self._probes.say_once(note, f"probe {note}")
        if not any("child failed" in n or "timed out" in n for n in report.notes):
            self._cache[key] = report
        return report

    def profile_many(self, targets: Sequence[ProbeTarget]) -> list[ProbeReport]:
        """`profile` for several kernels of one task, in one ncu child when ncu is used
        (each report's seconds is its share of that child)."""
        if not self.enabled:
            return [ProbeReport() for _ in targets]
        usable = self._probes.usable()
        if self.ncu is None or self.ncu not in usable:
            return [self.profile(t) for t in targets]
        child = tuple(p.name for p in usable if p.in_process)
        todo = [t for t in targets if cache_key(t) not in self._cache]
        for t, (rec, inner) in zip(todo, self.ncu.profile_many(todo, child), strict=True):
            report = ProbeReport.merge([rec, *inner], rec.seconds)
            for note in report.notes:
                self._probes.say_once(note, f"probe {note}")
            if report.counters is not None:
                self._cache[cache_key(t)] = report
            else:
                self._cache.setdefault(cache_key(t), report)
        return [
            self._cache[cache_key(t)] if t in todo else _cached(self._cache[cache_key(t)])
            for t in targets
        ]

    def _plain(self, target: ProbeTarget, names: tuple[str, ...]) -> list[ProbeRecord]:
        with tempfile.TemporaryDirectory(prefix="kb-probe-") as tmp:
            spec, result = write_spec(Path(tmp), target, self.settings.ncu.warmup, names)
            try:  # sandboxed in its fresh folder, like the worker
                self._run(child_argv(spec), capture_output=True, text=True, cwd=tmp,
                          env=child_env(target.device, self._env, tmp),
                          timeout=self.settings.ncu.timeout_s, check=False)
            except subprocess.TimeoutExpired:
                return [ProbeRecord(n, note="the probe child timed out") for n in names]
            error, records = read_result(result)
        if error:
            return [*records, ProbeRecord(names[0], note=error)]
        return list(records)

    def say_once(self, key: str, line: str) -> None:
        self._probes.say_once(key, line)

    def close(self) -> None:
        self._probes.close()


def _cached(report: ProbeReport) -> ProbeReport:
    return ProbeReport(report.counters, report.power, report.compiled, 0.0, report.notes, True)
