"""Capture a task's ``Model.forward`` as an ATen-level graph with symbolic input sizes.

Why ``make_fx(tracing_mode="symbolic")`` over ``meta`` tensors:

- ATen level: every ``F.*`` call, module call and tensor method lowers to the same
  small operator set (``aten.addmm``, ``aten.amax``, ``aten.erf``, ...), so templates
  match what is computed, not how the reference spells it. A chosen decomposition
  table (`strategies.graph.decompose`) turns softmax, layer norm, losses, pooling, ...
  into reductions plus pointwise ops.
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
from strategies.graph import decompose, ops


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


_SQUEEZES = ("squeeze.dim", "squeeze.dims")


def _cancel_unsqueezes(gm: fx.GraphModule) -> None:
    """``squeeze(unsqueeze(x, d), d)`` is ``x``: the pair is dropped, so the ops on both
    sides of it (a 1-d pool's value and what reads it) meet in one group. Same values: the
    pair is the identity view."""
    changed = False
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or ops.op_name(node) not in _SQUEEZES or len(node.args) < 2:
            continue
        src = node.args[0]
        if not isinstance(src, fx.Node) or ops.op_name(src) != "unsqueeze.default":
            continue
        rank = len(src.meta["val"].shape)
        dims = node.args[1] if isinstance(node.args[1], list | tuple) else [node.args[1]]
        if len(dims) != 1 or dims[0] % rank != src.args[1] % rank:
            continue
        node.replace_all_uses_with(src.args[0])
        changed = True
    if changed:
        gm.graph.eliminate_dead_code()
        gm.recompile()


def _diagonal_products(gm: fx.GraphModule) -> None:
    """``diag(v) @ B`` (``mm(diag_embed(v), B)``) is ``v[:, None] * B``, and ``A @ diag(v)`` is
    ``A * v[None, :]``: a scaling of rows or columns, not an N x N matrix and an N^3 product.
    Same values: each output element is the one nonzero product plus exact zeros (IEEE:
    x + 0 = x). A diagonal matrix read elsewhere too is still built for those readers."""
    changed = False
    for node in list(gm.graph.nodes):
        if node.op != "call_function" or ops.op_name(node) != "mm.default":
            continue
        for side in (0, 1):
            d = node.args[side]
            if not _is_diagonal(d):
                continue
            v = d.args[0]
            with gm.graph.inserting_before(node):
                vec = gm.graph.call_function(torch.ops.aten.unsqueeze.default, (v, 1 - side))
                vec.meta["val"] = v.meta["val"].unsqueeze(1 - side)
                pair = (vec, node.args[1]) if side == 0 else (node.args[0], vec)
                prod = gm.graph.call_function(torch.ops.aten.mul.Tensor, pair)
                prod.meta["val"] = node.meta["val"]
            node.replace_all_uses_with(prod)
            changed = True
            break
    if changed:
        gm.graph.eliminate_dead_code()
        gm.recompile()


def _is_diagonal(node: Any) -> bool:
    """``diag_embed(v)`` of a 1-d float ``v`` on the main diagonal: a square diagonal matrix."""
    if not isinstance(node, fx.Node) or ops.op_name(node) != "diag_embed.default":
        return False
    v, offset, dim1, dim2 = ops.normalized_args(node)[:4]
    if not ops.is_tensor(v) or ops.val(v).dim() != 1 or ops.val(v).dtype not in ops.FLOATS:
        return False
    return offset == 0 and {dim1 % 2, dim2 % 2} == {0, 1}


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
            gm = make_fx(f, tracing_mode="symbolic", decomposition_table=decompose.table())(
                *tensors, *inputs
            )
    except Exception as e:
        raise RealizerError(
            f"cannot capture {task.name}'s forward as an ATen graph ({type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}); use realizer=openai for this task"
        ) from e
    gm.graph.eliminate_dead_code()  # what a decomposition built and nothing reads
    _out_of_place(gm)
    _cancel_unsqueezes(gm)
    _diagonal_products(gm)
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
