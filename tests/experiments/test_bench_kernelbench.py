"""experiments.bench_kernelbench: summary arithmetic, table, argument errors."""

from __future__ import annotations

import math

import pytest

from experiments.bench_kernelbench import geomean, main, render, templates, totals
from tests.strategies.test_graph_realizer import PROBLEMS


def test_geomean_ignores_missing_values() -> None:
    assert math.isclose(geomean([2.0, 8.0, None, 0.0]), 4.0)
    assert geomean([]) is None


def test_totals_count_coverage_and_geomeans() -> None:
    rows = [
        {"task": "a", "status": "ok", "generated_ok": True, "x_eager": 2.0, "x_compile": 0.5},
        {"task": "b", "status": "ok", "generated_ok": True, "x_eager": 8.0, "x_compile": None},
        {"task": "c", "status": "no run", "generated_ok": False},
    ]
    t = totals(rows)
    assert t["problems"] == 3 and math.isclose(t["coverage"], 2 / 3)
    assert math.isclose(t["geomean_x_eager"], 4.0) and math.isclose(t["geomean_x_compile"], 0.5)
    assert render([{**r, "wall_s": 1.0} for r in rows]).row_count == 3


def test_templates_column_names_the_classes_or_the_refusal() -> None:
    assert templates(PROBLEMS / "13_softmax.py", None).startswith("reduction(")
    assert templates(PROBLEMS / "45_lone_conv.py", None).startswith("refused:")


def test_missing_directory_is_a_one_line_error(tmp_path, capsys) -> None:
    assert main([str(tmp_path / "nope"), "--device", "interpret"]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert main([str(tmp_path), "--device", "interpret"]) == 2


def test_a_k_v_size_reaches_the_tune_app_as_one_hydra_value(tmp_path, monkeypatch) -> None:
    """`--size batch_size=4,dim=8` goes to every run as one quoted `task.size` override that
    Hydra parses back to exactly that string (unquoted, Hydra rejects the `=`)."""
    import argparse
    import subprocess
    from pathlib import Path

    from hydra.core.override_parser.overrides_parser import OverridesParser

    import experiments.bench_kernelbench as bk

    seen = []

    def fake_run(cmd, **kwargs):
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(bk.subprocess, "run", fake_run)
    args = argparse.Namespace(
        out=tmp_path, policy="hucb", iterations=2, device="interpret", seed=0, realizer="offline"
    )
    bk.run_problem(
        Path("tests/strategies/kernelbench/01_relu.py"), args, "batch_size=4,dim=8", None, []
    )
    size = [a for a in seen[0] if a.startswith("task.size=")]
    parsed = OverridesParser.create().parse_overrides(size)
    assert parsed[0].key_or_group == "task.size" and parsed[0].value() == "batch_size=4,dim=8"


def test_resume_keeps_earlier_rows_and_runs_only_the_others(tmp_path, monkeypatch) -> None:
    import json
    import shutil

    import experiments.bench_kernelbench as bk

    for name in ("01_relu.py", "13_softmax.py"):
        shutil.copy(PROBLEMS / name, tmp_path / name)
    out = tmp_path / "rows.json"
    earlier = {
        "task": "01_relu",
        "status": "ok",
        "generated_ok": True,
        "x_eager": 2.0,
        "wall_s": 3.0,
    }
    out.write_text(json.dumps({"rows": [earlier], "totals": {}}))
    ran = []
    monkeypatch.setattr(bk, "run_problem", lambda path, *a: ran.append(path.stem) or 1.0)
    monkeypatch.setattr(
        bk,
        "summarize",
        lambda task, folder, wall: {
            "task": task,
            "status": "ok",
            "correct": 3,
            "x_eager": 8.0,
            "wall_s": wall,
        },
    )
    assert (
        main([str(tmp_path), "--json", str(out), "--resume", "--out", str(tmp_path / "runs")]) == 0
    )
    assert ran == ["13_softmax"]
    data = json.loads(out.read_text())
    assert [r["task"] for r in data["rows"]] == ["01_relu", "13_softmax"]
    assert data["rows"][0] == earlier
    assert math.isclose(data["totals"]["geomean_x_eager"], 4.0)


def test_resume_needs_a_readable_json(tmp_path, capsys) -> None:
    assert main([str(PROBLEMS), "--resume"]) == 2
    assert "--resume needs --json" in capsys.readouterr().err
    bad = tmp_path / "rows.json"
    bad.write_text("{not json")
    assert main([str(PROBLEMS), "--resume", "--json", str(bad)]) == 2
    assert "cannot resume from" in capsys.readouterr().err


def test_hydra_overrides_may_follow_the_options(tmp_path, monkeypatch) -> None:
    import shutil

    import experiments.bench_kernelbench as bk

    shutil.copy(PROBLEMS / "01_relu.py", tmp_path / "01_relu.py")
    seen = []
    monkeypatch.setattr(bk, "run_problem", lambda path, args, size, gpu, extra, cpus: seen.append(extra))
    monkeypatch.setattr(bk, "summarize", lambda task, folder, wall: {"task": task, "wall_s": 0.0})
    argv = [str(tmp_path), "--iterations", "2", "device.rep_ms=50", "--out", str(tmp_path / "r"),
            "device.trials=3"]  # fmt: skip
    assert main(argv) == 0
    assert seen == [["device.rep_ms=50", "device.trials=3"]]


def test_only_runs_the_named_problems_in_the_order_given(tmp_path, monkeypatch) -> None:
    import shutil

    import experiments.bench_kernelbench as bk

    for name in ("01_relu.py", "13_softmax.py", "26_mse.py"):
        shutil.copy(PROBLEMS / name, tmp_path / name)
    ran = []
    monkeypatch.setattr(bk, "run_problem", lambda path, *a: ran.append(path.stem) or 1.0)
    monkeypatch.setattr(bk, "summarize", lambda task, folder, wall: {"task": task, "wall_s": wall})
    argv = [str(tmp_path), "--only", "26_mse,01_relu", "--out", str(tmp_path / "r")]
    assert main(argv) == 0
    assert ran == ["26_mse", "01_relu"]


def test_resume_runs_again_a_row_searched_with_other_settings(tmp_path, monkeypatch, capsys):
    """Rows record their search settings; resuming a 40-iteration table from a file with a
    10-iteration row runs that problem again, while a row from an older file (no settings)
    and one that differs only in Hydra overrides (timing repetitions) are kept."""
    import json
    import shutil

    import experiments.bench_kernelbench as bk

    for name in ("01_relu.py", "13_softmax.py", "14_log_softmax.py"):
        shutil.copy(PROBLEMS / name, tmp_path / name)
    same = {"iterations": 40, "policy": "hucb", "seed": 0, "realizer": "offline",
            "device": "interpret", "size": None, "overrides": ["device.rep_ms=50"]}  # fmt: skip
    rows = [
        {"task": "01_relu", "status": "ok", "x_eager": 2.0, "wall_s": 1.0},  # older file
        {"task": "13_softmax", "status": "ok", "x_eager": 2.0, "wall_s": 1.0,
         "run": {**same, "iterations": 10}},
        {"task": "14_log_softmax", "status": "ok", "x_eager": 2.0, "wall_s": 1.0, "run": same},
    ]  # fmt: skip
    out = tmp_path / "rows.json"
    out.write_text(json.dumps({"rows": rows, "totals": {}}))
    ran = []
    monkeypatch.setattr(bk, "run_problem", lambda path, *a: ran.append(path.stem) or 1.0)
    monkeypatch.setattr(bk, "summarize", lambda task, folder, wall: {
        "task": task, "status": "ok", "correct": 3, "x_eager": 8.0, "wall_s": wall})  # fmt: skip
    argv = [str(tmp_path), "--json", str(out), "--resume", "--iterations", "40", "--device",
            "interpret", "--out", str(tmp_path / "runs")]  # fmt: skip
    assert main(argv) == 0
    assert ran == ["13_softmax"]
    assert "13_softmax runs again (its row was searched with iterations 10 != 40)" in (
        capsys.readouterr().out)
    data = {r["task"]: r for r in json.loads(out.read_text())["rows"]}
    assert sorted(data) == ["01_relu", "13_softmax", "14_log_softmax"]
    assert data["13_softmax"]["x_eager"] == 8.0 and data["13_softmax"]["run"]["iterations"] == 40
    assert data["01_relu"] == rows[0] and data["14_log_softmax"] == rows[2]


def test_each_gpu_runs_its_problems_on_its_own_cpu_cores(tmp_path, monkeypatch, capsys) -> None:
    """--gpus 2: every problem goes to one GPU with that GPU's share of the cores in KB_CPUS;
    --no-pin (or one GPU) leaves the cores alone."""
    import shutil
    import subprocess
    from pathlib import Path

    import experiments.bench_kernelbench as bk

    for name in ("01_relu.py", "13_softmax.py", "14_log_softmax.py"):
        shutil.copy(PROBLEMS / name, tmp_path / name)
    monkeypatch.setattr(bk.affinity, "available", lambda: set(range(8)))
    seen: list[tuple[str, str | None, str | None]] = []

    def fake_run(cmd, **kwargs):
        env = kwargs["env"]
        task = Path(next(a for a in cmd if a.startswith("task.name=")).split("=", 1)[1]).stem
        seen.append((task, env.get("CUDA_VISIBLE_DEVICES"), env.get("KB_CPUS")))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(bk.subprocess, "run", fake_run)
    monkeypatch.setattr(bk, "summarize", lambda task, folder, wall: {
        "task": task, "status": "ok", "correct": 3, "x_eager": 2.0, "wall_s": wall})  # fmt: skip
    base = [str(tmp_path), "--device", "interpret", "--out", str(tmp_path / "runs")]
    assert main([*base, "--gpus", "2"]) == 0
    assert "CPU cores per GPU: GPU 0: 0-3, GPU 1: 4-7" in capsys.readouterr().out
    assert sorted(t for t, _, _ in seen) == ["01_relu", "13_softmax", "14_log_softmax"]
    assert all((gpu, cpus) in {("0", "0-3"), ("1", "4-7")} for _, gpu, cpus in seen), seen
    seen.clear()
    assert main([*base, "--gpus", "2", "--no-pin"]) == 0
    assert all(cpus is None for _, _, cpus in seen) and len(seen) == 3
    seen.clear()
    assert main(base) == 0
    assert all(gpu is None and cpus is None for _, gpu, cpus in seen) and len(seen) == 3


def test_expected_wall_scales_an_earlier_row_or_pads_this_runs_mean() -> None:
    from experiments.bench_kernelbench import FIXED_S, expected_wall

    ten = {"wall_s": FIXED_S + 40.0, "run": {"iterations": 10}}
    assert math.isclose(expected_wall(ten, 40, []), FIXED_S + 160.0)
    assert math.isclose(expected_wall({"wall_s": 80.0}, 40, [1.0]), 80.0)  # no run: as this
    assert math.isclose(expected_wall(None, 40, [100.0, 120.0]), 132.0)
    assert expected_wall(None, 40, []) is None


def test_end_skips_a_problem_that_would_not_finish_and_starts_a_shorter_one(
    tmp_path, monkeypatch, capsys
) -> None:
    """--end 100: 01_relu's earlier 10-iteration row took 300 s, so 40 iterations cannot
    fit and it is skipped (its earlier row stays in the file); 13_softmax (no earlier row,
    nothing measured yet) runs, and so does 14_log_softmax, expected at 1.2 x the 2 s
    measured so far."""
    import json
    import shutil

    import experiments.bench_kernelbench as bk

    for name in ("01_relu.py", "13_softmax.py", "14_log_softmax.py"):
        shutil.copy(PROBLEMS / name, tmp_path / name)
    out = tmp_path / "rows.json"
    stale = {"task": "01_relu", "status": "ok", "x_eager": 1.0, "wall_s": 300.0,
             "run": {"iterations": 10}}
    out.write_text(json.dumps({"rows": [stale], "totals": {}}))
    ran = []
    monkeypatch.setattr(bk, "run_problem", lambda path, *a: ran.append(path.stem) or 2.0)
    monkeypatch.setattr(bk, "summarize", lambda task, folder, wall: {"task": task, "wall_s": wall})
    argv = [str(tmp_path), "--json", str(out), "--resume", "--end", "100",
            "--only", "01_relu,13_softmax,14_log_softmax", "--out", str(tmp_path / "runs")]  # fmt: skip
    assert main(argv) == 0
    assert ran == ["13_softmax", "14_log_softmax"]
    assert "01_relu skipped: expected" in capsys.readouterr().out
    rows = json.loads(out.read_text())["rows"]
    assert [r["task"] for r in rows] == ["01_relu", "13_softmax", "14_log_softmax"]
    assert rows[0] == stale


def test_timing_spread_counts_wide_candidates_and_reads_the_host_diagnostics() -> None:
    from experiments.bench_tune import timing_spread

    def m(p20, p80, **diag):
        t = {"median_ms": p20, "p20_ms": p20, "p80_ms": p80, "reps": 10}
        return {"shapes": [{"candidate": t}], "diagnostics": diag}

    s = timing_spread([m(0.1, 0.5, slow_calls=0.4, host_call_ms=0.2),
                       m(0.1, 0.12, slow_calls=0.0, host_call_ms=0.1), m(0.1, 0.11)])  # fmt: skip
    assert s["wide"] == 1 and math.isclose(s["slow_calls"], 0.2)
    assert math.isclose(s["host_call_ms"], 0.15)
    assert timing_spread([]) == {"wide": 0, "slow_calls": None, "host_call_ms": None}


@pytest.mark.parametrize("gpu", [True, False])
def test_copy_sets_memory_bound_rows_against_a_copy_at_the_end(tmp_path, monkeypatch, capsys,
                                                               gpu) -> None:  # fmt: skip
    import json
    import shutil

    import experiments.bench_kernelbench as bk
    from experiments import copy_floor

    for name in ("01_relu.py", "13_softmax.py"):
        shutil.copy(PROBLEMS / name, tmp_path / name)
    monkeypatch.setattr(bk, "run_problem", lambda path, *a: 1.0)
    monkeypatch.setattr(bk, "summarize", lambda task, folder, wall: {
        "task": task, "status": "ok", "correct": 3, "x_eager": 2.0, "wall_s": wall,
        "floor_bound": "memory", "floor_ms": 0.08, "floor_bytes": 320_000_000, "best_ms": 0.1,
        "roofline": 0.8})  # fmt: skip
    copied: list[int] = []
    timers = ((lambda n: copied.append(n) or 0.09), lambda: 4000.0) if gpu else None
    monkeypatch.setattr(copy_floor, "gpu_timers", lambda index=0: timers)
    out = tmp_path / "rows.json"
    assert main([str(tmp_path), "--json", str(out), "--copy", "--out", str(tmp_path / "r")]) == 0
    data = json.loads(out.read_text())
    if gpu:
        assert copied == [320_000_000, 320_000_000]
        assert [round(r["pct_copy"], 3) for r in data["rows"]] == [0.9, 0.9]
        assert data["totals"]["at_target_copy"] == 2 and data["totals"]["at_target_floor"] == 0
    else:
        assert "no CUDA GPU to time copies on" in capsys.readouterr().out
        assert all("pct_copy" not in r for r in data["rows"]) and len(data["rows"]) == 2
