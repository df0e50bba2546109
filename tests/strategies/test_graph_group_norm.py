"""GroupNorm's affine is the reduction's epilogue: one kernel, right with any weight and bias."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from profiling.tasks import exec_module, load_task
from strategies.graph.plan import plan_for
from strategies.graph.realizer import render_plan
from tests.strategies.test_graph_reduction_modes import modes

PROBLEM = Path(__file__).with_name("kernelbench") / "41_groupnorm.py"
SIZE = "batch_size=3,features=12,num_groups=3,dim1=5,dim2=7"


def test_the_affine_joins_the_reduction_group() -> None:
    """The weight and bias are read in the grouped view [N, G, C/G, HW]: no second kernel
    re-reads the normalized tensor to scale it."""
    plan = plan_for(load_task(str(PROBLEM), "bench"))
    assert plan.templates == ("reduction",)
    (group,) = plan.part.groups
    assert {"mul", "add"} <= {n.target.__name__.split(".")[0] for n in group.members
                              if callable(n.target)}  # fmt: skip


@pytest.mark.parametrize("mode", ["single", "loop", "persistent", "online"])
def test_generated_group_norm_matches_with_a_random_affine(mode: str) -> None:
    task = load_task(str(PROBLEM), SIZE)
    plan = plan_for(task)
    params = modes(plan.facts[0])
    if mode not in params:
        pytest.skip(f"{mode} is not in this group's space")
    mod = task.load_module()
    torch.manual_seed(0)
    ref = mod.Model(*mod.get_init_inputs())
    with torch.no_grad():  # the default affine (ones, zeros) would hide a wrong channel index
        ref.gn.weight.copy_(torch.randn_like(ref.gn.weight))
        ref.gn.bias.copy_(torch.randn_like(ref.gn.bias))
    src = render_plan(plan, {"groups": [params[mode]]})
    cand = exec_module(src, "cand_gn").ModelNew(*mod.get_init_inputs())
    cand.load_state_dict(ref.state_dict())
    x = torch.randn(3, 12, 5, 7)
    with torch.no_grad():
        torch.testing.assert_close(cand(x.clone()), ref(x.clone()), atol=1e-4, rtol=1e-4)
