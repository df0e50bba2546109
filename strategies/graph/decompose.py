"""What the capture decomposes, and how: ATen ops rewritten into the ops the templates
match (reductions, pointwise ops, views) while the reference is traced.

Torch's own decompositions serve softmax, the norms, the losses, ... (`_DECOMPOSE`). This
module's own, where those would leave a library call or cost a pass:

- group norm with its affine in the grouped view (the affine joins the reduction);
- 1-, 2- and 3-d max/avg pooling without padding or dilation, and global max pooling, over
  `Tensor.unfold` windows (a strided view, no copy): a small window (<= `SMALL_WINDOW`
  elements) as a pointwise max/sum of one strided view per window element, which fuses
  into what follows (a max pool, a sigmoid and a channel sum are one kernel that reads the
  input once); a larger one as a max/mean reduction over the window dims;
- thin products (``[M, K] @ [K, 1]``, ``[1, K] @ [K, N]``, ``mv``) as a multiply and a sum.

A decomposition that does not apply returns ``NotImplemented`` and the op stays whole.
"""

from __future__ import annotations

import math
from typing import Any

import torch

aten = torch.ops.aten

# ATen ops decomposed before partitioning: each becomes reductions plus pointwise ops.
# Activations with their own template formula (gelu, silu, ...) are kept whole.
_DECOMPOSE = (
    "_softmax", "_log_softmax", "softmax.int", "log_softmax.int", "logsumexp",
    "native_layer_norm", "native_group_norm", "_native_batch_norm_legit_no_training",
    "_native_batch_norm_legit", "native_batch_norm", "rms_norm", "var_mean.correction", "var.correction",
    "std.correction", "mean.dim", "mean.default", "linalg_vector_norm", "norm.ScalarOpt_dim",
    "mse_loss", "huber_loss", "smooth_l1_loss", "l1_loss", "kl_div", "nll_loss_forward",
    "nll_loss2d_forward", "cosine_similarity", "hinge_embedding_loss", "addcmul", "addcdiv",
    "frobenius_norm", "instance_norm", "group_norm", "layer_norm", "batch_norm",
    "cosine_embedding_loss", "margin_ranking_loss", "triplet_margin_loss", "soft_margin_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy_loss",
    "rsub.Scalar", "rsub.Tensor", "squeeze.dims", "hardshrink", "softshrink", "logit",
    "log_sigmoid_forward", "sum.default", "prod.dim_int", "aminmax", "max.dim", "min.dim",
)  # fmt: skip


def table() -> dict[Any, Any]:
    """The decomposition table the capture traces with: torch's own for `_DECOMPOSE`, and
    this module's where they serve the templates better."""
    from torch._decomp import get_decompositions

    ops = []
    for name in _DECOMPOSE:
        base, _, overload = name.partition(".")
        packet = getattr(aten, base, None)
        if packet is None:
            continue
        ops.append(getattr(packet, overload) if overload else packet)
    table = get_decompositions(ops)
    table[aten.native_group_norm.default] = _group_norm
    # pooling without padding (1-d pooling reaches ATen as 2-d: `_one_d`)
    table[aten.max_pool2d_with_indices.default] = _max_pool(2)
    table[aten.max_pool3d_with_indices.default] = _max_pool(3)
    table[aten.avg_pool2d.default] = _avg_pool(2)
    table[aten.avg_pool3d.default] = _avg_pool(3)
    table[aten.adaptive_max_pool2d.default] = _global_max_pool2d
    table[aten.mm.default] = _thin_mm
    table[aten.mv.default] = _mv
    for packet, values, index in ((aten.max, aten.amax, aten.argmax),
                                  (aten.min, aten.amin, aten.argmin)):  # fmt: skip
        table[packet.dim] = _values_and_index(values, index)
        table[packet.default] = _whole(values)
    return table


def _values_and_index(values: Any, index: Any) -> Any:
    """``torch.max(x, dim)`` / ``torch.min``: the values and the first index of the extreme
    as two reductions of one group (the one nothing reads is dropped after the trace)."""

    def run(x: torch.Tensor, dim: int, keepdim: bool = False) -> Any:
        return values(x, [dim], keepdim), index(x, dim, keepdim)

    return run


def _whole(values: Any) -> Any:
    """``torch.max(x)`` / ``torch.min(x)``: the extreme of every element, a 0-d result."""
    return lambda x: values(x, list(range(x.dim())))


def _thin_mm(a: torch.Tensor, b: torch.Tensor) -> Any:
    """A matrix-vector product (``[M, K] @ [K, 1]`` or ``[1, K] @ [K, N]``) as a broadcast
    multiply and a sum over K: a row reduction that streams the matrix once (a GEMM tile
    would spend most of its lanes on the single column). Other products: not decomposed.
    Sizes of 1 are numbers in a symbolic trace, so the test is static."""
    if isinstance(b.shape[1], int) and b.shape[1] == 1:
        return _wide(lambda x, y: (x * y.transpose(0, 1)).sum(dim=1, keepdim=True), a, b)
    if isinstance(a.shape[0], int) and a.shape[0] == 1:
        return _wide(lambda x, y: (x.transpose(0, 1) * y).sum(dim=0, keepdim=True), a, b)
    return NotImplemented


def _mv(a: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``mv`` as a broadcast multiply and a row sum (see `_thin_mm`)."""
    return _wide(lambda x, y: (x * y).sum(dim=1), a, v)


def _wide(f: Any, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``f(a, b)`` with half-precision operands widened to fp32 (products and sum in fp32,
    as a GEMM accumulates) and the result in the operands' dtype."""
    if a.dtype not in (torch.float16, torch.bfloat16):
        return f(a, b)
    return f(a.float(), b.float()).to(a.dtype)


def _per_dim(v: Any, n: int, default: Any = None) -> tuple[Any, ...] | None:
    """A pooling argument as one value per spatial dim: one value stands for all; [] for
    `default`."""
    v = list(v) if isinstance(v, (list, tuple)) else [v]
    if not v:
        return _per_dim(default, n) if default is not None else None
    return tuple(v) * n if len(v) == 1 else tuple(v) if len(v) == n else None


def _windows(
    x: torch.Tensor, n: int, kernel: Any, stride: Any, padding: Any, dilation: Any = 1
) -> tuple[torch.Tensor, tuple[Any, ...]] | None:
    """The pooling windows of ``x`` ([..., *n spatial dims]) as a strided view
    [..., *outputs, *window] (`Tensor.unfold` along each spatial dim, no copy) and the
    strides, or None where a window is padded or dilated. Unfold keeps the whole windows
    only, as floor-mode pooling does, at any size and stride."""
    k, st = _per_dim(kernel, n), _per_dim(stride, n, kernel)
    if k is None or st is None or _per_dim(padding, n) != (0,) * n:
        return None
    if _per_dim(dilation, n) != (1,) * n:
        return None
    w = x
    for i in range(n):  # each unfold appends its window dim: the next spatial dim is at -n
        w = w.unfold(-n, k[i], st[i])
    return w, st


def _one_d(x: torch.Tensor, n: int, kernel: Any, stride: Any, padding: Any,
           dilation: Any = 1) -> tuple[Any, ...] | None:
    """1-d pooling as PyTorch runs it: a 2-d pool over a height of one with a window and
    stride of one along it, no padding or dilation there. Its 1-d kernel, stride, padding
    and dilation, else None. Decomposed as 1-d with the size-1 dim put back after, so the
    squeeze that follows cancels it (`capture`) and the pooled value fuses with what
    reads it."""
    if n != 2 or x.shape[-2] != 1:
        return None
    args = (_per_dim(kernel, 2), _per_dim(stride, 2, kernel), _per_dim(padding, 2),
            _per_dim(dilation, 2))  # fmt: skip
    if any(a is None for a in args) or tuple(a[0] for a in args) != (1, 1, 0, 1):
        return None
    return tuple(a[1] for a in args)


def _window_max(x: torch.Tensor, w: torch.Tensor, n: int, st: tuple[Any, ...]) -> Any:
    """Max over the last ``n`` dims of the windows ``w`` of ``x``, and the indices PyTorch's
    max pooling gives (the flat position in each input plane or volume). The indices are
    traced away when nothing reads them."""
    window = w.shape[-n:]
    size = math.prod(window)
    elems = _elements(w, n, size)
    if elems is None:
        values = w.amax(dim=tuple(range(-n, 0)))
        flat = w.reshape(*w.shape[:-n], size).argmax(-1)
    else:  # a running max, and the position of the element it last took (as max pooling)
        values, flat = elems[0], 0
        for k, v in enumerate(elems[1:], 1):
            take = torch.logical_or(v > values, v != v)  # greater, or NaN (the last one wins)
            flat = torch.where(take, k, flat)
            values = torch.maximum(values, v)
    index = None
    for i in range(n):  # window offset along dim i, plus the window's start
        offset = flat // math.prod(window[i + 1 :]) % window[i]
        start = torch.arange(w.shape[-2 * n + i], device=x.device) * st[i]
        pos = start.reshape(-1, *([1] * (n - 1 - i))) + offset
        index = pos if index is None else index * x.shape[-n + i] + pos
    return values, index


SMALL_WINDOW = 16  # windows of at most this many elements are unrolled (`_elements`)


def _elements(w: torch.Tensor, n: int, size: Any) -> list[torch.Tensor] | None:
    """The elements of each window of ``w`` (its last ``n`` dims) as strided views of the
    input, in the window's row-major order, or None where the window is not a small static
    size (or is one element). A pointwise fold over them is a chain of ``size`` loads that
    fuses into what reads it (a max pool then a channel sum is one kernel that reads the
    input once)."""
    if not isinstance(size, int) or not 2 <= size <= SMALL_WINDOW:
        return None
    out = []
    for flat in range(size):
        v, rest = w, flat
        for k in reversed(w.shape[-n:]):  # the last window dim varies fastest
            v = v.select(-1, rest % k)
            rest //= k
        out.append(v)
    return out


def _max_pool(n: int) -> Any:
    def decompose(
        x: torch.Tensor, kernel: Any, stride: Any = (), padding: Any = 0, dilation: Any = 1,
        ceil_mode: bool = False,
    ) -> Any:
        """Max pooling without padding or dilation as a max over unfolded windows
        (`_window_max`), which the templates fuse with what follows (a sigmoid, a channel
        sum) instead of a library call; 1-d pooling as 1-d (`_one_d`). Otherwise: not
        decomposed."""
        one = _one_d(x, n, kernel, stride, padding, dilation)
        if one is not None:
            out = _max_pool(1)(x.squeeze(-2), *one, ceil_mode)
            return out if out is NotImplemented else tuple(t.unsqueeze(-2) for t in out)
        found = None if ceil_mode else _windows(x, n, kernel, stride, padding, dilation)
        if found is None:
            return NotImplemented
        w, st = found
        return _window_max(x, w, n, st)

    return decompose


def _avg_pool(n: int) -> Any:
    def decompose(
        x: torch.Tensor, kernel: Any, stride: Any = (), padding: Any = 0,
        ceil_mode: bool = False, count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> Any:
        """Average pooling without padding as a mean over unfolded windows (a small window:
        the sum of its elements, `_elements`, over its size; see `_max_pool`)."""
        one = _one_d(x, n, kernel, stride, padding)
        if one is not None and divisor_override is None:
            out = _avg_pool(1)(x.squeeze(-2), *one[:3], ceil_mode, count_include_pad)
            return out if out is NotImplemented else out.unsqueeze(-2)
        found = None if ceil_mode or divisor_override else _windows(x, n, kernel, stride, padding)
        if found is None:
            return NotImplemented
        w = found[0]
        size = math.prod(w.shape[-n:])
        elems = _elements(w, n, size)
        if elems is None:
            return w.mean(dim=tuple(range(-n, 0)))
        return sum(elems[1:], start=elems[0]) / size

    return decompose


def _global_max_pool2d(x: torch.Tensor, output_size: Any) -> Any:
    """``adaptive_max_pool2d`` to one value a plane (global max pooling) as a max over the
    plane; other output sizes: not decomposed."""
    if _per_dim(output_size, 2) != (1, 1):
        return NotImplemented
    return _window_max(x, x.unsqueeze(-3).unsqueeze(-3), 2, (0, 0))


def _group_norm(
    x: torch.Tensor,
    weight: torch.Tensor | None,
    bias: torch.Tensor | None,
    n: Any,
    c: Any,
    hw: Any,
    groups: int,
    eps: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``native_group_norm`` with the affine applied in the grouped view ``[N, G, C/G, HW]``.

    Torch's own decomposition normalizes there, views back to ``[N, C, ...]`` and then
    multiplies by the weight: the view splits the work into a reduction group and a second
    pointwise kernel (one more write and read of the whole tensor). Here the weight and bias
    are viewed as ``[1, G, C/G, 1]`` instead, so the affine is the reduction's epilogue. The
    same operations in the same order (fp32 for half inputs), so the same values.
    """
    acc = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    xr = x.to(acc).reshape(n, groups, c // groups, hw)
    var, mean = torch.var_mean(xr, dim=[2, 3], unbiased=False, keepdim=True)
    rstd = torch.rsqrt(var + eps)
    out = (xr - mean) * rstd
    if weight is not None:
        out = out * weight.reshape(1, groups, c // groups, 1)
    if bias is not None:
        out = out + bias.reshape(1, groups, c // groups, 1)
    out = out.reshape(x.shape).to(x.dtype)
    return out, mean.reshape(n, groups), rstd.reshape(n, groups)
