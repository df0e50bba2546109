"""experiments.bench_kernelbench: summary arithmetic, table, argument errors."""

from __future__ import annotations

import math

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
    args = argparse.Namespace(out=tmp_path, policy="hucb", iterations=2, device="interpret",
                              seed=0, realizer="offline")
    bk.run_problem(Path("tests/strategies/kernelbench/01_relu.py"), args, "batch_size=4,dim=8",
                   None, [])
    size = [a for a in seen[0] if a.startswith("task.size=")]
    parsed = OverridesParser.create().parse_overrides(size)
    assert parsed[0].key_or_group == "task.size" and parsed[0].value() == "batch_size=4,dim=8"
