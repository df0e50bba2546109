"""Pooling without padding is a reduction over unfolded windows: generated and fused with
what follows instead of a library call; padded pooling stays the library's."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from profiling.tasks import Task, exec_module
from strategies.graph.plan import Plan, plan_for
from strategies.graph.realizer import render_plan
from tests.strategies.graph_check import assert_correct, problem_task

SIZES = "batch_size = 2\nchannels = 3\ndepth = 5\nheight = 9\nwidth = 11"
INPUTS = {1: "torch.randn(batch_size, channels, width)",
          2: "torch.randn(batch_size, channels, height, width)",
          3: "torch.randn(batch_size, channels, depth, height, width)"}  # fmt: skip


def plan_of(tmp_path: Path, name: str, body: str, dims: int = 2) -> tuple[Task, Plan]:
    task = problem_task(tmp_path, name, SIZES, "x", body, INPUTS[dims])
    return task, plan_for(task)


CASES = {  # name: (forward, spatial dims, the plan's groups)
    # windows of <= SMALL_WINDOW elements: a pointwise max/sum of one strided view each, fused
    # with what follows; overlapping windows at odd sizes: unfold keeps the whole windows, as
    # floor mode does
    "max_overlap": ("torch.relu(F.max_pool2d(x, 3, stride=2))", 2, ["pointwise(maximum, relu)"]),
    # the pool, the sigmoid and the channel sum: one kernel reading x once
    "max_sum": ("torch.sigmoid(F.max_pool2d(x, 2)).sum(dim=1)", 2,
                ["reduction(maximum, sigmoid, sum)"]),
    "avg": ("F.avg_pool2d(x, (2, 3)) * 2.0", 2, ["pointwise(add, div, mul)"]),
    # 1-d pooling reaches ATen as an unsqueezed 2-d pool: the squeeze cancels, the add fuses
    "max_1d": ("F.max_pool1d(x, 3, stride=2) + 1.0", 1, ["pointwise(maximum, add)"]),
    "avg_1d": ("F.avg_pool1d(x, 2) * x.shape[-1]", 1, ["pointwise(add, div, mul)"]),
    "max_3d": ("F.max_pool3d(x, (2, 3, 2)).mean(dim=1)", 3, ["reduction(maximum, prims)"]),
    # larger windows: a max/mean reduction over the window dims
    "max_big": ("torch.sigmoid(F.max_pool2d(x, 5, stride=1)).sum(dim=1)", 2,
                ["reduction(amax, sigmoid)", "reduction(sum)"]),
    "avg_3d_overlap": ("F.avg_pool3d(x, 3, stride=(1, 2, 2))", 3, ["reduction(prims)"]),
    "global_max": ("F.adaptive_max_pool2d(x, 1).flatten(1)", 2, ["reduction(amax)"]),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_unpadded_pooling_is_a_generated_reduction(tmp_path: Path, case: str) -> None:
    body, dims, groups = CASES[case]
    task, plan = plan_of(tmp_path, case, body, dims)
    assert "pool" not in plan.summary, plan.summary
    assert plan.summary.split(" + torch")[0] == " + ".join(groups), plan.summary
    assert_correct(task, render_plan(plan, plan.initial()))


@pytest.mark.parametrize(("body", "dims"), [
    ("F.max_pool2d(x, 3, stride=2, return_indices=True)", 2),
    ("F.max_pool3d(x, (2, 3, 2), stride=(1, 2, 3), return_indices=True)", 3),
    ("F.adaptive_max_pool2d(x, 1, return_indices=True)", 2),
])  # fmt: skip
def test_max_pool_indices_match_torch(tmp_path: Path, body: str, dims: int) -> None:
    """``return_indices=True``: the flat position in each plane or volume, as PyTorch
    gives it."""
    task, plan = plan_of(tmp_path, "indices", body, dims)
    assert "pool" not in plan.summary
    assert_correct(task, render_plan(plan, plan.initial()))


def test_unrolled_max_pool_indices_and_nans_match_torch(tmp_path: Path) -> None:
    """The unrolled window max with its indices is one kernel, and NaNs come out as PyTorch's
    max pooling gives them: the value NaN, the index that of the window's last NaN."""
    body = "F.max_pool2d(torch.where(x > 1.0, float('nan'), x), (2, 3), return_indices=True)"
    task, plan = plan_of(tmp_path, "nan_indices", body)
    # the where that makes the NaNs runs before the windows' views: a kernel of its own
    assert plan.summary.split(" + ")[1] == "pointwise(gt, ne, logical_or, where, maximum)"
    model = exec_module(render_plan(plan, plan.initial()), "nan_indices").ModelNew()
    x = torch.randn(4, 3, 9, 11, generator=torch.Generator().manual_seed(0))
    got, want = model(x), task.load_module().Model()(x)
    assert got[0].isnan().any()
    torch.testing.assert_close(got[0], want[0], equal_nan=True, atol=0, rtol=0)
    assert torch.equal(got[1], want[1])


def test_padded_pooling_stays_a_library_call(tmp_path: Path) -> None:
    task, plan = plan_of(tmp_path, "padded", "torch.relu(F.max_pool2d(x, 3, padding=1))")
    assert plan.summary == "pointwise(relu) + torch(getitem)"  # the pool's values, by torch
    assert_correct(task, render_plan(plan, plan.initial()))
