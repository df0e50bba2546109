"""GPU utilization over a stretch of work, sampled from NVML, so idle GPUs are visible.

`UtilizationSampler` is a context manager: a background thread reads each GPU's
utilization (NVML's "percent of time a kernel was running" over the last sample
period) every ``interval_s`` until the block ends. Readers are injectable: NVML
through ``pynvml`` when it is installed, else ``nvidia-smi``, else none (the
summary then says "unavailable", never fails).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Reader = Callable[[Sequence[str]], dict[str, float]]  # GPU id -> utilization %


@dataclass(frozen=True)
class GpuUtilization:
    gpu: str
    samples: int
    mean_pct: float  # mean utilization over the stretch
    idle_pct: float  # share of samples with utilization under 5 %


def nvml_reader() -> Reader | None:
    """Utilization through pynvml; None when pynvml or the driver is missing."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # not installed, or no driver: the caller tries nvidia-smi
        return None

    def read(gpus: Sequence[str]) -> dict[str, float]:
        out = {}
        for g in gpus:
            h = pynvml.nvmlDeviceGetHandleByIndex(int(g))
            out[g] = float(pynvml.nvmlDeviceGetUtilizationRates(h).gpu)
        return out

    return read


def smi_reader(exe: str = "nvidia-smi") -> Reader | None:
    """Utilization through ``nvidia-smi --query-gpu``; None when it is not installed."""
    path = shutil.which(exe)
    if path is None:
        return None

    def read(gpus: Sequence[str]) -> dict[str, float]:
        text = subprocess.run(
            [path, "--query-gpu=index,utilization.gpu", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout
        return parse_smi(text, gpus)

    return read


def parse_smi(text: str, gpus: Sequence[str]) -> dict[str, float]:
    """``0, 87`` lines -> {"0": 87.0} for the GPUs asked for."""
    out = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 2 and parts[0] in gpus:
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:  # "[N/A]"
                continue
    return out


def default_reader() -> Reader | None:
    return nvml_reader() or smi_reader()


class UtilizationSampler:
    """Samples every GPU in `gpus` while the block runs; `summary()` after it."""

    IDLE_BELOW = 5.0

    def __init__(self, gpus: Sequence[str], interval_s: float = 0.25,
                 reader: Reader | None = None) -> None:
        self.gpus = list(gpus)
        self.interval_s = interval_s
        self.reader = reader if reader is not None else (default_reader() if gpus else None)
        self.samples: dict[str, list[float]] = {g: [] for g in self.gpus}
        self.error = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> UtilizationSampler:
        if self.reader is not None and self.gpus:
            self._thread = threading.Thread(target=self._loop, name="kb-gpu-util", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        assert self.reader is not None
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                for g, v in self.reader(self.gpus).items():
                    self.samples[g].append(v)
            except Exception as e:  # a failing reader ends sampling, never the benchmark
                self.error = f"{type(e).__name__}: {e}"
                return
            self._stop.wait(max(self.interval_s - (time.monotonic() - t0), 0.0))

    def summary(self) -> list[GpuUtilization]:
        out = []
        for g in self.gpus:
            s = self.samples[g]
            if s:
                idle = sum(v < self.IDLE_BELOW for v in s) / len(s)
                out.append(GpuUtilization(g, len(s), sum(s) / len(s), 100.0 * idle))
        return out

    def describe(self) -> str:
        """``gpu0 87% (idle 6%), gpu1 85% (idle 9%)``, or why there is nothing."""
        rows = self.summary()
        if not rows:
            return "unavailable" + (f" ({self.error})" if self.error else "")
        return ", ".join(f"gpu{r.gpu} {r.mean_pct:.0f}% (idle {r.idle_pct:.0f}%)" for r in rows)
