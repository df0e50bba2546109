"""experiments/bench_harness.py runs on the CPU through the interpreter."""

import json

import pytest

from experiments import TASKS_DIR, bench_harness
from profiling.tasks import bundled_task_names


@pytest.mark.skipif("softmax" not in bundled_task_names(TASKS_DIR), reason="bundled softmax task missing")
def test_bench_harness_interpreter_smoke(tmp_path, capsys):
    out = tmp_path / "bench.json"
    rc = bench_harness.main(
        [
            "--device",
            "interpret",
            "--size",
            "smoke",
            "--tasks",
            "softmax",
            "--trials",
            "2",
            "--json-out",
            str(out),
        ]
    )
    assert rc == 0
    data = json.loads(out.read_text())
    (row,) = data["rows"]
    assert (
        row["task"] == "softmax" and row["status"] == "ok" and row["timing_kind"] == "interpreter"
    )
    assert row["eager_ms"] > 0 and row["candidate_ms"] > 0 and row["repeat_ratio"] > 0
    assert row["wall_s"] < 30
    assert "harness benchmark" in capsys.readouterr().out


def test_bench_harness_unknown_task_is_exit_2(capsys):
    assert bench_harness.main(["--device", "interpret", "--tasks", "no_such_task"]) == 2
