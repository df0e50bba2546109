"""The NVML probe: power, SM clock and utilization sampled around one forward.

Uses ``pynvml`` (the ``nvidia-ml-py`` package) when it is installed; without it
`available` says so and the run goes on without these readings. The library
object is injectable so the probe is tested against a fake NVML.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from profiling.probes.base import BaseProbe, ForwardRun, PowerSample, ProbeRecord


def _load_nvml() -> Any | None:
    try:
        import pynvml
    except ImportError:
        return None
    return pynvml


class NvmlProbe(BaseProbe):
    name: ClassVar[str] = "nvml"

    def __init__(self, device_index: int = 0, lib: Any | None = None) -> None:
        self.device_index = device_index
        self._lib = lib if lib is not None else _load_nvml()
        self._handle: Any = None
        self._error = ""
        self._energy0: float | None = None
        self._t0 = 0.0

    def available(self) -> str | None:
        if self._lib is None:
            return "pynvml (nvidia-ml-py) is not installed"
        if self._handle is None and not self._error:
            try:
                self._lib.nvmlInit()
                self._handle = self._lib.nvmlDeviceGetHandleByIndex(self.device_index)
            except Exception as e:
                self._error = f"NVML is not usable: {type(e).__name__}: {e}"
        return self._error or None

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._energy0 = self._read(lambda: self._lib.nvmlDeviceGetTotalEnergyConsumption(self._handle))

    def stop(self, run: ForwardRun) -> ProbeRecord:
        lib, h = self._lib, self._handle
        elapsed = time.monotonic() - self._t0
        energy1 = self._read(lambda: lib.nvmlDeviceGetTotalEnergyConsumption(h))
        power_mw = self._read(lambda: lib.nvmlDeviceGetPowerUsage(h))
        power = power_mw / 1e3 if power_mw is not None else None
        if self._energy0 is not None and energy1 is not None and elapsed > 0.01:
            power = (energy1 - self._energy0) / 1e3 / elapsed  # mJ over the forward
        clock = self._read(lambda: lib.nvmlDeviceGetClockInfo(h, lib.NVML_CLOCK_SM))
        util = self._read(lambda: lib.nvmlDeviceGetUtilizationRates(h))
        return ProbeRecord(
            self.name,
            power=PowerSample(
                power_w=power,
                sm_clock_mhz=None if clock is None else float(clock),
                gpu_util_pct=None if util is None else float(util.gpu),
                mem_util_pct=None if util is None else float(util.memory),
            ),
        )

    def close(self) -> None:
        if self._handle is not None:
            self._read(self._lib.nvmlShutdown)
            self._handle = None

    @staticmethod
    def _read(fn: Any) -> Any:
        try:
            return fn()
        except Exception:  # one unsupported query (e.g. energy on old boards) is not fatal
            return None
