"""Catalog, templates and bundled tasks agree.

Every template class has its place in the partitioner and in the registry
(`strategies.graph.templates.TEMPLATES`, the one explicit list); each bundled task is an
instance of the templates (its plan has template groups, they move under the catalog's
strategies, and they produce a correct kernel for it); the catalog strategies that apply
to a bundled kind are the moves of that kind's templates, except the documented ones
below, and no template move is left out of a kind's arms; every catalog strategy is a
move of at least one registered template unless it is listed here as no move, with why.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from experiments import TASKS_DIR
from profiling.tasks import Task, bundled_task_names, load_task
from strategies.catalog import load_catalog
from strategies.graph import partition, templates
from strategies.graph.plan import plan_for
from strategies.graph.realizer import GraphRealizer, initial_source
from strategies.graph.space import Facts
from strategies.types import RealizeRequest
from tests.strategies.graph_check import assert_correct

BUNDLED = {
    "softmax": ("reduction",), "logsumexp": ("reduction",),
    "layernorm": ("reduction",), "rmsnorm": ("reduction",), "gelu": ("pointwise",),
    "swiglu": ("pointwise",), "residual_add_rmsnorm": ("reduction",),
    "cross_entropy": ("reduction", "reduction"), "transpose": ("pointwise",),
    "matmul": ("matmul",), "matmul_bias_gelu": ("matmul",),
}  # fmt: skip
# Catalog strategies that are not moves, and why:
ALWAYS_ON = {"fuse_elementwise"}  # the partitioner always fuses
START = {"coalesced_tiles", "block_2d_k_loop"}  # a transposing group starts with 2-D tiles
NOT_YET = {  # no template move yet
    "split_row",  # only for reductions whose outputs are per-row (cross-entropy's is not)
}
# moves only at some sizes: split_k needs K long next to M x N (the smoke sizes' K is 40;
# tests/strategies/test_graph_matmul.py reaches it at a long K)
SIZE_BOUND = {"split_k"}
# moves only for some dtypes: tf32x3 runs fp32 products on tensor cores, k_major_operands
# copies an fp32 operand K-major for them (the bundled matmuls are bf16; the long-K fp32
# problem below and tests/strategies/test_graph_matmul.py reach both)
DTYPE_BOUND = {"tf32x3", "k_major_operands"}
# the bundled layernorm writes its variance as explicit sums (no var node for Welford);
# fuse_epilogue toggles a matmul group's library core (kinds without a matmul: always fused)
PER_KIND = {"layernorm": {"single_pass_online"}, "residual_add_rmsnorm": {"fuse_epilogue"},
            "swiglu": {"fuse_epilogue"}}  # fmt: skip
# cuda_vec4 (every kind may offer it) moves exactly the bundled kinds with an fp32 pointwise
# group that the CUDA kernel addresses (transpose's group reads a strided input)
CUDA_KINDS = {"gelu", "swiglu"}
# no template has a move for these at any size (the LLM realizer still gets them)
NO_MOVE = ALWAYS_ON | {"coalesced_tiles"}
PROBLEMS = Path(__file__).with_name("kernelbench")
LONG_K = "46_matmul_large_k"  # its start splits K: split_k moves from there


@functools.cache
def smoke(name: str):
    return load_task(name, "smoke", tasks_dir=TASKS_DIR)


def test_registry_and_partitioner_name_the_same_templates() -> None:
    assert tuple(t.name for t in templates.TEMPLATES) == partition.TEMPLATES


def test_every_bundled_task_is_listed() -> None:
    assert sorted(BUNDLED) == bundled_task_names(TASKS_DIR)


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_bundled_kind_maps_to_its_templates(name: str) -> None:
    assert plan_for(smoke(name)).templates == BUNDLED[name]


def facts(tasks: list[Task]) -> list[Facts]:
    return [f for t in tasks for f in plan_for(t).facts]


def moves(groups: list[Facts], names: set[str], steps: int = 3) -> set[str]:
    """The strategies (catalog name parts) that change one of the groups at a point
    ``steps`` moves or fewer from its heuristic start."""
    moved: set[str] = set()
    for f in groups:
        frontier = [templates.initial(f)]
        for _ in range(steps):
            nxt = []
            for p in frontier:
                for n in sorted(names):
                    q = templates.move(n, p, f)
                    if q is not None:
                        moved.add(n)
                        nxt.append(q)
            frontier = nxt
    return moved


def names_for(kind: str) -> set[str]:
    return {s.name for s in load_catalog().for_kind(kind)}


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_catalog_strategies_for_the_kind_are_template_moves(name: str) -> None:
    """Both ways: the kind's catalog strategies move its templates (but the documented
    ones), and every move its templates have is one of the kind's strategies (an arm the
    tuner offers), at the smoke and at the default size."""
    names = names_for(name)
    every = {s.name for s in load_catalog()}
    moved = moves(facts([smoke(name)]), names)
    allowed = ALWAYS_ON | START | NOT_YET | SIZE_BOUND | DTYPE_BOUND | PER_KIND.get(name, set())
    assert names - moved - {"cuda_vec4"} <= allowed, names - moved
    assert ("cuda_vec4" in moved) == (name in CUDA_KINDS)
    assert len(moved) >= 5
    hidden = moves(facts([smoke(name), load_task(name, tasks_dir=TASKS_DIR)]), every) - names
    assert not hidden, f"{name}: template moves the catalog does not offer: {hidden}"


def test_every_catalog_strategy_is_a_move_of_a_registered_template() -> None:
    """Over the bundled tasks (smoke and default sizes) and a long-K matmul, every catalog
    strategy moves some template (the CUDA C++ one too: a pointwise group's target),
    except the ones no template implements (`NO_MOVE`); and those listed really move none
    (the list stays honest)."""
    every = {s.name for s in load_catalog()}
    tasks = [smoke(n) for n in sorted(BUNDLED)] + [load_task(str(PROBLEMS / f"{LONG_K}.py"))]
    tasks += [load_task(n, tasks_dir=TASKS_DIR) for n in sorted(BUNDLED)]
    groups = facts(tasks)
    moved = moves(groups, every)
    assert every - moved == NO_MOVE, every - moved
    for t in templates.TEMPLATES:  # each registered template has moves of its own
        assert moves([f for f in groups if f.template == t.name], every), t.name


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_every_bundled_plan_has_template_groups_and_moves(name: str) -> None:
    plan = plan_for(smoke(name))
    assert plan.templates and all(t in templates.BY_NAME for t in plan.templates)
    assert moves(facts([smoke(name)]), names_for(name), steps=1)


def one_step(name: str) -> list[tuple[str, str]]:
    """(strategy id, kernel) for every catalog strategy of the kind that moves its smoke
    kernel one step from the heuristic start."""
    t, realizer, out = smoke(name), GraphRealizer(), []
    for s in load_catalog().runnable(name, "interpret"):
        req = RealizeRequest(task=t, strategy=s, parent_source=t.source)
        if realizer.can_realize(req):
            r = realizer.realize(req)
            assert r.ok, r.error
            out.append((s.id, r.source))
    return out


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_every_one_step_kernel_of_a_bundled_task_is_correct(name: str) -> None:
    """Through the interpreter at the smoke size: the heuristic start and each strategy's
    kernel one move from it (the tuner's first iterations)."""
    t = smoke(name)
    assert_correct(t, initial_source(t))
    variants = one_step(name)
    assert len(variants) >= 4
    for sid, source in variants:
        try:
            assert_correct(t, source)
        except AssertionError as e:
            raise AssertionError(f"{name} after {sid}: {e}") from None
