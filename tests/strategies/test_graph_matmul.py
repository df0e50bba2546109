"""The matmul template's precision policy (TF32 only when opted in) and split-K."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from profiling.hardware import GpuFacts
from profiling.tasks import Task, load_task
from strategies.catalog import load_catalog
from strategies.errors import RealizerError
from strategies.factory import build_realizer
from strategies.graph import templates
from strategies.graph.plan import Plan, plan_for
from strategies.graph.realizer import GraphRealizer, initial_source, render_plan
from strategies.graph.space import Facts
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


def triton_gemm(t: Task) -> str:
    """The heuristic kernel of ``t`` with its matmul group on the Triton GEMM (library=0:
    an fp32 group with an epilogue starts on the library core)."""
    plan = plan_for(t)
    groups = [{k: v for k, v in p.items() if k != "library"} for p in plan.initial()["groups"]]
    return render_plan(plan, {"groups": groups})


@pytest.mark.parametrize("name", ["34_matmul", "38_linear_gelu_scale"])
def test_fp32_matmul_never_uses_tf32_by_default(name: str) -> None:
    t = task(name)
    src = triton_gemm(t)
    assert 'input_precision="ieee"' in src and "tf32" not in src.split("class Model")[-1]
    assert "tf32" not in initial_source(t).split("class Model")[-1]  # the library start too
    seen = list(reachable(plan_for(t), 3))
    assert len(seen) > 100 and not any(p.get("tf32") for p in seen)
    for sid in ("tiling/block_2d_k_loop", "vectorization/wider_vectors"):
        r = GraphRealizer().realize(request(t, sid, src))
        assert r.ok and 'input_precision="tf32"' not in r.source


@pytest.mark.parametrize("precision", ["tf32", "bf16"])
def test_task_precision_opt_in_adds_the_tf32_move(tmp_path: Path, precision: str) -> None:
    t = with_precision(tmp_path, "34_matmul", precision)
    plan = plan_for(t)
    assert plan.facts[0].tf32 and plan.facts[0].fp32_dot
    assert templates.size(plan.facts[0]) == 2 * templates.size(plan_for(task("34_matmul")).facts[0])
    assert 'input_precision="ieee"' in initial_source(t)  # the start stays IEEE: a move opts in
    r = GraphRealizer().realize(request(t, "tiling/block_2d_k_loop"))
    assert r.ok and r.params["groups"][0]["tf32"] is True
    assert 'input_precision="tf32"' in r.source and 'input_precision="ieee"' not in r.source
    assert_correct(t, r.source, atol=1e-2, rtol=1e-2)  # the interpreter computes in fp32
    # once on, the same strategy goes back to stepping BLOCK_K
    r2 = GraphRealizer().realize(request(t, "tiling/block_2d_k_loop", r.source))
    assert r2.ok and r2.params["groups"][0]["tf32"] is True
    assert r2.params["groups"][0]["BK"] == 2 * r.params["groups"][0]["BK"]


def test_user_opt_in_through_the_realizer_config() -> None:
    t = task("38_linear_gelu_scale")
    for kind in ("graph", "offline"):
        realizer = build_realizer(kind, {"name": kind, "allow_tf32": True})
        r = realizer.realize(request(t, "tiling/block_2d_k_loop"))
        assert r.ok and 'input_precision="tf32"' in r.source, kind
        assert_correct(t, r.source, atol=1e-2, rtol=1e-2)
    off = build_realizer("graph", {"name": "graph", "allow_tf32": False})
    r = off.realize(request(t, "tiling/block_2d_k_loop", triton_gemm(t)))
    assert r.ok and 'input_precision="tf32"' not in r.source
    with pytest.raises(RealizerError, match="allow_tf32 must be true or false"):
        build_realizer("graph", {"name": "graph", "allow_tf32": "yes"})


def test_tf32_needs_fp32_operands() -> None:
    """bf16/fp16 operands already use tensor cores: the opt-in adds nothing there."""
    low = Facts("matmul", 4096, rows=64, cols=64, depth=512, itemsize=2, tf32=True)
    p = templates.initial(low)
    q = templates.move("block_2d_k_loop", p, low)
    assert q is not None and not q["tf32"] and q["BK"] == 2 * p["BK"]


def test_tf32_renders_only_where_allowed() -> None:
    plan = plan_for(task("34_matmul"))
    src = render_plan(plan, plan.initial())
    assert 'input_precision="tf32"' not in src
    opted = plan.allowing_tf32()
    assert opted.facts[0].tf32 and not plan.facts[0].tf32


# ------------------------------------------------------------------ split-K

SPLIT_PROBLEMS = ["34_matmul", "35_matmul_transposed_a", "36_bmm_scale", "47_skinny_matmul",
                  "38_linear_gelu_scale", "39_linear_layernorm_relu"]  # fmt: skip


def forced(t: Task, **kw: Any) -> str:
    """The heuristic kernel of ``t`` with its matmul group on the Triton GEMM (library off
    unless ``kw`` says so) and its parameters overridden."""
    plan = plan_for(t)
    groups = [dict(p) for p in plan.initial()["groups"]]
    i = plan.templates.index("matmul")
    groups[i] = {**{k: v for k, v in groups[i].items() if k != "library"}, **kw}
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
