"""The matmul template's TMA variant (``tma=1``): descriptor loads, the pointer fallback.

Triton's interpreter runs host tensor descriptors, so the TMA kernel itself is checked
on the CPU (fp32); a kernel whose launch must take one path has the other path's kernel
replaced by one that fails when launched. The GPU test (``gpu``) runs the TMA kernels
through the harness on bf16 and fp32 problems, a ragged size and a Linear among them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import torch

from experiments import TASKS_DIR
from profiling.evaluator import EvalSettings, WorkerEvaluator
from profiling.measurement import Status
from profiling.tasks import Task, exec_module, load_task
from strategies.graph import space_matmul, templates
from strategies.graph.plan import plan_for
from strategies.graph.realizer import GraphRealizer
from strategies.graph.space import Facts
from tests.strategies.graph_check import assert_correct, undefined_names
from tests.strategies.test_graph_matmul import PROBLEMS, forced, request, task


class _NotLaunched:
    """Stands in for the kernel a launch must not take: indexing it (``k[grid]``) fails."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getitem__(self, grid: Any) -> Any:
        raise AssertionError(f"{self.name} was launched")


def run_taking(t: Task, source: str, kernel: str, device: str = "cpu", **tol: float) -> None:
    """Run ModelNew against Model with ``kernel`` (the path the launch must not take)
    replaced by `_NotLaunched`."""
    mod = t.load_module()
    torch.manual_seed(0)
    ref = mod.Model(*mod.get_init_inputs()).to(device)
    cand_mod = exec_module(source, f"cand_{t.name}")
    assert callable(getattr(cand_mod, kernel).__getitem__)
    setattr(cand_mod, kernel, _NotLaunched(kernel))
    cand = cand_mod.ModelNew(*mod.get_init_inputs()).to(device)
    cand.load_state_dict(ref.state_dict())
    torch.manual_seed(1)
    inputs = [x.to(device) for x in mod.get_inputs()]
    with torch.no_grad():
        torch.testing.assert_close(cand(*inputs), ref(*inputs), **tol)


def tma_source(t: Task, **kw: Any) -> str:
    return forced(t, tma=1, **kw)


# ------------------------------------------------------------------ the move


def test_alignment_hints_reaches_the_tma_variant() -> None:
    t = task("34_matmul")
    realizer = GraphRealizer()
    r = realizer.realize(request(t, "vectorization/alignment_hints"))
    assert r.ok and r.params["groups"][0]["tma"] == 1 and r.params["groups"][0]["even"]
    assert "_k0_matmul_tma[" in r.source and "_tma_desc(" in r.source
    assert "_k0_matmul[" in r.source  # the fallback
    assert not any(undefined_names(r.source).values())
    run_taking(t, r.source, "_k0_matmul")  # the interpreter takes the descriptor path
    again = realizer.realize(request(t, "vectorization/alignment_hints", r.source))
    assert not again.ok  # nothing left to turn on
    # the other moves keep it on (split-K and persistent included)
    for sid in ("parallelism/persistent", "tiling/block_size_up", "parallelism/warps_up"):
        nxt = realizer.realize(request(t, sid, r.source))
        assert nxt.ok and nxt.params["groups"][0]["tma"] == 1, sid
        assert_correct(t, nxt.source)


def test_strides_no_descriptor_fits_keep_the_pointer_kernel() -> None:
    """A thin product's (K, 2) fp32 operand has no 16-byte row stride, nor has an fp32
    operand with K = 41: alignment_hints only drops the K masks there."""
    for t in (task("47_skinny_matmul"), task("34_matmul", "K=41")):
        f = plan_for(t).facts[0]
        assert not f.tma
        r = GraphRealizer().realize(request(t, "vectorization/alignment_hints"))
        assert r.ok and "tma" not in r.params["groups"][0] and r.params["groups"][0]["even"]
        assert "_tma" not in r.source


def test_tma_is_no_move_at_the_library_point_and_leaves_with_it() -> None:
    t = task("38_linear_gelu_scale")  # fp32 with an epilogue: the library point is one move
    plan = plan_for(t)
    f, start = plan.facts[0], plan.initial()["groups"][0]
    assert "library" not in start and f.tma
    lib0 = templates.move("fuse_epilogue", start, f)
    assert lib0["library"] == 1 and templates.move("alignment_hints", lib0, f) is None
    on = templates.move("alignment_hints", start, f)
    assert on is not None and on["tma"] == 1
    lib = templates.move("fuse_epilogue", on, f)
    assert lib is not None and lib["library"] == 1 and "tma" not in lib
    assert lib == lib0  # one source per library kernel


def test_tma_counts_in_the_space() -> None:
    f = plan_for(task("34_matmul")).facts[0]
    no = replace(f, tma=False)
    assert space_matmul.size_matmul(f) == space_matmul.size_matmul(no) * 3 // 2


# ------------------------------------------------------------------ the kernels


@pytest.mark.parametrize(
    ("name", "size", "kw"),
    [
        ("34_matmul", None, {"BM": 32, "BN": 16, "BK": 16}),  # ragged M, N, K in every tile
        ("35_matmul_transposed_a", None, {}),  # A read through its transpose's descriptor
        ("36_bmm_scale", "n=20", {"BK": 16}),  # 3-D descriptors, a scale epilogue
        ("38_linear_gelu_scale", None, {}),  # W as (N, K) tiles, bias, GELU, residual
        ("38_linear_gelu_scale", None, {"split_k": 2, "BK": 16}),
        ("36_bmm_scale", "n=20", {"split_k": 2, "BK": 16}),
        ("35_matmul_transposed_a", None, {"persistent": 1, "BM": 16, "BN": 16}),
    ],
)
def test_tma_kernel_is_correct_through_the_interpreter(name: str, size: str | None,
                                                       kw: dict[str, Any]) -> None:  # fmt: skip
    t = task(name, size)
    assert plan_for(t).facts[0].tma
    src = tma_source(t, **kw)
    assert not any(undefined_names(src).values())
    run_taking(t, src, "_k0_matmul")


def test_descriptor_loads_have_no_masks_and_transpose_where_needed() -> None:
    src = tma_source(task("36_bmm_scale", "n=20"))
    tma = src.split("def _k0_matmul_tma(")[1].split("@triton.jit")[0]
    assert "mask=" not in tma.split("omask =")[0]  # the K loop: no masks
    assert "tl.reshape(a_desc.load([bid, pid_m * BM, k * BK]), (BM, BK))" in tma
    assert "tl.trans(tl.reshape(b_desc.load([bid, pid_n * BN, k * BK]), (BN, BK)))" in tma


@pytest.mark.parametrize("kw", [{}, {"split_k": 2, "BK": 16}, {"persistent": 2}])
def test_the_fallback_is_the_pointer_kernel_of_the_same_parameters(kw: dict[str, Any]) -> None:
    t = task("38_linear_gelu_scale")
    off, on = forced(t, even=True, **kw), tma_source(t, even=True, **kw)
    pointer = off[off.index("@triton.jit") : off.index("class ModelNew")]
    assert pointer in on  # byte for byte, the split-K sum kernel included
    launch = next(ln for ln in off.splitlines() if ln.strip().startswith("_k0_matmul["))
    assert "    " + launch in on.splitlines()  # under the else of the descriptor check


def test_fallback_when_an_operand_has_no_descriptor() -> None:
    """K = 41 fp32: rows of 164 bytes, no descriptor; the launch takes the pointer kernel."""
    t = task("34_matmul", "K=41")
    run_taking(t, tma_source(t), "_k0_matmul_tma")
    run_taking(t, tma_source(t, split_k=2, BK=16), "_k0_matmul_tma")


# ------------------------------------------------------------------ the start


def test_large_half_gemms_start_on_the_hopper_tile() -> None:
    big = plan_for(load_task("matmul", tasks_dir=TASKS_DIR)).initial()["groups"][
        0
    ]  # bf16 8192 x 4096
    assert (big["BM"], big["BN"], big["BK"], big["num_warps"], big["num_stages"]) == (
        128, 256, 64, 8, 3)  # fmt: skip
    assert big["GROUP_M"] == 8 and "tma" not in big
    few = Facts("matmul", 1024 * 1024, rows=1024, cols=1024, depth=4096, itemsize=2)
    assert templates.initial(few)["BN"] == 128  # 32 tiles of 128 x 256 leave SMs idle
    fp32 = Facts("matmul", 2**26, rows=8192, cols=8192, depth=4096, itemsize=4)
    assert templates.initial(fp32)["BN"] == 64


# ------------------------------------------------------------------ GPU


LINEAR = "batch_size=1000,in_features=520,out_features=1000"
GPU_CASES = [  # (problem, size, dtype note): ragged sizes (not multiples of any tile)
    ("matmul", "M=1000,K=520,N=1000", "bf16"),
    ("matmul_bias_gelu", LINEAR, "bf16 Linear"),
    (str(PROBLEMS / "34_matmul.py"), "M=1000,K=520,N=1000", "fp32 ieee"),
    # its residual adds x to the product: in_features == out_features
    (str(PROBLEMS / "38_linear_gelu_scale.py"), "batch_size=1000,in_features=520,out_features=520",
     "fp32 Linear"),
    (str(PROBLEMS / "36_bmm_scale.py"), "batch_size=8,m=500,k=264,n=260", "fp32 bmm"),
]


@pytest.fixture(scope="module")
def gpu_ev() -> Iterator[WorkerEvaluator]:
    settings = EvalSettings(device="cuda", timeout_s=180, trials=2, baseline_compile=False,
                            sanitize="off")  # probes on: an odd size, signed inputs  # fmt: skip
    with WorkerEvaluator(settings) as ev:
        yield ev


@pytest.mark.gpu
@pytest.mark.parametrize(("name", "size", "what"), GPU_CASES)
def test_tma_kernels_pass_the_harness_on_the_gpu(gpu_ev: WorkerEvaluator, name: str, size: str,
                                                 what: str) -> None:  # fmt: skip
    assert os.environ.get("TRITON_INTERPRET") != "1"
    t = load_task(name, size, tasks_dir=TASKS_DIR)
    assert plan_for(t).facts[0].tma, what
    half = "bf16" in what  # the per-kind Hopper tile; fp32 at BK 32 to fit shared memory
    wide = {"BM": 128, "BN": 256, "BK": 64 if half else 32, "num_warps": 8, "num_stages": 3}
    for kw in ({}, wide, {"split_k": 2}, {"persistent": 1}):
        src = tma_source(t, **kw)
        m = gpu_ev.evaluate(t, src)
        assert m.status is Status.OK, (what, kw, m.error)
    # in this process: the descriptor kernel is the one that ran
    tol = {"atol": 5e-2, "rtol": 5e-2} if half else {"atol": 1e-3, "rtol": 1e-3}
    run_taking(t, tma_source(t), "_k0_matmul", device="cuda", **tol)
