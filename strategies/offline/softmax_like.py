"""Offline generators for the softmax-like row reductions: softmax, logsumexp, cross_entropy.

All three need the row maximum ``m`` and ``s = sum(exp(x - m))``; softmax then writes
``exp(x - m) / s``, logsumexp writes ``m + log(s)`` and cross_entropy writes
``m + log(s) - x[target]`` per row (then the mean). Variants (see `rowwise_common`):
``loop`` (default: a max pass, a sum pass, softmax's write pass), ``online``
(max and sum in one pass), ``row`` (the row in registers, one read), ``split`` (each
row split over ``SPLITS`` programs writing partial (m, s), then a combine step).
"""

from __future__ import annotations

from collections.abc import Mapping
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
    row_pointers,
    row_tile,
    store,
    tile_constexprs,
    vector_columns,
)

VARIANTS = ("loop", "online", "row", "split")
NEG_INF = 'float("-inf")'
COMBINE_ROWS = 64  # rows per program of the split combine step (logsumexp, cross_entropy)

_WHAT = {
    "softmax": "y = softmax(x, dim=-1)",
    "logsumexp": "y = logsumexp(x, dim=-1)",
    "cross_entropy": "loss = mean(logsumexp(logits) - logits[target])",
}


def _defaults(task: Task) -> Params:
    return {**base_defaults(task), "splits": 4}


def _apply(strategy_id: str, params: Params, task: Task) -> Params | None:
    _, dim = task_dims(task)
    return apply_common(strategy_name(strategy_id), params, dim, VARIANTS)


# ---------------------------------------------------------------- kernel bodies


def _chunk(e: Emitter, policy: str | None, end: str) -> None:
    e("cols = start + cols0")
    e(f"mask = row_mask[:, None] & (cols < {end})[None, :]")
    e(f"x = {load('x_row + cols[None, :]', 'mask', NEG_INF, policy)}")


def _stats(
    e: Emitter, p: Mapping[str, Any], final_read: bool, start: str = "0", end: str = "n_cols"
) -> None:
    """Defines ``m`` and ``s`` (``[ROWS]``); the row variant also ``ex = exp(x - m)``."""
    if p["variant"] == "row":
        e(f"cols = {cols_expr(p, None)}")
        e("mask = row_mask[:, None] & (cols < n_cols)[None, :]")
        e(f"x = {load('x_row + cols[None, :]', 'mask', NEG_INF, pass_policy(p, final_read))}")
        e("m = tl.where(row_mask, tl.max(x, axis=1), 0.0)")
        e("ex = tl.exp(x - m[:, None])")
        e("s = tl.where(row_mask, tl.sum(ex, axis=1), 1.0)")
        return
    e(f"cols0 = {cols_expr(p, None)}")
    e(f"m = tl.where(row_mask, tl.full([ROWS], {NEG_INF}, tl.float32), 0.0)")
    e("s = tl.zeros([ROWS], dtype=tl.float32)")
    if p["variant"] == "loop":
        with e.block(chunk_loop(p, start, end)):
            _chunk(e, pass_policy(p, False), end)
            e("m = tl.maximum(m, tl.max(x, axis=1))")
        with e.block(chunk_loop(p, start, end)):
            _chunk(e, pass_policy(p, final_read), end)
            e("s += tl.sum(tl.exp(x - m[:, None]), axis=1)")
    else:  # online and split: running max, rescaled running sum
        with e.block(chunk_loop(p, start, end)):
            _chunk(e, pass_policy(p, final_read), end)
            e("m_new = tl.maximum(m, tl.max(x, axis=1))")
            e("s = s * tl.exp(m - m_new) + tl.sum(tl.exp(x - m_new[:, None]), axis=1)")
            e("m = m_new")
    if p["variant"] != "split":
        e("s = tl.where(row_mask, s, 1.0)")


def _write_softmax(e: Emitter, p: Mapping[str, Any], start: str = "0", end: str = "n_cols") -> None:
    if p["variant"] == "row":
        e("y = ex * (1.0 / s)[:, None]")
        e(store("y_row + cols[None, :]", "y", "mask", p["evict"]))
        return
    e("inv = 1.0 / s")
    with e.block(chunk_loop(p, start, end)):
        _chunk(e, pass_policy(p, True), end)
        e("y = tl.exp(x - m[:, None]) * inv[:, None]")
        e(store("y_row + cols[None, :]", "y", "mask", p["evict"]))


def _row_result(e: Emitter, kind: str) -> None:
    """``out`` per row from m and s: the log-sum-exp, minus the target logit for CE."""
    e("out = m + tl.log(s)")
    if kind == "cross_entropy":
        e("t = tl.load(t_ptr + rows, mask=row_mask, other=0)")
        e("xt = tl.load(x_ptr + rows64 * stride_x + t, mask=row_mask, other=0.0)")
        e("out = out - xt.to(tl.float32)")
    e("tl.store(out_ptr + rows, out, mask=row_mask)")


def _sig(args: str, p: Mapping[str, Any], extra: tuple[str, ...] = ()) -> str:
    return ", ".join([args, *tile_constexprs(p), *extra])


def _split_prologue(e: Emitter, p: Mapping[str, Any], ptrs: list[tuple[str, str]]) -> None:
    vector_columns(e, p, ptrs)
    e("split = tl.program_id(1)")
    e("rows = tl.program_id(0) + tl.arange(0, ROWS)  # ROWS == 1")
    row_pointers(e, p, ptrs)
    e("seg_start = split * seg")
    e("seg_end = tl.minimum(seg_start + seg, n_cols)")


def _combine_partials(e: Emitter) -> None:
    e("parts = (rows64 * SPLITS)[:, None] + tl.arange(0, SPLITS)[None, :]")
    e("pm = tl.load(m_ptr + parts, mask=row_mask[:, None], other=0.0)")
    e("ps = tl.load(s_ptr + parts, mask=row_mask[:, None], other=1.0)")
    e("m = tl.max(pm, axis=1)")
    e("s = tl.sum(ps * tl.exp(pm - m[:, None]), axis=1)")


def _kernels(kind: str, p: Mapping[str, Any]) -> str:
    e = Emitter()
    split = ("SPLITS: tl.constexpr",)
    if p["variant"] != "split":
        e("@triton.jit")
        if kind == "softmax":
            args = "x_ptr, y_ptr, n_rows, n_cols, stride_x, stride_y"
            ptrs = [("x_ptr", "stride_x"), ("y_ptr", "stride_y")]
        else:
            tgt = "t_ptr, " if kind == "cross_entropy" else ""
            args = f"x_ptr, {tgt}out_ptr, n_rows, n_cols, stride_x"
            ptrs = [("x_ptr", "stride_x")]
        with e.block(f"def _{kind}_kernel({_sig(args, p)}):"), row_tile(e, p, ptrs):
            _stats(e, p, final_read=kind != "softmax" or p["variant"] == "row")
            if kind == "softmax":
                _write_softmax(e, p)
            else:
                _row_result(e, kind)
        return e.text()
    e("@triton.jit")
    args = "x_ptr, m_ptr, s_ptr, n_rows, n_cols, stride_x, seg"
    with e.block(f"def _partial_kernel({_sig(args, p, split)}):"):
        e('"""Partial (max, sum of exp) of one row segment."""')
        _split_prologue(e, p, [("x_ptr", "stride_x")])
        _stats(e, p, final_read=kind != "softmax", start="seg_start", end="seg_end")
        e("tl.store(m_ptr + rows64 * SPLITS + split, m, mask=row_mask)")
        e("tl.store(s_ptr + rows64 * SPLITS + split, s, mask=row_mask)")
    e("", "")
    e("@triton.jit")
    if kind == "softmax":
        args = "x_ptr, y_ptr, m_ptr, s_ptr, n_rows, n_cols, stride_x, stride_y, seg"
        with e.block(f"def _softmax_write_kernel({_sig(args, p, split)}):"):
            e('"""Combines the row partials, then normalizes one row segment."""')
            _split_prologue(e, p, [("x_ptr", "stride_x"), ("y_ptr", "stride_y")])
            _combine_partials(e)
            e(f"cols0 = {cols_expr(p, None)}")
            _write_softmax(e, p, start="seg_start", end="seg_end")
        return e.text()
    tgt = "x_ptr, t_ptr, stride_x, " if kind == "cross_entropy" else ""
    args = f"m_ptr, s_ptr, {tgt}out_ptr, n_rows, ROWS: tl.constexpr, SPLITS: tl.constexpr"
    with e.block(f"def _combine_kernel({args}):"):
        e('"""Combines the partials of ROWS rows into one value per row."""')
        e("rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)")
        e("row_mask = rows < n_rows")
        e("rows64 = rows.to(tl.int64)")
        _combine_partials(e)
        _row_result(e, kind)
    return e.text()


# ---------------------------------------------------------------- module


def _forward(kind: str, p: Mapping[str, Any]) -> str:
    e = Emitter(level=1)
    if kind == "cross_entropy":
        head = "def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:"
        src = "logits"
    else:
        head = "def forward(self, x: torch.Tensor) -> torch.Tensor:"
        src = "x"
    with e.block(head):
        e(f"shape = {src}.shape")
        e(f"x2 = {src}.reshape(-1, shape[-1]).contiguous()")
        e("n_rows, n_cols = x2.shape")
        if kind == "softmax":
            e("y = torch.empty_like(x2)")
            tensors = ["x2", "y"]
        else:
            e("out = torch.empty(n_rows, device=x2.device, dtype=torch.float32)")
            tensors = ["x2"]
        if kind == "cross_entropy":
            e("t = targets.reshape(-1).contiguous()")
        kw = launch_constexprs(p, "block", tensors)
        if p["variant"] != "split":
            e(*row_launch_block(p), *grid_lines(p, "x2.device"))
            if kind == "softmax":
                e(f"_softmax_kernel[grid](x2, y, n_rows, n_cols, x2.stride(0), y.stride(0), {kw})")
            else:
                tgt = "t, " if kind == "cross_entropy" else ""
                e(f"_{kind}_kernel[grid](x2, {tgt}out, n_rows, n_cols, x2.stride(0), {kw})")
        else:
            e("block, rows = BLOCK, 1")
            e("seg = triton.cdiv(triton.cdiv(n_cols, SPLITS), BLOCK) * BLOCK")
            e("m_part = torch.empty((n_rows, SPLITS), device=x2.device, dtype=torch.float32)")
            e("s_part = torch.empty_like(m_part)")
            e("grid = (n_rows, SPLITS)")
            kw = f"{kw}, SPLITS=SPLITS"
            e(f"_partial_kernel[grid](x2, m_part, s_part, n_rows, n_cols, x2.stride(0), seg, {kw})")
            if kind == "softmax":
                e(
                    "_softmax_write_kernel[grid](x2, y, m_part, s_part, n_rows, n_cols, "
                    f"x2.stride(0), y.stride(0), seg, {kw})"
                )
            else:
                tgt = "x2, t, x2.stride(0), " if kind == "cross_entropy" else ""
                e(
                    f"_combine_kernel[(triton.cdiv(n_rows, {COMBINE_ROWS}),)](m_part, s_part, "
                    f"{tgt}out, n_rows, ROWS={COMBINE_ROWS}, SPLITS=SPLITS, num_warps=4)"
                )
        if kind == "softmax":
            e("return y.view(shape)")
        elif kind == "logsumexp":
            e("return out.view(shape[:-1]).to(x.dtype)")
        else:
            e("return out.mean().to(logits.dtype)")
    return e.text()


def _render(kind: str) -> Any:
    def render(p: Params) -> str:
        init = "class ModelNew(nn.Module):\n    def __init__(self):\n        super().__init__()\n\n"
        return assemble(
            docstring(kind, p, _WHAT[kind]),
            constants_block(p),
            launch_helpers(p),
            _kernels(kind, p).split("\n\n\n"),
            init + _forward(kind, p),
        )

    return render


SOFTMAX = register(Generator("softmax", _defaults, _apply, _render("softmax")))
LOGSUMEXP = register(Generator("logsumexp", _defaults, _apply, _render("logsumexp")))
CROSS_ENTROPY = register(Generator("cross_entropy", _defaults, _apply, _render("cross_entropy")))
