from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments import TASKS_DIR
from experiments.bench_probes import chain_source, landscape_best, main
from profiling.tasks import load_task
from strategies.graph.realizer import initial_source


def test_the_landscape_best_rebuilds_to_its_recorded_kernel() -> None:
    """The best kernel of each committed landscape recorded with the templates (the
    KernelBench-style problems): its chain applies through the offline realizer and gives
    back the very source the landscape measured."""
    from experiments import LANDSCAPES_DIR
    from profiling.landscape import landscape_path, load_landscape, source_hash

    problems = Path(__file__).parents[1] / "strategies" / "kernelbench"
    found = 0
    for path in sorted(LANDSCAPES_DIR.glob("*@bench.jsonl")):
        task = load_task(str(problems / (path.name.split("@")[0] + ".py")), "bench", TASKS_DIR)
        chain = landscape_best(task)
        assert chain is not None, path.name  # each one holds a kernel faster than PyTorch
        land = load_landscape(landscape_path(LANDSCAPES_DIR, task.name, task.size))
        source, done = chain_source(task, chain)
        assert done == chain, f"{path.name}: only {done} of {chain} applied"
        assert chain and source_hash(source) in land
        found += 1
    assert found >= 5
    task = load_task("softmax", "smoke", tasks_dir=TASKS_DIR)
    assert chain_source(task, ("tiling/no_such_strategy",)) == (initial_source(task), ())


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
    assert len(rows) == 2 and rows[0]["kernel"] == "reference"
    assert rows[1]["kernel"].startswith("best: ")  # the fastest one-step variant on the CPU
    assert all(r["status"] == "ok" and r["launches"] is None for r in rows)
    text = capsys.readouterr().out
    assert "probe ncu is off" in text and "floor%" in text
