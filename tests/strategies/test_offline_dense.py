"""Offline generators of the dense kinds: every variant is a correct KernelBench module.

Runs the rendered Triton kernels through the interpreter (tests/conftest.py sets
TRITON_INTERPRET=1) at the tasks' smoke sizes and compares with the reference.
"""

from __future__ import annotations

import ast

import pytest
import torch

import strategies.offline.elementwise
import strategies.offline.matmul
import strategies.offline.transpose  # noqa: F401  (the imports register the generators)
from experiments import TASKS_DIR
from profiling.tasks import Task, exec_module, load_task
from strategies.catalog import load_catalog
from strategies.offline.base import Generator, Params, generators, parse_params, render_module
from strategies.offline.realizer import OfflineRealizer
from strategies.types import RealizeRequest

DENSE = ("gelu", "swiglu", "transpose", "matmul", "matmul_bias_gelu")
NAMES = (
    "block_size_up", "block_size_down", "block_2d_k_loop", "grouped_order", "split_k",
    "tile_aspect", "coalesced_tiles", "fuse_epilogue", "fuse_elementwise", "wider_vectors",
    "alignment_hints", "streaming_eviction", "stages_up", "stages_down", "warps_up",
    "warps_down", "persistent", "cuda_vec4",
)  # fmt: skip
_ELEMENTWISE = {
    "block_size_up", "block_size_down", "wider_vectors", "alignment_hints", "streaming_eviction",
    "fuse_elementwise", "warps_down", "persistent", "cuda_vec4",
}  # fmt: skip
_MATMUL = {
    "block_size_up", "block_size_down", "block_2d_k_loop", "grouped_order", "split_k",
    "tile_aspect", "alignment_hints", "streaming_eviction", "stages_up",
    "stages_down", "warps_down", "persistent",
}  # fmt: skip
_TRANSPOSE = {
    "block_size_up", "block_size_down", "block_2d_k_loop", "coalesced_tiles", "wider_vectors",
    "alignment_hints", "streaming_eviction", "warps_down", "persistent",
}  # fmt: skip
# strategies that change the default kernel of each kind (the rest return None; warps_up
# too: the default blocks have one element per thread already)
APPLICABLE = {
    "gelu": _ELEMENTWISE,
    "swiglu": _ELEMENTWISE | {"fuse_epilogue"},
    "transpose": _TRANSPOSE,
    "matmul": _MATMUL,
    "matmul_bias_gelu": _MATMUL | {"fuse_epilogue"},
}
GOOD_MATMUL = ["block_2d_k_loop", "grouped_order", "warps_up", "tile_aspect"]


def _gen(kind: str) -> Generator:
    return generators()[kind]


def _sid(name: str) -> str:
    return f"family/{name}"  # generators match on the name part only


def _chain(kind: str, names: list[str], task: Task, start: Params | None = None) -> Params:
    gen = _gen(kind)
    p = dict(start) if start is not None else gen.defaults(task)
    for name in names:
        new = gen.apply(_sid(name), p, task)
        assert new is not None, f"{kind}: {name} did not apply to {p}"
        p = new
    return p


def _check_correct(kind: str, params: Params, size: str = "smoke") -> str:
    """Render, run in-process under the interpreter, compare with the reference."""
    task = load_task(kind, size, tasks_dir=TASKS_DIR)
    src = render_module(_gen(kind), params)
    ref_mod = task.load_module()
    torch.manual_seed(0)
    inputs = ref_mod.get_inputs()
    init = ref_mod.get_init_inputs()
    ref = ref_mod.Model(*init)
    cand = exec_module(src, f"cand_{kind}").ModelNew(*init)
    cand.load_state_dict(ref.state_dict())  # same parameter names and shapes
    with torch.no_grad():
        want = ref(*inputs)
        got = cand(*[t.clone() for t in inputs])
    assert got.shape == want.shape and got.dtype == want.dtype
    err = ((got - want).norm() / want.norm()).item()
    assert err < 1e-4, f"{kind} {params}: relative error {err:.2e}"
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-4)
    return src


@pytest.fixture(scope="module")
def smoke_tasks() -> dict[str, Task]:
    return {k: load_task(k, "smoke", tasks_dir=TASKS_DIR) for k in DENSE}


@pytest.mark.parametrize("kind", DENSE)
def test_applicable_strategies(kind: str, smoke_tasks: dict[str, Task]) -> None:
    task = smoke_tasks[kind]
    gen = _gen(kind)
    got = {n for n in NAMES if gen.apply(_sid(n), gen.defaults(task), task) is not None}
    assert got == APPLICABLE[kind]


@pytest.mark.parametrize("kind", DENSE)
def test_default_kernel_correct(kind: str, smoke_tasks: dict[str, Task]) -> None:
    _check_correct(kind, _gen(kind).defaults(smoke_tasks[kind]))


@pytest.mark.parametrize(
    "kind,name",
    [(k, n) for k in DENSE for n in NAMES if n in APPLICABLE[k] and n != "cuda_vec4"],
)
def test_one_step_variant_correct(kind: str, name: str, smoke_tasks: dict[str, Task]) -> None:
    _check_correct(kind, _chain(kind, [name], smoke_tasks[kind]))


CHAINS = [
    ("gelu", ["fuse_elementwise", "block_size_down", "alignment_hints", "persistent"]),
    ("gelu", ["wider_vectors", "wider_vectors", "streaming_eviction", "warps_up"]),
    ("swiglu", ["fuse_epilogue", "block_size_down", "persistent", "streaming_eviction"]),
    ("swiglu", ["block_size_up", "alignment_hints", "warps_down"]),
    ("transpose", ["coalesced_tiles", "tile_aspect", "grouped_order", "alignment_hints"]),
    ("transpose", ["block_2d_k_loop", "block_size_down", "persistent", "streaming_eviction"]),
    ("transpose", ["coalesced_tiles", "block_size_down", "tile_aspect", "tile_aspect"]),
    ("transpose", ["alignment_hints", "persistent", "block_size_down"]),
    ("matmul", ["block_size_down", "persistent", "grouped_order", "streaming_eviction"]),
    ("matmul", ["split_k", "grouped_order", "stages_down"]),
    ("matmul", ["alignment_hints", "split_k", "block_size_down"]),
    ("matmul", ["alignment_hints", "block_size_down", "persistent", "grouped_order"]),
    ("matmul_bias_gelu", ["fuse_epilogue", "block_size_down", "persistent", "grouped_order"]),
    ("matmul_bias_gelu", ["alignment_hints", "fuse_epilogue", "grouped_order"]),
    ("matmul_bias_gelu", ["split_k", "streaming_eviction", "alignment_hints"]),
    (
        "matmul_bias_gelu",
        ["block_2d_k_loop", "stages_down", "tile_aspect", "fuse_epilogue", "warps_up"],
    ),
]


@pytest.mark.parametrize("kind,names", CHAINS, ids=[f"{k}:{'+'.join(n)}" for k, n in CHAINS])
def test_chain_correct(kind: str, names: list[str], smoke_tasks: dict[str, Task]) -> None:
    _check_correct(kind, _chain(kind, names, smoke_tasks[kind]))


@pytest.mark.parametrize(
    "kind,size,names",
    [
        # sizes where every block is full: the unmasked fast paths run
        ("gelu", "batch_size=4,dim=256", ["fuse_elementwise", "alignment_hints"]),
        ("swiglu", "batch_size=4,dim=256", ["alignment_hints", "persistent"]),
        ("transpose", "rows=64,cols=128", ["coalesced_tiles", "alignment_hints"]),
        ("transpose", "rows=64,cols=128", ["alignment_hints"]),
        ("matmul", "smoke,K=64", ["split_k"]),
        # a K whose rows are not 16-byte aligned: the TMA variant falls back to pointers
        ("matmul", "smoke,K=41", ["alignment_hints"]),
        ("matmul_bias_gelu", "smoke,in_features=41", ["alignment_hints", "fuse_epilogue"]),
    ],
)
def test_other_sizes_correct(kind: str, size: str, names: list[str]) -> None:
    _check_correct(kind, _chain(kind, names, load_task(kind, size, tasks_dir=TASKS_DIR)), size)


@pytest.mark.parametrize("kind", ["matmul", "matmul_bias_gelu"])
def test_good_hopper_config_reachable(kind: str) -> None:
    task = load_task(kind, tasks_dir=TASKS_DIR)  # default size: bf16, so the shared-memory estimate is realistic
    p = _chain(kind, GOOD_MATMUL, task)
    assert (p["BLOCK_M"], p["BLOCK_N"], p["BLOCK_K"]) == (128, 256, 64)
    assert (p["GROUP_M"], p["num_warps"], p["num_stages"]) == (8, 8, 3)
    best = ["alignment_hints"] + (["fuse_epilogue", "stages_up"] if kind != "matmul" else [])
    p = _chain(kind, best, task, start=p)
    assert p["tma"] and p["num_stages"] == (4 if kind != "matmul" else 3)
    assert _gen(kind).apply(_sid("stages_up"), {**p, "num_stages": 4}, task) is None  # smem
    _check_correct(kind, p)  # the same kernel text at smoke size (fp32, interpreter)


def test_split_k_and_fusion_exclude_each_other(smoke_tasks: dict[str, Task]) -> None:
    task, gen = smoke_tasks["matmul_bias_gelu"], _gen("matmul_bias_gelu")
    fused = _chain("matmul_bias_gelu", ["fuse_epilogue"], task)
    assert gen.apply(_sid("split_k"), fused, task) is None
    split = _chain("matmul_bias_gelu", ["split_k"], task)
    assert gen.apply(_sid("fuse_epilogue"), split, task) is None
    assert gen.apply(_sid("persistent"), split, task) is None


@pytest.mark.parametrize("kind", DENSE)
def test_no_change_is_none(kind: str, smoke_tasks: dict[str, Task]) -> None:
    task, gen = smoke_tasks[kind], _gen(kind)
    p = gen.defaults(task)
    for name in ("alignment_hints", "persistent", "streaming_eviction"):
        once = gen.apply(_sid(name), p, task)
        assert once is not None and gen.apply(_sid(name), once, task) is None
    assert gen.apply(_sid("no_such_strategy"), p, task) is None
    assert gen.apply(_sid("block_size_down"), p, task) is not None


@pytest.mark.parametrize("kind", DENSE)
def test_variants_differ_and_render_deterministically(
    kind: str, smoke_tasks: dict[str, Task]
) -> None:
    task, gen = smoke_tasks[kind], _gen(kind)
    base = gen.defaults(task)
    variants = {n: gen.apply(_sid(n), base, task) for n in APPLICABLE[kind]}
    sources = {n: render_module(gen, p) for n, p in variants.items()}
    default_src = render_module(gen, base)
    for n, src in sources.items():
        assert src != default_src, n
        assert src == render_module(gen, dict(variants[n])), "rendering is deterministic"
        body = src.split("\n", 1)[1]
        assert body != default_src.split("\n", 1)[1], f"{n} changes only the header"
    distinct_params = {repr(sorted(p.items())) for p in variants.values()}
    assert len(set(sources.values())) == len(distinct_params)


@pytest.mark.parametrize("kind", DENSE)
def test_header_round_trip(kind: str, smoke_tasks: dict[str, Task]) -> None:
    task, gen = smoke_tasks[kind], _gen(kind)
    p = _chain(kind, ["alignment_hints", "block_size_down"], task)
    src = render_module(gen, p)
    parsed = parse_params(src)
    assert parsed == {"kind": kind, **p}
    # a parsed header (with its "kind" key) is a valid parent again
    child = gen.apply(_sid("streaming_eviction"), parsed, task)
    assert child is not None and render_module(gen, child).startswith("# kernel-bandit-params")
    _check_correct(kind, child)


@pytest.mark.parametrize("kind", ["gelu", "swiglu"])
def test_cuda_vec4_renders_a_module(kind: str, smoke_tasks: dict[str, Task]) -> None:
    task, gen = smoke_tasks[kind], _gen(kind)
    p = _chain(kind, ["cuda_vec4"], task)
    assert p["target"] == "cuda"
    src = render_module(gen, p)
    tree = ast.parse(src)
    assert any(isinstance(n, ast.ClassDef) and n.name == "ModelNew" for n in tree.body)
    assert "float4" in src and "import cupy" in src and "triton" not in src
    streaming = gen.apply(_sid("streaming_eviction"), p, task)
    assert streaming is not None and "__ldcs" in render_module(gen, streaming)
    assert gen.apply(_sid("block_size_up"), p, task)["threads"] == 512
    assert gen.apply(_sid("grouped_order"), p, task) is None
    mod = exec_module(src, f"cuda_{kind}")  # imports without cupy or a GPU
    model = mod.ModelNew()
    with pytest.raises(TypeError):  # CPU tensors are refused before cupy is needed
        model(*load_task(kind, "smoke", tasks_dir=TASKS_DIR).load_module().get_inputs())
    bf16 = load_task(kind, "smoke,DTYPE=bfloat16", tasks_dir=TASKS_DIR)
    assert gen.apply(_sid("cuda_vec4"), gen.defaults(bf16), bf16) is None


@pytest.mark.parametrize("kind", DENSE)
def test_realizer_covers_the_catalog(kind: str, smoke_tasks: dict[str, Task]) -> None:
    """Through OfflineRealizer, from the reference as parent: exactly the expected strategies."""
    task, catalog = smoke_tasks[kind], load_catalog()
    realized = {}
    for strategy in catalog.for_kind(kind):
        request = RealizeRequest(task=task, strategy=strategy, parent_source=task.module_source())
        r = OfflineRealizer().realize(request)
        assert r.ok or r.error
        if r.ok:
            realized[strategy.name] = r
    assert set(realized) == APPLICABLE[kind] & {s.name for s in catalog.for_kind(kind)}
    assert all(r.cost.tokens == 0 and parse_params(r.source) for r in realized.values())


@pytest.mark.parametrize(
    "kind,names",
    [
        ("matmul_bias_gelu", [*GOOD_MATMUL, "fuse_epilogue", "alignment_hints", "stages_up"]),
        ("gelu", ["cuda_vec4", "block_size_up", "streaming_eviction"]),
    ],
)
def test_realizer_chain(kind: str, names: list[str]) -> None:
    """Each realization is the next parent (header round trip through the realizer)."""
    task, by_name = load_task(kind, tasks_dir=TASKS_DIR), {s.name: s for s in load_catalog()}
    source = task.module_source()
    for name in names:
        r = OfflineRealizer().realize(
            RealizeRequest(task=task, strategy=by_name[name], parent_source=source)
        )
        assert r.ok, r.error
        source = r.source
    params = parse_params(source)
    assert params is not None and params.pop("kind") == kind
    if kind == "gelu":
        assert (params["target"], params["threads"], params["streaming"]) == ("cuda", 512, True)
    else:
        assert params["tma"] and params["fused"] and params["num_stages"] == 4
        _check_correct(kind, params)


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["gelu", "swiglu"])
@pytest.mark.parametrize("offset", [0, 1])
def test_cuda_vec4_on_gpu(kind: str, offset: int) -> None:
    task = load_task(kind, "smoke", tasks_dir=TASKS_DIR)
    gen = _gen(kind)
    p = _chain(kind, ["cuda_vec4", "streaming_eviction"], task)
    mod = task.load_module()
    torch.manual_seed(0)
    inputs = [t.cuda() for t in mod.get_inputs()]  # smoke size: float4 bulk plus a tail
    if offset:  # views 4 bytes off 16-byte alignment: the scalar kernel takes everything
        inputs = [torch.randn(t.numel() + 1, device="cuda")[1:].view(t.shape) for t in inputs]
    cand = exec_module(render_module(gen, p), f"cuda_{kind}").ModelNew()
    want = mod.Model()(*inputs)
    torch.testing.assert_close(cand(*inputs), want, rtol=1e-5, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.parametrize("kind", DENSE)
def test_best_variants_on_gpu(kind: str) -> None:
    """The tuned variants compile and are correct on the GPU, in bf16 where the task is."""
    best = {
        "gelu": ["fuse_elementwise", "block_size_up", "block_size_up", "block_size_up"],
        "swiglu": ["fuse_elementwise", "block_size_up", "block_size_up", "alignment_hints"],
        "transpose": ["coalesced_tiles", "alignment_hints"],
        "matmul": [*GOOD_MATMUL, "alignment_hints"],
        "matmul_bias_gelu": [*GOOD_MATMUL, "fuse_epilogue", "alignment_hints", "stages_up"],
    }[kind]
    size = "small" if kind in ("matmul", "matmul_bias_gelu") else "smoke"
    task = load_task(kind, size, tasks_dir=TASKS_DIR)
    p = _chain(kind, best, load_task(kind, tasks_dir=TASKS_DIR))
    mod = task.load_module()
    torch.manual_seed(0)
    inputs = [t.cuda() for t in mod.get_inputs()]
    init = mod.get_init_inputs()
    ref = mod.Model(*init).cuda()
    cand = exec_module(render_module(_gen(kind), p), f"gpu_{kind}").ModelNew(*init).cuda()
    cand.load_state_dict(ref.state_dict())
    with torch.no_grad():
        want, got = ref(*inputs), cand(*inputs)
    tol = 2e-2 if want.dtype == torch.bfloat16 else 1e-4
    torch.testing.assert_close(got.float(), want.float(), rtol=tol, atol=tol)
