"""What each ATen operator is to the partitioner: pointwise formula, reduction, matmul, view.

`pointwise(node)` returns a Triton expression template over the node's tensor inputs
(``{0}``, ``{1}``, ...) with scalars inlined, or None when the op has no formula here
(the node then stays a PyTorch call in ``ModelNew.forward``, which is always correct).
Values live in fp32 registers (bool for comparisons); the store casts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import fx

from strategies.graph import ops_c

FLOATS = (torch.float32, torch.float16, torch.bfloat16)


def op_name(node: fx.Node) -> str:
    """``aten.add.Tensor`` -> ``add.Tensor``; prims keep a ``prims.`` prefix."""
    t = node.target
    if isinstance(t, torch._ops.OpOverload):
        ns = t.namespace
        base = f"{t._schema.name.split('::')[-1]}.{t._overloadname}"
        return base if ns == "aten" else f"{ns}.{base}"
    return getattr(t, "__name__", str(t))


def normalized_args(node: fx.Node) -> list[Any]:
    """Positional arguments with keyword arguments and schema defaults filled in."""
    t = node.target
    if not isinstance(t, torch._ops.OpOverload):
        return list(node.args)
    out: list[Any] = []
    for i, a in enumerate(t._schema.arguments):
        if i < len(node.args):
            out.append(node.args[i])
        elif a.name in node.kwargs:
            out.append(node.kwargs[a.name])
        elif a.has_default_value():
            out.append(a.default_value)
        else:
            out.append(None)
    return out


def val(node: Any) -> Any:
    return node.meta.get("val") if isinstance(node, fx.Node) else None


def is_tensor(node: Any) -> bool:
    return isinstance(val(node), torch.Tensor)


_SYMPY_CALLS = re.compile(r"\b(Min|Max)\(")


def size_str(size: Any) -> str:
    """A traced size or stride as the Python the generated ``forward`` evaluates: sympy's
    ``Min``/``Max`` (``torch.diag`` of a matrix, a clamped slice) become ``min``/``max``;
    every other expression prints as sympy prints it."""
    return _SYMPY_CALLS.sub(lambda m: m.group(1).lower() + "(", str(size))


def lit(x: Any) -> str:
    """A Python scalar as Triton source."""
    if isinstance(x, bool):
        return "1" if x else "0"
    if isinstance(x, float):
        if math.isinf(x):
            return "float('inf')" if x > 0 else "float('-inf')"
        if math.isnan(x):
            return "float('nan')"
        return repr(x)
    return str(x)


def _pow(a: str, e: Any) -> str:
    if isinstance(e, int | float) and float(e).is_integer() and -4 <= e <= 4:
        k = int(e)
        if k == 0:
            return f"({a} * 0.0 + 1.0)"
        prod = " * ".join([a] * abs(k))
        return f"({prod})" if k > 0 else f"(1.0 / ({prod}))"
    if e == 0.5:
        return f"tl.sqrt({a})"
    if e == -0.5:
        return f"tl.rsqrt({a})"
    return f"tl.exp({e} * tl.log({a}))"


def _tanh(a: str) -> str:
    return f"(2.0 * tl.sigmoid(2.0 * {a}) - 1.0)"


def _softplus(a: str, beta: Any = 1, threshold: Any = 20) -> str:
    b = lit(float(beta))
    return (
        f"tl.where({a} * {b} > {lit(float(threshold))}, {a}, tl.log(1.0 + tl.exp({a} * {b})) / {b})"
    )


def _gelu(a: str, approximate: str = "none") -> str:
    if approximate == "tanh":
        inner = f"0.7978845608028654 * ({a} + 0.044715 * {a} * {a} * {a})"
        return f"(0.5 * {a} * (1.0 + {_tanh(inner)}))"
    return f"(0.5 * {a} * (1.0 + tl.erf({a} * 0.7071067811865476)))"


def _elu(a: str, alpha: Any = 1.0, scale: Any = 1.0, input_scale: Any = 1.0) -> str:
    al, sc, isc = lit(float(alpha)), lit(float(scale)), lit(float(input_scale))
    return f"tl.where({a} > 0, {a} * {sc}, {al} * {sc} * (tl.exp({a} * {isc}) - 1.0))"


def _max(a: str, b: str) -> str:
    """``torch.maximum``: NaN in either operand gives NaN (Triton's default drops it)."""
    return f"tl.maximum({a}, {b}, propagate_nan=tl.PropagateNan.ALL)"


def _min(a: str, b: str) -> str:
    return f"tl.minimum({a}, {b}, propagate_nan=tl.PropagateNan.ALL)"


def _clamp(a: str, lo: Any = None, hi: Any = None) -> str:
    if lo not in (None, "None"):
        a = _max(a, lo)
    if hi not in (None, "None"):
        a = _min(a, hi)
    return a


def _cast(a: str, dtype: Any = None, *rest: Any) -> str | None:
    if dtype is None or dtype in FLOATS:
        return a
    if dtype == torch.bool:
        return f"({a} != 0)"
    return None


def _binary(sym: str) -> Callable[..., str]:
    return ops_c.binary(sym, lit)


_infix = ops_c.infix


_UNARY = {
    "neg.default": "(-{0})", "exp.default": "tl.exp({0})", "exp2.default": "tl.exp2({0})",
    "log.default": "tl.log({0})", "log2.default": "tl.log2({0})",
    "log1p.default": "tl.log(1.0 + {0})", "expm1.default": "(tl.exp({0}) - 1.0)",
    "sqrt.default": "tl.sqrt({0})", "rsqrt.default": "tl.rsqrt({0})", "abs.default": "tl.abs({0})",
    "sin.default": "tl.sin({0})", "cos.default": "tl.cos({0})", "sigmoid.default": "tl.sigmoid({0})",
    "erf.default": "tl.erf({0})", "relu.default": _max("{0}", "0.0"),
    "reciprocal.default": "(1.0 / {0})", "floor.default": "tl.floor({0})",
    "ceil.default": "tl.ceil({0})", "square.default": "({0} * {0})",
    "silu.default": "({0} * tl.sigmoid({0}))",
    "sign.default": "tl.where({0} > 0, 1.0, tl.where({0} < 0, -1.0, 0.0))",
    "hardswish.default": f"({{0}} * {_clamp('({0} + 3.0)', '0.0', '6.0')} / 6.0)",
    "hardsigmoid.default": f"({_clamp('({0} + 3.0)', '0.0', '6.0')} / 6.0)",
    "logical_not.default": "({0} == 0)", "clone.default": "{0}", "alias.default": "{0}",
    "detach.default": "{0}", "lift_fresh_copy.default": "{0}", "positive.default": "{0}",
    "prims.neg.default": "(-{0})", "prims.exp.default": "tl.exp({0})",
    "prims.sqrt.default": "tl.sqrt({0})", "prims.rsqrt.default": "tl.rsqrt({0})",
    "prims.log.default": "tl.log({0})", "prims.abs.default": "tl.abs({0})",
}  # fmt: skip

_COMPARE = {"gt": ">", "ge": ">=", "lt": "<", "le": "<=", "eq": "==", "ne": "!="}

_FORMULAS: dict[str, Callable[..., str | None]] = {
    **{f"{op}.{ov}": _binary(s) for op, s in (("add", "+"), ("sub", "-"))
       for ov in ("Tensor", "Scalar")},
    **{f"{op}.{ov}": _infix(s) for op, s in (("mul", "*"), ("div", "/"))
       for ov in ("Tensor", "Scalar")},
    **{f"{op}.{ov}": _infix(s) for op, s in _COMPARE.items() for ov in ("Tensor", "Scalar")},
    "prims.add.default": lambda a, b: f"({a} + {b})", "prims.sub.default": lambda a, b: f"({a} - {b})",
    "prims.mul.default": lambda a, b: f"({a} * {b})", "prims.div.default": lambda a, b: f"({a} / {b})",
    "rsub.Scalar": lambda a, b, alpha=1: f"({b} - {a} * {lit(alpha)})",
    "div.Tensor_mode": lambda a, b, mode=None: f"({a} / {b})" if mode is None else None,
    "maximum.default": _max,
    "minimum.default": _min,
    "clamp.default": _clamp, "clamp.Tensor": _clamp,
    "clamp_min.default": lambda a, lo: _clamp(a, lo), "clamp_max.default": lambda a, hi: _clamp(a, None, hi),
    "clamp_min.Tensor": lambda a, lo: _clamp(a, lo), "clamp_max.Tensor": lambda a, hi: _clamp(a, None, hi),
    "where.self": lambda c, a, b: f"tl.where({c}, {a}, {b})",
    # torch.xlogy: NaN where y is NaN, else 0 where x == 0 (even at y == 0), else x * log(y)
    "xlogy.Tensor": lambda a, b: (f"tl.where({b} != {b}, {b}, "
                                  f"tl.where({a} == 0, 0.0, {a} * tl.log({b})))"),
    "logical_and.default": lambda a, b: f"(({a} != 0) & ({b} != 0))",
    "logical_or.default": lambda a, b: f"(({a} != 0) | ({b} != 0))",
    "pow.Tensor_Scalar": lambda a, e: _pow(a, float(e) if not isinstance(e, str) else e),
    "pow.Tensor_Tensor": lambda a, b: f"tl.exp({b} * tl.log({a}))",
    "pow.Scalar": lambda s, b: f"tl.exp({b} * {lit(math.log(float(s)))})" if float(s) > 0 else None,
    "tanh.default": _tanh, "gelu.default": _gelu,
    "mish.default": lambda a: f"({a} * {_tanh(_softplus(a))})",
    "softplus.default": _softplus,
    "leaky_relu.default": lambda a, s=0.01: f"tl.where({a} > 0, {a}, {a} * {lit(float(s))})",
    "elu.default": _elu,
    "selu.default": lambda a: _elu(a, 1.6732632423543772, 1.0507009873554805),
    "celu.default": lambda a, al=1.0: _elu(a, al, 1.0, 1.0 / float(al)),
    "hardtanh.default": lambda a, lo=-1.0, hi=1.0: _clamp(a, lit(float(lo)), lit(float(hi))),
    # torch's form (x <= th ? v : x): a NaN stays NaN
    "threshold.default": lambda a, th, v: f"tl.where({a} <= {lit(th)}, {lit(v)}, {a})",
    "masked_fill.Scalar": lambda a, m, v: f"tl.where({m}, {lit(v)}, {a})",
    "_to_copy.default": lambda a, dtype=None, *r: _cast(a, dtype),
    "prims.convert_element_type.default": _cast,
    "to.dtype": lambda a, dtype=None, *r: _cast(a, dtype),
}  # fmt: skip

MATMULS = ("mm.default", "addmm.default", "bmm.default")
VIEWS = (
    "unsqueeze.default", "squeeze.dim", "squeeze.dims", "squeeze.default", "view.default",
    "_unsafe_view.default", "reshape.default", "prims.broadcast_in_dim.default", "expand.default",
    "prims.squeeze.default",
)  # fmt: skip


@dataclass(frozen=True)
class Formula:
    template: str  # Triton expression over {0}, {1}, ... (the tensor/symbolic inputs)
    inputs: tuple[fx.Node, ...]  # tensor inputs and symbolic scalars, in placeholder order
    c: str | None = None  # the CUDA C expression over the same placeholders (`ops_c`), if any


INTS = (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8)
# ops exact on integer values in Triton too (no division, no overflow-prone arithmetic):
# cross-entropy's ignore_index handling (ne, where) and integer-to-float casts
INT_EXACT = frozenset(
    {f"{op}.{ov}" for op in _COMPARE for ov in ("Tensor", "Scalar")}
    | {"where.self", "clone.default", "alias.default", "detach.default", "_to_copy.default",
       "prims.convert_element_type.default", "to.dtype"}
)  # fmt: skip


def _dtype_ok(node: fx.Node, name: str) -> bool:
    """Float and bool values always; integer values only through the exact ops."""
    v = val(node)
    if not isinstance(v, torch.Tensor):
        return False
    return v.dtype in FLOATS or v.dtype == torch.bool or (v.dtype in INTS and name in INT_EXACT)


def constant_scalar(node: Any) -> bool | int | float | None:
    """The number a ``scalar_tensor(c)`` node holds (inlined as a literal), else None."""
    if not isinstance(node, fx.Node) or node.op != "call_function":
        return None
    if op_name(node) != "scalar_tensor.default" or not node.args:
        return None
    c = node.args[0]
    return c if isinstance(c, bool | int | float) else None


def pointwise(node: fx.Node) -> Formula | None:
    """The node's formula, or None when it is not a pointwise op this package can emit."""
    if node.op != "call_function":
        return None
    name = op_name(node)
    if not _dtype_ok(node, name):
        return None
    fn = _FORMULAS.get(name)
    if fn is None and name in _UNARY:
        fn = (lambda t: lambda a, *rest: t.format(a))(_UNARY[name])
    if fn is None:
        return None
    inputs: list[fx.Node] = []
    args: list[Any] = []
    cargs: list[Any] = []  # the same arguments for the C form (C literals)
    raw = name in _RAW_SCALARS
    for a in normalized_args(node):
        if (c := constant_scalar(a)) is not None:  # a 0-d constant: its literal
            args.append(c if raw else lit(c))
            cargs.append(c if raw else ops_c.lit(c))
            continue
        if isinstance(a, fx.Node):
            if not (
                is_tensor(a) or isinstance(val(a), torch.SymInt | torch.SymFloat | int | float)
            ):
                return None
            if is_tensor(a) and not _dtype_ok(a, name):
                return None
            if a not in inputs:
                inputs.append(a)
            args.append("{" + str(inputs.index(a)) + "}")
            cargs.append(args[-1])
        elif isinstance(a, torch.dtype) or a is None or isinstance(a, str):
            args.append(a)
            cargs.append(a)
        elif isinstance(a, bool | int | float):
            args.append(a if raw else lit(a))
            cargs.append(a if raw else ops_c.lit(a))
        elif isinstance(a, list | tuple | torch.device | torch.layout | torch.memory_format):
            args.append(a)
            cargs.append(a)
        else:
            return None
    try:
        text = fn(*args)
    except (TypeError, ValueError):
        return None
    if text is None or not inputs:
        return None
    return Formula(text, tuple(inputs), ops_c.formula(name, cargs))


# ops whose scalar arguments the formula needs as numbers, not source text
_RAW_SCALARS = {
    "pow.Tensor_Scalar", "pow.Scalar", "softplus.default", "leaky_relu.default", "elu.default",
    "celu.default", "hardtanh.default", "threshold.default", "masked_fill.Scalar", "rsub.Scalar",
}  # fmt: skip


# ``fast_math`` (reduction and pointwise Triton kernels; `math/fast_math`): every log on the
# hardware's approximate log2. The prelude goes once into a module whose kernels call it.
EXACT_LOG, FAST_LOG = "tl.log(", "_fast_log("
FAST_MATH_PRELUDE = '''import os

from triton.language.extra import libdevice


@triton.jit
def _fast_log(x):
    # log(x) from the hardware's approximate log2 (libdevice fast_logf: lg2.approx.f32 times
    # ln 2; about 2^-21 absolute error near 1, 2^-22 relative elsewhere, subnormal inputs
    # flushed to zero): `math/fast_math`; the evaluator's correctness check decides
    return libdevice.fast_logf(x)


if os.environ.get("TRITON_INTERPRET") == "1":  # the interpreter has no fast_logf: exact

    @triton.jit
    def _fast_log(x):  # noqa: F811
        return tl.log(x)'''


def fast_math(expr: str) -> str:
    """A Triton expression with its logs on `FAST_LOG` (the exact ``tl.log`` elsewhere)."""
    return expr.replace(EXACT_LOG, FAST_LOG)


def prelude(p: Mapping[str, Any]) -> str:
    """The module-level helpers a Triton kernel with parameters ``p`` calls."""
    return FAST_MATH_PRELUDE if p.get("fast_math") else ""


def has_log(node: fx.Node) -> bool:
    """The member's Triton form takes a log (log, log1p, softplus, xlogy, pow, ...)."""
    f = pointwise(node)
    return f is not None and EXACT_LOG in f.template
