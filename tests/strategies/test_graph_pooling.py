"""Pooling without padding is a reduction over unfolded windows: generated and fused with
what follows instead of a library call; padded pooling stays the library's."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiling.tasks import load_task
from strategies.graph.plan import plan_for
from strategies.graph.realizer import render_plan
from tests.strategies.graph_check import assert_correct

PROBLEM = '''
import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 2
channels = 3
height = 9
width = 11


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        {body}


def get_inputs():
    return [torch.randn(batch_size, channels, height, width)]


def get_init_inputs():
    return []
'''


def plan_of(tmp_path: Path, name: str, body: str):
    path = tmp_path / f"{name}.py"
    path.write_text(PROBLEM.replace("{body}", body))
    task = load_task(str(path))
    return task, plan_for(task)


CASES = {
    # overlapping windows at odd sizes: unfold keeps the whole windows, as floor mode does
    "max_overlap": ("return torch.relu(F.max_pool2d(x, 3, stride=2))", "reduction(amax, relu)"),
    "max_sum": ("return torch.sigmoid(F.max_pool2d(x, 2)).sum(dim=1)", "reduction(amax, sigmoid)"),
    "avg": ("return F.avg_pool2d(x, (2, 3)) * 2.0", "reduction(prims, mul)"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unpadded_pooling_is_a_generated_reduction(tmp_path: Path, case: str) -> None:
    body, first = CASES[case]
    task, plan = plan_of(tmp_path, case, body)
    assert "pool" not in plan.summary and plan.summary.startswith(first), plan.summary
    assert_correct(task, render_plan(plan, plan.initial()))


def test_max_pool_indices_match_torch(tmp_path: Path) -> None:
    """``return_indices=True``: the flat position in each plane, as PyTorch gives it."""
    task, plan = plan_of(tmp_path, "indices", "return F.max_pool2d(x, 3, stride=2, "
                                                "return_indices=True)")  # fmt: skip
    assert "pool" not in plan.summary
    assert_correct(task, render_plan(plan, plan.initial()))


def test_padded_pooling_stays_a_library_call(tmp_path: Path) -> None:
    task, plan = plan_of(tmp_path, "padded", "return torch.relu(F.max_pool2d(x, 3, padding=1))")
    assert plan.summary == "pointwise(relu) + torch(getitem)"  # the pool's values, by torch
    assert_correct(task, render_plan(plan, plan.initial()))
