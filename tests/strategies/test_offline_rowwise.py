"""The row-wise offline generators and the offline realizer, on the CPU interpreter.

Every realized kernel is executed (``TRITON_INTERPRET=1``, set by tests/conftest.py)
at the task's ``smoke`` size and compared with the reference ``Model`` in-process.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
import torch

from experiments import TASKS_DIR
from profiling.evaluator import EvalSettings, WorkerEvaluator
from profiling.tasks import Task, exec_module, load_task
from strategies.catalog import load_catalog
from strategies.offline.base import generators, parse_params, render_module, strategy_name
from strategies.offline.realizer import OfflineRealizer, default_source, offline_kinds
from strategies.offline.rowwise_common import ROWWISE_STRATEGIES
from strategies.types import Realization, RealizeRequest, Strategy

ROWWISE = ("softmax", "logsumexp", "cross_entropy", "layernorm", "rmsnorm", "residual_add_rmsnorm")
REALIZER = OfflineRealizer()

# a few multi-step chains per kind (each step must apply)
CHAINS = {
    "softmax": [
        ("single_pass_online", "block_size_down", "persistent"),
        ("row_in_registers", "rows_per_program", "streaming_eviction"),
        ("split_row", "block_size_down", "wider_vectors"),
    ],
    "logsumexp": [
        ("split_row", "alignment_hints", "block_size_down"),
        ("row_in_registers", "persistent", "stages_up"),
    ],
    "cross_entropy": [
        ("split_row", "streaming_eviction"),
        ("single_pass_online", "rows_per_program", "persistent"),
        ("row_in_registers", "rows_per_program", "warps_down"),
    ],
    "layernorm": [
        ("single_pass_online", "block_size_down", "rows_per_program"),
        ("row_in_registers", "persistent", "streaming_eviction"),
        ("block_size_down", "wider_vectors", "alignment_hints"),
    ],
    "rmsnorm": [
        ("row_in_registers", "persistent", "wider_vectors"),
        ("block_size_down", "rows_per_program", "streaming_eviction"),
    ],
    "residual_add_rmsnorm": [
        ("fuse_epilogue", "block_size_down", "persistent"),
        ("fuse_epilogue", "row_in_registers", "persistent"),
        ("row_in_registers", "rows_per_program", "alignment_hints"),
    ],
}


@functools.cache
def _catalog_ids() -> dict[str, str]:
    return {strategy_name(s.id): s.id for s in load_catalog().strategies}


def strategy(name: str, applies_to: tuple[str, ...] = ()) -> Strategy:
    sid = _catalog_ids().get(name, f"tiling/{name}")
    return Strategy(
        id=sid,
        family=sid.split("/")[0],
        name=name,
        description="",
        resource="dram",
        guidance="",
        applies_to=applies_to,
    )


@functools.cache
def smoke(kind: str) -> Task:
    return load_task(kind, "smoke", tasks_dir=TASKS_DIR)


@functools.cache
def reference(kind: str) -> tuple[Any, list[Any], Any]:
    mod = smoke(kind).load_module()
    torch.manual_seed(0)
    model = mod.Model(*mod.get_init_inputs())
    torch.manual_seed(1)
    inputs = mod.get_inputs()
    with torch.no_grad():
        out = model(*inputs)
    return mod, inputs, out


def realize(kind: str, name: str, parent: str | None = None) -> Realization:
    task = smoke(kind)
    req = RealizeRequest(task=task, strategy=strategy(name), parent_source=parent or task.source)
    return REALIZER.realize(req)


def realize_chain(kind: str, chain: tuple[str, ...]) -> Realization:
    parent = None
    r = Realization(None)
    for name in chain:
        r = realize(kind, name, parent)
        assert r.ok, f"{kind}: {chain} failed at {name}: {r.error}"
        parent = r.source
    return r


def assert_correct(kind: str, source: str) -> None:
    mod, inputs, want = reference(kind)
    torch.manual_seed(0)
    ref_model = mod.Model(*mod.get_init_inputs())
    cand = exec_module(source, f"cand_{kind}").ModelNew(*mod.get_init_inputs())
    cand.load_state_dict(ref_model.state_dict())
    with torch.no_grad():
        got = cand(*[x.clone() for x in inputs])
    want_t = want if isinstance(want, tuple) else (want,)
    got_t = got if isinstance(got, tuple) else (got,)
    assert len(got_t) == len(want_t)
    for g, w in zip(got_t, want_t, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype
        assert torch.allclose(g, w, rtol=1e-4, atol=1e-6), (g - w).abs().max().item()


def one_step_params() -> list[tuple[str, str]]:
    return [(k, s) for k in ROWWISE for s in ROWWISE_STRATEGIES]


# ---------------------------------------------------------------- correctness


@pytest.mark.parametrize("kind", ROWWISE)
def test_default_kernel_is_correct(kind: str) -> None:
    src = default_source(smoke(kind))
    assert parse_params(src)["kind"] == kind
    assert_correct(kind, src)


@pytest.mark.parametrize(("kind", "name"), one_step_params())
def test_one_step_from_defaults(kind: str, name: str) -> None:
    r = realize(kind, name)
    gen = generators()[kind]
    expected = gen.apply(strategy(name).id, gen.defaults(smoke(kind)), smoke(kind))
    if expected is None:
        assert not r.ok and "not applicable" in r.error
        return
    assert r.ok, r.error
    assert r.params == expected
    assert r.cost.tokens == 0
    assert_correct(kind, r.source)


@pytest.mark.parametrize(
    ("kind", "chain"), [(k, c) for k, chains in CHAINS.items() for c in chains]
)
def test_chains_are_correct(kind: str, chain: tuple[str, ...]) -> None:
    r = realize_chain(kind, chain)
    assert_correct(kind, r.source)


def test_at_most_few_strategies_are_inapplicable_at_defaults() -> None:
    # the bandit needs choices: from the default kernel most strategies must do something
    for kind in ROWWISE:
        ok = [n for n in ROWWISE_STRATEGIES if realize(kind, n).ok]
        assert len(ok) >= 10, (kind, ok)


# ---------------------------------------------------------------- contract


@pytest.mark.parametrize("kind", ROWWISE)
def test_variants_differ(kind: str) -> None:
    sources = {default_source(smoke(kind))}
    n = 1
    for name in ROWWISE_STRATEGIES:
        r = realize(kind, name)
        if r.ok:
            sources.add(r.source)
            n += 1
    assert len(sources) == n


def test_kernel_text_changes_with_the_strategy() -> None:
    base = default_source(smoke("softmax"))
    assert "tl.range(0, n_cols, BLOCK" in base and base.count("tl.load(") == 3
    online = realize("softmax", "single_pass_online").source
    assert online.count("tl.load(") == 2 and "m_new" in online
    row = realize("softmax", "row_in_registers").source
    assert "triton.next_power_of_2(n_cols)" in row and row.count("tl.load(") == 1
    assert 'eviction_policy="evict_first"' in realize("softmax", "streaming_eviction").source
    assert "tl.max_contiguous" in realize("softmax", "alignment_hints").source
    assert "_num_programs" in realize("softmax", "persistent").source
    split = realize("softmax", "split_row").source
    assert "_partial_kernel" in split and "_softmax_write_kernel" in split
    assert "NUM_WARPS = 2" in realize("softmax", "warps_down").source
    unfused = default_source(smoke("residual_add_rmsnorm"))
    fused = realize("residual_add_rmsnorm", "fuse_epilogue").source
    assert unfused.count("[grid](") + unfused.count(")](") == 2 and "_add_kernel" in unfused
    assert "_add_kernel" not in fused and "_add_rmsnorm_kernel" in fused


@pytest.mark.parametrize("kind", ROWWISE)
def test_header_round_trip(kind: str) -> None:
    r = realize_chain(kind, ("rows_per_program", "warps_down"))
    params = parse_params(r.source)
    assert params == {"kind": kind, **r.params}
    assert render_module(generators()[kind], r.params) == r.source
    # the parent's parameters are the starting point of the next step
    again = realize(kind, "rows_per_program", r.source)
    assert again.ok and again.params["rows"] == 2 * r.params["rows"]
    assert again.params["num_warps"] == r.params["num_warps"]


def test_deterministic() -> None:
    for kind in ROWWISE:
        a = realize_chain(kind, ("streaming_eviction", "persistent"))
        b = realize_chain(kind, ("streaming_eviction", "persistent"))
        assert a.source == b.source and a.params == b.params
        task = smoke(kind)
        for seed in (0, 7):
            req = RealizeRequest(task, strategy("persistent"), task.source, seed=seed)
            assert REALIZER.realize(req).source == realize(kind, "persistent").source


def test_foreign_parent_starts_from_defaults() -> None:
    task = smoke("softmax")
    gen = generators()["softmax"]
    r = realize("softmax", "warps_up", parent=task.source)  # the reference: no header
    want = gen.apply("parallelism/warps_up", gen.defaults(task), task)
    assert r.params == (want or {}) or not r.ok
    r = realize("softmax", "persistent", parent="import torch\n# some LLM kernel\n")
    assert r.ok and r.params == {**gen.defaults(task), "persistent": True}


def test_parent_params_fill_missing_keys() -> None:
    task = smoke("rmsnorm")
    old = '# kernel-bandit-params: {"kind": "rmsnorm", "variant": "row", "num_warps": 8}\n'
    r = realize("rmsnorm", "warps_down", parent=old)
    assert r.ok and r.params["variant"] == "row" and r.params["num_warps"] == 4
    assert set(r.params) == set(generators()["rmsnorm"].defaults(task))
    # a header of another kind is ignored
    other = '# kernel-bandit-params: {"kind": "matmul", "BLOCK_M": 64}\n'
    r = realize("rmsnorm", "persistent", parent=other)
    assert r.ok and r.params["variant"] == "loop"


def test_not_applicable_errors() -> None:
    r = realize("softmax", "fuse_epilogue")
    assert not r.ok and "fuse_epilogue" in r.error and "not applicable" in r.error
    r = realize("rmsnorm", "split_row")
    assert not r.ok and "not applicable" in r.error
    fused = realize("residual_add_rmsnorm", "fuse_epilogue").source
    r = realize("residual_add_rmsnorm", "fuse_epilogue", fused)  # already fused
    assert not r.ok
    row = realize("softmax", "row_in_registers").source
    assert not realize("softmax", "block_size_up", row).ok  # the row variant has no chunk
    assert not realize("softmax", "row_in_registers", row).ok
    r = realize("softmax", "no_such_strategy")
    assert not r.ok and "no_such_strategy" in r.error


def test_strategy_scope_and_unknown_kind() -> None:
    task = smoke("softmax")
    req = RealizeRequest(task, strategy("warps_up", applies_to=("matmul",)), task.source)
    r = REALIZER.realize(req)
    assert not r.ok and "does not apply to kind softmax" in r.error
    foreign = Task(name="x", path="x.py", source=task.source, kind="mystery_op")
    r = REALIZER.realize(RealizeRequest(foreign, strategy("warps_up"), task.source))
    assert not r.ok and r.error == "no offline generator for kind mystery_op"


def test_repair_declines() -> None:
    task = smoke("softmax")
    req = RealizeRequest(task, strategy("warps_up"), task.source)
    from profiling.measurement import Measurement, Status

    r = REALIZER.repair(req, "x", Measurement.failure(Status.COMPILE_ERROR, "boom"))
    assert not r.ok and r.error == "the offline realizer does not repair"


def test_offline_kinds_cover_rowwise() -> None:
    assert set(ROWWISE) <= set(offline_kinds())


def test_catalog_names_are_known() -> None:
    # every catalog strategy aimed at a row-wise kind is one the generators implement
    known = set(ROWWISE_STRATEGIES)
    for s in load_catalog().strategies:
        if s.target == "triton" and any(k in s.applies_to for k in ROWWISE):
            assert strategy_name(s.id) in known, s.id


def test_row_block_limit_is_checked_at_launch() -> None:
    row = realize("softmax", "row_in_registers").source
    model = exec_module(row, "cand_limit").ModelNew()
    with pytest.raises(ValueError, match="too long"):
        model(torch.randn(1, 65537))


def test_kernels_accept_other_sizes() -> None:
    # the same kernel text at other row lengths and leading shapes
    for chain in (("row_in_registers",), ("split_row",), ("single_pass_online", "persistent")):
        src = realize_chain("softmax", chain).source
        model = exec_module(src, "cand_sizes").ModelNew()
        x = torch.randn(2, 3, 37)
        assert torch.allclose(model(x), torch.softmax(x, -1), rtol=1e-4, atol=1e-6)
    src = realize_chain("rmsnorm", ("wider_vectors", "alignment_hints")).source
    mod = smoke("rmsnorm").load_module()
    torch.manual_seed(0)
    ref = mod.Model(38, 1e-6)
    cand = exec_module(src, "cand_vec").ModelNew(38, 1e-6)
    cand.load_state_dict(ref.state_dict())
    x = torch.randn(5, 38)
    assert torch.allclose(cand(x), ref(x), rtol=1e-4, atol=1e-6)  # 38 % 4 != 0: VEC falls back to 1
    x = torch.randn(5, 40)[:, :38]  # non-contiguous rows are made contiguous
    assert torch.allclose(cand(x), ref(x), rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- through the harness


def _worker_evaluator() -> WorkerEvaluator:
    return WorkerEvaluator(EvalSettings(device="interpret", trials=1))


@pytest.mark.parametrize(
    ("kind", "chain"),
    [
        ("softmax", ("single_pass_online", "persistent")),
        ("cross_entropy", ("split_row",)),
        ("residual_add_rmsnorm", ("fuse_epilogue", "row_in_registers")),
    ],
)
def test_through_worker_evaluator(kind: str, chain: tuple[str, ...]) -> None:
    ev = _worker_evaluator()
    try:
        m = ev.evaluate(smoke(kind), realize_chain(kind, chain).source)
    finally:
        ev.close()
    assert m.ok, m.error


@pytest.mark.parametrize("kind", ROWWISE)
def test_can_realize_agrees_with_realize(kind: str) -> None:
    """The tuner masks arms by ``can_realize``: it must predict ``realize`` exactly."""
    task = smoke(kind)
    parents = [task.source, realize(kind, "row_in_registers").source]
    for parent in parents:
        for s in load_catalog().for_kind(kind, "triton"):
            req = RealizeRequest(task=task, strategy=s, parent_source=parent)
            assert REALIZER.can_realize(req) == REALIZER.realize(req).ok, (kind, s.id)
