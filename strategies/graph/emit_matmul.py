"""The matmul template: mm / addmm / bmm tiles with the pointwise epilogue fused.

A program computes a [BM, BN] output tile over a K loop (fp32 accumulator; fp32
inputs never run plain TF32 silently: ``tf32`` switches to ``input_precision="tf32"``,
which exists only when the task sets ``PRECISION`` or the user sets
``realizer.allow_tf32``; ``tf32x3`` keeps fp32-level error on tensor cores, below; with
neither, ``input_precision="ieee"``), in grouped (swizzled)
order of GROUP_M tile rows, optionally persistent. Operands are read through their
strides, so ``x @ w.t()`` (``nn.Linear``) needs no copy. The epilogue (addmm's bias,
activations, scaling, residual adds: the group's pointwise members) runs on the
accumulator before the only store.

Split-K (``split_k`` > 1, for few output tiles and a long K): a grid of
tiles x batch x SPLIT_K programs, each walking KI = cdiv(cdiv(K, BK), SPLIT_K) of
the BK steps, stores its fp32 partial tile to a [SPLIT_K, B, M, N] workspace; a
second kernel (one program per tile) sums the partials in a fixed order and runs
the epilogue. Atomic-free on purpose: ``tl.atomic_add`` into a zeroed output would
be non-deterministic (float addition order), would need the output in fp32 and an
extra cast pass otherwise, and would only admit a linear epilogue (a GELU of a
partial sum is not a partial GELU); the workspace costs SPLIT_K x M x N x 4 bytes,
which the space bounds by the operands' bytes.

Library point (``library`` = 1, only for a group with an epilogue): the product is
the group's own op as a PyTorch call (``torch.mm``/``bmm``/``addmm`` on the same
operand views, the operands' dtype: cuBLAS, IEEE fp32 for fp32 under torch's default
``allow_tf32=False``; no global flag is touched) into the anchor's variable, and one
kernel in the shape of split-K's second kernel loads each [BM, BN] tile of it in fp32
and runs the whole epilogue. addmm stays ``torch.addmm`` (bias, beta, alpha in the
call) rather than ``torch.mm`` + bias in the epilogue: its output is then exactly
eager's, so the epilogue starts from the values eager's next op sees (for bf16 the
same rounding point), and a Linear alone is a pure library call (no library point).
Only ``BM``, ``BN``, ``num_warps`` and ``evict`` shape that kernel.

Parameters: ``BM``, ``BN``, ``BK``, ``GROUP_M``, ``num_warps``, ``num_stages``,
``persistent`` (0: one program per tile; k: k programs per SM; only without
split-K), ``tf32``, ``split_k``, ``library``, ``tma``, ``tf32x3`` and ``kmajor`` (each
of the last four present only when 1; ``tma``: operand tiles through TMA tensor descriptors,
`strategies.graph.emit_matmul_tma`, the pointer kernel kept as the launch-time fallback).

``tf32x3`` (fp32 operands, TF32 not opted in): ``input_precision="tf32x3"``, each operand
split into a TF32 high part and the TF32 rounding of its remainder, the product summed
from three tensor-core products (high x high, high x low, low x high) into the fp32
accumulator; the dropped low x low term is below 2^-21 of the product, so the result
carries fp32-level error (the harness holds it to the fp32 tolerance like any kernel);
CUTLASS's "3xTF32". It moves fp32 GEMMs off the FMA pipes, which IEEE products saturate.

``kmajor`` (fp32 operands, one not contiguous along K): ``forward`` copies such an operand
to K-major storage first (``b.transpose(-1, -2).contiguous().transpose(-1, -2)``, the same
values; a K-major operand is passed as it is), since 32-bit tensor-core products read
K-major tiles (the TMA descriptor is then built on the transposed storage, ``B_T``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from strategies.graph import ops
from strategies.graph.builder import Builder, Scope, fwd, kernel_args, reg, store
from strategies.graph.emit_matmul_tma import TMA_HELPER, tma_k_loop, tma_launch
from strategies.graph.layout import Access
from strategies.graph.render_util import Kernel, indent, out_alloc


def _operands(b: Builder) -> tuple[Any, Any, Any, float, float]:
    mm = b.g.anchor
    args = ops.normalized_args(mm)
    if ops.op_name(mm) == "addmm.default":
        bias, a, w, beta, alpha = args[0], args[1], args[2], args[3], args[4]
        return a, w, bias, float(beta), float(alpha)
    return args[0], args[1], None, 1.0, 1.0


def _tile_addr(b: Builder) -> Callable[[Access], str]:
    """An access's address over the output tile (and the batch index of a bmm)."""
    rank = len(b.g.shape)
    batched = ops.op_name(b.g.anchor) == "bmm.default"
    coord = (["bid"] if batched else []) + ["rm[:, None]", "rn[None, :]"]

    def addr(acc: Access) -> str:
        terms = [f"{coord[d]} * {acc.ptr}_s{d}" for d in range(rank) if acc.axes[d] is not None]
        for d in (rank - 2, rank - 1):  # keep the address a full [BM, BN] tile
            if acc.axes[d] is None:
                terms.append(f"{coord[d]} * 0")
        return " + ".join(terms)

    return addr


def _epilogue(b: Builder, scope: Scope, addr: Callable[[Access], str]) -> list[tuple[str, str]]:
    """The group's other members and the stores after the product's line in ``scope``; the
    (kernel arg, forward expr) stride pairs of every access."""
    rank = len(b.g.shape)
    for n in b.g.members:
        if n is not b.g.anchor:
            b.compute(n, scope, addr, "omask")
    for node, acc in b.stores:
        scope.lines.append(store(acc, addr(acc), reg(node), "omask", b.evict))
    accesses = [*b.loads.values(), *(x for _, x in b.stores)]
    return [(f"{x.ptr}_s{d}", f"{x.tensor}.stride({x.axes[d]})")
            for x in accesses for d in range(rank) if x.axes[d] is not None]  # fmt: skip


def emit(b: Builder, p: dict[str, Any], name: str) -> Kernel:
    mm = b.g.anchor
    b.evict = bool(p.get("evict"))
    if p.get("library"):
        return _emit_library(b, p, name)
    a, w, bias, beta, alpha = _operands(b)
    batched = ops.op_name(mm) == "bmm.default"
    addr = _tile_addr(b)
    scope = Scope()
    acc_expr = "acc" if alpha == 1.0 else f"(acc * {alpha})"
    if bias is not None:
        bias_reg = b.operand(bias, "full", scope, addr, "omask")
        acc_expr = f"({acc_expr} + {bias_reg}{'' if beta == 1.0 else f' * {beta}'})"
    scope.lines.append(f"{reg(mm)} = {acc_expr}")
    strides = _epilogue(b, scope, addr)
    fp32 = ops.val(a).dtype == torch.float32
    prec = f', input_precision="{_precision(p)}"' if fp32 else ""
    split = int(p.get("split_k", 1))
    part = _program(_k_loop(prec, split > 1), split, bool(p.get("persistent")), scope.lines)
    if split > 1:
        reduce = ["acc = tl.zeros((BM, BN), dtype=tl.float32)",
                  "for s in range(0, SPLIT_K):  # a fixed order: deterministic",
                  "    acc += tl.load(ws + s * tl.num_programs(1) * M * N, mask=omask, other=0.0)"]  # fmt: skip
    args = kernel_args(b)
    operands = ["a_ptr", "b_ptr", "M", "N", "K", "sab", "sam", "sak", "sbb", "sbk", "sbn"]
    epilogue = [x for x, _ in args] + ["M", "N"] + [s for s, _ in strides]
    consts = "BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr, GROUP_M: tl.constexpr"
    if split > 1:
        src = (
            f"@triton.jit\ndef {name}({', '.join(operands)}, ws_ptr, KI, {consts}, "
            "EVEN_K: tl.constexpr):\n" + "\n".join(indent(part, 4)) + "\n\n\n"
            + _tile_kernel(f"{name}_sum", epilogue, reduce + scope.lines, ", SPLIT_K: tl.constexpr")
        )  # fmt: skip
    else:
        sig = ["a_ptr", "b_ptr", *(x for x, _ in args), *operands[2:], *(s for s, _ in strides)]
        src = (
            f"@triton.jit\ndef {name}({', '.join(sig)}, {consts}, EVEN_K: tl.constexpr):\n"
            + "\n".join(indent(part, 4))
        )
    tma = bool(p.get("tma"))
    if tma:  # the descriptor kernel first; the pointer kernel stays as the fallback
        tpart = _program(tma_k_loop(prec, split > 1, batched), split, bool(p.get("persistent")),
                         scope.lines)  # fmt: skip
        head = ["a_desc", "b_desc"]
        if split == 1:
            head += [x for x, _ in args]
        head += ["M", "N", "K"] + (["ws_ptr", "KI"] if split > 1 else [s for s, _ in strides])
        src = (
            f"@triton.jit\ndef {name}_tma({', '.join(head)}, {consts}, "
            "A_T: tl.constexpr, B_T: tl.constexpr):\n" + "\n".join(indent(tpart, 4)) + "\n\n\n"
            + src
        )  # fmt: skip
    av, wv = fwd(a), fwd(w)
    launch = [out_alloc(node) for node, _ in b.stores]
    if p.get("kmajor"):  # K-contiguous operands (a copy only where one is not)
        launch += [f"{name}_ka = {av} if {av}.stride(-1) == 1 else {av}.contiguous()",
                   f"{name}_kb = {wv} if {wv}.stride(-2) == 1 else "
                   f"{wv}.transpose(-1, -2).contiguous().transpose(-1, -2)"]  # fmt: skip
        av, wv = f"{name}_ka", f"{name}_kb"
    if batched:
        launch += [f"B, M, K = {av}.shape", f"N = {wv}.shape[2]",
                   f"sab, sam, sak = {av}.stride()", f"sbb, sbk, sbn = {wv}.stride()"]  # fmt: skip
    else:
        launch += [f"B, (M, K), N = 1, {av}.shape, {wv}.shape[1]", "sab = sbb = 0",
                   f"sam, sak = {av}.stride()", f"sbk, sbn = {wv}.stride()"]  # fmt: skip
    bm, bn, bk = p["BM"], p["BN"], p["BK"]
    tiles = f"triton.cdiv(M, {bm}) * triton.cdiv(N, {bn})"
    if p.get("persistent") and split == 1:
        grid = f"(max(1, min({tiles}, _num_sms(_dev) * {p['persistent']} // B)), B)"
    else:
        grid = f"({tiles}, B)"
    blocks = f"BM={bm}, BN={bn}, BK={bk}, GROUP_M={p['GROUP_M']}"
    even = f"K % {bk} == 0" if p.get("even") else "False"
    warps = f"num_warps={p['num_warps']}"
    ops_call = [av, wv, "M", "N", "K", "sab", "sam", "sak", "sbb", "sbk", "sbn"]
    stages = f"num_stages={p['num_stages']}"
    if split > 1:  # partial tiles to an fp32 workspace, then one program per tile sums them
        ws = f"{name}_ws"
        ki = f"triton.cdiv(triton.cdiv(K, {bk}), {split})"
        first = (f"{name}[({tiles}, B, {split})]({', '.join(ops_call)}, {ws}, {ki}, {blocks}, "
                 f"EVEN_K={even}, {warps}, {stages})")  # fmt: skip
        launch.append(f"{ws} = torch.empty(({split}, B, M, N), dtype=torch.float32, device=_dev)")
        if tma:
            launch += tma_launch(name, (av, wv), p, f"{name}_tma[({tiles}, B, {split})](@A@, @B@, "
                                 f"M, N, K, {ws}, {ki}, {blocks}, A_T=@A_T@, B_T=@B_T@, {warps}, "
                                 f"{stages})", first)  # fmt: skip
        else:
            launch.append(first)
        launch.append(
            f"{name}_sum[{grid}]({ws}, {', '.join(e for _, e in args)}, M, N, "
            f"{''.join(e + ', ' for _, e in strides)}BM={bm}, BN={bn}, GROUP_M={p['GROUP_M']}, "
            f"SPLIT_K={split}, {warps})"
        )
        return Kernel(name, src, launch, preludes=(TMA_HELPER,) if tma else ())
    rest = [*(e for _, e in args), "M", "N", "K"]
    call = [av, wv, *rest[:-3], *ops_call[2:], *(e for _, e in strides)]
    pointer = f"{name}[{grid}]({', '.join(call)}, {blocks}, EVEN_K={even}, {warps}, {stages})"
    if tma:
        tcall = ["@A@", "@B@", *rest, *(e for _, e in strides)]
        launch += tma_launch(name, (av, wv), p, f"{name}_tma[{grid}]({', '.join(tcall)}, {blocks}, "
                             f"A_T=@A_T@, B_T=@B_T@, {warps}, {stages})", pointer)  # fmt: skip
    else:
        launch.append(pointer)
    return Kernel(name, src, launch, preludes=(TMA_HELPER,) if tma else ())


def _precision(p: dict[str, Any]) -> str:
    """The fp32 dot's ``input_precision``: TF32 (opted in), three TF32 products per fp32
    product (``tf32x3``: fp32-level error, tensor cores), else IEEE (fp32 FMAs)."""
    if p.get("tf32"):
        return "tf32"
    return "tf32x3" if p.get("tf32x3") else "ieee"


def _program(loop: list[str], split: int, persistent: bool, epilogue: list[str]) -> list[str]:
    """A GEMM kernel's body around its K ``loop``: a split program's store of its partial
    tile, or one tile's (a persistent program's tiles') epilogue ``lines``."""
    tile = _tile_lines()
    if split > 1:
        return ["bid = tl.program_id(1)", "tile = tl.program_id(0)", "sid = tl.program_id(2)",
                *tile, *loop, "omask = (rm[:, None] < M) & (rn[None, :] < N)",
                "ws = ws_ptr + ((sid * tl.num_programs(1) + bid) * M + rm[:, None]) * N + rn[None, :]",
                "tl.store(ws, acc, mask=omask)"]  # fmt: skip
    body = [*tile, *loop, "omask = (rm[:, None] < M) & (rn[None, :] < N)", *epilogue]
    if persistent:
        return ["bid = tl.program_id(1)",
                "for tile in range(tl.program_id(0), tl.cdiv(M, BM) * tl.cdiv(N, BN), "
                "tl.num_programs(0)):", *indent(body, 4)]  # fmt: skip
    return ["bid = tl.program_id(1)", "tile = tl.program_id(0)", *body]


def _tile_kernel(name: str, args: list[str], body: list[str], consts: str = "") -> str:
    """A kernel with one program per [BM, BN] output tile of the fp32 product that ``body``
    computes into ``acc`` from ``ws_ptr`` (``ws``: the tile's first element of a contiguous
    [B, M, N] tensor) before the epilogue: split-K's sum of partial tiles, or the library
    point's load of the PyTorch product."""
    head = ["bid = tl.program_id(1)", "tile = tl.program_id(0)", *_tile_lines(),
            "omask = (rm[:, None] < M) & (rn[None, :] < N)",
            "ws = ws_ptr + (bid * M + rm[:, None]) * N + rn[None, :]"]  # fmt: skip
    return (
        f"@triton.jit\ndef {name}(ws_ptr, {', '.join(args)}, BM: tl.constexpr, "
        f"BN: tl.constexpr, GROUP_M: tl.constexpr{consts}):\n" + "\n".join(indent(head + body, 4))
    )


def _library_call(b: Builder) -> str:
    """The group's product as the same PyTorch op on the same operand views (cuBLAS; fp32
    stays IEEE fp32 under torch's default ``allow_tf32=False``). addmm keeps its bias, beta
    and alpha in the call: its output is exactly eager's, so the epilogue starts from the
    same rounded values as eager's next op."""
    a, w, bias, beta, alpha = _operands(b)
    op = ops.op_name(b.g.anchor).split(".")[0]
    if bias is None:
        return f"torch.{op}({fwd(a)}, {fwd(w)})"
    scale = (f", beta={beta}" if beta != 1.0 else "") + (f", alpha={alpha}" if alpha != 1.0 else "")
    return f"torch.addmm({fwd(bias)}, {fwd(a)}, {fwd(w)}{scale})"


def _emit_library(b: Builder, p: dict[str, Any], name: str) -> Kernel:
    """The library point: the product from PyTorch into the anchor's own variable (a
    contiguous [B,] M, N tensor in the operands' dtype), then one kernel per [BM, BN] tile
    loads it in fp32 and runs the epilogue (tiles in row-major order: GROUP_M=1)."""
    g, mm = b.g, b.g.anchor
    b.stores = [(n, x) for n, x in b.stores if n is not mm]  # the call writes the product
    if not b.stores:
        raise ValueError(f"library=1 needs an epilogue: group {g.gid} is a bare product")
    scope = Scope()
    evict = ', eviction_policy="evict_first"' if b.evict else ""
    scope.lines.append(f"{reg(mm)} = tl.load(ws, mask=omask, other=0.0{evict}).to(tl.float32)")
    strides = _epilogue(b, scope, _tile_addr(b))
    args = kernel_args(b)
    src = _tile_kernel(
        f"{name}_epilogue", [x for x, _ in args] + ["M", "N"] + [s for s, _ in strides], scope.lines
    )
    prod = fwd(mm)
    shape = f"B, M, N = {prod}.shape" if len(g.shape) == 3 else f"B, (M, N) = 1, {prod}.shape"
    bm, bn = p["BM"], p["BN"]
    launch = [out_alloc(node) for node, _ in b.stores] + [f"{prod} = {_library_call(b)}", shape]
    launch.append(
        f"{name}_epilogue[(triton.cdiv(M, {bm}) * triton.cdiv(N, {bn}), B)]({prod}, "
        f"{', '.join(e for _, e in args)}, M, N, {''.join(e + ', ' for _, e in strides)}"
        f"BM={bm}, BN={bn}, GROUP_M=1, num_warps={p['num_warps']})"
    )
    return Kernel(name, src, launch)


def _tile_lines() -> list[str]:
    """The grouped (swizzled) mapping of a tile index to its rows ``rm`` and columns ``rn``."""
    return [
        "num_pid_m = tl.cdiv(M, BM)",
        "num_pid_n = tl.cdiv(N, BN)",
        "group = GROUP_M * num_pid_n",
        "first_m = (tile // group) * GROUP_M",
        "size_m = min(num_pid_m - first_m, GROUP_M)",
        "pid_m = first_m + (tile % group) % size_m",
        "pid_n = (tile % group) // size_m",
        "rm = pid_m * BM + tl.arange(0, BM)",
        "rn = pid_n * BN + tl.arange(0, BN)",
    ]


def _k_loop(prec: str, split: bool) -> list[str]:
    """The fp32 accumulator over K (a split program walks KI of the BK steps, from sid * KI)."""
    k0, k1 = (
        ("sid * KI", "min(sid * KI + KI, tl.cdiv(K, BK))") if split else ("0", "tl.cdiv(K, BK)")
    )
    first = "rk = sid * KI * BK + tl.arange(0, BK)" if split else "rk = tl.arange(0, BK)"
    return [
        first,
        "a_ptrs = a_ptr + bid * sab + rm[:, None] * sam + rk[None, :] * sak",
        "b_ptrs = b_ptr + bid * sbb + rk[:, None] * sbk + rn[None, :] * sbn",
        *(["rk = tl.arange(0, BK)"] if split else []),
        "acc = tl.zeros((BM, BN), dtype=tl.float32)",
        f"for k in range({k0}, {k1}):",
        "    if EVEN_K:",
        "        av = tl.load(a_ptrs, mask=rm[:, None] < M, other=0.0)",
        "        bv = tl.load(b_ptrs, mask=rn[None, :] < N, other=0.0)",
        "    else:",
        "        kmask = rk < K - k * BK",
        "        av = tl.load(a_ptrs, mask=(rm[:, None] < M) & kmask[None, :], other=0.0)",
        "        bv = tl.load(b_ptrs, mask=kmask[:, None] & (rn[None, :] < N), other=0.0)",
        f"    acc = tl.dot(av, bv, acc{prec})",
        "    a_ptrs += BK * sak",
        "    b_ptrs += BK * sbk",
    ]
