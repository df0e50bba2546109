"""``math/fast_math``: a group's logs on the hardware's approximate log2, offered only where
a member takes a log; off, every kernel keeps the source it had."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from profiling.tasks import exec_module, load_task
from strategies.graph import ops, templates
from strategies.graph.plan import plan_for
from strategies.graph.realizer import render_plan
from tests.strategies.graph_check import assert_correct

PROBLEMS = Path(__file__).with_name("kernelbench")


def task(name: str, size: str | None = None):
    return load_task(str(PROBLEMS / f"{name}.py"), size)


def with_fast_math(plan) -> dict:
    """The start with ``fast_math`` moved on in every group that takes it."""
    groups = []
    for p, f in zip(plan.initial()["groups"], plan.facts, strict=True):
        moved = templates.move("fast_math", p, f)
        groups.append(moved if moved is not None else p)
    return {"groups": groups}


@pytest.mark.parametrize(("name", "logs"), [
    ("29_kl_div", True), ("14_log_softmax", True), ("07_softplus_elu", True),
    ("13_softmax", False), ("16_sum_dim1", False), ("34_matmul", False),
])  # fmt: skip
def test_the_move_is_offered_where_a_member_takes_a_log(name: str, logs: bool) -> None:
    plan = plan_for(task(name))
    moved = [templates.move("fast_math", p, f)
             for p, f in zip(plan.initial()["groups"], plan.facts, strict=True)]  # fmt: skip
    assert any(m is not None for m in moved) is logs
    for m, f in zip(moved, plan.facts, strict=True):
        if m is not None:
            assert f.logs and m["fast_math"] is True
            assert templates.move("fast_math", m, f) is None  # on once, no way further
            assert templates.size(f) > templates.size(replace(f, logs=False))


def test_every_log_moves_and_the_helper_is_written_once() -> None:
    """29's two logs (the input's and xlogy's) call the helper; the module defines it once
    (libdevice's fast_logf, the exact log under the interpreter); off, no trace of it."""
    plan = plan_for(task("29_kl_div"))
    before = render_plan(plan, plan.initial())
    after = render_plan(plan, with_fast_math(plan))
    assert "_fast_log" not in before and "libdevice" not in before
    kernels = after[after.index("def _k0_reduction"):]
    assert "tl.log(" not in kernels and kernels.count(ops.FAST_LOG) == 2
    assert after.count("def _fast_log(") == 2  # the GPU form and the interpreter's
    assert "libdevice.fast_logf(x)" in after
    assert re.search(r'"fast_math": true', after.splitlines()[0])  # the parameters header


def test_the_cuda_rendering_takes_no_fast_math() -> None:
    plan = plan_for(task("07_softplus_elu"))
    (f,) = plan.facts
    cuda = templates.move("cuda_vec4", plan.initial()["groups"][0], f)
    assert cuda is not None and templates.move("fast_math", cuda, f) is None


@pytest.mark.parametrize("name", ["29_kl_div", "14_log_softmax", "07_softplus_elu",
                                  "31_cross_entropy"])  # fmt: skip
def test_fast_math_kernels_match_through_the_interpreter(name: str) -> None:
    t = task(name)
    plan = plan_for(t)
    assert_correct(t, render_plan(plan, with_fast_math(plan)), atol=1e-4, rtol=1e-4)


@pytest.mark.gpu
def test_fast_math_on_the_gpu_is_approximate_and_close() -> None:
    """On a GPU the helper is lg2.approx (the kernel's PTX), and 29's KL divergence at an odd
    size stays within 1e-5 relative of PyTorch's."""
    t = task("29_kl_div", "batch_size=1031,features=4099")
    plan = plan_for(t)
    mod = exec_module(render_plan(plan, with_fast_math(plan)), "fast_math_gpu")
    ref_mod = t.load_module()
    torch.manual_seed(0)
    xs = [x.cuda() for x in ref_mod.get_inputs()]
    with torch.no_grad():
        want = ref_mod.Model()(*xs)
        got = mod.ModelNew()(*xs)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    caches = [entry[0] for entry in mod._k0_reduction.device_caches.values()]  # compiled
    ptx = [k.asm["ptx"] for cache in caches for k in cache.values()]
    assert any("lg2.approx" in p for p in ptx)  # the phase that takes the logs


def test_a_fast_math_parent_keeps_its_parameters_for_the_next_move() -> None:
    """The realizer reads a fast_math kernel's header back as its parameters (the key is
    optional, not a foreign header), so the next move starts from it, not from the start."""
    from strategies.graph.realizer import apply, parent_params

    plan = plan_for(task("29_kl_div"))
    on = with_fast_math(plan)
    src = render_plan(plan, on)
    assert parent_params(plan, src, {}) == on
    nxt = apply(plan, "parallelism/warps_up", parent_params(plan, src, {}))
    assert nxt is not None and nxt["groups"][0]["fast_math"] is True
