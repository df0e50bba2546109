"""Parent side of the evaluation harness: settings, the Evaluator protocol, and
`WorkerEvaluator`, which runs candidates in a reusable worker subprocess.

The worker (:mod:`profiling.worker`) is started on first use, in its own
process group, with an environment scrubbed of secrets
(:mod:`profiling.envsafe`), its stdout/stderr going to a private log file, and
a private socket for the protocol. It is reused across candidates and replaced
when it dies (``os._exit``, segfault), hangs past the timeout (the parent kills
its process group), or asks to be replaced (poisoned CUDA context, patched
internals).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from profiling.channel import Channel, ChannelClosed, ChannelTimeout
from profiling.envsafe import safe_env
from profiling.errors import trim
from profiling.hardware import INTERPRETER_NAME, GpuFacts
from profiling.measurement import Measurement, Status
from profiling.probes.base import ProbeReport
from profiling.probes.registry import ProbeSettings
from profiling.probes.session import ProbeSession
from profiling.remeasure import confirmed
from profiling.tasks import PROJECT_ROOT, SOURCE_DIR_ENV, Task

STARTUP_TIMEOUT_S = 300.0  # importing torch + measuring GPU facts once; not charged to candidates
MAX_LOG_BYTES = 16 << 20  # the worker's stdout/stderr log is truncated beyond this


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
    cpu_limit_s: float | None = None  # CPU seconds per evaluation (None: 4 x timeout_s)
    # a speedup above this is re-measured from a fresh process before it counts (0: never)
    remeasure_speedup: float = 5.0


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


class WorkerStartError(RuntimeError):
    """The worker process could not be started (an environment problem, not a candidate's)."""


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


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class _Worker:
    """One worker process and its channel."""

    def __init__(self, device: str, extra_env: Mapping[str, str] | None = None) -> None:
        self.device = device
        self.scratch = tempfile.mkdtemp(prefix="kb-worker-")
        self.log_path = Path(self.scratch) / "worker.log"
        parent_sock, child_sock = socket.socketpair()
        env = self._env(device, extra_env or {}, self.scratch)
        with open(self.log_path, "ab") as log:  # append mode: the parent may truncate it
            try:
                self.proc = subprocess.Popen(
                    [
                        sys.executable,
                        *(["-P"] if sys.version_info >= (3, 11) else []),  # no cwd on sys.path
                        "-m",
                        "profiling.worker",
                        "--fd",
                        str(child_sock.fileno()),
                        "--device",
                        device,
                    ],
                    pass_fds=(child_sock.fileno(),),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=self.scratch,
                    start_new_session=True,
                )
            finally:
                child_sock.close()
        self.chan = Channel(parent_sock)
        self._finalizer = weakref.finalize(self, _kill_group, self.proc, self.chan, self.scratch)
        try:
            hello = self.chan.recv(timeout=STARTUP_TIMEOUT_S)
        except (ChannelClosed, ChannelTimeout, ValueError) as e:
            tail = self.log_tail(0)
            self.kill()
            raise WorkerStartError(f"evaluation worker failed to start: {tail or e}") from e
        if hello.get("error"):
            self.kill()
            raise WorkerStartError(f"evaluation worker failed to start: {hello['error']}")
        self.pid = int(hello["pid"])
        self.facts = GpuFacts.from_dict(hello.get("facts", {}))

    @staticmethod
    def _env(device: str, extra: Mapping[str, str], scratch: str) -> dict[str, str]:
        set_vars = {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", **safe_env(extra)}
        # candidate sources are written into the scratch folder, removed with the worker
        set_vars[SOURCE_DIR_ENV] = str(Path(scratch) / "src")
        # temporary files (Triton's ptxas inputs, candidate sources) stay in the worker's
        # scratch folder; the Inductor cache stays shared between workers
        set_vars["TMPDIR"] = scratch
        set_vars.setdefault(
            "TORCHINDUCTOR_CACHE_DIR",
            os.environ.get("TORCHINDUCTOR_CACHE_DIR")
            or os.path.join(tempfile.gettempdir(), f"torchinductor_{_user()}"),
        )
        pypath = os.environ.get("PYTHONPATH", "")
        set_vars["PYTHONPATH"] = str(PROJECT_ROOT) + (os.pathsep + pypath if pypath else "")
        if device == "interpret":
            set_vars.update(TRITON_INTERPRET="1", CUDA_VISIBLE_DEVICES="")
            # one torch thread: the interpreter is single-threaded, and an idle OpenMP
            # pool waking up adds milliseconds of noise to the reference's wall time
            set_vars["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", "1")
            return safe_env(os.environ, set_vars)
        return safe_env(os.environ, set_vars, drop=("TRITON_INTERPRET",))

    def alive(self) -> bool:
        return self.proc.returncode is None and not _exited(self.proc.pid)

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def trim_log(self) -> None:
        """Empty the log when it grew too large (a chatty candidate must not fill the disk)."""
        if self.log_size() > MAX_LOG_BYTES:
            with contextlib.suppress(OSError):
                os.truncate(self.log_path, 0)

    def log_tail(self, offset: int, lines: int = 1) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(offset, self.log_size() - 64 * 1024))
                text = f.read().decode(errors="replace")
        except OSError:
            return ""
        kept = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return trim(" | ".join(kept[-lines:]), 300)

    def kill(self) -> int | None:
        _kill_group(self.proc, self.chan, None)
        return self.proc.returncode

    def wait_exit(self, timeout: float) -> None:
        """Wait (without reaping) for the worker to exit on its own."""
        end = time.monotonic() + timeout
        while self.alive() and time.monotonic() < end:
            time.sleep(0.02)

    def close(self) -> None:
        if self.alive():
            with contextlib.suppress(ChannelClosed, OSError):
                self.chan.send({"op": "exit"})
            self.wait_exit(10)
        self._finalizer()  # kills the group (if anything is left) and reaps


def _user() -> str:
    try:
        import getpass

        return getpass.getuser()
    except (ImportError, KeyError, OSError):
        return str(os.getuid())


def _exited(pid: int) -> bool:
    """Whether a child has exited, without reaping it (its pid stays ours until reaped)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _kill_group(proc: subprocess.Popen[bytes], chan: Channel, scratch: str | None) -> None:
    # Until Popen reaps the worker, its pid (and so its process group id) cannot be
    # reused, so signalling the group reaches only the worker and its children.
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
    chan.close()
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)


class WorkerEvaluator:
    """Evaluates candidates in a reused, isolated worker process (a context manager).

    ``env``: extra variables for the worker (e.g. ``{"CUDA_VISIBLE_DEVICES": "1"}``
    to pin one worker per GPU); secrets are stripped from them too. ``probes``:
    the hardware probes (`profiling.probes`) `profile` runs, and `evaluate` too
    for every correct candidate with ``every_candidate``; ``say`` prints their
    one-time notices (a probe that cannot run here says why, once).
    """

    def __init__(
        self,
        settings: EvalSettings = EvalSettings(),
        *,
        env: Mapping[str, str] | None = None,
        probes: ProbeSettings | None = None,
        say: Callable[[str], None] = print,
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
        self._worker: _Worker | None = None
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

    def _ensure_worker(self) -> _Worker:
        w = self._worker
        if w is not None and w.alive():
            return w
        if w is not None:
            w.close()
        self._worker = w = _Worker(self.device, self.env)
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
        task = for_device(task, self.device)
        extras = [for_device(task.with_size(spec), self.device) for spec in s.extra_sizes]
        probe_tasks = odd_size_tasks(task, self.device) if s.probes else []
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
                "probes": s.probes,
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
            what = _describe_exit(code) if exited else f"protocol broken: {e}"
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
        if m.ok and s.remeasure_speedup and (m.speedup or 0.0) > s.remeasure_speedup:
            env = _Worker._env(self.device, self.env, tempfile.gettempdir())
            m = confirmed(m, task.to_dict(), source, self.device, env, s.timeout_s)
        if m.ok and self.probe_settings.every_candidate and self.device == "cuda":
            m = replace(m, counters=self.profile(task, source).counters)
        return replace(m, wall_s=time.monotonic() - t0)

    @staticmethod
    def _reply(worker: _Worker, nonce: str, deadline: float) -> dict[str, Any]:
        while True:
            msg = worker.chan.recv(timeout=max(0.0, deadline - time.monotonic()))
            # frames without our nonce were not written by the harness: ignore them
            if isinstance(msg, dict) and msg.get("nonce") == nonce and "measurement" in msg:
                return msg
