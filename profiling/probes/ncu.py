"""The Nsight Compute probe: counters of one forward, profiled in a short-lived child.

ncu cannot attach to the running evaluation worker, so the probe starts
``ncu ... python -m profiling.probes.child SPEC`` (see that module): the
child warms the candidate up (running any in-process probes around its last
warm-up forward), then runs one forward between cudaProfilerStart/Stop, and
ncu (``--profile-from-start off``) profiles only that forward. The report (``--csv --page raw --print-units base``, written to
``--log-file``) is parsed into `KernelCounters` and aggregated into one
`Counters` (PyTorch-internal kernels left out for candidates, kept for the
reference program).

Never fails a run: ncu missing -> `available` says so; counters not permitted
(``ERR_NVGPUCTRPERM``) -> the probe turns itself off with that reason; a
metric this ncu does not know -> one retry without it; a failing child or a
timeout -> an empty record with a note. Results are cached by a hash of
(task, size, source), so a parent profiled once is never profiled again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from profiling.probes.base import BaseProbe, ForwardRun, ProbeRecord, ProbeTarget
from profiling.probes.child import SEPARATOR, child_argv, child_env, read_batches, write_spec
from profiling.probes.counters import Counters, KernelCounters, aggregate
from profiling.probes.ncu_csv import all_metrics, parse_raw_csv, unknown_metrics

NOT_PERMITTED = "ERR_NVGPUCTRPERM"


@dataclass(frozen=True)
class NcuSettings:
    executable: str = "ncu"
    metrics: tuple[str, ...] = ()  # empty: `ncu_csv.all_metrics()`
    timeout_s: float = 60.0
    warmup: int = 3  # forwards before the profiled one (Triton compile/autotune)
    # unmodified clocks: durations comparable with the harness's timings (ncu's
    # default locks the base clock)
    extra_args: tuple[str, ...] = ("--clock-control", "none")


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


def build_command(
    ncu: str, spec_path: str, log_path: str, metrics: Sequence[str], extra: Sequence[str] = ()
) -> list[str]:
    """The ncu command line that profiles one forward of the child."""
    return [
        ncu,
        "--csv",
        "--page",
        "raw",
        "--print-units",
        "base",
        "--profile-from-start",
        "off",
        "--target-processes",
        "application-only",
        "--metrics",
        ",".join(metrics),
        "--log-file",
        log_path,
        *extra,
        *child_argv(spec_path),
    ]


def cache_key(target: ProbeTarget) -> str:
    h = hashlib.sha256()
    for part in (target.task.name, target.task.size, json.dumps(dict(target.task.overrides),
                 sort_keys=True, default=str), target.source):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


class NcuProbe(BaseProbe):
    name: ClassVar[str] = "ncu"
    in_process: ClassVar[bool] = False

    def __init__(
        self,
        settings: NcuSettings | None = None,
        runner: Runner | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """``env``: extra variables for the child (e.g. the worker's CUDA_VISIBLE_DEVICES)."""
        self.settings = settings or NcuSettings()
        self._run = runner or subprocess.run
        self._env = dict(env or {})
        self._off: str | None = None  # set once counters turn out not permitted
        self._cache: dict[str, Counters | None] = {}
        self._metrics = tuple(self.settings.metrics or all_metrics())

    def available(self) -> str | None:
        if self._off is not None:
            return self._off
        if shutil.which(self.settings.executable) is None:
            return f"{self.settings.executable!r} (Nsight Compute) is not on PATH"
        return None

    def collect(self, run: ForwardRun) -> ProbeRecord:
        return self.profile(run.target)[0]

    def profile(
        self, target: ProbeTarget, child_probes: Sequence[str] = ()
    ) -> tuple[ProbeRecord, tuple[ProbeRecord, ...]]:
        """This probe's record and the records of the in-process probes the child ran."""
        if target.device != "cuda":
            return ProbeRecord(self.name, note="Nsight Compute needs a CUDA device"), ()
        key = cache_key(target)
        if not child_probes and key in self._cache:
            return ProbeRecord(self.name, counters=self._cache[key], cached=True), ()
        t0 = time.monotonic()
        kernels, note, batches = self._run_child([target], child_probes)
        records = batches[0] if batches else ()
        counters = aggregate(kernels, exclude_internal=not target.reference) if kernels else None
        if counters is not None:
            self._cache[key] = counters
            note = ""
        elif not note:
            note = "no kernel profiled"
        return ProbeRecord(self.name, time.monotonic() - t0, counters=counters, note=note), records

    def profile_many(
        self, targets: Sequence[ProbeTarget], child_probes: Sequence[str] = ()
    ) -> list[tuple[ProbeRecord, tuple[ProbeRecord, ...]]]:
        """Several kernels of one task in one child (one start instead of several);
        each record's seconds is its share. Falls back to one child per kernel when
        the report cannot be split per kernel."""
        fresh = [t for t in targets if cache_key(t) not in self._cache]
        if len(fresh) < 2 or any(t.device != "cuda" for t in fresh) or len(
            {(t.task.name, t.task.size) for t in fresh}
        ) > 1:
            return [self.profile(t, child_probes) for t in targets]
        t0 = time.monotonic()
        kernels, note, batches = self._run_child(fresh, child_probes)
        groups = split_batch(kernels, len(fresh))
        if groups is None:
            if self._off is not None or note.startswith("ncu timed out"):
                return [(ProbeRecord(self.name, note=note), ()) for _ in targets]
            return [self.profile(t, child_probes) for t in targets]
        share = (time.monotonic() - t0) / len(fresh)
        done: dict[str, tuple[ProbeRecord, tuple[ProbeRecord, ...]]] = {}
        for i, (t, group) in enumerate(zip(fresh, groups, strict=True)):
            counters = aggregate(group, exclude_internal=not t.reference)
            self._cache[cache_key(t)] = counters
            rec = ProbeRecord(self.name, share, counters=counters,
                              note="" if counters else "no kernel profiled")
            done[cache_key(t)] = (rec, batches[i] if i < len(batches) else ())
        return [done.get(cache_key(t)) or self.profile(t, child_probes) for t in targets]

    def _run_child(
        self, targets: Sequence[ProbeTarget], child_probes: Sequence[str]
    ) -> tuple[list[KernelCounters], str, list[tuple[ProbeRecord, ...]]]:
        """Every launch ncu profiled in one child over ``targets``, a note when none,
        and the in-process probe records per target."""
        with tempfile.TemporaryDirectory(prefix="kb-ncu-") as tmp:
            spec, result = write_spec(
                Path(tmp), targets[0], self.settings.warmup, child_probes, targets[1:]
            )
            metrics = self._metrics
            for _attempt in range(2):
                log = Path(tmp) / "ncu.csv"
                log.unlink(missing_ok=True)
                out = self._invoke(str(spec), str(log), metrics)
                if out is None:
                    return [], f"ncu timed out after {self.settings.timeout_s:.0f} s", []
                text = log.read_text(errors="replace") if log.is_file() else ""
                combined = text + "\n" + out
                if NOT_PERMITTED in combined:
                    self._off = (
                        "GPU performance counters are not permitted for this user "
                        f"({NOT_PERMITTED}); see https://developer.nvidia.com/{NOT_PERMITTED}"
                    )
                    return [], self._off, []
                bad = unknown_metrics(combined, metrics)
                if bad and len(bad) < len(metrics):
                    self._metrics = metrics = tuple(m for m in metrics if m not in bad)
                    continue
                error, batches = read_batches(result)
                kernels = parse_raw_csv(text) or parse_raw_csv(out)
                if kernels:
                    return kernels, "", batches
                return [], error or _last_error(combined) or "no kernel profiled", batches
        return [], "ncu rejected the metric list", []

    def _invoke(self, spec: str, log: str, metrics: Sequence[str]) -> str | None:
        cmd = build_command(self.settings.executable, spec, log, metrics, self.settings.extra_args)
        # the child runs sandboxed in the spec's fresh folder, like the worker
        folder = str(Path(spec).parent)
        try:
            proc = self._run(cmd, capture_output=True, text=True, cwd=folder,
                             env=child_env("cuda", self._env, folder),
                             timeout=self.settings.timeout_s, check=False)
        except subprocess.TimeoutExpired:
            return None
        except OSError as e:
            return f"==ERROR== cannot start ncu: {e}"
        return (proc.stdout or "") + "\n" + (proc.stderr or "")


def _last_error(output: str) -> str:
    errors = [ln.strip() for ln in output.splitlines() if "==ERROR==" in ln]
    return errors[-1][:300] if errors else ""


def split_batch(kernels: Sequence[KernelCounters], n: int) -> list[list[KernelCounters]] | None:
    """A batch report's launches per kernel, cut at the child's separator launches;
    None unless there are exactly n - 1 separators and no kernel came back empty."""
    groups: list[list[KernelCounters]] = [[]]
    for k in kernels:
        if SEPARATOR in k.name:
            groups.append([])
        else:
            groups[-1].append(k)
    if len(groups) != n or any(not g for g in groups):
        return None
    return groups
