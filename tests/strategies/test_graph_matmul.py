"""The matmul template's precision policy (TF32 only when opted in; 3xTF32 keeps fp32-level
error) and split-K."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from profiling.hardware import GpuFacts
from profiling.tasks import Task, exec_module, load_task
from strategies.catalog import load_catalog
from strategies.errors import RealizerError
from strategies.factory import build_realizer
from strategies.graph import templates
from strategies.graph.plan import Plan, plan_for
from strategies.graph.realizer import GraphRealizer, initial_source, render_plan
from strategies.graph.space import Facts
from strategies.graph.space_matmul import OPTIONAL
from strategies.types import RealizeRequest
from tests.strategies.graph_check import assert_correct, undefined_names

PROBLEMS = Path(__file__).with_name("kernelbench")
NAMES = [s.id.rsplit("/", 1)[-1] for s in load_catalog()]


@functools.cache
def task(name: str, size: str | None = None) -> Task:
    return load_task(str(PROBLEMS / f"{name}.py"), size)


def with_precision(tmp_path: Path, name: str, precision: str) -> Task:
    """A copy of a problem that opts into a precision with the module constant PRECISION."""
    src = (PROBLEMS / f"{name}.py").read_text()
    path = tmp_path / f"{name}.py"
    path.write_text(
        src.replace("\nclass Model", f'\nPRECISION = "{precision}"\n\n\nclass Model', 1)
    )
    return load_task(str(path))


def reachable(plan: Plan, depth: int) -> Iterator[dict[str, Any]]:
    """Every group parameter set within ``depth`` catalog moves of the heuristic start."""
    for i, f in enumerate(plan.facts):
        frontier = [plan.initial()["groups"][i]]
        for _ in range(depth):
            nxt = []
            for p in frontier:
                yield p
                nxt += [q for n in NAMES if (q := templates.move(n, p, f)) is not None]
            frontier = nxt
        yield from frontier


def request(t: Task, strategy_id: str, parent: str | None = None) -> RealizeRequest:
    return RealizeRequest(
        task=t, strategy=load_catalog().get(strategy_id), parent_source=parent or t.source
    )


# ------------------------------------------------------------------ precision


def ieee_gemm(t: Task) -> str:
    """The heuristic kernel of ``t`` with its matmul group on IEEE fp32 products (the start
    runs fp32 on tensor cores: 3xTF32, operands K-major)."""
    plan = plan_for(t)
    off = ("library", "tf32x3", "kmajor")
    groups = [{k: v for k, v in p.items() if k not in off} for p in plan.initial()["groups"]]
    return render_plan(plan, {"groups": groups})


def library_source(t: Task) -> str:
    """The heuristic kernel of ``t`` with its matmul group moved to the library point."""
    plan = plan_for(t)
    groups = [dict(p) for p in plan.initial()["groups"]]
    i = plan.templates.index("matmul")
    groups[i] = templates.move("fuse_epilogue", groups[i], plan.facts[i])
    assert groups[i]["library"] == 1
    return render_plan(plan, {"groups": groups})


@pytest.mark.parametrize("name", ["34_matmul", "38_linear_gelu_scale"])
def test_fp32_matmul_never_uses_tf32_by_default(name: str) -> None:
    """fp32 starts on three TF32 products (fp32-level error), never on one; no move reaches
    plain TF32 without the opt-in."""
    t = task(name)
    code = initial_source(t).split("# ---- generated kernels")[1]
    assert 'input_precision="tf32x3"' in code and 'input_precision="tf32"' not in code
    src = ieee_gemm(t)
    assert 'input_precision="ieee"' in src and "tf32" not in src.split("class Model")[-1]
    seen = list(reachable(plan_for(t), 3))
    assert len(seen) > 100 and not any(p.get("tf32") for p in seen)
    for sid in ("tiling/block_2d_k_loop", "vectorization/wider_vectors"):
        for parent in (None, src):
            r = GraphRealizer().realize(request(t, sid, parent))
            assert r.ok and 'input_precision="tf32"' not in r.source


@pytest.mark.parametrize("precision", ["tf32", "bf16"])
def test_task_precision_opt_in_starts_on_tf32(tmp_path: Path, precision: str) -> None:
    t = with_precision(tmp_path, "34_matmul", precision)
    plan = plan_for(t)
    assert plan.facts[0].tf32 and plan.facts[0].fp32_dot
    ieee_only = replace(plan_for(task("34_matmul")).facts[0], fp32_dot=False)
    # TF32 or IEEE (3xTF32's place), times B as it is or K-major
    assert templates.size(plan.facts[0]) == 4 * templates.size(ieee_only)
    start = initial_source(t)
    assert 'input_precision="tf32"' in start and "tf32x3" not in start
    assert_correct(t, start, atol=1e-2, rtol=1e-2)
    # from an IEEE kernel the same strategy opts in; once on, it steps BLOCK_K
    r = GraphRealizer().realize(request(t, "tiling/block_2d_k_loop", ieee_gemm(t)))
    assert r.ok and r.params["groups"][0]["tf32"] is True
    assert 'input_precision="tf32"' in r.source and 'input_precision="ieee"' not in r.source
    r2 = GraphRealizer().realize(request(t, "tiling/block_2d_k_loop", r.source))
    assert r2.ok and r2.params["groups"][0]["tf32"] is True
    assert r2.params["groups"][0]["BK"] == 2 * r.params["groups"][0]["BK"]


def test_user_opt_in_through_the_realizer_config() -> None:
    t = task("38_linear_gelu_scale")
    for kind in ("graph", "offline"):
        realizer = build_realizer(kind, {"name": kind, "allow_tf32": True})
        r = realizer.realize(request(t, "tiling/block_2d_k_loop", ieee_gemm(t)))
        assert r.ok and 'input_precision="tf32"' in r.source, kind
        assert_correct(t, r.source, atol=1e-2, rtol=1e-2)
    off = build_realizer("graph", {"name": "graph", "allow_tf32": False})
    r = off.realize(request(t, "tiling/block_2d_k_loop", ieee_gemm(t)))
    assert r.ok and 'input_precision="tf32"' not in r.source
    with pytest.raises(RealizerError, match="allow_tf32 must be true or false"):
        build_realizer("graph", {"name": "graph", "allow_tf32": "yes"})


def test_tf32_needs_fp32_operands() -> None:
    """bf16/fp16 operands already use tensor cores: the opt-in adds nothing there."""
    low = Facts("matmul", 4096, rows=64, cols=64, depth=512, itemsize=2, tf32=True)
    p = templates.initial(low)
    q = templates.move("block_2d_k_loop", p, low)
    assert q is not None and not q["tf32"] and q["BK"] == 2 * p["BK"]
    assert "tf32x3" not in p and "kmajor" not in p


def test_tf32_renders_only_where_allowed() -> None:
    plan = plan_for(task("34_matmul"))
    src = render_plan(plan, plan.initial())
    assert 'input_precision="tf32"' not in src
    opted = plan.allowing_tf32()
    assert opted.facts[0].tf32 and not plan.facts[0].tf32


# ------------------------------------------------------------------ 3xTF32


def test_tf32x3_is_the_fp32_start_and_a_move_back_to_ieee() -> None:
    """The start: three TF32 products per fp32 product; the move: the IEEE kernel; again:
    the start."""
    t = task("34_matmul")
    plan = plan_for(t)
    start = plan.initial()
    assert start["groups"][0]["tf32x3"] == 1
    src = initial_source(t)
    assert src.count('input_precision="tf32x3"') >= 1
    assert 'input_precision="ieee"' not in src and 'input_precision="tf32"' not in src
    assert_correct(t, src)  # the fp32 tolerance (the interpreter computes in fp32)
    r = GraphRealizer().realize(request(t, "math/tf32x3"))
    assert r.ok and r.params["groups"][0] == {
        k: v for k, v in start["groups"][0].items() if k != "tf32x3"
    }
    assert 'input_precision="ieee"' in r.source and "tf32x3" not in r.source
    assert_correct(t, r.source)
    back = GraphRealizer().realize(request(t, "math/tf32x3", r.source))
    assert back.ok and back.params["groups"] == start["groups"]
    assert back.source == initial_source(t)


def test_tf32x3_from_the_library_point_jumps_to_the_triton_gemm() -> None:
    """From cuBLAS + one epilogue kernel the move is one jump to the fused Triton GEMM on
    tensor cores (the epilogue still fused, still correct)."""
    t = task("38_linear_gelu_scale")
    r = GraphRealizer().realize(request(t, "math/tf32x3", library_source(t)))
    g = r.params["groups"][0]
    assert r.ok and "library" not in g and g["tf32x3"] == 1
    assert "torch.addmm" not in r.source.split("class ModelNew")[-1]
    assert_correct(t, r.source)


def test_tf32x3_only_for_fp32_operands_not_opted_into_tf32(tmp_path: Path) -> None:
    """bf16/fp16 operands already run on tensor cores; a task that accepts TF32 takes the
    single TF32 product (faster) instead: no tf32x3 move in either, one more precision each."""
    fp32 = plan_for(task("34_matmul")).facts[0]
    low = Facts("matmul", 4096, rows=64, cols=64, depth=512, itemsize=2)
    assert templates.move("tf32x3", templates.initial(low), low) is None
    opted = plan_for(with_precision(tmp_path, "34_matmul", "tf32")).facts[0]
    assert templates.move("tf32x3", templates.initial(opted), opted) is None
    assert templates.move("tf32x3", templates.initial(fp32), fp32) is not None
    ieee_only = replace(fp32, fp32_dot=False, itemsize=4)
    assert templates.size(fp32) == 4 * templates.size(ieee_only) == templates.size(opted)


def test_tf32x3_moves_split_k_and_tma_kernels() -> None:
    """Every K loop the template writes (split-K's partials, the TMA descriptor kernel and its
    pointer fallback) takes the precision."""
    t = task("47_skinny_matmul")
    src = forced(t, split_k=2, even=True, tma=1, tf32x3=1)
    assert src.count('input_precision="tf32x3"') == 2 and "ieee" not in src
    assert_correct(t, src)


# ------------------------------------------------------------------ K-major operands


@pytest.mark.parametrize(
    ("name", "copied"),
    [("34_matmul", "_kb"), ("35_matmul_transposed_a", "_ka"), ("36_bmm_scale", "_kb")],
)
def test_kmajor_copies_the_operand_that_is_not_k_contiguous(name: str, copied: str) -> None:
    """B row-major (34, the bmm) or A transposed (35): the move copies it K-major (the same
    values), again drops the copy; both correct. At these small sizes the start does not copy."""
    t = task(name)
    plan = plan_for(t)
    i = plan.templates.index("matmul")
    f = plan.facts[i]
    assert not (f.a_k_major and f.b_k_major) and "kmajor" not in plan.initial()["groups"][i]
    r = GraphRealizer().realize(request(t, "memory_layout/k_major_operands"))
    assert r.ok and r.params["groups"][i]["kmajor"] == 1
    assert f"{copied} = " in r.source and ".contiguous()" in r.source
    assert_correct(t, r.source)
    back = GraphRealizer().realize(request(t, "memory_layout/k_major_operands", r.source))
    assert back.ok and back.source == initial_source(t)


@pytest.mark.parametrize(
    ("name", "copies"),
    [("34_matmul", True), ("35_matmul_transposed_a", True), ("36_bmm_scale", True),
     ("47_skinny_matmul", True), ("46_matmul_large_k", False), ("38_linear_gelu_scale", False)],
)  # fmt: skip
def test_the_start_copies_where_the_product_amortises_it(name: str, copies: bool) -> None:
    """At bench size: 4096^3 (B or A off K), the 64 x 512^3 bmm and 16384 rows over a
    16-column B copy; 256 x 256 x 131072 would copy 134 MB for 256 rows (an H200 lost to it),
    nn.Linear's weight is K-major already."""
    plan = plan_for(task(name, "bench"))
    assert (plan.initial()["groups"][0].get("kmajor") == 1) == copies


def test_kmajor_only_for_fp32_operands_off_k(tmp_path: Path) -> None:
    """nn.Linear's weight is already K-major (x @ w.t()); bf16 tiles load either way: no move."""
    linear = plan_for(task("38_linear_gelu_scale"))
    f = linear.facts[0]
    assert f.fp32_dot and f.a_k_major and f.b_k_major
    assert templates.move("k_major_operands", linear.initial()["groups"][0], f) is None
    low = replace(plan_for(task("34_matmul")).facts[0], itemsize=2, fp32_dot=False)
    assert templates.move("k_major_operands", templates.initial(low), low) is None
    opted = plan_for(with_precision(tmp_path, "34_matmul", "tf32")).facts[0]
    wide = replace(opted, rows=4096, cols=4096, numel=4096 * 4096)
    assert templates.initial(wide)["kmajor"] == 1  # TF32 reads K-major tiles too


def test_kmajor_from_the_library_point_jumps_to_the_triton_gemm() -> None:
    t = task("36_bmm_scale")
    r = GraphRealizer().realize(request(t, "memory_layout/k_major_operands", library_source(t)))
    g = r.params["groups"][0]
    assert r.ok and "library" not in g and g["kmajor"] == 1 and g["tf32x3"] == 1
    assert_correct(t, r.source)


@pytest.mark.gpu
@pytest.mark.parametrize("kmajor", [0, 1])
def test_tf32x3_keeps_fp32_error_on_the_gpu(kmajor: int) -> None:
    """Compiled on tensor cores (TMA tiles, B as it is or copied K-major), against float64:
    3xTF32's error is no larger than eager's IEEE fp32 product (cuBLAS) and far below one
    TF32 product's."""
    assert os.environ.get("TRITON_INTERPRET") != "1"
    t = task("47_skinny_matmul", "M=2048,K=8192,N=16")
    src = forced(t, even=True, tma=1, tf32x3=1, kmajor=kmajor)
    mod = t.load_module()
    cand = exec_module(src, "cand_tf32x3").ModelNew()
    torch.manual_seed(0)
    a, b = (x.cuda() for x in mod.get_inputs())
    want = (a.double() @ b.double())
    scale = want.abs().max().item()

    def err(out: torch.Tensor) -> float:
        return (out.double() - want).abs().max().item() / scale

    eager = err(a @ b)
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        tf32 = err(a @ b)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = False
    ours = err(cand(a, b))
    assert ours <= 2 * eager and ours * 20 < tf32, (ours, eager, tf32)


# ------------------------------------------------------------------ split-K

SPLIT_PROBLEMS = ["34_matmul", "35_matmul_transposed_a", "36_bmm_scale", "47_skinny_matmul",
                  "38_linear_gelu_scale", "39_linear_layernorm_relu"]  # fmt: skip


def forced(t: Task, **kw: Any) -> str:
    """The heuristic kernel of ``t`` with its matmul group on the Triton GEMM (library off
    unless ``kw`` says so) and its parameters overridden (an optional key set to 0: off)."""
    plan = plan_for(t)
    groups = [dict(p) for p in plan.initial()["groups"]]
    i = plan.templates.index("matmul")
    group = {**{k: v for k, v in groups[i].items() if k != "library"}, **kw}
    groups[i] = {k: v for k, v in group.items() if v or k not in OPTIONAL}  # 0: absent
    return render_plan(plan, {"groups": groups})


@pytest.mark.parametrize("name", SPLIT_PROBLEMS)
@pytest.mark.parametrize("split", [2, 3, 4])
def test_split_k_is_correct(name: str, split: int) -> None:
    """K = 40 or 50 in 16-wide steps: a ragged last step, and with 4 splits of one step
    each, a split with nothing to add; bias, activation, scale, batch and transposed
    operands in the epilogue problems."""
    t = task(name)
    src = forced(t, split_k=split, BK=16, even=True)
    assert f"SPLIT_K={split}" in src and "_sum[" in src
    assert not any(undefined_names(src).values())
    assert_correct(t, src)


def test_split_k_with_k_a_multiple_of_the_step() -> None:
    t = task("47_skinny_matmul", "K=64")
    for even in (False, True):
        assert_correct(t, forced(t, split_k=2, BK=16, even=even))


def test_one_tile_without_split_k_has_no_workspace() -> None:
    src = initial_source(task("34_matmul"))
    assert "_ws" not in src and "SPLIT_K" not in src


def test_split_k_heuristic_follows_the_sm_count() -> None:
    """Split-K only when the output tiles leave SMs idle and K is long."""
    skinny = plan_for(task("47_skinny_matmul", "bench"))  # 16384 x 8192 @ 8192 x 16
    assert skinny.initial()["groups"][0]["split_k"] == 1  # 256 tiles of 64 x 16 fill 132 SMs
    assert skinny.on_gpu(264).initial()["groups"][0]["split_k"] == 2
    assert skinny.on_gpu(1024).initial()["groups"][0]["split_k"] == 8
    assert plan_for(task("34_matmul", "bench")).initial()["groups"][0]["split_k"] == 1
    tall = Facts("matmul", 256 * 256, rows=256, cols=256, depth=65536, fp32_dot=True)
    assert templates.initial(tall)["split_k"] == 16  # 16 tiles x 16 splits ~ 2 waves
    short = Facts("matmul", 256 * 256, rows=256, cols=256, depth=64, fp32_dot=True)
    assert templates.initial(short)["split_k"] == 1  # two BK steps: nothing to split


def test_large_k_problem_starts_split() -> None:
    t = task("46_matmul_large_k")  # one 32 x 32 tile, ten BK steps: two splits
    src = initial_source(t)
    assert "SPLIT_K=2" in src
    assert_correct(t, src)
    bench = plan_for(task("46_matmul_large_k", "bench"))  # 16 tiles of 256 x 256, K = 131072
    assert bench.initial()["groups"][0]["split_k"] == 16


def test_the_request_gpu_reaches_the_heuristic() -> None:
    t = task("47_skinny_matmul", "bench")
    for sms, want in ((264, 2), (0, 1), (1024, 8)):  # 0: unknown GPU, the H200 default
        req = RealizeRequest(task=t, strategy=load_catalog().get("parallelism/warps_up"),
                             parent_source=t.source, gpu=GpuFacts(sm_count=sms))  # fmt: skip
        r = GraphRealizer().realize(req)
        assert r.ok and r.params["groups"][0]["split_k"] == want, sms


def test_split_k_is_a_catalog_move() -> None:
    t = task("47_skinny_matmul", "K=300")  # two 64-row tiles, ten BK steps: the start splits in two
    realizer = GraphRealizer()
    r = realizer.realize(request(t, "tiling/split_k"))
    assert r.ok and r.params["groups"][0]["split_k"] == 4
    assert_correct(t, r.source)
    back = realizer.realize(request(t, "tiling/split_k", r.source))  # 8 would be under 2 steps
    assert back.ok and back.params["groups"][0]["split_k"] == 1
    assert_correct(t, back.source)
    assert "_sum[" not in back.source
    persistent = realizer.realize(request(t, "parallelism/persistent", r.source))
    assert not persistent.ok  # a split grid is not persistent
    big = plan_for(task("34_matmul", "bench"))  # 4096 tiles: split-K is masked
    assert templates.move("split_k", big.initial()["groups"][0], big.facts[0]) is None


def test_split_k_enlarges_the_space() -> None:
    f = plan_for(task("34_matmul")).facts[0]
    assert templates.size(f) >= 3 * 5 * 5 * 4 * 4 * 5 * 5 * 2 * 2 * 2


def test_tile_aspect_visits_every_shape_of_the_area() -> None:
    """Applied again and again, tile_aspect walks 64x64 -> 128x32 -> 256x16 -> 16x256 ->
    32x128 -> 64x64 (it used to flip between two shapes); shapes that do not fit are skipped."""
    f = Facts("matmul", 2**24, rows=4096, cols=4096, depth=4096, itemsize=2)
    p = {**templates.initial(f), "BM": 64, "BN": 64, "BK": 32, "num_warps": 4, "num_stages": 3}
    seen = []
    for _ in range(5):
        p = templates.move("tile_aspect", p, f)
        assert p is not None
        seen.append((p["BM"], p["BN"]))
    assert seen == [(128, 32), (256, 16), (16, 256), (32, 128), (64, 64)]
    big = {**p, "BK": 128, "num_stages": 4}  # 256-wide shapes need too much shared memory
    shapes = set()
    for _ in range(5):
        big = templates.move("tile_aspect", big, f) or big
        shapes.add((big["BM"], big["BN"]))
    assert (256, 16) not in shapes and (16, 256) not in shapes and (128, 32) in shapes
