"""A matrix-vector product is a row reduction (the matrix streamed once), not a GEMM tile
spent on one column; a real matrix product stays the matmul template."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from profiling.tasks import Task
from strategies.graph.capture import capture
from strategies.graph.plan import plan_for
from strategies.graph.realizer import render_plan
from tests.strategies.graph_check import assert_correct, problem_task

SIZES = "M = 37\nK = 53\nN = 29"

CASES = {  # name: (forward, inputs, the plan's summary)
    "column": ("torch.matmul(a, b) * 2.0", "torch.randn(M, K), torch.randn(K, 1)",
               "reduction(mul, sum) + torch(transpose)"),  # the scale joins the sum
    "row": ("a @ b", "torch.randn(1, K), torch.randn(K, N)",
            "reduction(mul, sum) + torch(transpose)"),
    "mv": ("torch.mv(a, b).relu()", "torch.randn(M, K), torch.randn(K)", "reduction(mul, sum, relu)"),
    "gemm": ("a @ b", "torch.randn(M, K), torch.randn(K, N)", "matmul(mm)"),
}  # fmt: skip


def task_of(tmp_path: Path, name: str, body: str, inputs: str) -> Task:
    return problem_task(tmp_path, name, SIZES, "a, b", body, inputs)


@pytest.mark.parametrize("case", sorted(CASES))
def test_thin_products_are_reductions(tmp_path: Path, case: str) -> None:
    body, inputs, summary = CASES[case]
    task = task_of(tmp_path, case, body, inputs)
    plan = plan_for(task)
    assert plan.summary == summary
    assert_correct(task, render_plan(plan, plan.initial()), atol=1e-4, rtol=1e-4)


def test_half_precision_products_are_summed_in_fp32(tmp_path: Path) -> None:
    """bf16 operands: the products and the sum run in fp32, the result is bf16 (a GEMM's
    accumulation), not a bf16 product rounded before it is summed."""
    task = task_of(tmp_path, "half", "a @ b",
                   "torch.randn(M, K, dtype=torch.bfloat16), torch.randn(K, 1, dtype=torch.bfloat16)")
    gm = capture(task).gm
    targets = [str(n.target) for n in gm.graph.nodes if n.op == "call_function"]
    assert "aten.mm.default" not in targets
    converts = [n for n in gm.graph.nodes if "_to_copy" in str(n.target)]
    assert [n.kwargs.get("dtype") for n in converts] == [torch.float32, torch.float32,
                                                         torch.bfloat16]  # fmt: skip
