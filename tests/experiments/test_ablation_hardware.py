from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments.ablation_hardware import main, to_95


def test_iterations_to_95_percent() -> None:
    assert to_95([1.0, 1.5, 1.9, 2.0], 2.0) == 3
    assert to_95([1.0, 1.2], 2.0) is None


def test_bad_config_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--configs", "hucb,magic"]) == 2
    assert "unknown config 'magic'" in capsys.readouterr().err


@pytest.mark.slow
def test_interpreter_dry_run_records_and_replays_a_landscape(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    land, out = tmp_path / "land.json", tmp_path / "table.json"
    argv = ["--tasks", "softmax", "--size", "smoke", "--device", "interpret", "--seeds", "1",
            "--iterations", "2", "--configs", "hucb+hw,random", "--landscape", str(land),
            "--json", str(out)]
    assert main(argv) == 0
    rows = json.loads(out.read_text())
    assert [r["config"] for r in rows] == ["hucb+hw", "random"]
    assert all(r["best_speedup_mean"] > 0 for r in rows)
    recorded = json.loads(land.read_text())["softmax:smoke"]
    assert len(recorded) >= 2  # the reference and at least one kernel
    capsys.readouterr()
    assert main(argv) == 0  # the second time every kernel comes from the landscape
    assert "softmax: 0 kernels measured" in capsys.readouterr().out
    assert json.loads(out.read_text()) == rows
