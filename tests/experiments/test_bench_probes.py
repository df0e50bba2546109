from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments import TASKS_DIR
from experiments.bench_probes import RECORDED_BEST, chain_source, main
from profiling.tasks import load_task
from strategies.offline.realizer import default_source


def test_recorded_chains_apply_through_the_offline_realizer() -> None:
    for name, chain in RECORDED_BEST.items():
        task = load_task(name, "smoke", tasks_dir=TASKS_DIR)
        source, done = chain_source(task, chain)
        assert done == chain, f"{name}: only {done} of {chain} applied"
        assert source != default_source(task)
    task = load_task("softmax", "smoke", tasks_dir=TASKS_DIR)
    assert chain_source(task, ("tiling/no_such_strategy",)) == (default_source(task), ())


def test_unknown_task_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--tasks", "no_such_task"]) == 2
    assert "unknown task" in capsys.readouterr().err


@pytest.mark.slow
def test_dry_run_on_the_interpreter_writes_json(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "probes.json"
    rc = main(["--tasks", "softmax", "--size", "smoke", "--device", "interpret",
               "--ncu", str(tmp_path / "no-ncu"), "--json", str(out)])
    assert rc == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["kernel"] for r in rows] == ["reference", "best: row_in_registers"]
    assert all(r["status"] == "ok" and r["launches"] is None for r in rows)
    text = capsys.readouterr().out
    assert "probe ncu is off" in text and "floor%" in text
