"""Hardware-aware settings and a whole run with probes selected but no profiler usable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bandit.hardware import HardwareSettings
from experiments.settings import PROBE_KEYS, TuneSettings
from profiling.probes.registry import ProbeSettings
from tests.experiments.test_tune import CONF, _plain, app, compose_cfg


def test_probe_presets_and_policy_keys_are_typed() -> None:
    for option in ("none", "ncu"):
        assert set(yaml.safe_load((CONF / "probe" / f"{option}.yaml").read_text())) == set(
            PROBE_KEYS)
    s = TuneSettings.from_plain(_plain(compose_cfg()))
    assert s.probe == ProbeSettings() and s.hardware == HardwareSettings()
    assert "clusters" not in s.policy.options  # the tuner's keys, not the policy's
    s = TuneSettings.from_plain(_plain(compose_cfg(
        "probe=ncu", "probe.every_candidate=true", "policy.clusters=3",
        "budget.stop_at_roofline=0.9", "policy.saturation.dram=0.7")))
    assert s.probe.names == ("ncu", "triton") and s.probe.every_candidate
    assert s.hardware.clusters == 3 and s.hardware.saturation["dram"] == 0.7
    assert s.budget.stop_at_roofline == 0.9


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (("probe.names=[perf]",), "unknown probe 'perf'"),
        (("policy.masks=[magic]",), "unknown mask 'magic'"),
        (("policy.clusters=0",), "policy.clusters must be >= 1"),
        (("policy.saturation.dram=80",), "mask threshold for 'dram' must be in (0, 1]"),
        (("budget.stop_at_roofline=2",), "stop_at_roofline must be in (0, 1]"),
    ],
)
def test_bad_hardware_settings_are_one_line_exit_2(tmp_path: Path, overrides, message) -> None:
    code, _, err = app(tmp_path / "run", "device=interpret", "tracking=none", *overrides)
    assert code == 2 and message in err and "Traceback" not in err


def test_a_run_with_probes_selected_and_no_profiler_usable(tmp_path: Path) -> None:
    """On this CPU host ncu cannot profile: the run says so once, masks nothing, finishes."""
    code, _, err = app(
        tmp_path / "run", "device=interpret", "task.size=smoke", "budget.iterations=3",
        "tracking=none", "probe=ncu", "policy.clusters=2",
    )
    assert code == 0, err
    assert err.count("hardware probes are off") == 1
    lines = [json.loads(x) for x in (tmp_path / "run" / "runlog.jsonl").read_text().splitlines()]
    its = [x["record"] for x in lines if x["type"] == "iteration"]
    assert len(its) == 3 and all(r["masks"] == [] for r in its)
    cands = [x for x in lines if x["type"] == "candidate"]
    assert all(c["measurement"]["counters"] is None for c in cands)


def test_profiling_line_and_clusterer_choice() -> None:
    from bandit.hardware import HardwareView, Profiled
    from experiments.hardware import clusterer, profiling_line

    assert clusterer(HardwareSettings(clusters=1), 0) is None
    assert clusterer(HardwareSettings(clusters=3), 0) is not None
    view = HardwareView(lambda cid, src, ref: Profiled(None, 1.0))
    view.ensure("k", "s")
    assert profiling_line(view) == "hardware profiling: 0 kernels, 1.0 s"
