"""The GPU utilization sampler: a background reader over a stretch of work."""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace

import pytest

from experiments.gpu_utilization import UtilizationSampler, nvml_source, parse_smi


def test_parse_smi_keeps_the_gpus_asked_for_and_skips_unreadable_values():
    text = "0, 87\n1, 3\n2, [N/A]\n"
    assert parse_smi(text, ["0", "2"]) == {"0": 87.0}
    assert parse_smi(text, ["1"]) == {"1": 3.0}


def test_sampler_reports_mean_and_idle_share_per_gpu():
    values = iter([{"0": 100.0, "1": 0.0}, {"0": 50.0, "1": 0.0}, {"0": 0.0, "1": 80.0}])

    def reader(gpus):
        try:
            return next(values)
        except StopIteration:
            time.sleep(0.01)
            return {}

    with UtilizationSampler(["0", "1"], interval_s=0.001, reader=reader) as s:
        deadline = time.monotonic() + 5
        while sum(len(v) for v in s.samples.values()) < 6 and time.monotonic() < deadline:
            time.sleep(0.005)
    rows = {r.gpu: r for r in s.summary()}
    assert rows["0"].samples == 3 and rows["0"].mean_pct == 50.0
    assert round(rows["0"].idle_pct) == 33 and round(rows["1"].idle_pct) == 67
    assert s.describe() == "gpu0 50% (idle 33%), gpu1 27% (idle 67%)"


def test_no_reader_or_a_failing_reader_says_so_and_never_raises():
    with UtilizationSampler(["0"], reader=None) as s:
        s.reader = None
    assert s.describe() == "unavailable"

    def broken(gpus):
        raise RuntimeError("NVML gone")

    with UtilizationSampler(["0"], interval_s=0.001, reader=broken) as s:
        time.sleep(0.05)
    assert s.describe() == "unavailable (RuntimeError: NVML gone)"
    assert UtilizationSampler([]).describe() == "unavailable"


class FakeNvml:
    """The slice of pynvml the sampler uses: utilization per GPU, init/shutdown counted."""

    def __init__(self, util: dict[int, int], init_fails: bool = False,
                 shutdown_fails: bool = False) -> None:
        self.util, self.init_fails, self.shutdown_fails = util, init_fails, shutdown_fails
        self.inits = self.shutdowns = 0

    def nvmlInit(self) -> None:
        if self.init_fails:
            raise RuntimeError("NVML Shared Library Not Found")
        self.inits += 1

    def nvmlDeviceGetHandleByIndex(self, i: int) -> int:
        if self.shutdowns >= self.inits:
            raise RuntimeError("Uninitialized")
        return i

    def nvmlDeviceGetUtilizationRates(self, h: int) -> SimpleNamespace:
        return SimpleNamespace(gpu=self.util[h], memory=0)

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1
        if self.shutdown_fails:
            raise RuntimeError("shutdown failed")


def _wait_for_samples(s: UtilizationSampler, n: int) -> None:
    deadline = time.monotonic() + 5
    while sum(len(v) for v in s.samples.values()) < n and time.monotonic() < deadline:
        time.sleep(0.005)


def test_the_sampler_shuts_nvml_down_when_it_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a reader the sampler opens NVML (pynvml) on entering and shuts it down on
    leaving; bench_scale's `with UtilizationSampler(gpus) as util` is this path."""
    nvml = FakeNvml({0: 90, 1: 2})
    monkeypatch.setitem(sys.modules, "pynvml", nvml)
    sampler = UtilizationSampler(["0", "1"], interval_s=0.001)
    assert nvml.inits == 0  # nothing opened before the block
    with sampler as s:
        assert nvml.inits == 1 and nvml.shutdowns == 0
        _wait_for_samples(s, 4)
    assert nvml.shutdowns == 1
    rows = {r.gpu: r for r in s.summary()}
    assert rows["0"].mean_pct == 90.0 and rows["1"].idle_pct == 100.0
    assert s.error == ""  # no read after the shutdown
    s.close()
    assert nvml.shutdowns == 1  # closing twice shuts down once
    with sampler:  # a second block opens NVML again, and closes it again
        _wait_for_samples(sampler, len(rows) * 2 + 2)
    assert (nvml.inits, nvml.shutdowns) == (2, 2)


def test_a_callers_reader_is_not_closed_and_nvml_failures_never_raise() -> None:
    nvml = FakeNvml({0: 50})
    source = nvml_source(nvml)
    assert source is not None and nvml.inits == 1
    with UtilizationSampler(["0"], interval_s=0.001, reader=source.read) as s:
        _wait_for_samples(s, 2)
    assert nvml.shutdowns == 0  # the caller owns it
    source.close()
    source.close()
    assert nvml.shutdowns == 1
    assert nvml_source(FakeNvml({}, init_fails=True)) is None  # no driver: nvidia-smi next
    failing = FakeNvml({0: 50}, shutdown_fails=True)
    with UtilizationSampler(["0"], interval_s=0.001, opener=lambda: nvml_source(failing)) as s:
        _wait_for_samples(s, 1)
    assert failing.shutdowns == 1 and s.describe().startswith("gpu0 50%")
