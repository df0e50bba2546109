"""The CUDA pointwise benchmark: its variants, and a run on the interpreter (the Triton rows
are measured; the CUDA rows fail there with the kernel's one-line refusal of CPU tensors)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments import bench_cuda_pointwise
from profiling.tasks import load_task

KB = Path(__file__).resolve().parent.parent / "strategies" / "kernelbench"


def test_variants_of_a_pointwise_problem() -> None:
    found = bench_cuda_pointwise.variants(load_task(str(KB / "06_mish.py")))
    labels = [label for label, _ in found]
    assert labels == [label for label, _ in bench_cuda_pointwise.VARIANTS]
    assert all("@triton.jit" in src for label, src in found if label.startswith("triton"))
    assert all("_cuda_pointwise(" in src for label, src in found if label.startswith("cuda"))
    assert (
        "__ldcs" in dict(found)["cuda + streaming"] and ", 512)" in dict(found)["cuda 512 threads"]
    )


def test_a_problem_without_a_cuda_group_has_no_variants() -> None:
    for name in ("13_softmax", "33_permute_relu"):
        assert bench_cuda_pointwise.variants(load_task(str(KB / f"{name}.py"))) == []


def test_unknown_problem_is_one_line_and_exit_2(capsys: pytest.CaptureFixture) -> None:
    assert bench_cuda_pointwise.main(["--problems", "no_such_problem_here"]) == 2
    assert capsys.readouterr().err.startswith("error: ")


@pytest.mark.slow
def test_runs_on_the_interpreter(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "rows.json"
    problems = f"{KB / '01_relu.py'},{KB / '13_softmax.py'}"
    rc = bench_cuda_pointwise.main(["--device", "interpret", "--size", "", "--problems", problems,
                                    "--trials", "1", "--json", str(out)])  # fmt: skip
    assert rc == 0
    rows = json.loads(out.read_text())
    assert [r["variant"] for r in rows][:2] == ["triton start", "triton + alignment_hints"]
    assert all(r["status"] == "ok" for r in rows if r["variant"].startswith("triton"))
    cuda = [r for r in rows if r["variant"].startswith("cuda")]
    assert cuda and all("float32 CUDA tensors" in (r["error"] or "") for r in cuda)
    assert "no pointwise group the CUDA kernel can address" in capsys.readouterr().out
