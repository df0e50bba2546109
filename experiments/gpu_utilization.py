"""GPU utilization over a stretch of work, sampled from NVML, so idle GPUs are visible.

`UtilizationSampler` is a context manager: a background thread reads each GPU's
utilization (NVML's "percent of time a kernel was running" over the last sample
period) every ``interval_s`` until the block ends. Readers are injectable: NVML
through ``pynvml`` when it is installed, else ``nvidia-smi``, else none (the
summary then says "unavailable", never fails). A reader the sampler opens itself
(a `Source`) is closed when the block ends: NVML is shut down (``nvmlShutdown``).
"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

Reader = Callable[[Sequence[str]], dict[str, float]]  # GPU id -> utilization %


def _nothing() -> None:
    """Nothing to release."""


@dataclass(frozen=True)
class Source:
    """A reader and what releases it (called once, when the sampler that opened it stops)."""

    read: Reader
    close: Callable[[], None] = _nothing


@dataclass(frozen=True)
class GpuUtilization:
    gpu: str
    samples: int
    mean_pct: float  # mean utilization over the stretch
    idle_pct: float  # share of samples with utilization under 5 %


def nvml_source(lib: Any | None = None) -> Source | None:
    """Utilization through NVML (`lib`, default ``pynvml``), initialised here and shut down
    by the source's ``close``; None when pynvml or the driver is missing."""
    try:
        nvml = lib if lib is not None else importlib.import_module("pynvml")
        nvml.nvmlInit()
    except Exception:  # not installed, or no driver: the caller tries nvidia-smi
        return None
    closed = threading.Event()

    def read(gpus: Sequence[str]) -> dict[str, float]:
        out = {}
        for g in gpus:
            h = nvml.nvmlDeviceGetHandleByIndex(int(g))
            out[g] = float(nvml.nvmlDeviceGetUtilizationRates(h).gpu)
        return out

    def close() -> None:
        if closed.is_set():
            return
        closed.set()
        with suppress(Exception):  # a failing shutdown never fails the benchmark
            nvml.nvmlShutdown()

    return Source(read, close)


def smi_source(exe: str = "nvidia-smi") -> Source | None:
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

    return Source(read)


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


def default_source() -> Source | None:
    return nvml_source() or smi_source()


class UtilizationSampler:
    """Samples every GPU in `gpus` while the block runs; `summary()` after it.

    `reader`: a caller's reader (the caller releases it); without one the sampler opens
    ``opener()`` (NVML, else nvidia-smi) on entering the block and closes it on leaving."""

    IDLE_BELOW = 5.0

    def __init__(self, gpus: Sequence[str], interval_s: float = 0.25,
                 reader: Reader | None = None,
                 opener: Callable[[], Source | None] = default_source) -> None:
        self.gpus = list(gpus)
        self.interval_s = interval_s
        self.reader = reader
        self.samples: dict[str, list[float]] = {g: [] for g in self.gpus}
        self.error = ""
        self._opener = opener
        self._opened: Source | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> UtilizationSampler:
        if self.reader is None and self.gpus:
            self._opened = self._opener()
            self.reader = self._opened.read if self._opened is not None else None
        if self.reader is not None and self.gpus:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="kb-gpu-util", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop sampling and release what the sampler opened (NVML: ``nvmlShutdown``);
        safe to call twice."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._opened is not None:
            opened, self._opened = self._opened, None
            self.reader = None
            opened.close()

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
