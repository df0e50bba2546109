from __future__ import annotations

import types
from dataclasses import dataclass
from typing import ClassVar

import pytest

from experiments import TASKS_DIR
from profiling.probes.base import BaseProbe, ForwardRun, ProbeRecord, ProbeSet, ProbeTarget
from profiling.probes.compiled import TritonProbe, compiled_stats
from profiling.probes.nvml import NvmlProbe
from profiling.probes.registry import ProbeSettings, make_probes
from profiling.probes.testing import check_probe
from profiling.tasks import load_task


def _run(forward=None, module=None) -> ForwardRun:  # type: ignore[no-untyped-def]
    return ForwardRun(ProbeTarget(load_task("softmax", "smoke", tasks_dir=TASKS_DIR), "x = 1\n"), forward, module)


@dataclass
class _Util:
    gpu: int
    memory: int


class FakeNvml:
    """The slice of pynvml the probe uses; energy advances when the forward runs."""

    NVML_CLOCK_SM = 1

    def __init__(self, fail_init: bool = False) -> None:
        self.fail_init, self.energy_mj, self.shutdowns = fail_init, 1_000_000, 0

    def nvmlInit(self) -> None:
        if self.fail_init:
            raise RuntimeError("NVML_ERROR_DRIVER_NOT_LOADED")

    def nvmlDeviceGetHandleByIndex(self, i: int) -> str:
        return f"gpu{i}"

    def nvmlDeviceGetTotalEnergyConsumption(self, h: str) -> int:
        return self.energy_mj

    def nvmlDeviceGetPowerUsage(self, h: str) -> int:
        return 350_000

    def nvmlDeviceGetClockInfo(self, h: str, kind: int) -> int:
        assert kind == self.NVML_CLOCK_SM
        return 1980

    def nvmlDeviceGetUtilizationRates(self, h: str) -> _Util:
        return _Util(97, 64)

    def nvmlShutdown(self) -> None:
        self.shutdowns += 1


def test_nvml_probe_reads_around_the_forward() -> None:
    lib = FakeNvml()
    calls: list[int] = []

    def forward() -> None:
        calls.append(1)
        lib.energy_mj += 5  # too short a forward for energy: instantaneous power is used

    rec = check_probe(NvmlProbe(lib=lib), _run(forward))
    assert calls == [1]
    assert rec is not None and rec.power is not None
    assert rec.power.power_w == pytest.approx(350.0)
    assert rec.power.sm_clock_mhz == 1980.0 and rec.power.gpu_util_pct == 97.0
    assert lib.shutdowns == 1  # close() twice shuts NVML down once


def test_nvml_unusable_is_a_reason_not_an_error() -> None:
    said: list[str] = []
    probes = ProbeSet([NvmlProbe(lib=FakeNvml(fail_init=True))], say=said.append)
    assert probes.collect(_run()) == ()
    assert "NVML_ERROR_DRIVER_NOT_LOADED" in said[0]
    check_probe(NvmlProbe(lib=FakeNvml(fail_init=True)), _run())


def test_triton_probe_without_compiled_kernels_says_why() -> None:
    mod = types.ModuleType("cand")
    rec = check_probe(TritonProbe(), _run(module=mod))
    assert rec is not None and rec.compiled is None and "Triton" in rec.note
    stats = compiled_stats({"n_regs": 40.0, "n_spills": 0.0, "shared": 0.0, "num_warps": 4.0})
    assert stats is not None and stats.block_size == 128 and stats.n_regs == 40
    assert compiled_stats({}) is None


class Exploding(BaseProbe):
    name: ClassVar[str] = "exploding"

    def stop(self, run: ForwardRun) -> ProbeRecord:
        raise RuntimeError("driver went away")


def test_probe_set_contains_a_failing_probe() -> None:
    said: list[str] = []
    (rec,) = ProbeSet([Exploding()], say=said.append).collect(_run())
    assert rec.empty and "driver went away" in rec.note and said


def test_probe_set_selects_by_where_it_runs() -> None:
    probes = make_probes(ProbeSettings(names=("ncu", "triton")), say=lambda s: None)
    assert [p.name for p in probes.usable(in_process=True)] == ["triton"]
    with pytest.raises(ValueError, match="unknown probe 'perf'"):
        ProbeSettings(names=("perf",))
