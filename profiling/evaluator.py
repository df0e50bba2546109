"""Parent side of the evaluation harness: settings, the Evaluator protocol, and
`WorkerEvaluator`, which runs candidates in a reusable worker subprocess.

The worker (:mod:`profiling.worker`, its process handled by
:mod:`profiling.worker_process`) is started on first use, in its own process
group, with an environment scrubbed of secrets (:mod:`profiling.envsafe`), its
stdout/stderr going to a private log file, and a private socket for the
protocol. It is reused across candidates and replaced
when it dies (``os._exit``, segfault), hangs past the timeout (the parent kills
its process group), or asks to be replaced (poisoned CUDA context, patched
internals).
"""

from __future__ import annotations

import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from profiling.best_so_far import BestSoFar
from profiling.channel import ChannelClosed, ChannelTimeout
from profiling.errors import trim
from profiling.hardware import INTERPRETER_NAME, GpuFacts
from profiling.measurement import DEFAULT_HOLD_US, Measurement, Status
from profiling.probes.base import ProbeReport
from profiling.probes.registry import ProbeSettings
from profiling.probes.session import ProbeSession
from profiling.remeasure import RemeasurePolicy, confirmed
from profiling.remeasure import check_mode as check_remeasure
from profiling.sanitizer import SanitizeCheck, Sanitizer, SanitizerSettings
from profiling.sanitizer import check_mode as check_sanitize
from profiling.tasks import Task
from profiling.worker_process import WorkerProcess, WorkerStartError, describe_exit

__all__ = [
    "EvalSettings",
    "Evaluator",
    "WorkerEvaluator",
    "WorkerStartError",
    "for_device",
    "odd_size_tasks",
    "reference_candidate_source",
    "resolve_device",
]


@dataclass(frozen=True)
class EvalSettings:
    device: str = "auto"  # "cuda" | "interpret" | "auto" (cuda when present)
    trials: int = 5  # correctness trials, fresh random inputs each
    extra_sizes: tuple[str, ...] = ()  # more size specs checked for correctness
    baseline_compile: bool = True  # also time torch.compile(reference) (CUDA only)
    timeout_s: float = 120.0  # per evaluation, enforced from outside
    warmup_ms: float = 25.0
    rep_ms: float = 100.0
    check_floor: bool = True  # reject results faster than the roofline floor
    probes: bool = True  # signed/wide-range inputs, an odd size, a trial after timing
    # which candidates get the signed/wide-range inputs and the odd size: always (every
    # one, before its timing), best (after its timing, only one that would become the
    # task's new best; the best kernel is always probed, the search spends less a step)
    probe_scope: str = "always"
    cpu_limit_s: float | None = None  # CPU seconds per evaluation (None: 4 x timeout_s)
    # a speedup above this is re-measured from a fresh process before it counts (0: never)
    remeasure_speedup: float = 5.0
    # which of those: best (only one that would become the task's new best: what "counts"),
    # always (every one; a fresh process costs ~10 s on an H200)
    remeasure: str = "best"
    # the out-of-bounds check under compute-sanitizer (profiling.sanitizer): best (only a
    # candidate that would become the task's new best), always (every ok one), off
    sanitize: str = "best"
    # microseconds of device time (a spinning kernel) queued between the L2 flush and each
    # timed call's start event, so the host has launched the call before the events run
    # (0: none; the host's side is recorded either way: `profiling.timing.host_stats`)
    hold_us: float = DEFAULT_HOLD_US

    def __post_init__(self) -> None:
        # the valid modes and their one-line errors belong to the policies' modules
        check_remeasure(self.remeasure)
        check_sanitize(self.sanitize)
        if not 0.0 <= self.hold_us <= MAX_HOLD_US:
            raise ValueError(f"hold_us must be between 0 and {MAX_HOLD_US:g}, got {self.hold_us:g}")
        if self.probe_scope not in PROBE_SCOPES:
            raise ValueError(
                f"probe_scope must be one of {', '.join(PROBE_SCOPES)}, got {self.probe_scope!r}"
            )


PROBE_SCOPES = ("always", "best")
MAX_HOLD_US = 10_000.0  # a hold is for launch latency: 10 ms would be a hang, not a launch


class Evaluator(Protocol):
    """Measures candidate sources: a `Measurement` for every source, never an exception.

    ``device``: "cuda", "interpret", or what a replay stands for. ``gpu_facts()``:
    the GPU the measurements describe. An evaluator is reused across candidates
    and tasks; ``close()`` releases workers and may be called twice.
    """

    device: str

    def evaluate(self, task: Task, source: str) -> Measurement: ...

    def gpu_facts(self) -> GpuFacts: ...

    def close(self) -> None: ...


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when torch sees a GPU, else ``interpret``."""
    if device in ("cuda", "interpret"):
        return device
    if device != "auto":
        raise ValueError(f"unknown device {device!r} (cuda, interpret or auto)")
    try:
        import torch
    except ImportError:  # pragma: no cover
        return "interpret"
    return "cuda" if torch.cuda.is_available() else "interpret"


def reference_candidate_source(task: Task) -> str:
    """A candidate whose ``ModelNew`` is the task's reference ``Model``."""
    return task.module_source().rstrip() + "\n\n\nModelNew = Model\n"


def for_device(task: Task, device: str) -> Task:
    """The task as the worker will run it: fp32 under the interpreter.

    Under the Triton interpreter a task with a ``DTYPE`` constant runs in
    float32 unless the size spec set ``DTYPE`` explicitly.
    """
    if device != "interpret" or "DTYPE" in task.overrides:
        return task
    dtype = task.constants.get("DTYPE")
    if not isinstance(dtype, str) or dtype in ("float32", "torch.float32"):
        return task
    return replace(task, overrides={**task.overrides, "DTYPE": "float32"})


def odd_size_tasks(task: Task, device: str) -> list[Task]:
    """The task at sizes that are no multiple of a common block size (tried in order)."""
    from profiling.input_probes import odd_size_specs  # imports torch

    out = []
    for spec in odd_size_specs(task.constants, task.overrides):
        try:
            out.append(for_device(task.with_size(spec), device))
        except ValueError:  # TaskError: a constant the source cannot take
            continue
    return out


def _stderr_line(line: str) -> None:
    print(line, file=sys.stderr)


class WorkerEvaluator:
    """Evaluates candidates in a reused, isolated worker process (a context manager).

    ``env``: extra variables for the worker (e.g. ``{"CUDA_VISIBLE_DEVICES": "1"}``
    to pin one worker per GPU); secrets are stripped from them too. ``probes``:
    the hardware probes (`profiling.probes`) `profile` runs, and `evaluate` too
    for every correct candidate with ``every_candidate``; ``say`` prints their
    one-time notices (a probe that cannot run here says why, once). ``notice``: where
    the out-of-bounds check's one-time notices go (default: a line on stderr, so that
    ``--json`` output on stdout stays clean).
    """

    def __init__(
        self,
        settings: EvalSettings = EvalSettings(),
        *,
        env: Mapping[str, str] | None = None,
        probes: ProbeSettings | None = None,
        say: Callable[[str], None] = print,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.env = dict(env or {})
        self.device = resolve_device(settings.device)
        self.probe_settings = probes or ProbeSettings()
        self._say = say
        self._probes = (
            ProbeSession(self.probe_settings, say, env=self.env)
            if self.probe_settings.names
            else None
        )
        self._sanitize = SanitizeCheck(
            settings.sanitize,
            Sanitizer(SanitizerSettings(timeout_s=max(SanitizerSettings.timeout_s,
                                                      settings.timeout_s)), env=self.env),
            notice or _stderr_line,
        )
        self._remeasure = RemeasurePolicy(settings.remeasure, settings.remeasure_speedup)
        self._probe_bar = BestSoFar(float("-inf"))  # probe_scope=best: per task, probed bests
        self._worker: WorkerProcess | None = None
        self._facts: GpuFacts | None = None
        self.starts = 0  # how many worker processes were started

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self) -> WorkerEvaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None
        if self._probes is not None:
            self._probes.close()

    # -- hardware probes ---------------------------------------------------
    def profile(self, task: Task, source: str, reference: bool = False) -> ProbeReport:
        """Every selected probe on one forward of ``source`` (in a short-lived child);
        an empty report when none is selected or the device is not a GPU."""
        if self._probes is None:
            return ProbeReport()
        return self._probes.profile_task(for_device(task, self.device), source, self.device,
                                         reference)

    @property
    def worker_pid(self) -> int | None:
        """PID of the live worker, if one is running."""
        w = self._worker
        return w.pid if w is not None and w.alive() else None

    def _ensure_worker(self) -> WorkerProcess:
        w = self._worker
        if w is not None and w.alive():
            return w
        if w is not None:
            w.close()
        self._worker = w = WorkerProcess(self.device, self.env)
        self._facts = w.facts
        self.starts += 1
        return w

    def _discard_worker(self) -> int | None:
        w, self._worker = self._worker, None
        if w is None:
            return None
        code = w.kill()
        w.close()
        return code

    # -- the protocol ------------------------------------------------------
    def gpu_facts(self) -> GpuFacts:
        if self.device == "interpret":
            return GpuFacts(name=INTERPRETER_NAME)
        if self._facts is None:
            self._ensure_worker()
        assert self._facts is not None
        return self._facts

    def _failure(self, status: Status, error: str, t0: float) -> Measurement:
        name = (
            self._facts.name
            if self._facts
            else (INTERPRETER_NAME if self.device == "interpret" else "cuda")
        )
        return Measurement.failure(
            status,
            error,
            device=name,
            timing_kind="gpu" if self.device == "cuda" else "interpreter",
            wall_s=time.monotonic() - t0,
        )

    def evaluate(self, task: Task, source: str) -> Measurement:
        t0 = time.monotonic()
        try:
            compile(source, "<candidate>", "exec", dont_inherit=True)
        except SyntaxError as e:
            where = f" (line {e.lineno})" if e.lineno else ""
            return self._failure(Status.SYNTAX_ERROR, trim(f"SyntaxError: {e.msg}{where}"), t0)
        except (ValueError, RecursionError, MemoryError) as e:
            return self._failure(Status.SYNTAX_ERROR, trim(f"{type(e).__name__}: {e}"), t0)
        s = self.settings
        # the reference itself (the yardstick, measured first): the checks that look for a
        # candidate's mistakes (input probes, odd size, out-of-bounds) would compare it with
        # itself or run the task's own code; only its correctness trials and timing run
        reference = source == reference_candidate_source(task)
        task = for_device(task, self.device)
        extras = [for_device(task.with_size(spec), self.device) for spec in s.extra_sizes]
        probes = s.probes and not reference
        probe_tasks = odd_size_tasks(task, self.device) if probes else []
        probe_bar = self._probe_bar.bar(task) if s.probe_scope == "best" else None
        worker = self._ensure_worker()
        nonce = secrets.token_hex(16)
        request: dict[str, Any] = {
            "op": "evaluate",
            "nonce": nonce,
            "task": task.to_dict(),
            "extra_tasks": [t.to_dict() for t in extras],
            "probe_tasks": [t.to_dict() for t in probe_tasks],
            "source": source,
            "seed": secrets.randbelow(2**31 - 10_000),
            "settings": {
                "trials": s.trials,
                "baseline_compile": s.baseline_compile and self.device == "cuda",
                "warmup_ms": s.warmup_ms,
                "rep_ms": s.rep_ms,
                "check_floor": s.check_floor,
                "probes": probes,
                "probe_bar": probe_bar,
                "hold_us": s.hold_us,
                "cpu_limit_s": s.cpu_limit_s if s.cpu_limit_s is not None else 4 * s.timeout_s,
            },
        }
        worker.trim_log()
        offset = worker.log_size()
        deadline = time.monotonic() + s.timeout_s
        try:
            worker.chan.send(request)
            reply = self._reply(worker, nonce, deadline)
        except ChannelTimeout:
            self._discard_worker()
            return self._failure(
                Status.TIMEOUT, f"timed out after {s.timeout_s:g} s (worker killed)", t0
            )
        except (ChannelClosed, ValueError, KeyError, TypeError) as e:
            worker.wait_exit(5)
            exited = not worker.alive()
            tail = worker.log_tail(offset)
            code = self._discard_worker()
            what = describe_exit(code) if exited else f"protocol broken: {e}"
            if code == -signal.SIGXCPU:
                limit = request["settings"]["cpu_limit_s"]
                return self._failure(
                    Status.TIMEOUT, f"CPU time limit of {limit:g} s exceeded (worker killed)", t0
                )
            return self._failure(
                Status.CRASHED, trim(f"worker died ({what})" + (f": {tail}" if tail else "")), t0
            )
        if reply.get("restart"):
            worker.wait_exit(5)  # it exits by itself after replying
            self._discard_worker()
        m = Measurement.from_dict(reply["measurement"])
        if self._remeasure.wanted(task, m):
            env = WorkerProcess._env(self.device, self.env, tempfile.gettempdir())
            t1 = time.monotonic()
            m = confirmed(m, task.to_dict(), source, self.device, env, s.timeout_s)
            m = replace(m, diagnostics=replace(m.diagnostics, remeasure_s=time.monotonic() - t1))
            self._remeasure.stood(task, m)
        if reference:
            self._sanitize.trusted(task, m)
        elif self._sanitize.wanted(task, m):  # a would-be new best: no out-of-bounds access
            shape = (probe_tasks or odd_size_tasks(task, self.device) or [task])[0]
            m = self._sanitize.apply(m, task, shape, source, self.device)
        if probe_bar is not None and m.ok and not m.diagnostics.probes_not_best:
            self._probe_bar.stood(task, m)  # probed, or the reference: the bar to beat
        if m.ok and self.probe_settings.every_candidate and self.device == "cuda":
            t1 = time.monotonic()
            counters = self.profile(task, source).counters
            m = replace(m, counters=counters, diagnostics=replace(
                m.diagnostics, profile_s=time.monotonic() - t1))
        return replace(m, wall_s=time.monotonic() - t0)

    @staticmethod
    def _reply(worker: WorkerProcess, nonce: str, deadline: float) -> dict[str, Any]:
        while True:
            msg = worker.chan.recv(timeout=max(0.0, deadline - time.monotonic()))
            # frames without our nonce were not written by the harness: ignore them
            if isinstance(msg, dict) and msg.get("nonce") == nonce and "measurement" in msg:
                return msg
