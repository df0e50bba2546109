"""The pointwise template's CUDA C++ target (``vectorization/cuda_vec4``, `emit_cuda`).

CPU-only here: the rendered source's structure, the moves while a group is CUDA, which
groups offer the move, mixed CUDA/Triton modules, and the sources compiled by nvcc where
it is installed. The kernels run on the host in `test_graph_cuda_host`; the ``gpu`` tests
run them for real (in-process and through the worker evaluator).
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from experiments import TASKS_DIR
from profiling.evaluator import EvalSettings, WorkerEvaluator
from profiling.measurement import Status
from profiling.static_check import check_source
from profiling.tasks import exec_module, load_task
from strategies.graph import ops_c
from strategies.graph import plan as plan_mod
from strategies.graph.plan import plan_for
from strategies.graph.realizer import apply, parent_params, render_plan
from strategies.graph.space import CUDA_START, size_pointwise
from tests.strategies.cuda_check import (
    CUDA,
    SPECIALS,
    cuda_params,
    inline_task,
    kernel_sources,
    kernels_of,
    task,
)


@pytest.mark.parametrize(
    ("name", "exprs", "inputs"),
    [
        ("01_relu", ["kb_max(x_in0, 0.0f)"], 1),
        ("03_gelu", ["erff(x_in0 * 0.7071067811865476f)"], 1),
        ("04_gelu_tanh", ["tanhf(0.7978845608028654f * (x_in0 + 0.044715f * (x_in0 * x_in0"], 1),
        ("06_mish", ["(x_in0 * tanhf(log1pf(expf(x_in0))))"], 1),
        ("11_swiglu", ["(x_in0 / (1.0f + expf(-x_in0)))", " * x_in1)"], 2),
        ("10_tanh_clamp", ["tanhf(x_in0)", "* 2.0f)", "kb_min(kb_max(", "-1.5f), 1.5f)"], 1),
        ("12_bias_residual", ["(x_in0 * 0.5f)", "+ x_in1)", "kb_max("], 2),
    ],
)
def test_renders_the_group_as_cuda(name: str, exprs: list[str], inputs: int) -> None:
    plan = plan_for(task(name))
    assert [f.cuda for f in plan.facts] == [True]
    p = cuda_params(plan)
    assert {k: p["groups"][0][k] for k in CUDA_START} == CUDA_START
    src = render_plan(plan, p)
    (c,) = kernel_sources(src)
    assert "kb_point(" in c and all(e in c for e in exprs), c
    ks = kernels_of(c)
    assert set(ks) == {"vec4_kernel", "scalar_kernel"}
    vec, tail = ks["vec4_kernel"], ks["scalar_kernel"]
    for i in range(inputs):  # one load an input in each kernel
        assert len(re.findall(rf"const float4? v_in{i} = ", vec)) == 1
        assert len(re.findall(rf"const float v_in{i} = ", tail)) == 1
    assert "reinterpret_cast<const float4*>(in0) + i" in vec  # the float4 bulk
    assert "reinterpret_cast<float4*>(out0) + i) = y_out0" in vec
    assert vec.count("kb_point(") == 4 and tail.count("kb_point(") == 1  # x, y, z, w lanes
    assert "*(out0 + i) = y_out0;" in tail and "i += stride" in tail
    assert "double" not in c and "__ldcs" not in c and "fast" not in src
    floats = re.findall(r"(?<![\w.])(\d+\.\d*(?:e[+-]?\d+)?|\d+e[+-]?\d+)(f?)", c)
    assert floats and all(suffix == "f" for _, suffix in floats), floats  # no double literal
    assert "_cuda_pointwise(_k0_pointwise, " in src and "import cupy" in src
    assert "@triton.jit" not in src
    assert check_source(src) is None  # the harness's static check accepts it (cupy, numpy)
    mod = exec_module(src, f"cuda_{name}")  # imports without cupy or a GPU
    with pytest.raises(TypeError, match="float32 CUDA tensors"):
        mod.ModelNew()(*task(name).load_module().get_inputs())


def test_knobs_and_moves_while_cuda() -> None:
    plan = plan_for(task("03_gelu"))
    p = cuda_params(plan, "streaming_eviction", "block_size_up")
    g = p["groups"][0]
    assert (g["threads"], g["streaming"]) == (512, True)
    c = kernel_sources(render_plan(plan, p))[0]
    assert "__ldcs(reinterpret_cast<const float4*>(in0) + i)" in c
    assert "__stcs(reinterpret_cast<float4*>(out0) + i, y_out0);" in c
    assert "__ldcs(in0 + i)" in c and "__stcs(out0 + i, y_out0);" in c
    assert ", 512)" in render_plan(plan, p)
    for name in ("warps_up", "warps_down", "wider_vectors", "alignment_hints", "persistent",
                 "stages_up", "coalesced_tiles", "cuda_vec4", "streaming_eviction"):  # fmt: skip
        assert apply(plan, f"family/{name}", p) is None, name
    q = p
    while (nxt := apply(plan, "family/block_size_up", q)) is not None:
        q = nxt
    assert q["groups"][0]["threads"] == 1024
    # the parameters round-trip through the header (the keys are optional in a parent)
    assert parent_params(plan, render_plan(plan, p), {}) == p
    assert parent_params(plan, render_plan(plan, plan.initial()), {}) == plan.initial()
    f = plan.facts[0]
    assert size_pointwise(f) == size_pointwise(dataclasses.replace(f, cuda=False)) + 10


def test_triton_start_is_unchanged() -> None:
    """The start stays Triton: no CUDA keys until the move is taken."""
    plan = plan_for(task("03_gelu"))
    assert not set(CUDA_START) & set(plan.initial()["groups"][0])
    assert "@triton.jit" in render_plan(plan, plan.initial())


def test_groups_the_kernel_cannot_address_do_not_offer_the_move(monkeypatch) -> None:
    for name in ("33_permute_relu", "13_softmax", "34_matmul", "38_linear_gelu_scale"):
        plan = plan_for(task(name))  # strided input, reduction, matmul (epilogue in its group)
        assert not any(f.cuda for f in plan.facts)
        assert apply(plan, CUDA, plan.initial()) is None, name
    bf16 = load_task("gelu", "smoke,DTYPE=bfloat16", tasks_dir=TASKS_DIR)
    plan = plan_for(bf16)
    assert apply(plan, CUDA, plan.initial()) is None  # not fp32


def test_an_op_without_a_c_form_does_not_offer_the_move(monkeypatch) -> None:
    monkeypatch.delitem(ops_c.UNARY, "relu.default")
    plan_mod._plan.cache_clear()
    try:
        plan = plan_for(task("12_bias_residual"))
        assert [f.cuda for f in plan.facts] == [False]
        assert apply(plan, CUDA, plan.initial()) is None
        assert apply(plan, "family/block_size_up", plan.initial()) is not None  # Triton moves stay
    finally:
        plan_mod._plan.cache_clear()


def test_mixed_plan_renders_a_module_that_binds_every_name() -> None:
    """Two pointwise groups (batch norm's scale, then the normalize): one CUDA, one Triton."""
    plan = plan_for(task("43_batchnorm_inference"))
    assert plan.templates == ("pointwise", "pointwise") and all(f.cuda for f in plan.facts)
    p = cuda_params(plan)
    targets = [g.get("target", "triton") for g in p["groups"]]
    assert sorted(targets) == ["cuda", "triton"]
    src = render_plan(plan, p)
    assert src.count("@triton.jit") == 1 and len(kernel_sources(src)) == 1
    assert src.count("def _cuda_pointwise(") == 1
    both = apply(plan, CUDA, p)
    assert both is not None and all(g["target"] == "cuda" for g in both["groups"])
    src2 = render_plan(plan, both)
    assert "@triton.jit" not in src2 and len(kernel_sources(src2)) == 2
    assert src2.count("def _cuda_pointwise(") == 1  # the launcher is written once
    for s in (src, src2):
        compile(s, "<generated>", "exec")
        mod = exec_module(s, "cuda_mixed")
        for name in re.findall(r"^\s+(_\w+)\(", s.split("class ModelNew")[1], re.M):
            assert hasattr(mod, name), name


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="no nvcc")
def test_sources_compile_with_nvcc(tmp_path: Path) -> None:
    """The generated sources are valid CUDA C++ (compiled, not run: no GPU needed)."""
    specials = inline_task(tmp_path, SPECIALS, "specials")
    for t in (task("06_mish"), task("12_bias_residual"), task("40_conv_bias_ops"), specials):
        plan = plan_for(t)
        for moves in ((), ("streaming_eviction",)):
            for c in kernel_sources(render_plan(plan, cuda_params(plan, *moves))):
                (tmp_path / "k.cu").write_text(c)
                for wide in (0, 1):
                    cmd = ["nvcc", "-c", "-arch=sm_90", "--std=c++14", f"-DKB_WIDE={wide}",
                           "-o", str(tmp_path / "k.o"), str(tmp_path / "k.cu")]  # fmt: skip
                    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
                    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


@pytest.mark.gpu
@pytest.mark.parametrize("name", ["01_relu", "03_gelu", "06_mish", "11_swiglu", "12_bias_residual",
                                  "40_conv_bias_ops"])  # fmt: skip
@pytest.mark.parametrize("offset", [0, 1])
def test_cuda_on_gpu(name: str, offset: int) -> None:
    """The CUDA candidate through CuPy on the GPU, at the problem's odd default size; offset
    1: every input a view 4 bytes off 16-byte alignment (the scalar kernel takes all)."""
    t = task(name)
    plan = plan_for(t)
    src = render_plan(plan, cuda_params(plan, "streaming_eviction"))
    ref_mod = t.load_module()
    torch.manual_seed(0)
    init = ref_mod.get_init_inputs()
    ref = ref_mod.Model(*init).cuda()
    cand = exec_module(src, f"cuda_gpu_{name}").ModelNew(*init).cuda()
    cand.load_state_dict(ref.state_dict())
    xs = [x.cuda() for x in ref_mod.get_inputs()]
    if offset:
        xs = [torch.randn(x.numel() + 1, device="cuda")[1:].view(x.shape) for x in xs]
    with torch.no_grad():
        want = ref(*xs)
        got = cand(*xs)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.gpu
def test_cuda_candidates_pass_the_harness() -> None:
    """Through the worker evaluator (correctness trials, its odd-size probe, timing): gelu
    and mish (float4 bulk + tail), the per-channel bias at 5 x 5 (the scalar kernel), and
    the convolution's epilogue (its output made contiguous, the bias a row operand)."""
    with WorkerEvaluator(EvalSettings(device="cuda", timeout_s=180)) as ev:
        for name in ("03_gelu", "06_mish", "12_bias_residual", "40_conv_bias_ops"):
            plan = plan_for(task(name))
            m = ev.evaluate(task(name), render_plan(plan, cuda_params(plan, "streaming_eviction")))
            assert m.status is Status.OK, (name, m.error)
            assert m.runtime_ms and m.runtime_ms > 0
