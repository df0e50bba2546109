"""Which graph nodes work along rows: reductions (sum, max, min, arg, prod, var), scans
(cumulative sum and product) and the one-element-a-row gather. The partitioner groups them
into the reduction template; `strategies.graph.reduction_parts` writes their code."""

from __future__ import annotations

import torch
from torch import fx

from strategies.graph.ops import FLOATS, is_tensor, normalized_args, op_name, val

REDUCTIONS = {
    "sum.dim_IntList": "sum", "prims.sum.default": "sum", "amax.default": "max",
    "amin.default": "min", "argmax.default": "argmax", "argmin.default": "argmin",
    "prims.var.default": "var", "prims.amax.default": "max", "prims.amin.default": "min",
    "prims.prod.default": "prod", "prod.default": "prod",
}  # fmt: skip


def reduction(node: fx.Node) -> tuple[str, tuple[int, ...], bool] | None:
    """(kind, normalized dims, keepdim) for a reduction over a float tensor (or a sum of a
    bool tensor: a count), else None."""
    if node.op != "call_function":
        return None
    kind = REDUCTIONS.get(op_name(node))
    if kind is None:
        return None
    args = normalized_args(node)
    x = args[0]
    if not is_tensor(x) or not (
        val(x).dtype in FLOATS or (kind == "sum" and val(x).dtype == torch.bool)
    ):
        return None  # a count (sum of a bool) accumulates in fp32: exact below 2**24
    rank = val(x).dim()
    if op_name(node) == "prod.default":  # prod(x, dtype=None): every element
        if len(args) > 1 and args[1] is not None:
            return None
        args = [x]
    dims = args[1] if len(args) > 1 else None
    if kind in ("argmax", "argmin"):
        if dims is None:
            return None
        dims = [dims]
    if dims is None or dims == []:
        dims = list(range(rank))
    if isinstance(dims, int):
        dims = [dims]
    keep = (
        bool(args[2])
        if kind in ("sum", "max", "min", "argmax", "argmin") and len(args) > 2
        else False
    )
    if kind == "sum" and len(args) > 3 and args[3] is not None:
        return None  # sum(dtype=...)
    return kind, tuple(sorted(d % rank for d in dims)) if rank else (), keep


SCANS = {"cumsum.default": "cumsum", "cumprod.default": "cumprod"}


def scan(node: fx.Node) -> tuple[str, int] | None:
    """(kind, normalized dim) for an inclusive cumulative sum or product of a float tensor
    along one axis (no dtype change), else None."""
    if node.op != "call_function" or op_name(node) not in SCANS:
        return None
    args = normalized_args(node)
    x = args[0]
    if not is_tensor(x) or val(x).dtype not in FLOATS or val(x).dim() == 0:
        return None
    if len(args) > 2 and args[2] is not None and args[2] != val(x).dtype:
        return None  # cumsum(dtype=...)
    return SCANS[op_name(node)], int(args[1]) % val(x).dim()


def row_gather(node: fx.Node) -> int | None:
    """``gather(x, dim, index)`` picking one element per row (cross-entropy's target
    logit): the gathered axis, else None. The reduction template folds it as a masked
    sum over that axis, so the log-probabilities are never written out."""
    if node.op != "call_function" or op_name(node) != "gather.default":
        return None
    x, dim, index = node.args[0], node.args[1], node.args[2]
    if not (is_tensor(x) and is_tensor(index)) or val(x).dtype not in FLOATS:
        return None
    rank = val(x).dim()
    d = dim % rank if rank else 0
    ishape = [str(s) for s in val(index).shape]
    xshape = [str(s) for s in val(x).shape]
    if len(ishape) != rank or ishape[d] != "1":
        return None
    if any(ishape[i] != xshape[i] for i in range(rank) if i != d):
        return None
    return d


def row_axes(node: fx.Node) -> tuple[int, ...] | None:
    """The axes a reduction reduces or a scan runs along (the rows of its group), else None."""
    r = reduction(node)
    if r is not None:
        return r[1]
    s = scan(node)
    return (s[1],) if s is not None else None
