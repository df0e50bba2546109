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
