"""The pointwise template's CUDA C++ target: one group as a float4 grid-stride kernel.

Reached with ``vectorization/cuda_vec4`` (``target="cuda"``; knobs ``threads`` per block
and ``streaming``: ``__ldcs/__stcs`` on the streamed tensors). The group's formulas are
written with their C forms (`strategies.graph.ops_c`) into one ``__device__`` function
evaluated per element; a ``vec4_kernel`` covers the bulk with 16-byte loads and stores
when the pointers are aligned and the broadcast periods divide by 4, a ``scalar_kernel``
the tail (or everything otherwise). The source is compiled on first use with NVRTC
through CuPy (``cupy.RawModule``, imported lazily inside the generated launch helper, so
the module imports anywhere), with 32-bit indices unless the group is too large for them,
and launched on PyTorch's current stream.

What a group needs (`analyse`, else the move is unavailable): a C form for every member,
fp32 (or internal bool) values only, fp32 outputs, and inputs that are each one of
``dense`` (contiguous over the group's space), ``scalar`` (one element), ``column``
(contiguous over the innermost collapsed axis only: a bias over the last axes) or
``row`` (contiguous over one outer collapsed axis only: a per-channel bias).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy
import torch

from strategies.graph import ops, ops_c
from strategies.graph.builder import Builder, kernel_args, reg
from strategies.graph.layout import Access, Dim, collapse, same, size_expr
from strategies.graph.partition import shape_key
from strategies.graph.render_util import Kernel, numel_expr, out_alloc


@dataclass(frozen=True)
class Operand:
    """One tensor the kernel reads and how it is addressed from the element index."""

    acc: Access
    mode: str  # "dense" | "scalar" | "column" | "row"
    dim: int = -1  # column/row: the collapsed axis it spans
    # dense: the tensor is over the whole space but its capture-time strides do not prove
    # it contiguous (a convolution's output: ``Max(1, ...)`` sizes): made ``.contiguous()``
    # before the launch (no copy when it is)
    ensure: bool = False


@dataclass(frozen=True)
class Analysis:
    dims: tuple[Dim, ...]
    operands: tuple[Operand, ...]  # in load order (in0, in1, ...)
    lines: tuple[str, ...]  # the device function's body: one C statement a member


def analyse(b: Builder) -> Analysis | None:
    """The group as CUDA, or None when the kernel cannot express it (see the module doc)."""
    if b.g.template != "pointwise":
        return None
    lines = []
    for n in b.g.members:
        f = ops.pointwise(n)
        if f is None or f.c is None or ops.val(n).dtype not in (torch.float32, torch.bool):
            return None
        args = []
        for a in f.inputs:
            if a in b.members:
                args.append(reg(a))
            elif not ops.is_tensor(a):
                args.append(b.scalars.setdefault(a, f"scalar{len(b.scalars)}"))
            elif ops.val(a).dtype != torch.float32:
                return None
            else:
                args.append(f"x_{b.access(a, 'full').ptr}")
        lines.append(f"const auto {reg(n)} = {f.c.format(*args)};")
    if not b.stores:
        return None
    for node, acc in b.stores:
        if ops.val(node).dtype != torch.float32 or not acc.dense:
            return None
    loads = list(b.loads.values())
    dims = tuple(collapse(b.g, [*loads, *(a for _, a in b.stores)]))
    operands = []
    for (node, _), acc in b.loads.items():
        op = _operand(acc, dims)
        full = shape_key(node) == b.g.shape
        if op is None and full and _contiguous_up_to_max(b.g.shape, acc.strides):
            op = Operand(acc, "dense", ensure=True)
        if op is None:
            return None
        operands.append(op)
    return Analysis(dims, tuple(operands), tuple(lines))


def _operand(acc: Access, dims: tuple[Dim, ...]) -> Operand | None:
    if acc.dense:
        return Operand(acc, "dense")
    spanned = [i for i, d in enumerate(dims) if acc.axes[d.members[-1]] is not None]
    if not spanned:
        return Operand(acc, "scalar")
    if len(spanned) != 1 or not acc.strides:
        return None
    j = spanned[0]
    if not same(acc.strides[acc.axes[dims[j].members[-1]]], "1"):
        return None  # strided along its axis (a transposed or sliced operand)
    if len(dims) == 1:
        return Operand(acc, "dense")  # contiguous over the whole (one-axis) space
    return Operand(acc, "column" if j == len(dims) - 1 else "row", j)


def _strip_max(expr: str) -> sympy.Expr:
    """A size expression with ``Max(1, e)`` read as ``e`` (sizes are at least 1 anyway)."""
    e = sympy.sympify(expr)
    return e.replace(
        lambda x: isinstance(x, sympy.Max) and 1 in x.args,
        lambda x: sympy.Max(*[a for a in x.args if a != 1]),
    )


def _contiguous_up_to_max(shape: tuple[str, ...], strides: tuple[str, ...]) -> bool:
    """Strides that are the row-major ones once ``Max(1, e)`` is read as ``e`` (a
    convolution's output), not a transposed or sliced layout."""
    expect: sympy.Expr = sympy.Integer(1)
    try:
        for size, stride in zip(reversed(shape), reversed(strides), strict=True):
            if size != "1" and sympy.simplify(_strip_max(stride) - expect) != 0:
                return False
            expect = expect * _strip_max(size)
    except (sympy.SympifyError, TypeError, ValueError):
        return False
    return True


def supported(b: Builder) -> bool:
    return analyse(b) is not None


def _inner(dims: tuple[Dim, ...], j: int, b: Builder) -> str:
    return " * ".join(size_expr(b.g, d) for d in dims[j + 1 :]) or "1"


def size_args(a: Analysis, b: Builder) -> list[tuple[str, str]]:
    """(kernel arg, forward expr) of the broadcast periods: a column's span, a row's inner
    size (and its span unless the row axis is the outermost)."""
    out = []
    for op in a.operands:
        p = op.acc.ptr
        if op.mode == "column":
            out.append((f"{p}_span", size_expr(b.g, a.dims[op.dim])))
        elif op.mode == "row":
            out.append((f"{p}_inner", _inner(a.dims, op.dim, b)))
            if op.dim > 0:
                out.append((f"{p}_span", size_expr(b.g, a.dims[op.dim])))
    return out


def _row_index(op: Operand, e: str) -> str:
    p = op.acc.ptr
    idx = f"({e}) / {p}_inner"
    return f"({idx}) % {p}_span" if op.dim > 0 else idx


def cuda_source(a: Analysis, b: Builder, streaming: bool) -> str:
    ins = [op.acc.ptr for op in a.operands]
    outs = [acc.ptr for _, acc in b.stores]
    scalars = list(b.scalars.values())
    sizes = [s for s, _ in size_args(a, b)]
    sig = ", ".join(
        [f"const float* __restrict__ {p}" for p in ins]
        + [f"float* __restrict__ {p}" for p in outs]
        + [f"float {s}" for s in scalars]
        + [f"idx_t {s}" for s in sizes]
        + ["idx_t start", "idx_t end"]
    )
    point_sig = ", ".join(
        [f"float x_{p}" for p in ins] + [f"float {s}" for s in scalars]
        + [f"float& y_{p}" for p in outs]
    )  # fmt: skip
    results = [f"y_{acc.ptr} = {reg(node)};" for node, acc in b.stores]
    point = "\n".join(f"    {ln}" for ln in [*a.lines, *results])
    head = [f"const float x_{op.acc.ptr} = {op.acc.ptr}[0];" for op in a.operands
            if op.mode == "scalar"]  # fmt: skip

    def ld(ptr: str, streamed: bool) -> str:
        return f"__ldcs({ptr})" if streamed else f"*({ptr})"

    def st(ptr: str, v: str) -> str:
        return f"__stcs({ptr}, {v});" if streaming else f"*({ptr}) = {v};"

    def call(lane: str | None) -> str:
        vals = []
        for op in a.operands:
            p = op.acc.ptr
            vec = lane is not None and op.mode in ("dense", "column")
            vals.append(f"v_{p}.{lane}" if vec else f"{'v' if op.mode != 'scalar' else 'x'}_{p}")
        outs_ = [f"y_{p}.{lane}" if lane else f"y_{p}" for p in outs]
        return f"kb_point({', '.join([*vals, *scalars, *outs_])});"

    def body(vec: bool) -> list[str]:
        """One grid-stride step: float4 lanes (``vec``) or one element."""
        t, at = ("float4", "4 * i") if vec else ("float", "i")

        def base(p: str, cast: str) -> str:
            return f"reinterpret_cast<{cast}float4*>({p})" if vec else p

        lines = []
        for op in a.operands:
            p = op.acc.ptr
            src = base(p, "const ")
            if op.mode == "dense":
                lines.append(f"const {t} v_{p} = {ld(src + ' + i', streaming)};")
            elif op.mode == "column":
                period = f"q_{p}" if vec else f"{p}_span"
                lines.append(f"const {t} v_{p} = {src}[i % {period}];")
            elif op.mode == "row":  # vec: the 4 lanes share the value (inner % 4 == 0)
                lines.append(f"const float v_{p} = {p}[{_row_index(op, at)}];")
        lines += [f"{t} y_{p};" for p in outs]
        lines += [call(c) for c in "xyzw"] if vec else [call(None)]
        lines += [st(f"{base(p, '')} + i", f"y_{p}") for p in outs]
        return lines

    vhead = head + [f"const idx_t q_{op.acc.ptr} = {op.acc.ptr}_span / 4;"
                    for op in a.operands if op.mode == "column"]  # fmt: skip
    vbody, sbody = body(True), body(False)
    return (
        "#if KB_WIDE\ntypedef long long idx_t;\n#else\ntypedef int idx_t;\n#endif\n\n"
        f"{ops_c.PRELUDE}\n"
        f"__device__ __forceinline__ void kb_point({point_sig}) {{\n{point}\n}}\n\n"
        + _kernel("vec4_kernel", sig, vhead, vbody)
        + "\n\n"
        + _kernel("scalar_kernel", sig, head, sbody)
        + "\n"
    )


def _kernel(name: str, sig: str, head: list[str], body: list[str]) -> str:
    pad4, pad8 = "\n    ", "\n        "
    return (
        f'extern "C" __global__ void {name}({sig}) {{'
        + "".join(pad4 + ln for ln in head)
        + f"{pad4}const idx_t stride = (idx_t)gridDim.x * blockDim.x;"
        + f"{pad4}for (idx_t i = start + (idx_t)blockIdx.x * blockDim.x + threadIdx.x; i < end;"
        + " i += stride) {"
        + "".join(pad8 + ln for ln in body)
        + "\n    }\n}"
    )


# forward()'s launch helper, once per module that holds a CUDA group
HELPER = '''
_CUDA_KERNELS = {}


def _aligned16(*tensors):
    return all(t.data_ptr() % 16 == 0 for t in tensors)


def _cuda_pointwise(src, tensors, floats, sizes, n, vec, threads):
    """Run a generated CUDA pointwise kernel on PyTorch's current stream (compiled with
    NVRTC through CuPy on first use): float4 accesses for the bulk when ``vec`` (aligned
    pointers, broadcast periods divisible by 4), the scalar kernel for the rest."""
    if any(t.dtype != torch.float32 or not t.is_cuda for t in tensors):
        raise TypeError("this CUDA kernel takes float32 CUDA tensors")
    if n == 0:
        return
    import cupy  # lazily: importing this module needs neither cupy nor a GPU
    import numpy as np

    wide = n + 2**26 >= 2**31  # 64-bit indices only where 32-bit ones could overflow
    if (src, wide) not in _CUDA_KERNELS:
        mod = cupy.RawModule(code=src, options=("--std=c++14", f"-DKB_WIDE={int(wide)}"))
        _CUDA_KERNELS[src, wide] = mod.get_function("vec4_kernel"), mod.get_function("scalar_kernel")
    vec4, scalar = _CUDA_KERNELS[src, wide]
    idx = np.int64 if wide else np.int32
    dev = tensors[0].device
    cap = _num_sms(dev) * (2048 // threads)
    stream = torch.cuda.current_stream(dev)
    if hasattr(cupy.cuda.Stream, "from_external") and hasattr(stream, "__cuda_stream__"):
        cstream = cupy.cuda.Stream.from_external(stream)
    else:
        cstream = cupy.cuda.ExternalStream(stream.cuda_stream)  # CuPy < 14
    n4 = n // 4 if vec else 0
    with cupy.cuda.Device(dev.index), cstream:
        args = [cupy.from_dlpack(t.detach()) for t in tensors]
        args += [np.float32(v) for v in floats] + [idx(s) for s in sizes]
        if n4:
            vec4((min(triton.cdiv(n4, threads), cap),), (threads,), (*args, idx(0), idx(n4)))
        if n > 4 * n4:
            blocks = min(triton.cdiv(n - 4 * n4, threads), cap)
            scalar((blocks,), (threads,), (*args, idx(4 * n4), idx(n)))
'''.strip("\n")


def emit(b: Builder, p: dict[str, object], name: str) -> Kernel:
    a = analyse(b)
    if a is None:
        raise ValueError(f"group {b.g.gid} has no CUDA form")
    src = cuda_source(a, b, bool(p.get("streaming")))
    args = kernel_args(b)  # loads, stores, scalars: the kernel's pointer and float order
    tensors = [op.acc.tensor for op in a.operands] + [acc.tensor for _, acc in b.stores]
    floats = [e for (k, e) in args if k.startswith("scalar")]
    sizes = size_args(a, b)
    aligned = [op.acc.tensor for op in a.operands if op.mode in ("dense", "column")]
    aligned += [acc.tensor for _, acc in b.stores]
    vec = [f"_aligned16({', '.join(aligned)})"]
    for op in a.operands:  # float4 lanes: a column's period, a row's inner size divide by 4
        if op.mode == "column":
            vec.append(f"({size_expr(b.g, a.dims[op.dim])}) % 4 == 0")
        elif op.mode == "row":
            vec.append(f"({_inner(a.dims, op.dim, b)}) % 4 == 0")
    launch = [f"{op.acc.tensor} = {op.acc.tensor}.contiguous()" for op in a.operands if op.ensure]
    launch += [out_alloc(node) for node, _ in b.stores]
    launch.append(f"n = {numel_expr(b.g.shape)}")
    launch.append(
        f"_cuda_pointwise({name}, ({', '.join(tensors)},), ({''.join(f + ', ' for f in floats)}), "
        f"({''.join(e + ', ' for _, e in sizes)}), n, {' and '.join(vec)}, {p['threads']})"
    )
    source = f'{name} = r"""\n{src}"""'
    return Kernel(name, source, launch, preludes=(HELPER,))
