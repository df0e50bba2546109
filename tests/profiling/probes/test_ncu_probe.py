from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments import TASKS_DIR
from profiling.probes.base import ForwardRun, ProbeSet, ProbeTarget
from profiling.probes.ncu import NcuProbe, NcuSettings, build_command
from profiling.probes.testing import check_probe
from profiling.tasks import load_task
from tests.profiling.probes.ncu_fakes import install_fake_ncu, raw_csv

ROWS = [
    ("_rowwise_kernel", {"gpu__time_duration.sum": 40000, "dram__throughput.avg.pct_of_peak_sustained_elapsed": 85.0,
                         "sm__throughput.avg.pct_of_peak_sustained_elapsed": 30.0,
                         "launch__registers_per_thread": 38}),
    ("void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<float>>",
     {"gpu__time_duration.sum": 2000, "dram__throughput.avg.pct_of_peak_sustained_elapsed": 50.0}),
]


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    ncu = install_fake_ncu(tmp_path)
    csv_path = tmp_path / "report.csv"
    csv_path.write_text(raw_csv(ROWS))
    argv = tmp_path / "argv.jsonl"
    monkeypatch.setenv("FAKE_NCU_CSV", str(csv_path))
    monkeypatch.setenv("FAKE_NCU_ARGV", str(argv))
    return {"ncu": ncu, "argv": argv}


def _run(source: str = "ModelNew = None\n", reference: bool = False) -> ForwardRun:
    task = load_task("softmax", "smoke", tasks_dir=TASKS_DIR)
    return ForwardRun(ProbeTarget(task, source, "cuda", reference=reference))


def _calls(argv: Path) -> list[list[str]]:
    return [json.loads(ln) for ln in argv.read_text().splitlines()] if argv.exists() else []


def test_profiles_one_forward_and_caches_by_source(fake: dict[str, Path]) -> None:
    probe = NcuProbe(NcuSettings(executable=str(fake["ncu"])))
    rec = check_probe(probe, _run("# kernel A\n"))
    assert rec is not None and rec.counters is not None and not rec.note
    c = rec.counters
    assert c.launches == 1 and c.excluded_launches == 1  # torch's fill left out
    assert c.dram_pct == 85.0 and c.registers == 38 and c.duration_ns == 40000.0
    assert rec.seconds > 0
    again = probe.collect(_run("# kernel A\n"))
    assert again.cached and again.counters == c
    (cmd,) = _calls(fake["argv"])
    assert cmd[cmd.index("--profile-from-start") + 1] == "off"
    assert cmd[cmd.index("--page") + 1] == "raw" and "--csv" in cmd
    assert cmd[-3:-1] == ["-m", "profiling.probes.child"]
    probe.collect(_run("# kernel B\n"))
    assert len(_calls(fake["argv"])) == 2


def test_reference_keeps_torch_kernels(fake: dict[str, Path]) -> None:
    rec = NcuProbe(NcuSettings(executable=str(fake["ncu"]))).collect(_run(reference=True))
    assert rec.counters is not None and rec.counters.launches == 2


def test_not_permitted_is_said_once_and_turns_the_probe_off(
    fake: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NCU_MODE", "denied")
    said: list[str] = []
    probes = ProbeSet([NcuProbe(NcuSettings(executable=str(fake["ncu"])))], say=said.append)
    first = probes.collect(_run("# a\n"))
    assert first[0].counters is None and "ERR_NVGPUCTRPERM" in first[0].note
    assert probes.collect(_run("# b\n")) == ()  # off: not even started
    assert len(said) == 2 and all("ERR_NVGPUCTRPERM" in s for s in said)
    assert len(_calls(fake["argv"])) == 1


def test_missing_ncu_is_said_once(tmp_path: Path) -> None:
    said: list[str] = []
    probes = ProbeSet([NcuProbe(NcuSettings(executable=str(tmp_path / "no-ncu")))], say=said.append)
    assert probes.collect(_run()) == () and probes.collect(_run()) == ()
    assert len(said) == 1 and "not on PATH" in said[0]


def test_unknown_metric_is_dropped_and_retried(
    fake: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NCU_MODE", "unknown")
    metrics = ("gpu__time_duration.sum", "bogus__metric.sum",
               "dram__throughput.avg.pct_of_peak_sustained_elapsed")
    probe = NcuProbe(NcuSettings(executable=str(fake["ncu"]), metrics=metrics))
    rec = probe.collect(_run())
    assert rec.counters is not None and rec.counters.dram_pct == 85.0
    calls = _calls(fake["argv"])
    assert len(calls) == 2
    assert "bogus__metric.sum" not in calls[1][calls[1].index("--metrics") + 1]


def test_child_failure_and_timeout_give_a_note_not_an_error(
    fake: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NCU_MODE", "child_fail")
    rec = check_probe(NcuProbe(NcuSettings(executable=str(fake["ncu"]))), _run())
    assert rec is not None and rec.counters is None and "RuntimeError: boom" in rec.note
    monkeypatch.setenv("FAKE_NCU_MODE", "hang")
    rec = NcuProbe(NcuSettings(executable=str(fake["ncu"]), timeout_s=1.0)).collect(_run())
    assert rec.counters is None and "timed out" in rec.note


def test_interpreter_device_gets_no_counters(fake: dict[str, Path]) -> None:
    task = load_task("softmax", "smoke", tasks_dir=TASKS_DIR)
    rec = NcuProbe(NcuSettings(executable=str(fake["ncu"]))).collect(
        ForwardRun(ProbeTarget(task, "x = 1\n", "interpret"))
    )
    assert rec.counters is None and "CUDA" in rec.note
    assert _calls(fake["argv"]) == []


def test_build_command_shape() -> None:
    cmd = build_command("ncu", "/s.json", "/l.csv", ["a.sum", "b.pct"], ("--clock-control", "none"))
    assert cmd[0] == "ncu" and cmd[cmd.index("--metrics") + 1] == "a.sum,b.pct"
    assert cmd[cmd.index("--log-file") + 1] == "/l.csv"
    assert "--clock-control" in cmd and cmd[-1] == "/s.json"


def test_the_child_gets_the_workers_pinned_gpu(
    fake: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NCU_ENV", str(tmp_path / "env"))
    NcuProbe(NcuSettings(executable=str(fake["ncu"])), env={"CUDA_VISIBLE_DEVICES": "3"}).collect(
        _run())
    assert (tmp_path / "env").read_text().split() == ["3"]
