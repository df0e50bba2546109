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


@pytest.mark.parametrize(("problem", "rereads"), [
    ("41_groupnorm", True), ("13_softmax", True), ("25_rmsnorm", True),
    ("16_sum_dim1", False), ("29_kl_div", False), ("21_argmin", False),
])  # fmt: skip
def test_rereads_names_the_groups_a_loop_reads_twice(problem: str, rereads: bool) -> None:
    """A full-size output computed from a reduced value (a norm, a softmax) makes a chunked
    loop read the row again; a reduction whose outputs are its rows' values does not."""
    plan = plan_for(load_task(str(PROBLEM.with_name(f"{problem}.py")), "bench"))
    (facts,) = [f for f in plan.facts if f.template == "reduction"]
    assert facts.rereads is rereads


def test_a_group_a_loop_would_read_twice_starts_whole_in_registers() -> None:
    """41's 32768-element groups start in one pass (16 warps, 64 elements a thread), not the
    Welford loop and its second read; a sum over rows as long stays a chunked loop."""
    from dataclasses import replace

    from strategies.graph.space import WHOLE_REREAD, in_registers, initial_reduction

    (facts,) = plan_for(load_task(str(PROBLEM), "bench")).facts
    assert facts.cols == WHOLE_REREAD and facts.rereads
    start = initial_reduction(facts)
    assert (start["mode"], start["ROWS"], start["num_warps"]) == ("single", 1, 16)
    assert in_registers(start, facts)
    assert initial_reduction(replace(facts, rereads=False))["mode"] == "loop"
    assert initial_reduction(replace(facts, cols=2 * WHOLE_REREAD))["mode"] == "loop"


@pytest.mark.parametrize("mode", ["single", "loop"])
def test_the_per_channel_affine_is_read_in_bounds_without_a_mask(mode: str) -> None:
    """The weight and bias are constant along H x W: read unmasked at coordinates clamped
    into the tensor (so equal addresses merge into one load), while x keeps its mask; rows
    past R (4 rows a program over 9 groups) and columns past C (140 of 256) stay right."""
    task = load_task(str(PROBLEM), SIZE)
    plan = plan_for(task)
    start = plan.initial()["groups"][0]
    p = {**start, "mode": mode, "ROWS": 4, "BLOCK_C": 64, "num_warps": 4, "split": 1,
         "online": False}  # fmt: skip
    src = render_plan(plan, {"groups": [p]})
    loads = [line.strip() for line in src.splitlines() if "tl.load(" in line]
    x_loads = [ln for ln in loads if ln.startswith("x_in0")]
    affine = [ln for ln in loads if ln.startswith(("x_in1", "x_in2"))]
    assert x_loads and all("mask=mask" in ln for ln in x_loads)
    assert affine and all("mask=" not in ln and "qc0" in ln and "kc1" in ln for ln in affine)
    assert "qc0 = tl.minimum(q0, (C - 1) // (Q1))" in src
    assert "kc0 = tl.minimum(k0, (R - 1) // (K1))" in src
    mod = task.load_module()
    torch.manual_seed(1)
    ref = mod.Model(*mod.get_init_inputs())
    with torch.no_grad():
        ref.gn.weight.copy_(torch.randn_like(ref.gn.weight))
        ref.gn.bias.copy_(torch.randn_like(ref.gn.bias))
    cand = exec_module(src, f"cand_gn_{mode}").ModelNew(*mod.get_init_inputs())
    cand.load_state_dict(ref.state_dict())
    x = torch.randn(3, 12, 5, 7)
    with torch.no_grad():
        torch.testing.assert_close(cand(x.clone()), ref(x.clone()), atol=1e-4, rtol=1e-4)
