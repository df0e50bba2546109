"""Pooling without padding is a reduction over unfolded windows: generated and fused with
what follows instead of a library call; padded pooling stays the library's."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiling.tasks import Task
from strategies.graph.plan import Plan, plan_for
from strategies.graph.realizer import render_plan
from tests.strategies.graph_check import assert_correct, problem_task

SIZES = "batch_size = 2\nchannels = 3\nheight = 9\nwidth = 11"
INPUTS = "torch.randn(batch_size, channels, height, width)"


def plan_of(tmp_path: Path, name: str, body: str) -> tuple[Task, Plan]:
    task = problem_task(tmp_path, name, SIZES, "x", body, INPUTS)
    return task, plan_for(task)


CASES = {
    # overlapping windows at odd sizes: unfold keeps the whole windows, as floor mode does
    "max_overlap": ("torch.relu(F.max_pool2d(x, 3, stride=2))", "reduction(amax, relu)"),
    "max_sum": ("torch.sigmoid(F.max_pool2d(x, 2)).sum(dim=1)", "reduction(amax, sigmoid)"),
    "avg": ("F.avg_pool2d(x, (2, 3)) * 2.0", "reduction(prims, mul)"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unpadded_pooling_is_a_generated_reduction(tmp_path: Path, case: str) -> None:
    body, first = CASES[case]
    task, plan = plan_of(tmp_path, case, body)
    assert "pool" not in plan.summary and plan.summary.startswith(first), plan.summary
    assert_correct(task, render_plan(plan, plan.initial()))


def test_max_pool_indices_match_torch(tmp_path: Path) -> None:
    """``return_indices=True``: the flat position in each plane, as PyTorch gives it."""
    task, plan = plan_of(tmp_path, "indices", "F.max_pool2d(x, 3, stride=2, return_indices=True)")
    assert "pool" not in plan.summary
    assert_correct(task, render_plan(plan, plan.initial()))


def test_padded_pooling_stays_a_library_call(tmp_path: Path) -> None:
    task, plan = plan_of(tmp_path, "padded", "torch.relu(F.max_pool2d(x, 3, padding=1))")
    assert plan.summary == "pointwise(relu) + torch(getitem)"  # the pool's values, by torch
    assert_correct(task, render_plan(plan, plan.initial()))
