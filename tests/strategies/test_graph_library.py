"""The matmul template's library point: the GEMM core as a PyTorch call, the epilogue fused.

``library=1`` (only for a group with pointwise work beyond the product) runs the
product with ``torch.mm``/``bmm``/``addmm`` on the same operand views and one
generated kernel for the whole epilogue; ``fusion/fuse_epilogue`` toggles it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from experiments import TASKS_DIR
from profiling.tasks import Task, load_task
from strategies.catalog import load_catalog
from strategies.graph import space, space_matmul, templates
from strategies.graph.plan import plan_for
from strategies.graph.realizer import GraphRealizer, initial_source, parent_params, render_plan
from strategies.graph.space import Facts
from tests.strategies.graph_check import assert_correct, undefined_names
from tests.strategies.test_graph_matmul import (
    NAMES,
    library_source,
    request,
    task,
    with_precision,
)

ADDMM_RELU = '''"""fp32 addmm with beta and alpha, then ReLU; the product is an output too."""

import torch
import torch.nn as nn

M = 20
K = 36
N = 28


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(K, N))
        self.bias = nn.Parameter(torch.randn(N))

    def forward(self, x):
        y = torch.addmm(self.bias, x, self.weight, beta=0.5, alpha=2.0)
        return OUT


def get_inputs():
    return [torch.randn(M, K)]


def get_init_inputs():
    return []
'''


def addmm_task(tmp_path: Path, out: str) -> Task:
    path = tmp_path / "addmm_relu.py"
    path.write_text(ADDMM_RELU.replace("OUT", out))
    return load_task(str(path))


def generated(source: str) -> str:
    """The generated part of a source (kernels and ModelNew), without the embedded reference."""
    return source.split("# ---- generated kernels")[1]


def body(source: str) -> str:
    """A generated source less its parameter header line."""
    return source.split("\n", 1)[1]


def library_points(f: Facts, depth: int) -> list[dict[str, Any]]:
    """Distinct library points within ``depth`` catalog moves of the heuristic start."""
    seen: dict[str, dict[str, Any]] = {}
    frontier = [templates.initial(f)]
    for _ in range(depth):
        nxt = []
        for p in frontier:
            for n in NAMES:
                q = templates.move(n, p, f)
                if q is not None and q.get("library") and repr(sorted(q.items())) not in seen:
                    seen[repr(sorted(q.items()))] = q
                    nxt.append(q)
        frontier = nxt
    return list(seen.values())


# ------------------------------------------------------------------ correctness


@pytest.mark.parametrize(
    ("name", "call"), [("38_linear_gelu_scale", "torch.addmm("), ("36_bmm_scale", "torch.bmm(")]
)
def test_library_point_is_correct(name: str, call: str) -> None:
    t = task(name)
    src = library_source(t)
    kernels = generated(src)
    assert call in kernels and "tl.dot" not in kernels and "_epilogue[" in kernels
    assert "allow_tf32" not in kernels and "float32_matmul_precision" not in kernels
    assert kernels.count("@triton.jit") == 1  # one kernel runs the whole epilogue
    assert not any(undefined_names(src).values())
    assert_correct(t, src)


@pytest.mark.parametrize(
    "sid", ["tiling/block_size_down", "memory_layout/tile_aspect", "parallelism/warps_up",
            "memory_layout/streaming_eviction"],
)  # fmt: skip
def test_library_moves_are_correct(sid: str) -> None:
    """Ragged tiles (24 x 40 output), other tile shapes, warps and the streaming loads."""
    t = task("38_linear_gelu_scale")
    r = GraphRealizer().realize(request(t, sid, library_source(t)))
    assert r.ok and r.params["groups"][0]["library"] == 1, r.error
    assert_correct(t, r.source)


def test_addmm_relu_keeps_beta_and_alpha_in_the_library_call(tmp_path: Path) -> None:
    t = addmm_task(tmp_path, "torch.relu(y)")
    src = library_source(t)
    gen = generated(src)
    assert "torch.addmm(" in gen and "beta=0.5, alpha=2.0" in gen and "tl.dot" not in gen
    assert_correct(t, src)


def test_product_as_an_output_is_the_library_result(tmp_path: Path) -> None:
    """The product is returned as well: the call's tensor itself, no copy by the kernel."""
    t = addmm_task(tmp_path, "y, torch.relu(y)")
    plan = plan_for(t)
    assert plan.facts[0].epilogue and "library" not in plan.initial()["groups"][0]
    src = library_source(t)
    assert src.count("tl.store(") == 1  # the ReLU only
    assert_correct(t, src)
    back = GraphRealizer().realize(request(t, "fusion/fuse_epilogue", src))
    assert back.ok and "tl.dot" in back.source and "torch.addmm(" not in generated(back.source)
    assert_correct(t, back.source)


def test_a_group_without_an_epilogue_has_no_library_point() -> None:
    """39's Linear is a bare addmm (the layer norm is a reduction group of its own)."""
    plan = plan_for(task("39_linear_layernorm_relu"))
    i = plan.templates.index("matmul")
    f, p = plan.facts[i], plan.initial()["groups"][i]
    assert f.fp32_dot and not f.epilogue and "library" not in p
    assert templates.move("fuse_epilogue", p, f) is None
    groups = [dict(q) for q in plan.initial()["groups"]]
    groups[i]["library"] = 1  # a hand-written header cannot make the emitter write nothing
    with pytest.raises(ValueError, match="needs an epilogue"):
        render_plan(plan, {"groups": groups})


# ------------------------------------------------------------------ the space


def test_fp32_with_an_epilogue_starts_on_the_fused_triton_gemm(tmp_path: Path) -> None:
    """fp32 products run on tensor cores (3xTF32, or TF32 where opted in) with the epilogue
    fused; cuBLAS + an epilogue kernel (IEEE fp32, about 0.6x the 3xTF32 GEMM on an H200)
    is one move away."""
    for name in ("38_linear_gelu_scale", "36_bmm_scale"):
        plan = plan_for(task(name))
        start = plan.initial()["groups"][0]
        assert "library" not in start and start["tf32x3"] == 1, name
        assert templates.move("fuse_epilogue", start, plan.facts[0])["library"] == 1
    opted = with_precision(tmp_path, "38_linear_gelu_scale", "tf32")
    assert "library" not in plan_for(opted).initial()["groups"][0]
    assert plan_for(opted).initial()["groups"][0]["tf32"] is True
    user = plan_for(task("38_linear_gelu_scale")).allowing_tf32()
    assert user.initial()["groups"][0]["tf32"] is True
    bf16 = plan_for(load_task("matmul_bias_gelu", tasks_dir=TASKS_DIR))  # bf16 by default
    assert bf16.facts[0].epilogue and not bf16.facts[0].fp32_dot
    assert "library" not in bf16.initial()["groups"][0]
    low = Facts("matmul", 4096, rows=64, cols=64, depth=512, itemsize=2, epilogue=True)
    assert "library" not in templates.initial(low)
    assert templates.move("fuse_epilogue", templates.initial(low), low)["library"] == 1


def test_bare_matmul_never_reaches_the_library() -> None:
    plan = plan_for(task("34_matmul"))
    f = plan.facts[0]
    assert not f.epilogue
    frontier = [plan.initial()["groups"][0]]
    for _ in range(3):
        frontier = [q for p in frontier for n in NAMES if (q := templates.move(n, p, f))]
        assert frontier and not any("library" in q for q in frontier)


def test_fuse_epilogue_round_trips() -> None:
    t = task("38_linear_gelu_scale")
    plan = plan_for(t)
    f, start = plan.facts[0], plan.initial()["groups"][0]
    assert start == space_matmul.initial_matmul(f) and "library" not in start
    lib = templates.move("fuse_epilogue", start, f)
    assert lib["library"] == 1 and "tf32x3" not in lib  # cuBLAS: the GEMM keys dropped
    assert templates.move("fuse_epilogue", lib, f) == start  # and back on the way out
    # a tuned Triton GEMM keeps its tile but resets the GEMM-only parameters on the way in
    tuned = templates.move("block_2d_k_loop", templates.move("block_size_down", start, f), f)
    lib2 = templates.move("fuse_epilogue", tuned, f)
    assert lib2["library"] == 1 and lib2["BM"] == tuned["BM"] and lib2["BK"] == start["BK"]
    assert tuned["BK"] != start["BK"]
    # through the realizer: sources, and a parent written before the key existed
    realizer = GraphRealizer()
    out = realizer.realize(request(t, "fusion/fuse_epilogue"))
    assert out.ok and out.params["groups"][0]["library"] == 1
    assert "tl.dot" not in generated(out.source) and "torch.addmm(" in generated(out.source)
    assert parent_params(plan, out.source, {})["groups"] == [lib]
    back = realizer.realize(request(t, "fusion/fuse_epilogue", out.source))
    assert back.ok and back.source == initial_source(t)


def test_library_moves_change_the_source_or_are_masked() -> None:
    """At a library point a move that changes only GEMM parameters is masked (None): the
    bandit is not offered a kernel it already has; every other move writes a new kernel."""
    t = task("38_linear_gelu_scale")
    plan = plan_for(t)
    f = plan.facts[0]
    points = library_points(f, 3)
    assert len(points) > 20
    sources = {body(render_plan(plan, {"groups": [p]})) for p in points}
    assert len(sources) == len(points)  # one parameter set per library kernel
    offered = set()
    for p in points:
        for n in NAMES:
            q = templates.move(n, p, f)
            if q is None:
                continue
            offered.add(n)
            assert body(render_plan(plan, {"groups": [q]})) != body(
                render_plan(plan, {"groups": [p]})
            ), n
    # 38's operands are K-major already (nn.Linear): no K-major copy to jump to
    assert offered == set(space_matmul.LIBRARY_MOVES) - {"k_major_operands"}
    realizer = GraphRealizer()
    lib = templates.move("fuse_epilogue", plan.initial()["groups"][0], f)
    for n in set(NAMES) - set(space_matmul.LIBRARY_MOVES):  # e.g. split_k, stages, BK, persistent
        assert templates.move(n, lib, f) is None, n
    parent = library_source(t)
    for s in load_catalog():  # the tuner masks those arms at a library point
        wanted = s.id.rsplit("/", 1)[-1] in set(space_matmul.LIBRARY_MOVES) - {"k_major_operands"}
        assert realizer.can_realize(request(t, s.id, parent)) == wanted, s.id


def test_size_counts_the_library_points() -> None:
    f = plan_for(task("38_linear_gelu_scale", "bench")).facts[0]
    added = templates.size(f) - templates.size(replace(f, epilogue=False))
    assert 0 < added <= 5 * 5 * len(space.WARPS) * 2  # BM x BN x warps x evict, tiles that fit
    points = library_points(f, 6)
    kernels = {(p["BM"], p["BN"], p["num_warps"], p["evict"]) for p in points}
    assert len(kernels) == len(points) and len(points) <= added
    bare = plan_for(task("34_matmul", "bench")).facts[0]
    assert bare.tma and bare.fp32_dot  # masked, even K steps, TMA tiles: 3 load modes
    # x 2: an fp32 product not opted into TF32 is IEEE or 3xTF32 (both keep fp32's error);
    # x 2: its row-major B as it is or copied K-major
    assert templates.size(bare) == 5 * 5 * 4 * 4 * len(space.WARPS) * 5 * 3 * 2 * 6 * 2 * 2
