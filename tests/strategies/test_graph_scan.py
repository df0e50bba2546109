"""Scans (``torch.cumsum``, ``torch.cumprod``) in the reduction template: a running sum or
product along the row, the whole row at once (single mode) or chunk by chunk with a carry
(loop and persistent modes); never split (the carry goes along the row in order). Each
case runs in every mode its space allows, through the interpreter here and compiled on
the GPU (``gpu``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from profiling.tasks import Task, load_task
from strategies.graph.plan import plan_for
from strategies.graph.realizer import render_plan
from tests.strategies.graph_check import assert_correct, problem_task
from tests.strategies.test_graph_reduction_modes import check_modes, mode_sources, modes

PROBLEMS = Path(__file__).with_name("kernelbench")

# body, inputs, args, the summary's groups
CASES = {
    "cumprod": ("torch.cumprod(x, dim=1)", "torch.rand(b, n) + 0.5", "x", "reduction(cumprod)"),
    # the flips stay PyTorch calls around the scan's kernel
    "reverse": ("torch.cumsum(x.flip(1), dim=1).flip(1)", "torch.randn(b, n)", "x",
                "reduction(cumsum) + torch(flip)"),
    "axis0": ("torch.cumsum(x, dim=0) * 2.0", "torch.randn(b, n)", "x", "reduction(cumsum, mul)"),
    "after_softmax": ("torch.softmax(x, dim=1).cumsum(dim=1)", "torch.randn(b, n)", "x",
                      "reduction(amax, sub, exp, sum, div, cumsum)"),
    "share": ("torch.cumsum(x, 1) / x.sum(1, keepdim=True)", "torch.randn(b, n)", "x",
              "reduction(cumsum, sum, div)"),
    "then_sum": ("torch.cumsum(x, dim=1).sum(dim=1)", "torch.randn(b, n)", "x",
                 "reduction(cumsum, sum)"),
}  # fmt: skip


def inline(tmp_path: Path, name: str) -> Task:
    body, inputs, args, _ = CASES[name]
    return problem_task(tmp_path, f"scan_{name}", consts="b = 5\nn = 37", args=args, body=body,
                        inputs=inputs)  # fmt: skip


@pytest.mark.parametrize("name", ["50_cumsum", "51_masked_cumsum"])
def test_kernelbench_scans_in_every_mode(name: str) -> None:
    t = load_task(str(PROBLEMS / f"{name}.py"))
    plan = plan_for(t)
    assert plan.templates == ("reduction",)  # was a lone library call: refused
    assert not plan.facts[0].splittable
    assert check_modes(t) >= 3  # single, loop, persistent


@pytest.mark.parametrize("name", sorted(CASES))
def test_scans_fuse_and_run_in_every_mode(tmp_path: Path, name: str) -> None:
    t = inline(tmp_path, name)
    assert plan_for(t).summary == CASES[name][3]
    assert check_modes(t) >= 3


def test_a_chunked_scan_carries_the_row(tmp_path: Path) -> None:
    """Loop mode at 16 columns a chunk over 37: three chunks, each offset by its carry."""
    t = inline(tmp_path, "cumprod")
    plan = plan_for(t)
    src = render_plan(plan, {"groups": [modes(plan.facts[0])["loop"]]})
    assert "r_cumprod_c = tl.full([ROWS, 1], 1.0, tl.float32)" in src
    assert "tl.cumprod(r_cumprod_x, axis=1) * r_cumprod_c" in src
    assert "tl.reduce(r_cumprod_x, 1, _mul, keep_dims=True)" in src


@pytest.mark.gpu
def test_scans_on_the_gpu(tmp_path: Path) -> None:
    """Compiled kernels in every mode at the small size; at an odd size (37 rows of 9001)
    the heuristic start (the row whole) and a chunked loop (nine 1024-column chunks)."""
    assert os.environ.get("TRITON_INTERPRET") != "1"
    tasks = [load_task(str(PROBLEMS / f"{n}.py")) for n in ("50_cumsum", "51_masked_cumsum")]
    tasks += [inline(tmp_path, n) for n in sorted(CASES)]
    runs: list[tuple[Task, str]] = []
    for t in tasks:
        runs.append((t, render_plan(plan_for(t), plan_for(t).initial())))
        runs += [(t, src) for _, _, src in mode_sources(t)]
    big = load_task(str(PROBLEMS / "50_cumsum.py"), size="batch_size=37,input_shape=(9001,)")
    bplan = plan_for(big)
    chunked = {**bplan.initial()["groups"][0], "mode": "loop", "BLOCK_C": 1024, "num_warps": 4}
    runs += [(big, render_plan(bplan, bplan.initial())),
             (big, render_plan(bplan, {"groups": [chunked]}))]  # fmt: skip
    for t, src in runs:
        assert_correct(t, src, atol=1e-3, rtol=1e-4, device="cuda")
