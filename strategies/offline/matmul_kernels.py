"""Source text of the matmul kernels for `strategies.offline.matmul` (rendering only).

Every variant accumulates in fp32 (``tl.dot`` with an fp32 accumulator), casts
at the store, and handles any M, N, K: pointer loads are masked, tensor-
descriptor (TMA) loads zero-fill out of bounds. fp32 inputs use
``input_precision="ieee"`` so they match PyTorch's default (no TF32).
The TMA variant keeps the pointer kernel as the fallback for operands a
descriptor cannot describe (misaligned strides, pre-Hopper GPUs).
"""

from __future__ import annotations

from strategies.offline._dense import IMPORTS, NUM_SMS_HELPER, indent
from strategies.offline.base import Params

GELU = "0.5 * {v} * (1.0 + tl.erf({v} * 0.7071067811865476))"

_ORDER_GROUPED = """\
num_in_group = GROUP_M * num_pid_n
first_m = (tile // num_in_group) * GROUP_M
group_rows = min(num_pid_m - first_m, GROUP_M)
pid_m = first_m + (tile % num_in_group) % group_rows
pid_n = (tile % num_in_group) // group_rows
"""
_ORDER_ROWS = "pid_m = tile // num_pid_n\npid_n = tile % num_pid_n\n"

_DOT = """\
if IEEE:  # fp32 inputs: exact products, as torch.matmul without TF32
    acc = tl.dot(a, {b}, acc, input_precision="ieee")
else:
    acc = tl.dot(a, {b}, acc)
"""

_TMA_OK = '''

def _tma_ok(t):
    """A tensor descriptor needs a unit inner stride, 16-byte alignment and Hopper+."""
    aligned = t.data_ptr() % 16 == 0 and all(s * t.element_size() % 16 == 0 for s in t.stride()[:-1])
    hopper = not t.is_cuda or torch.cuda.get_device_capability(t.device)[0] >= 9
    return t.stride(-1) == 1 and aligned and hopper
'''

_MATMUL_MODEL = """\
class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, A, B):
        return _matmul(A, B)
"""

_BIAS_GELU_MODEL = """\
class ModelNew(nn.Module):
    def __init__(self, in_features, out_features, dtype="float32"):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, dtype=getattr(torch, dtype))

    def forward(self, x):
        w = self.linear.weight
        y = _matmul(x.reshape(-1, x.shape[-1]), w.t(), self.linear.bias)
        return y.reshape(*x.shape[:-1], w.shape[0])
"""


def epilogue_kernel(evict: bool) -> str:
    """Second pass over the stored product: (+ bias) (GELU) and the cast to out's dtype."""
    ev = ', eviction_policy="evict_first"' if evict else ""
    return f"""\
@triton.jit
def _epilogue_kernel(c_ptr, bias_ptr, out_ptr, n, N, BLOCK: tl.constexpr,
                     HAS_BIAS: tl.constexpr, GELU: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    v = tl.load(c_ptr + offs, mask=mask, other=0.0{ev}).to(tl.float32)
    if HAS_BIAS:
        v += tl.load(bias_ptr + offs % N, mask=mask, other=0.0).to(tl.float32)
    if GELU:
        v = {GELU.format(v="v")}
    tl.store(out_ptr + offs, v.to(out_ptr.dtype.element_ty), mask=mask{ev})"""


def _pointer_k_loop(p: Params) -> str:
    split = p["SPLIT_K"] > 1
    step = "(BLOCK_K * SPLIT_K)" if split else "BLOCK_K"
    first_k = "tl.program_id(1) * BLOCK_K + " if split else ""
    loads = (
        f"k_left = K - k * {step}\n"
        "a = tl.load(a_ptrs, mask=(offs_m[:, None] < M) & (offs_k[None, :] < k_left), other=0.0)\n"
        "b = tl.load(b_ptrs, mask=(offs_k[:, None] < k_left) & (offs_n[None, :] < N), other=0.0)\n"
    )
    advance = f"a_ptrs += {step} * stride_ak\nb_ptrs += {step} * stride_bk\n"
    return (
        f"offs_k = {first_k}tl.arange(0, BLOCK_K)\n"
        "a_ptrs = a_ptr + offs_m[:, None] * stride_am + offs_k[None, :] * stride_ak\n"
        "b_ptrs = b_ptr + offs_k[:, None] * stride_bk + offs_n[None, :] * stride_bn\n"
        "acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)\n"
        f"for k in range(0, tl.cdiv(K, {step})):\n"
        + indent(loads + _DOT.format(b="b") + advance, 4)
    )


def _tma_k_loop(p: Params, b_nk: bool) -> str:
    """Descriptor loads: the TMA unit copies whole tiles, zero-filling past the edges."""
    split = p["SPLIT_K"] > 1
    step = "(BLOCK_K * SPLIT_K)" if split else "BLOCK_K"
    k_off = "(k * SPLIT_K + tl.program_id(1)) * BLOCK_K" if split else "k * BLOCK_K"
    b_load = (
        "b = b_desc.load([pid_n * BLOCK_N, k_off])  # a (BLOCK_N, BLOCK_K) tile of W = B^T\n"
        if b_nk
        else "b = b_desc.load([k_off, pid_n * BLOCK_N])\n"
    )
    body = f"k_off = {k_off}\na = a_desc.load([pid_m * BLOCK_M, k_off])\n" + b_load
    return (
        "acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)\n"
        f"for k in range(0, tl.cdiv(K, {step})):\n"
        + indent(body + _DOT.format(b="tl.trans(b)" if b_nk else "b"), 4)
    )


def _tile_body(p: Params, fused: bool, tma: bool, b_nk: bool) -> str:
    code = _ORDER_GROUPED if p["GROUP_M"] > 1 else _ORDER_ROWS
    code += (
        "offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)\n"
        "offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)\n"
    )
    code += _tma_k_loop(p, b_nk) if tma else _pointer_k_loop(p)
    if fused:
        code += (
            "bias = tl.load(bias_ptr + offs_n, mask=offs_n < N, other=0.0).to(tl.float32)\n"
            "acc = acc + bias[None, :]\n"
            f"acc = {GELU.format(v='acc')}\n"
        )
    code += (
        "c_ptrs = c_ptr + offs_m[:, None] * stride_cm + offs_n[None, :] * stride_cn\n"
        "c_mask = (offs_m[:, None] < M) & (offs_n[None, :] < N)\n"
    )
    if p["SPLIT_K"] > 1:
        code += "tl.atomic_add(c_ptrs, acc, mask=c_mask)  # fp32 partial sums of SPLIT_K programs\n"
    else:
        evict = ', eviction_policy="evict_first"' if p["evict"] else ""
        code += f"tl.store(c_ptrs, acc.to(c_ptr.dtype.element_ty), mask=c_mask{evict})\n"
    return code


def _consts(p: Params) -> list[str]:
    return ["BLOCK_M", "BLOCK_N", "BLOCK_K", "GROUP_M"] + (["SPLIT_K"] if p["SPLIT_K"] > 1 else [])


def matmul_kernel(p: Params, fused: bool, tma: bool = False, b_nk: bool = False) -> str:
    consts = [*_consts(p), "IEEE"]
    setup = (
        "num_pid_m = tl.cdiv(M, BLOCK_M)\n"
        "num_pid_n = tl.cdiv(N, BLOCK_N)\n"
        "num_tiles = num_pid_m * num_pid_n\n"
    )
    body = _tile_body(p, fused, tma, b_nk)
    if p["persistent"]:  # one program per SM walks the tiles
        code = setup + "for tile in range(tl.program_id(0), num_tiles, tl.num_programs(0)):\n"
        code += indent(body, 4)
    else:
        code = setup + "tile = tl.program_id(0)\n" + body
    bias = "bias_ptr, " if fused else ""
    name, operands = (
        ("_matmul_tma_kernel", "a_desc, b_desc") if tma else ("_matmul_kernel", "a_ptr, b_ptr")
    )
    strides = (
        "stride_cm, stride_cn"
        if tma
        else ("stride_am, stride_ak, stride_bk, stride_bn, stride_cm, stride_cn")
    )
    pad = " " * (len(name) + 5)
    sig = ", ".join(f"{c}: tl.constexpr" for c in consts)
    return (
        "@triton.jit\n"
        f"def {name}({operands}, c_ptr, {bias}M, N, K,\n{pad}{strides},\n{pad}{sig}):\n"
        + indent(code.rstrip(), 4)
    )


def _launch(p: Params, grid: str, fused: bool, tma: bool) -> list[str]:
    consts = ", ".join(f"{c}={p[c]}" for c in _consts(p))
    if tma:
        head = [
            f"_matmul_tma_kernel[{grid}](",
            f"    a_desc, b_desc, c, {'bias, ' if fused else ''}M, N, K, c.stride(0), c.stride(1),",
            f"    {consts}, IEEE=a.dtype == torch.float32,",
        ]
    else:
        head = [
            f"_matmul_kernel[{grid}](",
            f"    a, b, c, {'bias, ' if fused else ''}M, N, K,",
            "    a.stride(0), a.stride(1), b.stride(0), b.stride(1), c.stride(0), c.stride(1),",
            f"    {consts}, IEEE=a.dtype == torch.float32,",
        ]
    return [*head, f"    num_warps={p['num_warps']}, num_stages={p['num_stages']},", ")"]


def _wrapper(p: Params, bias_gelu: bool, tma: bool) -> str:
    """``_matmul(a, b, bias)``: a (M, K) @ b (K, N) (+ bias, GELU), any strides."""
    split, fused = p["SPLIT_K"], bias_gelu and p.get("fused", False)
    second_pass = split > 1 or (bias_gelu and not fused)
    bm, bn, bk = p["BLOCK_M"], p["BLOCK_N"], p["BLOCK_K"]
    tiles = f"triton.cdiv(M, {bm}) * triton.cdiv(N, {bn})"
    if p["persistent"]:
        grid = f"(min({tiles}, _num_sms(a.device)),)"
    else:
        grid = f"({tiles}, {split})" if split > 1 else f"({tiles},)"
    lines = [
        "M, K = a.shape",
        "N = b.shape[1]",
        "out = torch.empty((M, N), dtype=a.dtype, device=a.device)",
    ]
    if split > 1:
        lines.append("c = torch.zeros((M, N), dtype=torch.float32, device=a.device)")
    elif second_pass:
        lines.append("c = torch.empty((M, N), dtype=a.dtype, device=a.device)")
    else:
        lines.append("c = out")
    lines.append(f"grid = {grid}")
    pointer = _launch(p, "grid", fused, tma=False)
    if tma:
        # bias_gelu's b is W^T: describe W (N, K), whose rows are contiguous
        b_src, b_block = ("b.t()", f"[{bn}, {bk}]") if bias_gelu else ("b", f"[{bk}, {bn}]")
        lines += [
            f"if _tma_ok(a) and _tma_ok({b_src}):",
            f"    a_desc = TensorDescriptor.from_tensor(a, [{bm}, {bk}])",
            f"    b_desc = TensorDescriptor.from_tensor({b_src}, {b_block})",
            *indent("\n".join(_launch(p, "grid", fused, tma=True)), 4).splitlines(),
            "else:",
            *indent("\n".join(pointer), 4).splitlines(),
        ]
    else:
        lines += pointer
    if second_pass:
        if not bias_gelu:  # split-K of a plain matmul: fp32 sums are the answer for fp32
            lines.append("if out.dtype == torch.float32:\n    return c")
        has = "True" if bias_gelu else "False"
        lines += [
            "_epilogue_kernel[(triton.cdiv(M * N, 1024),)](",
            f"    c, {'bias' if bias_gelu else 'c'}, out, M * N, N, BLOCK=1024,",
            f"    HAS_BIAS={has}, GELU={has}, num_warps=4,",
            ")",
        ]
    lines.append("return out")
    return "def _matmul(a, b, bias=None):\n" + indent("\n".join(lines), 4)


def render_module(p: Params, bias_gelu: bool) -> str:
    fused = bias_gelu and p.get("fused", False)
    tma = p.get("tma", False)
    second_pass = p["SPLIT_K"] > 1 or (bias_gelu and not fused)
    what = "gelu(x @ W^T + b)" if bias_gelu else "C = A @ B"
    how = (
        f"{p['BLOCK_M']}x{p['BLOCK_N']}x{p['BLOCK_K']} tiles, GROUP_M={p['GROUP_M']}, "
        f"SPLIT_K={p['SPLIT_K']}, num_warps={p['num_warps']}, num_stages={p['num_stages']}"
    )
    if tma:
        how += ", TMA tensor-descriptor loads"
    if bias_gelu:
        how += ", bias+GELU " + ("fused in the epilogue" if fused else "in a second kernel")
    doc = f'"""{"matmul_bias_gelu" if bias_gelu else "matmul"}: {what}; Triton, {how}."""'
    imports = IMPORTS
    if tma:
        imports += "from triton.tools.tensor_descriptor import TensorDescriptor\n"
    helpers = (NUM_SMS_HELPER if p["persistent"] else "") + (_TMA_OK if tma else "")
    blocks = [matmul_kernel(p, fused)]
    if tma:
        blocks.append(matmul_kernel(p, fused, tma=True, b_nk=bias_gelu))
    if second_pass:
        blocks.append(epilogue_kernel(p["evict"]))
    blocks += [_wrapper(p, bias_gelu, tma), _BIAS_GELU_MODEL if bias_gelu else _MATMUL_MODEL]
    return f"{doc}\n\n{imports}{helpers}\n\n" + "\n\n\n".join(b.rstrip() for b in blocks) + "\n"
