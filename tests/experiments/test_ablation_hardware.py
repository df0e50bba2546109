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


@pytest.mark.parametrize("counters", [True, False])
def test_the_ablation_replays_committed_landscapes_on_a_cpu(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], counters: bool
) -> None:
    """`--replay DIR`: every config through the real tuner over the task's landscape, no
    GPU. Masks act only where the landscape carries counters (record_landscape --counters):
    hucb+hw then closes arms on DRAM-saturated parents; hucb never masks."""
    from experiments import TASKS_DIR
    from profiling.tasks import load_task
    from tests.fakes.landscapes import synthetic_landscape

    synthetic_landscape(load_task("softmax", None, TASKS_DIR), tmp_path / "softmax.jsonl",
                        depth=2, counters=counters)
    out = tmp_path / "table.json"
    assert main(["--replay", str(tmp_path), "--tasks", "softmax", "--seeds", "2",
                 "--iterations", "12", "--json", str(out)]) == 0
    rows = {r["config"]: r for r in json.loads(out.read_text())}
    assert set(rows) == {"hucb+hw", "hucb", "ucb", "random"}
    assert all(r["best_speedup_mean"] > 1.0 for r in rows.values())  # the landscape has faster kernels
    assert rows["hucb"]["masked_rounds"] == [0, 0] and rows["ucb"]["masked_rounds"] == [0, 0]
    if counters:
        assert sum(rows["hucb+hw"]["masked_rounds"]) > 0
    else:
        assert rows["hucb+hw"]["masked_rounds"] == [0, 0]
    text = capsys.readouterr().out
    assert "replayed" in text and "not recorded" in text


def test_replay_without_a_landscape_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--replay", str(tmp_path), "--tasks", "softmax"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and err.count("\n") == 1
