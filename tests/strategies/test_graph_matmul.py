"""The matmul template's precision policy (TF32 only when opted in) and split-K."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from profiling.tasks import Task, load_task
from strategies.catalog import load_catalog
from strategies.errors import RealizerError
from strategies.factory import build_realizer
from strategies.graph import templates
from strategies.graph.plan import Plan, plan_for
from strategies.graph.realizer import GraphRealizer, initial_source, render_plan
from strategies.graph.space import Facts
from strategies.types import RealizeRequest
from tests.strategies.graph_check import assert_correct

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


@pytest.mark.parametrize("name", ["34_matmul", "38_linear_gelu_scale"])
def test_fp32_matmul_never_uses_tf32_by_default(name: str) -> None:
    t = task(name)
    src = initial_source(t)
    assert 'input_precision="ieee"' in src and "tf32" not in src.split("class Model")[-1]
    seen = list(reachable(plan_for(t), 3))
    assert len(seen) > 100 and not any(p.get("tf32") for p in seen)
    for sid in ("tiling/block_2d_k_loop", "vectorization/wider_vectors"):
        r = GraphRealizer().realize(request(t, sid))
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
    assert 'input_precision="tf32"' not in off.realize(request(t, "tiling/block_2d_k_loop")).source
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
