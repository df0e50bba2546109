"""The pointwise template's CUDA C++ target (``vectorization/cuda_vec4``, `emit_cuda`).

CPU-only: the rendered source's structure, which groups offer the move, and the kernels
themselves run through the host compiler (`tests.strategies.cuda_emulation`) against the
reference, mixed with Triton groups under the interpreter. `test_cuda_on_gpu` runs them
for real (marked ``gpu``).
"""

from __future__ import annotations

import dataclasses
import functools
import random
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
from profiling.tasks import Task, exec_module, load_task
from strategies.graph import ops_c
from strategies.graph import plan as plan_mod
from strategies.graph.plan import Plan, plan_for
from strategies.graph.realizer import apply, parent_params, render_plan
from strategies.graph.space import CUDA_START, size_pointwise
from tests.strategies import cuda_emulation
from tests.strategies.test_graph_property import draw

PROBLEMS = Path(__file__).parent / "kernelbench"
CUDA = "vectorization/cuda_vec4"
needs_cxx = pytest.mark.skipif(cuda_emulation.CXX is None, reason="no host C++ compiler (g++)")

# a 0-d tensor input (one element for every lane) and a bias over the last axis (a column)
SCALAR_AND_COLUMN = """
import torch
import torch.nn as nn

rows = 6
cols = 36


class Model(nn.Module):
    def forward(self, x, s, b):
        return torch.where(x > 0, x * s, b) - 1.0 / (1.0 + torch.exp(-x))


def get_inputs():
    return [torch.randn(rows, cols), torch.tensor(1.5), torch.randn(cols)]


def get_init_inputs():
    return []
"""


# infinities as literals (NVRTC has no INFINITY macro), a leaky slope, NaN through relu
SPECIALS = """
import torch
import torch.nn as nn
import torch.nn.functional as F

n = 4 * 9 + 3


class Model(nn.Module):
    def forward(self, x):
        y = torch.where(x > 1.0, float("inf"), F.leaky_relu(x, 0.2))
        return torch.relu(y.masked_fill(x < -1.0, float("-inf")) + x.log())


def get_inputs():
    return [torch.randn(n)]


def get_init_inputs():
    return []
"""


@functools.cache
def task(name: str, size: str | None = None) -> Task:
    return load_task(str(PROBLEMS / f"{name}.py"), size)


def cuda_params(plan: Plan, *moves: str) -> dict:
    p = apply(plan, CUDA, plan.initial())
    assert p is not None
    for m in moves:
        p = apply(plan, f"family/{m}", p)
        assert p is not None, m
    return p


def kernel_sources(src: str) -> list[str]:
    return re.findall(r'= r"""\n(.*?)"""', src, re.S)


def kernels_of(c: str) -> dict[str, str]:
    """The body of each ``extern "C"`` kernel."""
    parts = re.split(r'extern "C" __global__ void (\w+)\(', c)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def inline_task(tmp_path: Path, text: str, name: str = "inline") -> Task:
    path = tmp_path / f"{name}.py"
    path.write_text(text)
    return load_task(str(path))


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


@needs_cxx
@pytest.mark.parametrize(
    "name",
    ["01_relu", "02_leaky_relu", "03_gelu", "04_gelu_tanh", "05_swish", "06_mish",
     "07_softplus_elu", "08_selu_hardtanh", "09_hardswish_hardsigmoid", "10_tanh_clamp",
     "11_swiglu", "12_bias_residual", "40_conv_bias_ops"],
)  # fmt: skip
def test_cuda_kernel_is_correct_on_the_host(name: str) -> None:
    """The generated C++ compiled for the CPU gives the reference's values (float4 bulk and
    scalar tail: the smoke sizes are odd)."""
    plan = plan_for(task(name))
    src = render_plan(plan, cuda_params(plan, "streaming_eviction"))
    mod = exec_module(src, f"cuda_host_{name}")
    runner = cuda_emulation.install(mod)
    check_module(task(name), mod)
    # the float4 path ran, but where the per-channel bias's inner size (5 x 5) is odd
    assert runner.calls and all(bool(c["n4"]) == (name != "12_bias_residual") for c in runner.calls)


def check_module(t: Task, mod, inputs=None, atol: float = 1e-5, rtol: float = 1e-5) -> None:
    ref_mod = t.load_module()
    torch.manual_seed(0)
    init = ref_mod.get_init_inputs()
    ref = ref_mod.Model(*init)
    cand = mod.ModelNew(*init)
    cand.load_state_dict(ref.state_dict())
    torch.manual_seed(1)
    xs = inputs if inputs is not None else ref_mod.get_inputs()
    with torch.no_grad():
        want = ref(*[x.clone() for x in xs])
        got = cand(*xs)
    torch.testing.assert_close(got, want, atol=atol, rtol=rtol, equal_nan=True)


@needs_cxx
@pytest.mark.parametrize("wide", [False, True])
def test_misaligned_and_odd_inputs_take_the_scalar_kernel(wide: bool) -> None:
    t = task("12_bias_residual")
    plan = plan_for(t)
    mod = exec_module(render_plan(plan, cuda_params(plan)), "cuda_misaligned")
    runner = cuda_emulation.install(mod, wide=wide)
    torch.manual_seed(2)
    x = torch.randn(4 * 6 * 5 * 5 + 1)[1:].view(4, 6, 5, 5)  # 4 bytes off 16-byte alignment
    b = torch.randn(6, 1, 1)
    check_module(t, mod, [x, b])
    assert runner.calls[-1]["n4"] == 0 and runner.calls[-1]["n"] == 600
    x2 = torch.randn(3, 6, 4, 4)  # aligned, inner size 16: float4 lanes share the bias
    check_module(t, mod, [x2, b])
    assert runner.calls[-1]["n4"] == 3 * 6 * 4
    x3 = torch.randn(3, 6, 3, 3)  # inner size 9: the row broadcast cannot take float4s
    check_module(t, mod, [x3, b])
    assert runner.calls[-1]["n4"] == 0


@needs_cxx
def test_scalar_tensor_and_column_bias(tmp_path: Path) -> None:
    t = inline_task(tmp_path, SCALAR_AND_COLUMN, "scalar_column")
    plan = plan_for(t)
    p = cuda_params(plan)
    src = render_plan(plan, p)
    c = kernel_sources(src)[0]
    vec = kernels_of(c)["vec4_kernel"]
    assert "const float x_in1 = in1[0];" in vec  # the 0-d tensor: one load a thread
    assert "reinterpret_cast<const float4*>(in2)[i % q_in2]" in vec  # the column bias
    assert (
        "const auto r_gt = (x_in0 > 0);" in c
        and "const auto r_where = (r_gt ? r_mul : x_in2);" in c
    )
    mod = exec_module(src, "cuda_scalar_column")
    runner = cuda_emulation.install(mod)
    check_module(t, mod)
    assert runner.calls[-1]["n4"] == 6 * 36 // 4
    torch.manual_seed(3)
    check_module(t, mod, [torch.randn(5, 7), torch.tensor(-2.0), torch.randn(7)])  # 7 % 4
    assert runner.calls[-1]["n4"] == 0


TWO_OUTPUTS = """
import torch
import torch.nn as nn

n = 50


class Model(nn.Module):
    def forward(self, x):
        y = torch.relu(x) * 3.0
        return y, torch.sigmoid(y) + x{extra}


def get_inputs():
    return [torch.randn(n, 3)]


def get_init_inputs():
    return []
"""


@needs_cxx
def test_several_outputs_and_a_bool_output(tmp_path: Path) -> None:
    t = inline_task(tmp_path, TWO_OUTPUTS.format(extra=""), "two_outputs")
    plan = plan_for(t)
    src = render_plan(plan, cuda_params(plan))
    c = kernel_sources(src)[0]
    assert "float& y_out0, float& y_out1" in c
    assert "reinterpret_cast<float4*>(out1) + i) = y_out1" in c
    mod = exec_module(src, "cuda_two_outputs")
    cuda_emulation.install(mod)
    check_module(t, mod)
    # a bool output (a mask a caller keeps) is not an fp32 store: the group stays Triton
    masked = inline_task(tmp_path, TWO_OUTPUTS.format(extra=", x > 0"), "bool_output")
    plan = plan_for(masked)
    assert [f.cuda for f in plan.facts] == [False] and apply(plan, CUDA, plan.initial()) is None


SYMBOLIC = """
import torch
import torch.nn as nn

rows = 5
cols = 12


class Model(nn.Module):
    def forward(self, x):
        return torch.relu(x) / x.shape[-1] + x.shape[0]


def get_inputs():
    return [torch.randn(rows, cols)]


def get_init_inputs():
    return []
"""


@needs_cxx
def test_symbolic_sizes_are_float_arguments(tmp_path: Path) -> None:
    t = inline_task(tmp_path, SYMBOLIC, "symbolic")
    plan = plan_for(t)
    src = render_plan(plan, cuda_params(plan))
    c = kernel_sources(src)[0]
    assert "float scalar0, float scalar1" in c and "(r_relu / scalar0)" in c
    mod = exec_module(src, "cuda_symbolic")
    runner = cuda_emulation.install(mod)
    check_module(t, mod)
    check_module(t, mod, [torch.randn(7, 9)])  # other sizes: the arguments follow
    assert runner.calls[-1]["n"] == 63 and runner.calls[-1]["n4"] == 15


@needs_cxx
def test_infinities_and_nan_on_the_host(tmp_path: Path) -> None:
    t = inline_task(tmp_path, SPECIALS, "specials")
    plan = plan_for(t)
    src = render_plan(plan, cuda_params(plan))
    c = kernel_sources(src)[0]
    assert "__int_as_float(0x7f800000)" in c and "(-__int_as_float(0x7f800000))" in c
    assert "INFINITY" not in c and "inf" not in c.replace("kb_", "")
    mod = exec_module(src, "cuda_specials")
    cuda_emulation.install(mod)
    check_module(t, mod)  # NaN (log of a negative) through relu as torch.relu keeps it
    got = mod.ModelNew()(torch.tensor([2.0, -2.0, -0.5, 0.5, 3.0]))
    assert got[0] == got[4] == float("inf") and got[1].isnan() and got[2].isnan() and got[3] == 0


@needs_cxx
def test_mixed_plan_is_correct_on_the_host() -> None:
    """One group CUDA (host-compiled), one Triton (interpreter), and a reduction group in
    Triton before a CUDA pointwise group."""
    for name in ("43_batchnorm_inference", "24_frobenius"):
        t = task(name)
        plan = plan_for(t)
        src = render_plan(plan, cuda_params(plan))
        assert "@triton.jit" in src and kernel_sources(src)
        mod = exec_module(src, f"cuda_mixed_{name}")
        runner = cuda_emulation.install(mod)
        check_module(t, mod, atol=1e-4, rtol=1e-4)
        assert runner.calls


@needs_cxx
@pytest.mark.parametrize("seed", range(12))
def test_random_pointwise_graphs_on_the_host(seed: int, tmp_path: Path) -> None:
    """The property test's random graphs (dense, column, row and one-element biases): each
    CUDA-able group as CUDA, host-compiled, against the reference."""
    rng = random.Random(seed)
    for attempt in range(50):  # the first draw with a group the CUDA kernel takes
        t = inline_task(tmp_path, draw(rng), f"rand_{seed}_{attempt}")
        plan = plan_for(t)
        p = apply(plan, CUDA, plan.initial())
        if p is not None:
            break
    assert p is not None
    while (more := apply(plan, CUDA, p)) is not None:
        p = more
    mod = exec_module(render_plan(plan, p), f"cuda_rand_{seed}")
    runner = cuda_emulation.install(mod)
    check_module(t, mod, atol=1e-4, rtol=1e-4)
    assert runner.calls


UNARY_VALUES = [-30.0, -4.5, -3.0, -1.0, -0.3, -1e-6, 0.0, 1e-6, 0.25, 0.5, 1.0, 2.5, 3.0,
                7.0, 19.0, 21.0, 60.0, float("inf"), float("-inf"), float("nan")]  # fmt: skip


@needs_cxx
def test_every_unary_c_form_matches_torch() -> None:
    """Each unary op's C form, compiled for the host, against the ATen op itself."""
    names = sorted(ops_c.UNARY)
    body = "\n".join(
        f'extern "C" float f{i}(float a) {{ return {ops_c.UNARY[n].format("a")}; }}'
        for i, n in enumerate(names)
    )
    lib = cuda_emulation.compile_source(ops_c.PRELUDE + body, wide=False)
    x = torch.tensor(UNARY_VALUES)
    for i, n in enumerate(names):
        fn = getattr(lib, f"f{i}")
        fn.restype, fn.argtypes = cuda_emulation.ctypes.c_float, [cuda_emulation.ctypes.c_float]
        got = torch.tensor([fn(v) for v in UNARY_VALUES])
        ns, op, ov = (
            ("prims", *n.split(".")[1:]) if n.startswith("prims.") else ("aten", *n.split("."))
        )
        want = getattr(getattr(getattr(torch.ops, ns), op), ov)(x).float()
        if n in ("rsqrt.default", "prims.rsqrt.default"):
            want = 1.0 / torch.sqrt(x)  # CPU rsqrt(-0) sign aside: the same values
        torch.testing.assert_close(got, want, rtol=2e-6, atol=1e-7, equal_nan=True, msg=n)


BINARY = ["add.Tensor", "sub.Tensor", "mul.Tensor", "div.Tensor", "maximum.default",
          "minimum.default", "pow.Tensor_Tensor", "xlogy.Tensor", "gt.Tensor", "ge.Tensor",
          "lt.Tensor", "le.Tensor", "eq.Tensor", "ne.Tensor", "logical_and.default",
          "logical_or.default", "clamp_min.Tensor", "clamp_max.Tensor"]  # fmt: skip


@needs_cxx
def test_binary_c_forms_match_torch() -> None:
    """Two-input C forms on every pair of edge values (NaN, infinities, zeros, negatives)
    against the ATen op: NaN propagation of maximum/minimum/clamp, xlogy at 0, pow."""
    vals = [-2.5, -1.0, -0.0, 0.0, 0.5, 1.0, 3.0, float("inf"), float("-inf"), float("nan")]
    a = torch.tensor(vals).repeat_interleave(len(vals))
    b = torch.tensor(vals).repeat(len(vals))
    body = "\n".join(
        f'extern "C" float f{i}(float a, float b) {{ return {ops_c.formula(n, ["{0}", "{1}"]).format("a", "b")}; }}'
        for i, n in enumerate(BINARY)
    )
    lib = cuda_emulation.compile_source(ops_c.PRELUDE + body, wide=False)
    c_float = cuda_emulation.ctypes.c_float
    for i, n in enumerate(BINARY):
        fn = getattr(lib, f"f{i}")
        fn.restype, fn.argtypes = c_float, [c_float, c_float]
        got = torch.tensor([fn(x, y) for x, y in zip(a.tolist(), b.tolist(), strict=True)])
        op, ov = n.split(".")
        want = getattr(getattr(torch.ops.aten, op), ov)(a, b).float()
        torch.testing.assert_close(got, want, rtol=2e-6, atol=1e-7, equal_nan=True, msg=n)


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
