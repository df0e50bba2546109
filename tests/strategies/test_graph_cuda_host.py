"""The generated CUDA pointwise kernels run on the CPU (`tests.strategies.cuda_emulation`:
the host compiler under a small shim) against the reference: float4 bulk and scalar tail,
misaligned inputs, row/column/one-element operands, several outputs, symbolic sizes,
infinities and NaN, mixed with Triton groups under the interpreter, random pointwise
graphs; and each C form of `strategies.graph.ops_c` against its ATen op on edge values.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from profiling.tasks import exec_module
from strategies.graph import ops_c
from strategies.graph.plan import plan_for
from strategies.graph.realizer import apply, render_plan
from tests.strategies import cuda_emulation
from tests.strategies.cuda_check import (
    CUDA,
    SCALAR_AND_COLUMN,
    SPECIALS,
    SYMBOLIC,
    TWO_OUTPUTS,
    check_module,
    cuda_params,
    inline_task,
    kernel_sources,
    kernels_of,
    task,
)
from tests.strategies.test_graph_property import draw

needs_cxx = pytest.mark.skipif(cuda_emulation.CXX is None, reason="no host C++ compiler (g++)")
pytestmark = needs_cxx


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
