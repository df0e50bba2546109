"""CUDA C forms of the pointwise formulas (`strategies.graph.ops` holds the Triton forms).

`formula(name, args)` returns a C expression template over the node's inputs (``{0}``,
``{1}``, ...), the same placeholders as the Triton template, or None when the op has no C
form here (the group then keeps its Triton kernel). Values are fp32 (``float``) or bool
registers; every constant is a ``float`` literal (``f`` suffix) so no expression is
promoted to double. The forms follow PyTorch's own CUDA kernels (``expf``, ``erff``,
``tanhf``, ``log1pf``, ``expm1f``; NaN-propagating max/min/clamp), compiled without fast
math; the helpers the expressions call are `PRELUDE`.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

import torch

# device helpers the C forms call: NaN-propagating max/min, as torch.maximum/minimum/clamp
PRELUDE = """\
__device__ __forceinline__ float kb_max(float a, float b) { return (a != a || a >= b) ? a : b; }
__device__ __forceinline__ float kb_min(float a, float b) { return (a != a || a <= b) ? a : b; }
__device__ __forceinline__ float kb_sigmoid(float a) { return 1.0f / (1.0f + expf(-a)); }
"""


def lit(x: Any) -> str:
    """A Python scalar as a C literal: floats as ``float`` (rounded as PyTorch's fp32 scalar
    would be), ints and bools as ints."""
    if isinstance(x, bool):
        return "1" if x else "0"
    if isinstance(x, float):  # inf/NaN by their bits: NVRTC has no <math.h> macros
        if math.isnan(x):
            return "__int_as_float(0x7fc00000)"
        try:
            struct.pack("f", x)  # OverflowError: no finite fp32 holds it
        except OverflowError:
            x = math.copysign(math.inf, x)
        if math.isinf(x):
            return "__int_as_float(0x7f800000)" if x > 0 else "(-__int_as_float(0x7f800000))"
        return f"{x!r}f"
    return str(x)


def _num(x: Any) -> str:
    return lit(float(x))


def _pow(a: str, e: Any) -> str:
    if isinstance(e, str):  # a symbolic exponent
        return f"powf({a}, {e})"
    if float(e).is_integer() and -4 <= e <= 4:
        k = int(e)
        if k == 0:
            return f"({a} * 0.0f + 1.0f)"
        prod = " * ".join([a] * abs(k))
        return f"({prod})" if k > 0 else f"(1.0f / ({prod}))"
    if e == 0.5:
        return f"sqrtf({a})"
    if e == -0.5:
        return f"rsqrtf({a})"
    return f"powf({a}, {_num(e)})"


def _softplus(a: str, beta: Any = 1, threshold: Any = 20) -> str:
    b = _num(beta)
    return f"(({a} * {b} > {_num(threshold)}) ? {a} : log1pf(expf({a} * {b})) / {b})"


def _gelu(a: str, approximate: str = "none") -> str:
    if approximate == "tanh":  # PyTorch: kBeta * (x + kKappa * x^3), then 0.5 * x * (1 + tanh)
        inner = f"0.7978845608028654f * ({a} + 0.044715f * ({a} * {a} * {a}))"
        return f"(0.5f * {a} * (1.0f + tanhf({inner})))"
    return f"({a} * 0.5f * (1.0f + erff({a} * 0.7071067811865476f)))"


def _elu(a: str, alpha: Any = 1.0, scale: Any = 1.0, input_scale: Any = 1.0) -> str:
    neg, pos, isc = _num(float(alpha) * float(scale)), _num(scale), _num(input_scale)
    return f"(({a} > 0.0f) ? {a} * {pos} : expm1f({a} * {isc}) * {neg})"


def _clamp(a: str, lo: Any = None, hi: Any = None) -> str:
    if lo not in (None, "None"):
        a = f"kb_max({a}, {lo})"
    if hi not in (None, "None"):
        a = f"kb_min({a}, {hi})"
    return a


def _cast(a: str, dtype: Any = None, *rest: Any) -> str | None:
    if dtype is None or dtype == torch.float32:
        return a
    if dtype == torch.bool:
        return f"({a} != 0)"
    return None  # fp16/bf16 rounding: not expressed here (the CUDA kernels are fp32 only)


def binary(sym: str, literal: Callable[[Any], str] = lit) -> Callable[..., str]:
    """``(a sym b)`` with add/sub's ``alpha`` scale on ``b``, a number written by ``literal``
    (infix operators read the same in Triton and in C; `ops` passes its own literals)."""

    def f(a: str, b: str, alpha: Any = 1) -> str:
        if alpha not in (1, "1", None):
            b = f"({b} * {alpha if isinstance(alpha, str) else literal(alpha)})"
        return f"({a} {sym} {b})"

    return f


def infix(sym: str) -> Callable[..., str]:
    def f(a: str, b: str, *_: Any) -> str:
        return f"({a} {sym} {b})"

    return f


UNARY = {
    "neg.default": "(-{0})", "exp.default": "expf({0})", "exp2.default": "exp2f({0})",
    "log.default": "logf({0})", "log2.default": "log2f({0})", "log1p.default": "log1pf({0})",
    "expm1.default": "expm1f({0})", "sqrt.default": "sqrtf({0})", "rsqrt.default": "rsqrtf({0})",
    "abs.default": "fabsf({0})", "sin.default": "sinf({0})", "cos.default": "cosf({0})",
    "sigmoid.default": "kb_sigmoid({0})", "erf.default": "erff({0})",
    "relu.default": "kb_max({0}, 0.0f)", "reciprocal.default": "(1.0f / {0})",
    "floor.default": "floorf({0})", "ceil.default": "ceilf({0})", "square.default": "({0} * {0})",
    "silu.default": "({0} / (1.0f + expf(-{0})))",
    "sign.default": "(({0} > 0.0f) ? 1.0f : (({0} < 0.0f) ? -1.0f : 0.0f))",
    "hardswish.default": "({0} * kb_min(kb_max({0} + 3.0f, 0.0f), 6.0f) / 6.0f)",
    "hardsigmoid.default": "(kb_min(kb_max({0} + 3.0f, 0.0f), 6.0f) / 6.0f)",
    "logical_not.default": "({0} == 0)", "clone.default": "{0}", "alias.default": "{0}",
    "detach.default": "{0}", "lift_fresh_copy.default": "{0}", "positive.default": "{0}",
    "tanh.default": "tanhf({0})",
    "mish.default": "({0} * tanhf(log1pf(expf({0}))))",
    "prims.neg.default": "(-{0})", "prims.exp.default": "expf({0})",
    "prims.sqrt.default": "sqrtf({0})", "prims.rsqrt.default": "rsqrtf({0})",
    "prims.log.default": "logf({0})", "prims.abs.default": "fabsf({0})",
}  # fmt: skip

_COMPARE = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "eq": "==", "ne": "!="}

FORMULAS: dict[str, Callable[..., str | None]] = {
    **{f"{op}.{ov}": binary(s) for op, s in (("add", "+"), ("sub", "-"))
       for ov in ("Tensor", "Scalar")},
    **{f"{op}.{ov}": infix(s) for op, s in (("mul", "*"), ("div", "/"))
       for ov in ("Tensor", "Scalar")},
    **{f"{op}.{ov}": infix(s) for op, s in _COMPARE.items() for ov in ("Tensor", "Scalar")},
    "prims.add.default": infix("+"), "prims.sub.default": infix("-"),
    "prims.mul.default": infix("*"), "prims.div.default": infix("/"),
    "rsub.Scalar": lambda a, b, alpha=1: f"({lit(b)} - {a} * {lit(alpha)})",
    "div.Tensor_mode": lambda a, b, mode=None: f"({a} / {b})" if mode is None else None,
    "maximum.default": lambda a, b: f"kb_max({a}, {b})",
    "minimum.default": lambda a, b: f"kb_min({a}, {b})",
    "clamp.default": _clamp, "clamp.Tensor": _clamp,
    "clamp_min.default": lambda a, lo: _clamp(a, lo), "clamp_max.default": lambda a, hi: _clamp(a, None, hi),
    "clamp_min.Tensor": lambda a, lo: _clamp(a, lo), "clamp_max.Tensor": lambda a, hi: _clamp(a, None, hi),
    "where.self": lambda c, a, b: f"({c} ? {a} : {b})",
    "xlogy.Tensor": lambda a, b: f"(({b} != {b}) ? {b} : (({a} == 0.0f) ? 0.0f : {a} * logf({b})))",
    "logical_and.default": lambda a, b: f"(({a} != 0) && ({b} != 0))",
    "logical_or.default": lambda a, b: f"(({a} != 0) || ({b} != 0))",
    "pow.Tensor_Scalar": _pow,
    "pow.Tensor_Tensor": lambda a, b: f"powf({a}, {b})",
    "pow.Scalar": lambda s, b: f"powf({_num(s)}, {b})" if float(s) > 0 else None,
    "gelu.default": _gelu,
    "softplus.default": _softplus,
    "leaky_relu.default": lambda a, s=0.01: f"(({a} > 0.0f) ? {a} : {a} * {_num(s)})",
    "elu.default": _elu,
    "selu.default": lambda a: _elu(a, 1.6732632423543772, 1.0507009873554805),
    "celu.default": lambda a, al=1.0: _elu(a, al, 1.0, 1.0 / float(al)),
    "hardtanh.default": lambda a, lo=-1.0, hi=1.0: _clamp(a, _num(lo), _num(hi)),
    "threshold.default": lambda a, th, v: f"(({a} <= {_num(th)}) ? {_num(v)} : {a})",
    "masked_fill.Scalar": lambda a, m, v: f"({m} ? {_num(v)} : {a})",
    "_to_copy.default": lambda a, dtype=None, *r: _cast(a, dtype),
    "prims.convert_element_type.default": _cast,
    "to.dtype": lambda a, dtype=None, *r: _cast(a, dtype),
}  # fmt: skip


def formula(name: str, args: list[Any]) -> str | None:
    """The C template of op ``name`` over ``args`` (placeholders ``{i}`` for tensor and
    symbolic inputs, C literals or raw numbers for scalars), or None."""
    fn = FORMULAS.get(name)
    if fn is None and name in UNARY:
        fn = (lambda t: lambda a, *rest: t.format(a))(UNARY[name])
    if fn is None:
        return None
    try:
        return fn(*args)
    except (TypeError, ValueError):
        return None
