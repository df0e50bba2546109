"""Every reduction mode of the graph realizer, and static checks on generated sources.

The catalog moves reach some modes only at large sizes (a split row needs long rows),
so the interpreter tests of the move chains never ran, say, the two-phase split with a
pointwise epilogue. Here each reduction group is forced into every mode its space
allows (single pass, chunked loop, persistent loop, online softmax, split rows) at the
small size and checked against the reference through the interpreter. Two static checks
run over many moves at the small and the ``bench`` size, where the interpreter would be
too slow: every ``@triton.jit`` function binds each name it reads (a GPU compile error
the interpreter may never reach, e.g. in a constexpr branch), and no block exceeds
Triton's tensor size limit (which the interpreter does not enforce).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from profiling.tasks import Task, load_task
from strategies.catalog import load_catalog
from strategies.graph import templates
from strategies.graph.plan import Plan, plan_for
from strategies.graph.realizer import render_plan
from strategies.graph.space import MAX_NUMEL, MAX_PER_THREAD, Facts, pow2, tile_numel
from tests.strategies.graph_check import (
    assert_correct,
    launch_blocks,
    problem_task,
    undefined_names,
)
from tests.strategies.test_graph_property import draw

PROBLEMS = Path(__file__).with_name("kernelbench")
NAMES = sorted(p.stem for p in PROBLEMS.glob("*.py") if p.stem != "45_lone_conv")
# a sum with an epilogue (split), online softmax and logsumexp (its shift is a row
# function of the max), argmax, var (group norm; two-pass and Welford)
FAST = ["26_mse", "13_softmax", "15_logsumexp", "20_argmax", "41_groupnorm"]
STATIC_FAST = ["15_logsumexp", "17_mean_dim", "26_mse", "31_cross_entropy", "39_linear_layernorm_relu"]  # fmt: skip
SEEDS = range(40)
MOVES = [s.id.rsplit("/", 1)[-1] for s in load_catalog()]


@functools.cache
def task(name: str, size: str | None = None) -> Task:
    return load_task(str(PROBLEMS / f"{name}.py"), size=size)


def reduction_groups(plan: Plan) -> list[int]:
    return [i for i, f in enumerate(plan.facts) if f.template == "reduction"]


def modes(f: Facts) -> dict[str, dict[str, Any]]:
    """A reduction group's parameters in each mode its space allows, with chunks small
    enough that a loop takes several steps and a program holds several rows."""
    base = {**templates.initial(f), "ROWS": 2, "BLOCK_C": 16, "num_warps": 1, "split": 1,
            "persistent": 0, "online": False, "even": False}  # fmt: skip
    out = {
        "single": {**base, "mode": "single", "BLOCK_C": pow2(f.cols)},
        "loop": {**base, "mode": "loop"},
        "persistent": {**base, "mode": "loop", "persistent": 2, "even": True},
    }
    if f.online or f.welford:  # online softmax, or a one-pass (Welford) variance
        out["online"] = {**base, "mode": "loop", "online": True}
    if f.splittable:
        out["split"] = {**base, "mode": "loop", "split": 4}
    return out


def mode_sources(t: Task) -> list[tuple[int, str, str]]:
    """(group, mode, source) for every forced mode of every reduction group, the other
    groups at their start."""
    plan = plan_for(t)
    start = plan.initial()["groups"]
    out = []
    for i in reduction_groups(plan):
        for mode, p in modes(plan.facts[i]).items():
            out.append((i, mode, render_plan(plan, {"groups": [*start[:i], p, *start[i + 1 :]]})))
    return out


def check_modes(t: Task) -> int:
    """Render and run every forced mode of every reduction group; the count checked."""
    count = 0
    for i, mode, src in mode_sources(t):
        assert not undefined_names(src), (t.name, mode, undefined_names(src))
        try:
            assert_correct(t, src)
        except AssertionError as e:
            raise AssertionError(f"{t.name} group {i} mode {mode}: {e}") from e
        count += 1
    return count


REDUCTION_NAMES = [n for n in NAMES if reduction_groups(plan_for(task(n)))]


def property_task(seed: int, tmp_path: Path) -> Task | None:
    path = tmp_path / f"rand_{seed}.py"
    path.write_text(draw(random.Random(seed)))
    t = load_task(str(path))
    return t if reduction_groups(plan_for(t)) else None


def test_forced_modes_cover_split_online_and_var() -> None:
    facts = [f for n in REDUCTION_NAMES for f in plan_for(task(n)).facts]
    assert any(f.splittable for f in facts) and any(f.online for f in facts)
    assert any(f.welford for f in facts)
    assert set(FAST) <= set(REDUCTION_NAMES)


@pytest.mark.parametrize("name", FAST)
def test_reduction_modes(name: str) -> None:
    assert check_modes(task(name)) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in REDUCTION_NAMES if n not in FAST])
def test_reduction_modes_sweep(name: str) -> None:
    assert check_modes(task(name)) >= 3


CE_IGNORE = """
import torch
import torch.nn as nn
import torch.nn.functional as F

batch_size = 37
num_classes = 300


class Model(nn.Module):
    def forward(self, logits, targets):
        return F.cross_entropy(logits, targets)


def get_inputs():
    logits = torch.randn(batch_size, num_classes)
    targets = torch.randint(0, num_classes, (batch_size,))
    targets[::3] = -100  # ignored rows: out of the sum and out of the count
    return [logits, targets]


def get_init_inputs():
    return []
"""


def test_cross_entropy_target_handling_runs_in_the_kernels(tmp_path: Path) -> None:
    """ignore_index (ne, where on int64 targets), the count of kept rows (a bool sum) and
    the scalar_tensor constants all live inside the two reduction kernels: nothing is left
    as a PyTorch step, and every mode matches F.cross_entropy with ignored rows."""
    path = tmp_path / "ce_ignore.py"
    path.write_text(CE_IGNORE)
    t = load_task(str(path))
    plan = plan_for(t)
    assert plan.summary.count("reduction(") == 2 and "torch(" not in plan.summary, plan.summary
    src = render_plan(plan, plan.initial())
    forward = src[src.index("def forward") :]
    assert "torch.ops." not in forward, forward  # no ATen step left, not even a constant
    assert check_modes(t) >= 6


def test_cross_entropy_target_logit_is_one_load_not_a_pass(tmp_path: Path) -> None:
    """gather(log_softmax(x), target) is evaluated at the target column: in loop mode
    with the online max/sum the first kernel walks the row once (a masked sum over the
    row would be a second walk), and an ignored target (-100) loads nothing."""
    path = tmp_path / "ce_ignore.py"
    path.write_text(CE_IGNORE)
    t = load_task(str(path))
    plan = plan_for(t)
    i = reduction_groups(plan)[0]
    start = plan.initial()["groups"]
    for online, walks in ((True, 1), (False, 2)):
        p = {**modes(plan.facts[i])["loop"], "online": online}
        src = render_plan(plan, {"groups": [*start[:i], p, *start[i + 1 :]]})
        first = src[src.index("@triton.jit") :]
        first = first[: first.index("@triton.jit", 1)]
        assert first.count("for c0 in range") == walks, first
        assert "col ==" not in first and "_ok = rmask & (" in first, first
        if online:  # a running max a row: one exp an element (the rescale is per row)
            assert "acc_amax = tl.full([ROWS, 1]" in first, first
            assert sum("tl.exp(x_in0" in line for line in first.splitlines()) == 1, first
        assert_correct(t, src)


def test_reduction_modes_random_graph(tmp_path: Path) -> None:
    t = next(t for s in SEEDS if (t := property_task(s, tmp_path)) is not None)
    assert check_modes(t) >= 3


@pytest.mark.slow
def test_reduction_modes_random_graph_sweep(tmp_path: Path) -> None:
    checked = [check_modes(t) for s in SEEDS if (t := property_task(s, tmp_path)) is not None]
    assert len(checked) >= 10


# -- static checks over many moves ------------------------------------------------------


def reachable(plan: Plan, depth: int) -> Iterator[dict[str, Any]]:
    """Every parameter set within ``depth`` moves of the start, one group moved at a time
    (the others at their start), each distinct set once."""
    start = plan.initial()["groups"]
    for i, f in enumerate(plan.facts):
        seen = {repr(sorted(start[i].items()))}
        frontier = [start[i]]
        for _ in range(depth):
            nxt = []
            for p in frontier:
                for m in MOVES:
                    q = templates.move(m, p, f)
                    if q is not None and (key := repr(sorted(q.items()))) not in seen:
                        seen.add(key)
                        nxt.append(q)
            frontier = nxt
            for q in nxt:
                yield {"groups": [*start[:i], q, *start[i + 1 :]]}


def check_static(t: Task, depth: int) -> int:
    plan = plan_for(t)
    cols = {f"_k{g.gid}_{g.template}": f.cols for g, f in zip(plan.part.groups, plan.facts, strict=True)}  # fmt: skip
    count = 0
    for params in [plan.initial(), *reachable(plan, depth)]:
        src = render_plan(plan, params)
        assert not undefined_names(src), (t.name, params, undefined_names(src))
        launches = launch_blocks(src, cols)
        cuda = src.count("        _cuda_pointwise(_k")  # CUDA C++ groups (cuda_vec4): no block
        assert len(launches) + cuda >= len(plan.part.groups), src
        for line, numel in launches:
            assert numel <= MAX_NUMEL, (t.name, numel, line)
        count += 1
    return count


@pytest.mark.parametrize("name", STATIC_FAST)
@pytest.mark.parametrize("size", [None, "bench"])
def test_generated_sources_bind_names_and_fit(name: str, size: str | None) -> None:
    assert check_static(task(name, size), depth=2) > 10


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in NAMES if n not in STATIC_FAST])
@pytest.mark.parametrize("size", [None, "bench"])
def test_generated_sources_bind_names_and_fit_sweep(name: str, size: str | None) -> None:
    assert check_static(task(name, size), depth=3) > 1


SIZE_MOVES = ["block_size_up", "block_size_down", "wider_vectors", "rows_per_program",
              "split_row", "chunked_loop", "row_in_registers", "warps_up"]  # fmt: skip


@pytest.mark.parametrize(
    "f",
    [  # tall tiles over a long non-innermost axis (ROWS=128 start), a split row, fp16 rows
        Facts("reduction", 4096 * 65536, rows=4096, cols=65536, innermost=False),
        Facts("reduction", 4 * 2**20, rows=4, cols=2**20, splittable=True),
        Facts("reduction", 2**24, rows=2**14, cols=1024, itemsize=2),
    ],
)
def test_reduction_blocks_never_exceed_triton_limit(f: Facts) -> None:
    """Every parameter set the size moves reach (the move is masked past the limit), and
    no block holds more than MAX_PER_THREAD elements a thread (spills)."""
    start = templates.initial(f)
    seen, frontier, worst = {repr(sorted(start.items()))}, [start], tile_numel(start, f)
    for _ in range(14):
        nxt = []
        for p in frontier:
            for m in SIZE_MOVES:
                q = templates.move(m, p, f)
                if q is not None and (key := repr(sorted(q.items()))) not in seen:
                    seen.add(key)
                    nxt.append(q)
                    worst = max(worst, tile_numel(q, f))
                    assert tile_numel(q, f) <= MAX_PER_THREAD * 32 * q["num_warps"], (m, q)
        frontier = nxt
    assert len(seen) > 20 and 2**14 <= worst <= MAX_NUMEL


def test_tall_tiles_widen_along_the_contiguous_rows() -> None:
    """Reducing a non-innermost axis, the rows are contiguous: wider vectors grow ROWS (not the
    strided BLOCK_C, which an H200 measured 15x slower at 128 x 512 with 4 warps)."""
    f = Facts("reduction", 2**29, rows=2**20, cols=512, innermost=False)
    start = templates.initial(f)
    assert (start["mode"], start["ROWS"], start["BLOCK_C"], start["num_warps"]) == (
        "loop", 128, 32, 4)  # fmt: skip
    wide = templates.move("wider_vectors", start, f)
    assert wide is not None and (wide["ROWS"], wide["BLOCK_C"]) == (512, 32)
    assert templates.move("wider_vectors", wide, f) is None
    # whole strided columns in registers keep the contiguous rows: one row per program
    # would read one element per 2 MB stride (25_rmsnorm measured 1.66 ms against 0.20)
    regs = templates.move("row_in_registers", wide, f)
    assert regs is not None and regs["mode"] == "single" and regs["ROWS"] == 16
    # short columns (RMS norm over 64 channels) start there: x is read once, not twice, in
    # tiles of ~4096 elements (64 rows of 64; 128 rows of 16 or 32)
    short = templates.initial(Facts("reduction", 2**26, rows=2**20, cols=64, innermost=False))
    assert (short["mode"], short["ROWS"], short["BLOCK_C"], short["num_warps"]) == (
        "single", 64, 64, 8)  # fmt: skip
    shorter = templates.initial(Facts("reduction", 2**25, rows=2**20, cols=32, innermost=False))
    assert (shorter["ROWS"], shorter["BLOCK_C"], shorter["num_warps"]) == (128, 32, 4)
    inner = Facts("reduction", 2**20, rows=2**10, cols=2**10)
    loop = {**templates.initial(inner), "mode": "loop", "BLOCK_C": 128, "num_warps": 8}
    assert templates.move("wider_vectors", loop, inner)["BLOCK_C"] == 1024  # capped at the row


def test_undefined_name_check_can_fail() -> None:
    src = (
        "import triton\nimport triton.language as tl\n\n\n@triton.jit\n"
        "def k(x, PHASE: tl.constexpr):\n    a = 1\n    if PHASE == 0:\n        b = a\n"
        "    else:\n        tl.store(x, r_div)\n    for i in range(4):\n        c = i\n"
        "    tl.store(x, b + c)\n    acc += a\n"
    )
    assert [s.split()[0] for s in undefined_names(src)["k"]] == ["r_div", "b", "c", "acc"]
    fixed = src.replace("r_div", "a").replace("    acc += a\n", "")
    fixed = fixed.replace("a = 1\n", "a = 1\n    b = 0\n    c = 0\n")
    assert undefined_names(fixed) == {}


def test_block_limit_check_can_fail() -> None:
    line = "_k0_reduction[(1,)](a, R, C, ROWS=128, BLOCK_C=16384, I64=R * C >= 2**31)"
    assert launch_blocks(line, {}) == [(line, 2**21)]
    single = "_k0_reduction[(1,)](a, ROWS=4, BLOCK_C=triton.next_power_of_2(C), I64=True)"
    assert launch_blocks(single, {"_k0_reduction": 2**19})[0][1] == 2**21


@pytest.mark.parametrize(
    ("name", "size"), [("25_rmsnorm", "batch_size=2,features=40,dim1=16,dim2=20"),
                       ("18_max_dim", "batch_size=3,dim1=45,dim2=200")],
)  # fmt: skip
def test_tall_tile_points_are_correct(name: str, size: str) -> None:
    """The points the tall-tile moves reach (many contiguous rows, a short strided chunk, a
    row count that does not divide the tile) compute the reference's result."""
    t = task(name, size)
    plan = plan_for(t)
    (i,) = reduction_groups(plan)
    f = plan.facts[i]
    start = plan.initial()["groups"][i]
    assert not f.innermost and start["ROWS"] == 64  # ~4096 elements of 64-long columns
    loop = {**start, "mode": "loop", "BLOCK_C": 16, "num_warps": 4, "num_stages": 2}
    points = [start, loop, {**loop, "BLOCK_C": 4}, {**loop, "ROWS": 512, "BLOCK_C": 8}]
    wide = templates.move("wider_vectors", loop, f)
    assert wide is not None
    points.append(wide)
    regs = templates.move("row_in_registers", wide, f)
    assert regs is not None and regs["ROWS"] > 1
    points.append(regs)
    for p in points:
        src = render_plan(plan, {"groups": [p]})
        assert not undefined_names(src), undefined_names(src)
        assert_correct(t, src)


def test_coordinate_sizes_are_compile_time_constants() -> None:
    """A flat reduction with a broadcast operand (hinge: targets [B, 1] against [B, F])
    splits every column index into coordinates; with the sizes constexpr that is a
    multiply and shift, not a run-time integer division an element."""
    plan = plan_for(task("28_hinge", "bench"))
    src = render_plan(plan, plan.initial())
    assert "q1 = q_t % Q1" in src and "Q1: tl.constexpr" in src, src


def test_products_in_every_mode(tmp_path: Path) -> None:
    """``torch.prod`` over a middle axis (KernelBench's form, strided rows), over the last
    axis with an epilogue (split rows at 300 columns), and of every element: single, loop,
    persistent and split modes combine through the product prelude (no ``tl.prod``)."""
    t = task("49_prod_dim")
    assert plan_for(t).templates == ("reduction",)  # was a lone library call: refused
    assert check_modes(t) >= 3
    last = problem_task(tmp_path, "prod_last", consts="rows = 5\ncols = 300", args="x",
                        body="torch.prod(x, dim=-1, keepdim=True) * 2.0 + x",
                        inputs="torch.rand(rows, cols) + 0.5")  # fmt: skip
    whole = problem_task(tmp_path, "prod_all", consts="rows = 7\ncols = 9", args="x",
                         body="torch.prod(x)", inputs="torch.rand(rows, cols) + 0.5")  # fmt: skip
    assert check_modes(last) >= 3 and check_modes(whole) >= 3
    prod_split = problem_task(tmp_path, "prod_split", consts="rows = 5\ncols = 300", args="x",
                              body="torch.prod(x, dim=-1)", inputs="torch.rand(rows, cols) + 0.5")  # fmt: skip
    plan = plan_for(prod_split)
    assert plan.facts[0].splittable
    p = modes(plan.facts[0])["split"]
    src = render_plan(plan, {"groups": [p]})
    assert "tl.reduce(part0, 1, _mul" in src
    assert_correct(prod_split, src)


@pytest.mark.gpu
def test_products_on_the_gpu() -> None:
    """Compiled (the interpreter's reduce is numpy's): every mode of 49_prod_dim at the small
    size and its start at the bench size, against PyTorch on the GPU."""
    for t in (task("49_prod_dim"), task("49_prod_dim", "bench")):
        plan = plan_for(t)
        srcs = [render_plan(plan, plan.initial())]
        if t.size != "bench":
            srcs += [render_plan(plan, {"groups": [p]}) for p in modes(plan.facts[0]).values()]
        for src in srcs:
            assert_correct(t, src, atol=1e-6, rtol=1e-4, device="cuda")
