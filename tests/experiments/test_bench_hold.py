"""The hold A/B benchmark: its argument checks, its summary and one run on the interpreter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments import bench_hold


def test_holds_parse_and_reject_nonsense() -> None:
    assert bench_hold.parse_holds("0, 300") == [0.0, 300.0]
    for bad in ("", "0,-5", ","):
        with pytest.raises(ValueError):
            bench_hold.parse_holds(bad)


def test_bare_stems_name_the_bundled_kernelbench_files() -> None:
    assert bench_hold.resolve("43_batchnorm_inference").endswith(
        "tests/strategies/kernelbench/43_batchnorm_inference.py")
    assert bench_hold.resolve("softmax") == "softmax"  # a bundled task name stays a name


def test_the_summary_takes_medians_over_measured_repeats_only() -> None:
    def row(ms, p20, p80, slow):
        return {"ms": ms, "p20_ms": p20, "p80_ms": p80, "ref_ms": 1.0, "slow_calls": slow,
                "ref_slow_calls": 0.0, "host_call_ms": 0.01, "speedup": 1.0 / ms if ms else None}

    rows = [row(0.2, 0.2, 0.2, 0.0), row(0.4, 0.2, 0.5, 0.5), row(0.3, 0.2, 0.3, 0.25),
            row(None, None, None, None)]
    s = bench_hold.summarize(rows)
    assert s["n"] == 3 and s["ms"] == 0.3 and s["slow_calls"] == 0.25
    assert s["p80_p20"] == pytest.approx(1.5)
    assert bench_hold.summarize([row(None, None, None, None)])["ms"] is None


def test_errors_a_user_can_cause_are_one_line_and_exit_2(capsys: pytest.CaptureFixture) -> None:
    for argv in (["--problems", "no_such_problem"], ["--problems", "01_relu", "--hold", "-1"],
                 ["--problems", ""], ["--problems", "01_relu", "--repeats", "0"]):
        assert bench_hold.main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1


@pytest.mark.slow
def test_an_ab_on_the_interpreter_alternates_the_holds(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "rows.json"
    rc = bench_hold.main(["--device", "interpret", "--size", "", "--problems", "01_relu",
                          "--hold", "0,300", "--repeats", "2", "--trials", "1",
                          "--json", str(out)])  # fmt: skip
    assert rc == 0
    rows = json.loads(out.read_text())
    assert [r["hold_us"] for r in rows] == [0.0, 300.0, 300.0, 0.0]
    assert all(r["status"] == "ok" and r["ms"] > 0 and r["ref_ms"] > 0 for r in rows)
    table = capsys.readouterr().out.split("\n\n")[-1]
    assert table.count("01_relu") == 2
