"""Capture a task's ``Model.forward`` as an ATen-level graph with symbolic input sizes.

Why ``make_fx(tracing_mode="symbolic")`` over ``meta`` tensors:

- ATen level: every ``F.*`` call, module call and tensor method lowers to the same
  small operator set (``aten.addmm``, ``aten.amax``, ``aten.erf``, ...), so templates
  match what is computed, not how the reference spells it. A chosen decomposition
  table turns softmax, layer norm, losses, ... into reductions plus pointwise ops.
- Symbolic sizes: every size of an input, parameter or buffer is a symbol of its own
  (``s0``) in the graph (`symbolic_sizes`), so views and reshapes in the generated
  ``forward`` are expressions of the runtime shapes (no baked sizes).
- ``meta`` tensors: the model and its inputs are built on the ``meta`` device, so a
  KernelBench default size of several GB costs nothing to trace.
- Parameters and buffers are traced through ``torch.func.functional_call`` and come
  out as placeholders named by their module path (``linear.weight``).

``torch.export`` gives the same graph but costs several times longer per trace and
refuses more Python in ``forward``; TorchDynamo (``torch.compile``) would bring the
compiler stack this project measures against.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sympy
import torch
from torch import fx

from profiling.tasks import Task
from strategies.errors import RealizerError

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


def _decompositions() -> dict[Any, Any]:
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
    # pooling without padding (1-d pooling reaches ATen as 2-d)
    table[aten.max_pool2d_with_indices.default] = _max_pool(2)
    table[aten.max_pool3d_with_indices.default] = _max_pool(3)
    table[aten.avg_pool2d.default] = _avg_pool(2)
    table[aten.avg_pool3d.default] = _avg_pool(3)
    table[aten.adaptive_max_pool2d.default] = _global_max_pool2d
    table[aten.mm.default] = _thin_mm
    table[aten.mv.default] = _mv
    return table


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


def _window_max(x: torch.Tensor, w: torch.Tensor, n: int, st: tuple[Any, ...]) -> Any:
    """Max over the last ``n`` dims of the windows ``w`` of ``x``, and the indices PyTorch's
    max pooling gives (the flat position in each input plane or volume). The indices are
    traced away when nothing reads them."""
    window = w.shape[-n:]
    values = w.amax(dim=tuple(range(-n, 0)))
    size = 1
    for k in window:
        size *= k
    flat = w.reshape(*w.shape[:-n], size).argmax(-1)
    index = None
    for i in range(n):  # window offset along dim i, plus the window's start
        inner = 1
        for k in window[i + 1 :]:
            inner *= k
        offset = flat // inner % window[i]
        start = torch.arange(w.shape[-2 * n + i], device=x.device) * st[i]
        pos = start.reshape(-1, *([1] * (n - 1 - i))) + offset
        index = pos if index is None else index * x.shape[-n + i] + pos
    return values, index


def _max_pool(n: int) -> Any:
    def decompose(
        x: torch.Tensor, kernel: Any, stride: Any = (), padding: Any = 0, dilation: Any = 1,
        ceil_mode: bool = False,
    ) -> Any:
        """Max pooling without padding or dilation as a max over unfolded windows: a
        reduction the templates fuse with what follows (a sigmoid, a channel sum) instead
        of a library call. Otherwise: not decomposed."""
        found = None if ceil_mode else _windows(x, n, kernel, stride, padding, dilation)
        return NotImplemented if found is None else _window_max(x, *found[:1], n, found[1])

    return decompose


def _avg_pool(n: int) -> Any:
    def decompose(
        x: torch.Tensor, kernel: Any, stride: Any = (), padding: Any = 0,
        ceil_mode: bool = False, count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> Any:
        """Average pooling without padding as a mean over unfolded windows (see `_max_pool`)."""
        found = None if ceil_mode or divisor_override else _windows(x, n, kernel, stride, padding)
        return NotImplemented if found is None else found[0].mean(dim=tuple(range(-n, 0)))

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


@contextlib.contextmanager
def symbolic_sizes() -> Iterator[None]:
    """Tracing in which every input size keeps a symbol of its own.

    - No duck sizing: by default two sizes with the same value at trace time share
      one symbol (``batch = dim1 = dim2 = 64`` all become ``x.shape[0]``), so the
      generated code is wrong as soon as they differ (the harness's odd-size probe
      changes each constant on its own).
    - No specialization to a number: a check such as ``InstanceNorm``'s
      ``x.size(1) != num_features`` or ``layer_norm``'s shape test guards
      ``s1 == 4`` and would replace the symbol by ``4`` everywhere. The guard's
      value is still used for the trace; only the replacement is skipped, so the
      size is read from the input at run time (where the reference's own check
      holds, so do the traced assumptions).

    The second patches ``ShapeEnv._maybe_guard_rel`` (a private method, present in
    torch 2.11 and 2.13) for the duration of the trace and restores it after (captures
    do not run concurrently); a torch without it traces with duck sizing off only, and
    such checked sizes become numbers again. Known limit: a module setting that reaches
    ATen as a plain ``int`` and shows in no tensor's shape (``GroupNorm``'s
    ``num_groups``) stays a number.
    """
    from torch.fx.experimental import _config as fx_config
    from torch.fx.experimental.symbolic_shapes import ShapeEnv

    original = getattr(ShapeEnv, "_maybe_guard_rel", None)
    if original is None:
        with fx_config.patch(use_duck_shape=False):
            yield
        return

    def guard_rel(self: ShapeEnv, expr: Any) -> None:
        if isinstance(expr, sympy.Eq) and any(
            a.is_Symbol and b.is_Number for a, b in ((expr.lhs, expr.rhs), (expr.rhs, expr.lhs))
        ):
            return
        original(self, expr)

    ShapeEnv._maybe_guard_rel = guard_rel  # type: ignore[method-assign]
    try:
        with fx_config.patch(use_duck_shape=False):
            yield
    finally:
        ShapeEnv._maybe_guard_rel = original  # type: ignore[method-assign]


@dataclass(frozen=True)
class Captured:
    """The traced graph and how its placeholders are reached from ``ModelNew.forward``."""

    gm: fx.GraphModule
    arg_names: tuple[str, ...]  # forward() arguments, in order
    placeholders: tuple[str, ...]  # per placeholder: a Python expression in forward()
    symbols: dict[str, str]  # size symbol -> runtime expression ("x.shape[0]")
    hints: dict[str, int]  # size symbol -> its value at the task's size
    out_tuple: bool  # forward returns a tuple/list (else one tensor or scalar)


def _forward_args(model: torch.nn.Module, n: int) -> tuple[str, ...]:
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(names) < n:
        names = [f"x{i}" for i in range(n)]
    return tuple(names[:n])


def _fresh(node: fx.Node) -> bool:
    """A value with storage of its own: an op result that is not a view or alias."""
    t = node.target
    if node.op != "call_function" or not isinstance(t, torch._ops.OpOverload):
        return False
    return all(r.alias_info is None for r in t._schema.returns)


def _out_of_place(gm: fx.GraphModule) -> None:
    """An in-place op whose target is a private temporary (cosine_similarity's
    ``clamp_min_`` on a ``clone``: a fresh value read by nothing else) becomes its
    out-of-place form, which the partitioner can fuse. Same values: nothing else can
    see the mutation. In-place ops on inputs, parameters or views stay as they are."""
    changed = False
    for node in gm.graph.nodes:
        t = node.target
        if node.op != "call_function" or not isinstance(t, torch._ops.OpOverload):
            continue
        name = t._schema.name.split("::")[-1]
        if not name.endswith("_") or name.startswith("_") or not t._schema.is_mutable:
            continue
        base = node.args[0] if node.args else None
        if not isinstance(base, fx.Node) or not _fresh(base) or len(base.users) != 1:
            continue
        packet = getattr(getattr(torch.ops, t.namespace), name[:-1], None)
        pure = getattr(packet, t._overloadname, None) if packet is not None else None
        if isinstance(pure, torch._ops.OpOverload) and not pure._schema.is_mutable:
            node.target = pure
            changed = True
    if changed:
        gm.recompile()


_NUMBERED = re.compile(r"^(.*?)_(\d+)$")


def _renumbered(gm: fx.GraphModule) -> fx.GraphModule:
    """The graph with its values named afresh in graph order (``ne``, ``ne_1``, ...).

    Tracing numbers a name by every node it ever created, including the ones dead-code
    elimination removed afterwards, and the count differs between torch releases
    (``cross_entropy``'s decomposition leaves one unused ``ne`` on torch 2.13, two on
    2.11): the same computation came out as ``ne_2``/``ne_3`` on one and ``ne_1``/``ne_2``
    on the other, so its kernels (named after the graph's values) were different texts.
    Renumbered, the names depend on the surviving graph only; a graph without removed
    nodes keeps its names."""
    graph = fx.Graph()
    env: dict[fx.Node, fx.Node] = {}
    for node in gm.graph.nodes:
        m = _NUMBERED.match(node.name)
        base = node.name if node.op == "placeholder" or m is None else m.group(1)
        new = graph.create_node(
            node.op,
            node.target,
            fx.map_arg(node.args, env.__getitem__),
            fx.map_arg(node.kwargs, env.__getitem__),
            name=base,
            type_expr=node.type,
        )
        new.meta = copy.copy(node.meta)
        env[node] = new
    return fx.GraphModule(gm, graph)


def capture(task: Task) -> Captured:
    """Trace the task's reference at its own sizes (on the meta device); RealizerError on failure."""
    try:
        mod = task.load_module()
    except Exception as e:
        raise RealizerError(f"cannot load task {task.name}: {e}") from e
    try:
        with torch.device("meta"):
            torch.manual_seed(0)
            model = mod.Model(*mod.get_init_inputs())
            inputs = list(mod.get_inputs())
    except Exception as e:
        raise RealizerError(
            f"cannot build {task.name}'s Model and inputs on the meta device ({type(e).__name__}: "
            f"{e}); use realizer=openai for this task"
        ) from e
    if not all(isinstance(t, torch.Tensor) for t in inputs):
        raise RealizerError(
            f"{task.name}: get_inputs() returns non-tensor values; use realizer=openai for this task"
        )
    names = [n for n, _ in model.named_parameters()] + [n for n, _ in model.named_buffers()]
    tensors = [t for _, t in model.named_parameters()] + [t for _, t in model.named_buffers()]
    n_params = len(names)

    def f(*flat: torch.Tensor) -> Any:
        state = dict(zip(names, flat[:n_params], strict=True))
        return torch.func.functional_call(model, state, tuple(flat[n_params:]))

    try:
        from torch.fx.experimental.proxy_tensor import make_fx

        with torch.no_grad(), symbolic_sizes():
            out = f(*tensors, *inputs)
            gm = make_fx(f, tracing_mode="symbolic", decomposition_table=_decompositions())(
                *tensors, *inputs
            )
    except Exception as e:
        raise RealizerError(
            f"cannot capture {task.name}'s forward as an ATen graph ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}); use realizer=openai for this task"
        ) from e
    gm.graph.eliminate_dead_code()  # what a decomposition built and nothing reads
    _out_of_place(gm)
    gm = _renumbered(gm)
    args = _forward_args(model, len(inputs))
    exprs = [f"self.get_parameter({n!r})" for n, _ in model.named_parameters()]
    exprs += [f"self.get_buffer({n!r})" for n, _ in model.named_buffers()]
    exprs += list(args)
    placeholders = [n for n in gm.graph.nodes if n.op == "placeholder"]
    symbols: dict[str, str] = {}
    hints: dict[str, int] = {}
    for node, expr in zip(placeholders, exprs, strict=True):
        val = node.meta.get("val")
        for d, size in enumerate(getattr(val, "shape", ())):
            if isinstance(size, torch.SymInt):
                sym = size.node.expr
                if sym.is_Symbol and str(sym) not in symbols:
                    symbols[str(sym)] = f"{expr}.shape[{d}]"
                    hints[str(sym)] = int(size.node.hint)
    return Captured(
        gm=gm,
        arg_names=args,
        placeholders=tuple(exprs),
        symbols=symbols,
        hints=hints,
        out_tuple=isinstance(out, tuple | list),
    )
