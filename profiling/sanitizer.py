"""The out-of-bounds check: one forward of a candidate under compute-sanitizer memcheck.

A kernel without a bounds mask is right whenever its stray reads and writes land
in memory nobody checks: on a GPU the caching allocator rounds every tensor up
(512 bytes and more), so the odd-size probe's outputs still match. This check
runs the candidate once more, at the odd-size probe shape, in a short-lived child
under ``compute-sanitizer --tool memcheck`` with ``PYTORCH_NO_CUDA_MEMORY_CACHING=1``
(every tensor its own ``cudaMalloc``, so memcheck knows each one's exact bounds).
The child is the probe child (`profiling.probes.child`: sandboxed like the
evaluation worker, in a fresh folder with the worker's scrubbed environment);
memcheck's report (`profiling.memcheck`) decides:

- a device memory error (an invalid read/write past an allocation, a misaligned
  or out-of-range address) rejects the candidate, with memcheck's first error as
  the reason;
- a clean report keeps it; a child that failed or timed out without a memory
  error keeps it too, with a note (the worker's own verdict stands).

Which candidates are checked (``EvalSettings.sanitize``, `SanitizeCheck`): ``best``
(default) only an ``ok`` candidate whose speedup beats every earlier one of its
task in this evaluator, i.e. one that would become the new best (the same seam as
the re-measure of large speedups, `profiling.remeasure`); ``always`` every ``ok``
candidate; ``off`` none. Without compute-sanitizer (or without a GPU) the check
is skipped with a one-time notice, never a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

from profiling.best_so_far import BestSoFar
from profiling.errors import trim
from profiling.measurement import Measurement, Status
from profiling.memcheck import MemcheckReport, parse
from profiling.probes.base import ProbeTarget
from profiling.probes.child import child_argv, child_env, read_result, write_spec
from profiling.tasks import Task

MODES = ("best", "always", "off")
NO_CACHING = {"PYTORCH_NO_CUDA_MEMORY_CACHING": "1"}
SEARCH_DIRS = ("{CUDA_HOME}/bin", "{CUDA_HOME}/compute-sanitizer", "/usr/local/cuda/bin",
               "/usr/local/cuda/compute-sanitizer")


def check_mode(mode: str) -> str:
    """`mode` when it is one of `MODES` (``EvalSettings.sanitize``), else a one-line ValueError."""
    if mode not in MODES:
        raise ValueError(f"sanitize must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class SanitizerSettings:
    executable: str = "compute-sanitizer"
    timeout_s: float = 300.0  # memcheck slows kernels down; the child also imports torch
    print_limit: int = 20  # errors memcheck prints (the summary still counts all)
    extra_args: tuple[str, ...] = ()


class SanitizeStatus(Enum):
    CLEAN = "clean"
    OUT_OF_BOUNDS = "out_of_bounds"  # any device memory error memcheck reported
    SKIPPED = "skipped"  # no tool, no GPU
    FAILED = "failed"  # the child failed or timed out without a memory error


@dataclass(frozen=True)
class SanitizeResult:
    status: SanitizeStatus
    text: str = ""  # the rejection reason (OUT_OF_BOUNDS), else why the check says nothing
    seconds: float = 0.0
    report: MemcheckReport | None = None
    log: str = ""  # the end of memcheck's own output (for a look, or to record samples)


LOG_TAIL_CHARS = 20_000


def build_command(
    exe: str, spec: str, log: str, print_limit: int = 20, extra: Sequence[str] = ()
) -> list[str]:
    """memcheck around the probe child: device memory errors only (host API errors are
    PyTorch's business), every line to ``log``."""
    return [
        exe,
        "--tool",
        "memcheck",
        "--report-api-errors",
        "no",
        "--print-limit",
        str(print_limit),
        "--target-processes",
        "application-only",
        "--log-file",
        log,
        *extra,
        *child_argv(spec),
    ]


def find_executable(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """``name`` on PATH, else in the CUDA toolkit's usual folders; None when absent."""
    environ = os.environ if environ is None else environ
    found = shutil.which(name, path=environ.get("PATH"))
    if found or os.sep in name:
        return found
    home = environ.get("CUDA_HOME") or environ.get("CUDA_PATH") or "/usr/local/cuda"
    for d in SEARCH_DIRS:
        path = Path(d.format(CUDA_HOME=home)) / name
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


def judge(log_text: str, child_error: str, seconds: float) -> SanitizeResult:
    """The verdict of one run from memcheck's output and the child's own error."""
    report = parse(log_text)
    reason = report.reason()
    tail = log_text[-LOG_TAIL_CHARS:]
    if reason:
        return SanitizeResult(SanitizeStatus.OUT_OF_BOUNDS, reason, seconds, report, tail)
    if child_error:
        return SanitizeResult(SanitizeStatus.FAILED, child_error, seconds, report, tail)
    if not report.complete:
        return SanitizeResult(SanitizeStatus.FAILED, "memcheck printed no error summary",
                              seconds, report, tail)
    return SanitizeResult(SanitizeStatus.CLEAN, "", seconds, report, tail)


class Sanitizer:
    """Runs the memcheck child for one target (`run`); ``runner``: `subprocess.run` or a fake."""

    def __init__(
        self,
        settings: SanitizerSettings = SanitizerSettings(),
        *,
        env: Mapping[str, str] | None = None,
        runner: Runner | None = None,
    ) -> None:
        self.settings = settings
        self._env = dict(env or {})
        self._run = runner or subprocess.run
        self._exe: str | None = None

    def available(self) -> str | None:
        """Why the check cannot run here, or None."""
        self._exe = find_executable(self.settings.executable)
        if self._exe is None:
            return (f"{self.settings.executable!r} (NVIDIA Compute Sanitizer) was not found on "
                    "PATH or in $CUDA_HOME/bin")
        return None

    def run(self, target: ProbeTarget) -> SanitizeResult:
        t0 = time.monotonic()
        if target.device != "cuda":
            return SanitizeResult(SanitizeStatus.SKIPPED, "it needs a CUDA device")
        why = self.available() if self._exe is None else None
        if why or self._exe is None:
            return SanitizeResult(SanitizeStatus.SKIPPED, why or "")
        with tempfile.TemporaryDirectory(prefix="kb-sanitize-") as tmp:
            spec, result = write_spec(Path(tmp), target, warmup=1)
            log = Path(tmp) / "memcheck.log"
            cmd = build_command(self._exe, str(spec), str(log), self.settings.print_limit,
                                self.settings.extra_args)
            try:  # the probe child, sandboxed in its fresh folder like the worker
                proc = self._run(cmd, capture_output=True, text=True, cwd=tmp,
                                 env=child_env("cuda", {**self._env, **NO_CACHING}, tmp),
                                 timeout=self.settings.timeout_s, check=False)
                out = (proc.stdout or "") + "\n" + (proc.stderr or "")
            except subprocess.TimeoutExpired:
                text = log.read_text(errors="replace") if log.is_file() else ""
                res = judge(text, f"timed out after {self.settings.timeout_s:g} s",
                            time.monotonic() - t0)
                return res
            except OSError as e:
                return SanitizeResult(SanitizeStatus.FAILED, f"cannot start it: {e}")
            text = log.read_text(errors="replace") if log.is_file() else out
            error, _ = read_result(result)
            return judge(text, error, time.monotonic() - t0)


class SanitizeCheck:
    """The policy: which ``ok`` measurements are checked, and what a verdict does to them."""

    def __init__(
        self, mode: str, sanitizer: Sanitizer, say: Callable[[str], None] = print
    ) -> None:
        self.mode = check_mode(mode)
        self.sanitizer = sanitizer
        self._say = say
        self._said: set[str] = set()
        self._bar = BestSoFar(float("-inf"))  # per task: the best speedup that stood

    def wanted(self, task: Task, m: Measurement) -> bool:
        if self.mode == "off" or not m.ok:
            return False
        return self.mode == "always" or self._bar.beats(task, m)

    def trusted(self, task: Task, m: Measurement) -> None:
        """``m`` is the task's reference: not checked, but its speedup is the bar."""
        if m.ok:
            self._bar.stood(task, m)

    def apply(self, m: Measurement, task: Task, shape: Task, source: str, device: str
              ) -> Measurement:
        """``m`` checked when the policy wants it: rejected on a memory error, else kept
        (with the check's seconds in its diagnostics)."""
        if not self.wanted(task, m):
            return m
        res = self.sanitizer.run(ProbeTarget(shape, source, device))
        if res.status is SanitizeStatus.OUT_OF_BOUNDS:
            diag = replace(m.diagnostics, sanitizer_s=res.seconds, sanitizer_errors=float(
                max(res.report.total or 0, len(res.report.errors)) if res.report else 1))
            why = trim(f"{res.text} at size {shape.size}")
            return replace(m, status=Status.REJECTED, error=why, diagnostics=diag)
        self._bar.stood(task, m)
        if res.status is SanitizeStatus.SKIPPED:
            self.say_once(res.text, f"out-of-bounds check skipped: {res.text}")
            return m
        if res.status is SanitizeStatus.FAILED:
            self.say_once(res.text, f"out-of-bounds check inconclusive: {trim(res.text, 300)}")
        clean = 1.0 if res.status is SanitizeStatus.CLEAN else None
        diag = replace(m.diagnostics, sanitizer_s=res.seconds, sanitizer_errors=0.0 if clean
                       else None)
        return replace(m, diagnostics=diag)

    def say_once(self, key: str, line: str) -> None:
        if key not in self._said:
            self._said.add(key)
            self._say(line)
