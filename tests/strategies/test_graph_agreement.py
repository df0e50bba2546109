"""Catalog, templates and bundled tasks agree.

Every template class has its place in the partitioner and in the registry; each
bundled task is an instance of the templates (its kind maps to the template
classes listed here, and the templates produce a correct kernel for it); every
catalog strategy that applies to a bundled kind is a move of that kind's
templates, except the documented ones that no template implements yet.
"""

from __future__ import annotations

import functools

import pytest

from experiments import TASKS_DIR
from profiling.tasks import bundled_task_names, load_task
from strategies.catalog import load_catalog
from strategies.graph import partition, templates
from strategies.graph.plan import plan_for
from strategies.graph.realizer import initial_source
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
NOT_YET = {  # no template move yet (the per-kind generators still have them)
    "cuda_vec4",  # templates emit Triton only
    "split_row",  # only for reductions whose outputs are per-row (cross-entropy's is not)
}
# moves only at some sizes: split_k needs K long next to M x N (the smoke sizes' K is 40;
# tests/strategies/test_graph_matmul.py reaches it at a long K)
SIZE_BOUND = {"split_k"}
# the bundled layernorm writes its variance as explicit sums (no var node for Welford);
# fuse_epilogue toggles a matmul group's library core (kinds without a matmul: always fused)
PER_KIND = {"layernorm": {"single_pass_online"}, "residual_add_rmsnorm": {"fuse_epilogue"},
            "swiglu": {"fuse_epilogue"}}  # fmt: skip


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


@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_catalog_strategies_for_the_kind_are_template_moves(name: str) -> None:
    plan = plan_for(smoke(name))
    catalog = load_catalog()
    names = {s.id.rsplit("/", 1)[-1] for s in catalog.for_kind(name)}
    moved: set[str] = set()
    for f in plan.facts:  # every point three moves from the heuristic start
        frontier = [templates.initial(f)]
        for _ in range(3):
            nxt = []
            for p in frontier:
                for n in names:
                    q = templates.move(n, p, f)
                    if q is not None:
                        moved.add(n)
                        nxt.append(q)
            frontier = nxt
    allowed = ALWAYS_ON | START | NOT_YET | SIZE_BOUND | PER_KIND.get(name, set())
    assert names - moved <= allowed, names - moved
    assert len(moved) >= 5


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BUNDLED))
def test_templates_are_correct_on_bundled_tasks(name: str) -> None:
    assert_correct(smoke(name), initial_source(smoke(name)))
