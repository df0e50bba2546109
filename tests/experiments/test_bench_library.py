"""The library-point benchmark runs end to end on the interpreter and writes its rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments import bench_library

KB = Path(__file__).resolve().parent.parent / "strategies" / "kernelbench"


@pytest.mark.slow
def test_bench_library_on_the_interpreter(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "rows.json"
    problems = f"{KB / '36_bmm_scale.py'},{KB / '39_linear_layernorm_relu.py'}"
    rc = bench_library.main(["--device", "interpret", "--size", "", "--problems", problems,
                             "--trials", "1", "--json", str(out)])  # fmt: skip
    assert rc == 0
    rows = json.loads(out.read_text())
    labels = [r["variant"] for r in rows]
    assert labels[:2] == ["triton gemm start", "library start"] and len(labels) >= 5
    assert all(r["task"] == "36_bmm_scale" and r["status"] == "ok" for r in rows)
    assert "no epilogue, no library point" in capsys.readouterr().out  # 39's bare Linear


@pytest.mark.slow
def test_tma_table_on_the_interpreter(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """--tma: the start, the start after alignment_hints (TMA), the TMA kernel at the
    Hopper tile (fp32: BK 32 to fit shared memory), eager; a thin product's (K, 2) fp32
    operand has no descriptor."""
    out = tmp_path / "rows.json"
    problems = f"{KB / '34_matmul.py'},{KB / '47_skinny_matmul.py'}"
    rc = bench_library.main(["--tma", "--device", "interpret", "--size", "", "--problems",
                             problems, "--trials", "1", "--json", str(out)])  # fmt: skip
    assert rc == 0
    rows = json.loads(out.read_text())
    mm = [r["variant"] for r in rows if r["task"] == "34_matmul"]
    assert mm == ["start 32x64x32 w4 s3 g8", "start + tma (alignment_hints)",
                  "tma 128x256x32 w8 s3 g8", "eager (cuBLAS)"]  # fmt: skip
    assert all(r.get("status", "ok") == "ok" and r["ms"] > 0 for r in rows)
    assert [r["variant"] for r in rows if r["task"] == "47_skinny_matmul"][1:] == ["eager (cuBLAS)"]
    assert "no TMA kernel" in capsys.readouterr().out


def test_unknown_problem_is_one_line_and_exit_2(capsys: pytest.CaptureFixture) -> None:
    assert bench_library.main(["--problems", "no_such_problem_here"]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_a_problem_without_a_matmul_has_no_variants() -> None:
    from profiling.tasks import load_task

    assert bench_library.variants(load_task(str(KB / "13_softmax.py"))) == []
