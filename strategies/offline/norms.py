"""Offline generators for the normalizations: layernorm, rmsnorm, residual_add_rmsnorm.

Variants (see `rowwise_common`): ``loop`` (default: one pass per statistic, then
the write pass; layernorm reads the row three times, rmsnorm twice), ``online``
(layernorm only: mean and variance in one Welford pass) and ``row`` (the row in
registers: one read, one write; a persistent program loads the weights once).
``residual_add_rmsnorm`` starts unfused (an add kernel writes ``h = x + residual``,
an RMSNorm kernel reads it back); ``fuse_epilogue`` makes it one kernel that writes
both outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from profiling.tasks import Task
from strategies.offline.base import Generator, Params, register, strategy_name
from strategies.offline.rowwise_common import apply_common, base_defaults, task_dims
from strategies.offline.rowwise_emit import (
    Emitter,
    assemble,
    chunk_loop,
    cols_expr,
    constants_block,
    docstring,
    grid_lines,
    launch_constexprs,
    launch_helpers,
    load,
    pass_policy,
    row_launch_block,
    row_tile,
    store,
    tile_constexprs,
    weight_policy,
)

ADD_BLOCK = 1024  # elements per program of the unfused residual add

_VARIANTS = {
    "layernorm": ("loop", "online", "row"),
    "rmsnorm": ("loop", "row"),
    "residual_add_rmsnorm": ("loop", "row"),
}
_WHAT = {
    "layernorm": "y = (x - mean) / sqrt(var + eps) * weight + bias",
    "rmsnorm": "y = x / sqrt(mean(x^2) + eps) * weight",
    "residual_add_rmsnorm": "h = x + residual; (h / sqrt(mean(h^2) + eps) * weight, h)",
}
_EPS = {"layernorm": 1e-05, "rmsnorm": 1e-06, "residual_add_rmsnorm": 1e-06}


def _defaults(kind: str) -> Callable[[Task], Params]:
    def defaults(task: Task) -> Params:
        p = base_defaults(task)
        if kind == "residual_add_rmsnorm":
            p["fused"] = False
        return p

    return defaults


def _apply(kind: str) -> Callable[[str, Params, Task], Params | None]:
    def apply(strategy_id: str, params: Params, task: Task) -> Params | None:
        name = strategy_name(strategy_id)
        if name == "fuse_epilogue":
            if kind != "residual_add_rmsnorm" or params["fused"]:
                return None
            return {**params, "fused": True}
        _, dim = task_dims(task)
        return apply_common(name, params, dim, _VARIANTS[kind])

    return apply


# ---------------------------------------------------------------- kernel bodies


def _chunk(e: Emitter, names: tuple[str, ...], policy: str | None) -> None:
    """Loads the chunk at ``start`` of each tensor in ``names`` into a same-named fp32 var."""
    e("cols = start + cols0")
    e("col_mask = cols < n_cols")
    e("mask = row_mask[:, None] & col_mask[None, :]")
    for n in names:
        e(f"{n} = {load(f'{n}_row + cols[None, :]', 'mask', '0.0', policy)}")


def _weights(e: Emitter, p: Mapping[str, Any], bias: bool) -> None:
    pol = weight_policy(p)
    e(f"w = {load('w_ptr + cols', 'col_mask', '0.0', pol)}")
    if bias:
        e(f"b = {load('b_ptr + cols', 'col_mask', '0.0', pol)}")


def _row_cols(e: Emitter, p: Mapping[str, Any]) -> None:
    e(f"cols = {cols_expr(p, None)}")
    e("col_mask = cols < n_cols")


def _body(e: Emitter, kind: str, p: Mapping[str, Any], fused: bool) -> None:
    """Statistics and output of a tile of rows (inside `row_tile`)."""
    ln = kind == "layernorm"
    src = "x" if kind == "layernorm" or fused or kind == "rmsnorm" else "h"
    names = ("x", "r") if fused else (src,)
    affine = "y = d * rstd[:, None] * w[None, :] + b[None, :]" if ln else ""
    if p["variant"] == "row":
        if not p["persistent"]:
            _row_cols(e, p)
            _weights(e, p, ln)
        e("mask = row_mask[:, None] & col_mask[None, :]")
        for n in names:
            e(f"{n} = {load(f'{n}_row + cols[None, :]', 'mask', '0.0', pass_policy(p, True))}")
        if fused:
            e("h = x + r")
            e(store("h_row + cols[None, :]", "h", "mask", p["evict"]))
        v = "h" if kind == "residual_add_rmsnorm" else "x"
        if ln:
            e("mean = tl.sum(x, axis=1) / n_cols")
            e("d = tl.where(mask, x - mean[:, None], 0.0)")
            e("rstd = tl.rsqrt(tl.sum(d * d, axis=1) / n_cols + eps)")
            e(affine)
        else:
            e(f"rstd = tl.rsqrt(tl.sum({v} * {v}, axis=1) / n_cols + eps)")
            e(f"y = {v} * rstd[:, None] * w[None, :]")
        e(store("y_row + cols[None, :]", "y", "mask", p["evict"]))
        return
    e(f"cols0 = {cols_expr(p, None)}")
    e("acc = tl.zeros([ROWS, BLOCK], dtype=tl.float32)")
    first = pass_policy(p, False)
    if ln and p["variant"] == "online":
        e("n = tl.zeros([ROWS], dtype=tl.float32)")
        e("mean = tl.zeros([ROWS], dtype=tl.float32)")
        e("m2 = tl.zeros([ROWS], dtype=tl.float32)")
        with e.block(chunk_loop(p)):
            _chunk(e, ("x",), first)
            e("cnt = tl.minimum(n_cols - start, BLOCK).to(tl.float32)")
            e("c_mean = tl.sum(x, axis=1) / cnt")
            e("d = tl.where(mask, x - c_mean[:, None], 0.0)")
            e("tot = n + cnt")
            e("delta = c_mean - mean")
            e("mean += delta * (cnt / tot)")
            e("m2 += tl.sum(d * d, axis=1) + delta * delta * (n * cnt / tot)")
            e("n = tot")
        e("rstd = tl.rsqrt(m2 / n_cols + eps)")
    elif ln:
        with e.block(chunk_loop(p)):
            _chunk(e, ("x",), first)
            e("acc += x")
        e("mean = tl.sum(acc, axis=1) / n_cols")
        e("acc = tl.zeros([ROWS, BLOCK], dtype=tl.float32)")
        with e.block(chunk_loop(p)):
            _chunk(e, ("x",), first)
            e("d = tl.where(mask, x - mean[:, None], 0.0)")
            e("acc += d * d")
        e("rstd = tl.rsqrt(tl.sum(acc, axis=1) / n_cols + eps)")
    else:
        with e.block(chunk_loop(p)):
            _chunk(e, names, pass_policy(p, fused) if fused else first)
            if fused:
                e("h = x + r")
                e(store("h_row + cols[None, :]", "h", "mask", False))
                e("acc += h * h")
            else:
                e(f"acc += {src} * {src}")
        e("rstd = tl.rsqrt(tl.sum(acc, axis=1) / n_cols + eps)")
        if fused:
            e("tl.debug_barrier()  # h written by other threads of this program is re-read below")
    v = "h" if kind == "residual_add_rmsnorm" else "x"
    with e.block(chunk_loop(p)):
        _chunk(e, (v,), pass_policy(p, True))
        _weights(e, p, ln)
        if ln:
            e("d = tl.where(mask, x - mean[:, None], 0.0)")
            e(affine)
        else:
            e(f"y = {v} * rstd[:, None] * w[None, :]")
        e(store("y_row + cols[None, :]", "y", "mask", p["evict"]))


def _kernels(kind: str, p: Mapping[str, Any]) -> list[str]:
    out = []
    fused = kind == "residual_add_rmsnorm" and p["fused"]
    if kind == "residual_add_rmsnorm" and not fused:
        out.append(
            "@triton.jit\n"
            "def _add_kernel(x_ptr, r_ptr, h_ptr, numel, BLOCK_ADD: tl.constexpr):\n"
            "    offs = tl.program_id(0).to(tl.int64) * BLOCK_ADD + tl.arange(0, BLOCK_ADD)\n"
            "    mask = offs < numel\n"
            "    x = tl.load(x_ptr + offs, mask=mask, other=0.0)\n"
            "    r = tl.load(r_ptr + offs, mask=mask, other=0.0)\n"
            "    tl.store(h_ptr + offs, x + r, mask=mask)\n"
        )
    e = Emitter()
    e("@triton.jit")
    if kind == "layernorm":
        name, args = "_layernorm_kernel", "x_ptr, w_ptr, b_ptr, y_ptr"
        ptrs = [("x_ptr", "stride_x"), ("y_ptr", "stride_y")]
    elif fused:
        name, args = "_add_rmsnorm_kernel", "x_ptr, r_ptr, w_ptr, h_ptr, y_ptr"
        ptrs = [("x_ptr", "stride_x"), ("r_ptr", "stride_r"), ("h_ptr", "stride_h")]
        ptrs.append(("y_ptr", "stride_y"))
    elif kind == "rmsnorm":
        name, args = "_rmsnorm_kernel", "x_ptr, w_ptr, y_ptr"
        ptrs = [("x_ptr", "stride_x"), ("y_ptr", "stride_y")]
    else:
        name, args = "_rmsnorm_kernel", "h_ptr, w_ptr, y_ptr"
        ptrs = [("h_ptr", "stride_h"), ("y_ptr", "stride_y")]
    strides = ", ".join(s for _, s in ptrs)
    sig = ", ".join([f"{args}, n_rows, n_cols, {strides}, eps", *tile_constexprs(p)])

    def hoisted() -> None:
        e("# weights are the same for every row: loaded once, before the row loop")
        _row_cols(e, p)
        _weights(e, p, kind == "layernorm")

    hoist = hoisted if p["variant"] == "row" and p["persistent"] else None
    with e.block(f"def {name}({sig}):"), row_tile(e, p, ptrs, hoist):
        _body(e, kind, p, fused)
    out.append(e.text())
    return out


# ---------------------------------------------------------------- module


def _init(kind: str) -> str:
    e = Emitter()
    init = f"def __init__(self, dim: int, eps: float = {_EPS[kind]!r}):"
    with e.block("class ModelNew(nn.Module):"), e.block(init):
        e("super().__init__()")
        e("self.eps = eps")
        e("self.weight = nn.Parameter(1.0 + 0.1 * torch.randn(dim))")
        if kind == "layernorm":
            e("self.bias = nn.Parameter(0.1 * torch.randn(dim))")
    return e.text()


def _forward(kind: str, p: Mapping[str, Any]) -> str:
    e = Emitter(level=1)
    fused = kind == "residual_add_rmsnorm" and p["fused"]
    if kind == "residual_add_rmsnorm":
        head = "def forward(self, x: torch.Tensor, residual: torch.Tensor):"
    else:
        head = "def forward(self, x: torch.Tensor) -> torch.Tensor:"
    with e.block(head):
        e("shape = x.shape")
        e("x2 = x.reshape(-1, shape[-1]).contiguous()")
        e("n_rows, n_cols = x2.shape")
        e("y = torch.empty_like(x2)")
        tensors = ["x2", "y"]
        if kind == "residual_add_rmsnorm":
            e("r2 = residual.reshape(-1, shape[-1]).contiguous()")
            e("h = torch.empty_like(x2)")
            tensors = ["x2", "r2", "h", "y"] if fused else ["h", "y"]
        e(*row_launch_block(p), *grid_lines(p, "x2.device"))
        kw = launch_constexprs(p, "block", tensors)
        if kind == "layernorm":
            e(
                "_layernorm_kernel[grid](x2, self.weight, self.bias, y, n_rows, n_cols, "
                f"x2.stride(0), y.stride(0), self.eps, {kw})"
            )
        elif kind == "rmsnorm":
            e(
                "_rmsnorm_kernel[grid](x2, self.weight, y, n_rows, n_cols, "
                f"x2.stride(0), y.stride(0), self.eps, {kw})"
            )
        elif fused:
            e(
                "_add_rmsnorm_kernel[grid](x2, r2, self.weight, h, y, n_rows, n_cols, "
                f"x2.stride(0), r2.stride(0), h.stride(0), y.stride(0), self.eps, {kw})"
            )
        else:
            e(
                f"_add_kernel[(triton.cdiv(x2.numel(), {ADD_BLOCK}),)](x2, r2, h, x2.numel(), "
                f"BLOCK_ADD={ADD_BLOCK}, num_warps=4)"
            )
            e(
                "_rmsnorm_kernel[grid](h, self.weight, y, n_rows, n_cols, "
                f"h.stride(0), y.stride(0), self.eps, {kw})"
            )
        if kind == "residual_add_rmsnorm":
            e("return y.view(shape), h.view(shape)")
        else:
            e("return y.view(shape)")
    return e.text()


def _render(kind: str) -> Callable[[Params], str]:
    def render(p: Params) -> str:
        what = _WHAT[kind]
        if kind == "residual_add_rmsnorm":
            what += ", fused in one kernel" if p["fused"] else ", add and norm as two kernels"
        return assemble(
            docstring(kind, p, what),
            constants_block(p),
            launch_helpers(p),
            _kernels(kind, p),
            _init(kind) + "\n" + _forward(kind, p),
        )

    return render


LAYERNORM = register(
    Generator("layernorm", _defaults("layernorm"), _apply("layernorm"), _render("layernorm"))
)
RMSNORM = register(
    Generator("rmsnorm", _defaults("rmsnorm"), _apply("rmsnorm"), _render("rmsnorm"))
)
RESIDUAL_ADD_RMSNORM = register(
    Generator(
        "residual_add_rmsnorm",
        _defaults("residual_add_rmsnorm"),
        _apply("residual_add_rmsnorm"),
        _render("residual_add_rmsnorm"),
    )
)
