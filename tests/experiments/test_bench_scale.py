"""bench_scale: its table on the interpreter (a CPU dry run of the GPU benchmark)."""

from __future__ import annotations

import json

import pytest

from experiments import TASKS_DIR
from experiments.bench_scale import kernels, main
from profiling.tasks import load_task


def test_throughput_kernels_are_distinct_and_not_the_reference():
    task = load_task("softmax", "smoke", TASKS_DIR)
    pool = kernels(task, "interpret", 20)
    assert len(pool) == len(set(pool)) == 20


def test_bad_arguments_are_one_line(capsys):
    assert main(["--batches", "0,4", "--device", "interpret"]) == 2
    assert main(["--task", "nope", "--device", "interpret"]) == 2
    assert main(["--tasks", "softmax,nope", "--device", "interpret"]) == 2
    assert main(["--throughput", "-1", "--device", "interpret"]) == 2
    assert capsys.readouterr().err.count("error:") == 4


def test_throughput_zero_and_no_batches_measure_nothing(tmp_path):
    out = tmp_path / "scale.json"
    assert main(["--device", "interpret", "--size", "smoke", "--throughput", "0", "--batches", "",
                 "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["throughput"] == [] and data["runs"] == []


@pytest.mark.slow
def test_dry_run_on_the_interpreter(tmp_path, capsys):
    out = tmp_path / "scale.json"
    assert main(["--device", "interpret", "--size", "smoke", "--throughput", "2",
                 "--tasks", "softmax,gelu", "--iterations", "3", "--batches", "1,2",
                 "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["tasks"] == ["softmax", "gelu"] and data["run_task"] == "softmax"
    assert [r["workers"] for r in data["throughput"]] == [1]
    assert data["throughput"][0]["candidates"] == 4  # 2 kernels of each task in the mix
    assert data["throughput"][0]["per_minute"] > 0
    phases = data["throughput"][0]["phases"]
    assert phases.startswith("load ") and "trials " in phases and "timing " in phases
    assert phases.split(", ")[-1].startswith("other ")
    assert [(r["batch"], r["iterations"]) for r in data["runs"]] == [(1, 3), (2, 3)]
    assert all(r["best_speedup"] > 0 for r in data["runs"])
    assert "candidates evaluated per minute" in capsys.readouterr().out
