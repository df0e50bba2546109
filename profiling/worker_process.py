"""One evaluation worker process seen from the parent: start, channel, log, kill.

The worker (:mod:`profiling.worker`) runs in its own process group with an
environment scrubbed of secrets (:mod:`profiling.envsafe`), a private scratch
folder (its ``TMPDIR``, candidate sources included, removed with it), its
stdout/stderr going to a private log file, and a private socket for the
protocol. `profiling.evaluator.WorkerEvaluator` decides when to start, reuse and
replace one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Mapping
from pathlib import Path

from profiling.channel import Channel, ChannelClosed, ChannelTimeout
from profiling.envsafe import safe_env
from profiling.errors import trim
from profiling.hardware import GpuFacts
from profiling.tasks import PROJECT_ROOT, SOURCE_DIR_ENV

STARTUP_TIMEOUT_S = 300.0  # importing torch + measuring GPU facts once; not charged to candidates
MAX_LOG_BYTES = 16 << 20  # the worker's stdout/stderr log is truncated beyond this


class WorkerStartError(RuntimeError):
    """The worker process could not be started (an environment problem, not a candidate's)."""


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def child_env(device: str, extra: Mapping[str, str], scratch: str) -> dict[str, str]:
    """The environment of every process that runs candidate code (the worker, the
    re-measure, probe and sanitizer children): the caller's minus secrets, ``extra``
    (also stripped of secrets) applied, temporary files and candidate sources in
    ``scratch``, this checkout first on ``PYTHONPATH``, the interpreter flag set or
    dropped for ``device``."""
    set_vars = {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", **safe_env(extra)}
    # candidate sources are written into the scratch folder, removed with it
    set_vars[SOURCE_DIR_ENV] = str(Path(scratch) / "src")
    # temporary files (Triton's ptxas inputs, candidate sources) stay in the scratch
    # folder; the Inductor cache stays shared between workers
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


def python_command(module: str, *args: str) -> list[str]:
    """``python -P -m module args``: the interpreter without the working directory on
    ``sys.path`` (a module a candidate writes there never shadows a library)."""
    return [sys.executable, *(["-P"] if sys.version_info >= (3, 11) else []), "-m", module, *args]


class WorkerProcess:
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
                    python_command(
                        "profiling.worker", "--fd", str(child_sock.fileno()), "--device", device
                    ),
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
        return child_env(device, extra, scratch)

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
