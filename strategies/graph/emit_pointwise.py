"""The pointwise template: one 1-D kernel over the group's space, inputs broadcast in.

Parameters: ``BLOCK`` (elements per program), ``num_warps``, ``even`` (a mask-free
path for full blocks with contiguity hints), ``evict`` (streaming cache policy),
``persistent`` (0: one program per block; k: k programs per SM looping over blocks);
``target="cuda"`` renders the group as CUDA C++ instead (`strategies.graph.emit_cuda`).
"""

from __future__ import annotations

from typing import Any

from strategies.graph import emit_cuda, ops
from strategies.graph.builder import Builder, Scope, kernel_args, store
from strategies.graph.layout import (
    Access,
    Dim,
    address,
    collapse,
    coords,
    same,
    size_expr,
    stride_args,
)
from strategies.graph.render_util import Kernel, indent, numel_expr, out_alloc


def _prepare(b: Builder) -> list[Dim]:
    """Discover every access (so axis collapsing sees all of them); the collapsed dims."""
    probe = Scope()
    for n in b.g.members:
        b.compute(n, probe, lambda a: "0", None)
    return collapse(b.g, [*b.loads.values(), *(a for _, a in b.stores)])


def transposed_dim(b: Builder, dims: list[Dim]) -> int | None:
    """A collapsed dim, not the innermost, along which some input is contiguous."""
    if not dims:
        return None
    for a in b.loads.values():
        inner = a.axes[dims[-1].members[-1]]
        if inner is None or not a.strides or same(a.strides[inner], "1"):
            continue  # does not span the innermost dim, or reads it contiguously
        for i, dim in enumerate(dims[:-1]):
            k = a.axes[dim.members[-1]]
            if k is not None and same(a.strides[k], "1"):
                return i
    return None


def has_transpose(b: Builder) -> bool:
    return transposed_dim(b, _prepare(b)) is not None


def emit(b: Builder, p: dict[str, Any], name: str) -> Kernel:
    if p.get("target") == "cuda":
        return emit_cuda.emit(b, p, name)
    g = b.g
    b.evict, b.fast = bool(p.get("evict")), bool(p.get("fast_math"))
    dims = _prepare(b)
    t = transposed_dim(b, dims)
    if p.get("tile2d") and t is not None:
        return _emit_tiled(b, p, name, dims, t)
    strided = [a for a in [*b.loads.values(), *(a for _, a in b.stores)] if not a.dense]
    sizes = [f"D{i}" for i in range(len(dims))]

    def addr(a: Access) -> str:
        return "offs" if a.dense else address(a, dims, "k", "q")

    def body(mask: str | None) -> list[str]:
        scope = Scope()
        if strided:
            scope.lines += coords(dims, "offs", "k", sizes) if dims else ["k0 = offs * 0"]
        for n in g.members:
            b.compute(n, scope, addr, mask)
        for node, a in b.stores:
            scope.lines.append(store(a, addr(a), f"r_{node.name}", mask, b.evict))
        return scope.lines

    masked = ["mask = offs < n", *body("mask")]
    if p.get("even"):
        inner = [
            "offs = tl.max_contiguous(tl.multiple_of(offs, BLOCK), BLOCK)",
            "if start + BLOCK <= n:",
            *indent(body(None), 4),
            "else:",
            *indent(masked, 4),
        ]
    else:
        inner = masked
    head = ["offs = start + tl.arange(0, BLOCK)"]
    if p.get("persistent"):
        code = [
            "for blk in range(tl.program_id(0), tl.cdiv(n, BLOCK), tl.num_programs(0)):",
            "    start = blk * BLOCK",
            "    if I64:",
            "        start = blk.to(tl.int64) * BLOCK",
            *indent(head + inner, 4),
        ]
    else:
        code = [
            "pid = tl.program_id(0)",
            "if I64:",
            "    pid = pid.to(tl.int64)",
            "start = pid * BLOCK",
            *head,
            *inner,
        ]
    args = kernel_args(b)
    strides = [s for a in strided for s in stride_args(a, dims)]
    size_args = sizes[1:] if strided and len(dims) > 1 else []
    sig = [a for a, _ in args] + ["n"] + size_args + [s for s, _ in strides]
    src = (
        "@triton.jit\n"
        f"def {name}({', '.join(sig)}, BLOCK: tl.constexpr, I64: tl.constexpr):\n"
        + "\n".join(indent(code, 4))
    )
    launch = [out_alloc(node) for node, _ in b.stores]
    launch.append(f"n = {numel_expr(g.shape)}")
    block, warps = p["BLOCK"], p["num_warps"]
    if p.get("persistent"):
        grid = f"(max(1, min(triton.cdiv(n, {block}), _num_sms(_dev) * {p['persistent']})),)"
    else:
        grid = f"(triton.cdiv(n, {block}),)"
    call = [e for _, e in args] + ["n"]
    call += [size_expr(g, dims[i]) for i in range(1, len(dims))] if size_args else []
    call += [e for _, e in strides]
    launch.append(
        f"{name}[{grid}]({', '.join(call)}, BLOCK={block}, I64=n >= 2**31, num_warps={warps}, "
        f"num_stages={p.get('num_stages', 1)})"
    )
    return Kernel(name, src, launch, preludes=(ops.prelude(p),))


def _emit_tiled(b: Builder, p: dict[str, Any], name: str, dims: list[Dim], t: int) -> Kernel:
    """[BI, BJ] tiles over (dim t, innermost dim): reads coalesce along t, writes along the
    innermost dim; Triton moves the tile between the two layouts through shared memory.
    ``order`` picks which tile index varies fastest between programs; ``even`` adds a
    mask-free path when both tile dims divide the sizes; ``persistent`` loops programs."""
    g, last = b.g, len(dims) - 1
    accesses = [*b.loads.values(), *(a for _, a in b.stores)]
    others = [i for i in range(len(dims)) if i not in (t, last)]
    if p.get("order"):
        split = ["pi = tile % ni", "pj = (tile // ni) % nj"]
    else:
        split = ["pj = tile % nj", "pi = (tile // nj) % ni"]
    body = [
        *split,
        "po = tile // (nj * ni)",
        f"k{last} = pj * BJ + tl.arange(0, BJ)[None, :]",
        f"k{t} = pi * BI + tl.arange(0, BI)[:, None]",
    ]
    for j in reversed(others):
        body += [f"k{j} = po % D{j}", f"po = po // D{j}"]

    def addr(a: Access) -> str:
        terms = [
            f"k{i} * {a.ptr}_s{i}" for i, d in enumerate(dims) if a.axes[d.members[-1]] is not None
        ]
        return " + ".join(terms) or "0"

    def compute(mask: str | None) -> list[str]:
        scope = Scope()
        for n in g.members:
            b.compute(n, scope, addr, mask)
        for node, a in b.stores:
            scope.lines.append(store(a, addr(a), f"r_{node.name}", mask, b.evict))
        return scope.lines

    masked = [f"mask = (k{last} < D{last}) & (k{t} < D{t})", *compute("mask")]
    if p.get("even"):
        body += ["if EVEN:", *indent(compute(None), 4), "else:", *indent(masked, 4)]
    else:
        body += masked
    head = [f"nj = tl.cdiv(D{last}, BJ)", f"ni = tl.cdiv(D{t}, BI)"]
    if p.get("persistent"):
        code = [*head, "for tile in range(tl.program_id(0), NT, tl.num_programs(0)):",
                       *indent(body, 4)]  # fmt: skip
    else:
        code = [*head, "tile = tl.program_id(0)", *body]
    args = kernel_args(b)
    strides = [s for a in accesses for s in stride_args(a, dims)]
    sizes = [f"D{i}" for i in range(len(dims))]
    sig = [a for a, _ in args] + sizes + ["NT"] + [s for s, _ in strides]
    src = (
        "@triton.jit\n"
        f"def {name}({', '.join(sig)}, BI: tl.constexpr, BJ: tl.constexpr, EVEN: tl.constexpr):\n"
        + "\n".join(indent(code, 4))
    )
    launch = [out_alloc(node) for node, _ in b.stores]
    size_exprs = [size_expr(g, d) for d in dims]
    launch.append(f"D = ({', '.join(size_exprs)},)")
    bi, bj = p["BI"], p["BJ"]
    outer = " * ".join(f"D[{i}]" for i in others) or "1"
    launch.append(f"NT = triton.cdiv(D[{last}], {bj}) * triton.cdiv(D[{t}], {bi}) * {outer}")
    if p.get("persistent"):
        grid = f"(max(1, min(NT, _num_sms(_dev) * {p['persistent']})),)"
    else:
        grid = "(NT,)"
    even = f"D[{t}] % {bi} == 0 and D[{last}] % {bj} == 0" if p.get("even") else "False"
    call = [e for _, e in args] + [f"D[{i}]" for i in range(len(dims))] + ["NT"]
    call += [e for _, e in strides]
    launch.append(
        f"{name}[{grid}]({', '.join(call)}, BI={bi}, BJ={bj}, EVEN={even}, "
        f"num_warps={p['num_warps']}, num_stages={p.get('num_stages', 1)})"
    )
    return Kernel(name, src, launch, preludes=(ops.prelude(p),))
