"""Assemble a standalone KernelBench ``ModelNew`` module from a partition and parameters.

The module embeds the reference ``Model`` class (imports and constants included,
``get_inputs``/``get_init_inputs`` dropped) and defines ``class ModelNew(Model)``:
same constructor, same parameter names (the harness copies the reference's weights
by name), and a ``forward`` that runs the graph step by step — generated Triton
kernels for the groups (CUDA C++ through CuPy for a pointwise group with
``target="cuda"``), the ATen call itself for every other node. Sizes come from
the inputs at run time: shape symbols are read from the arguments first thing.
"""

from __future__ import annotations

import ast
import json
import math
import operator
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import fx

from profiling.tasks import parse_python
from strategies.graph.builder import Builder, fwd
from strategies.graph.capture import Captured
from strategies.graph.partition import Group, Partition
from strategies.graph.render_util import Kernel, dtype_expr, indent
from strategies.graph.templates import BY_NAME

PARAMS_MARKER = "# kernel-bandit-params: "
_DROP = ("get_inputs", "get_init_inputs", "get_flops")
_PY_OPS = {
    operator.mul: "*", operator.add: "+", operator.sub: "-", operator.floordiv: "//",
    operator.truediv: "/", operator.mod: "%", operator.pow: "**",
}  # fmt: skip
NUM_SMS = """
_SMS = {}


def _num_sms(device):
    if device.type != "cuda":
        return 4
    if device not in _SMS:
        _SMS[device] = torch.cuda.get_device_properties(device).multi_processor_count
    return _SMS[device]
"""


def reference_part(source: str) -> str:
    """The reference module without its input/flop functions."""
    tree = parse_python(source)
    lines = source.splitlines()
    cut: list[tuple[int, int]] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in _DROP:
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            cut.append((start - 1, node.end_lineno or node.lineno))
    keep = [ln for i, ln in enumerate(lines) if not any(a <= i < b for a, b in cut)]
    return "\n".join(keep).rstrip() + "\n"


def arg(x: Any) -> str:
    if isinstance(x, fx.Node):
        return fwd(x)
    if isinstance(x, list | tuple):
        inner = ", ".join(arg(v) for v in x)
        return f"[{inner}]" if isinstance(x, list) else f"({inner}{',' if len(x) == 1 else ''})"
    if isinstance(x, torch.dtype):
        return dtype_expr(x)
    if isinstance(x, torch.device):
        return "_dev"
    if isinstance(x, torch.layout):
        return "torch.strided"
    if isinstance(x, torch.memory_format):
        return f"torch.{str(x).removeprefix('torch.')}"
    if isinstance(x, torch.SymInt | torch.SymFloat | torch.SymBool):
        return f"({x.node.expr})"
    if isinstance(x, float):
        if math.isinf(x) or math.isnan(x):
            return f"float({str(x)!r})"
        return repr(x)
    if isinstance(x, bool | int | str) or x is None:
        return repr(x)
    raise ValueError(f"cannot write argument {x!r} of type {type(x).__name__}")


def torch_line(node: fx.Node) -> str:
    """One forward() line that runs a node with PyTorch."""
    t = node.target
    args = ", ".join(
        [arg(a) for a in node.args] + [f"{k}={arg(v)}" for k, v in node.kwargs.items()]
    )
    if isinstance(t, torch._ops.OpOverload):
        name = t._schema.name.split("::")
        return f"{fwd(node)} = torch.ops.{name[0]}.{name[1]}.{t._overloadname}({args})"
    if t in _PY_OPS:
        return f"{fwd(node)} = {arg(node.args[0])} {_PY_OPS[t]} {arg(node.args[1])}"
    if t is operator.getitem:
        return f"{fwd(node)} = {arg(node.args[0])}[{arg(node.args[1])}]"
    if t is operator.neg:
        return f"{fwd(node)} = -{arg(node.args[0])}"
    simple = {"sym_float": "float", "sym_int": "int", "sym_max": "max", "sym_min": "min",
              "sym_sqrt": "math.sqrt"}  # fmt: skip
    tname = getattr(t, "__name__", "")
    if tname in simple:
        return f"{fwd(node)} = {simple[tname]}({args})"
    raise ValueError(f"cannot emit {node.format_node()}")


def _order(part: Partition) -> list[Group | fx.Node]:
    """Steps (groups and single nodes) in a dependency order close to the graph's."""
    step_of: dict[fx.Node, Any] = {}
    steps: list[Any] = []
    for n in part.nodes:
        if n.op == "output":
            continue
        s = part.group_of.get(n, n)
        if s not in steps:
            steps.append(s)
        step_of[n] = s
    preds: dict[int, set[int]] = {i: set() for i in range(len(steps))}
    index = {id(s): i for i, s in enumerate(steps)}
    for n, s in step_of.items():
        for a in n.all_input_nodes:
            sa = step_of.get(a)
            if sa is not None and sa is not s:
                preds[index[id(s)]].add(index[id(sa)])
    out: list[Any] = []
    done: set[int] = set()
    while len(out) < len(steps):
        ready = [i for i in range(len(steps)) if i not in done and preds[i] <= done]
        if not ready:
            raise ValueError("cyclic partition")
        done.add(ready[0])
        out.append(steps[ready[0]])
    return out


def kernels(part: Partition, params: Sequence[Mapping[str, Any]]) -> list[Kernel]:
    out = []
    for g, p in zip(part.groups, params, strict=True):
        out.append(BY_NAME[g.template].emit(Builder(part, g), dict(p), f"_k{g.gid}_{g.template}"))
    return out


def render(
    cap: Captured, part: Partition, params: Mapping[str, Any], reference: str, summary: str
) -> str:
    ks = kernels(part, params["groups"])
    by_group = {g.gid: k for g, k in zip(part.groups, ks, strict=True)}
    body: list[str] = []
    first = cap.arg_names[0] if cap.arg_names else "next(self.parameters())"
    body.append(f"_dev = {first}.device")
    placeholders = [n for n in part.nodes if n.op == "placeholder"]
    for node, expr in zip(placeholders, cap.placeholders, strict=True):
        body.append(f"{fwd(node)} = {expr}")
    for sym, expr in cap.symbols.items():
        body.append(f"{sym} = {expr}")
    live = set(part.torch_steps())
    for step in _order(part):
        if isinstance(step, Group):
            body += by_group[step.gid].launch
        elif step in live:
            body.append(torch_line(step))
    out_node = next(n for n in part.nodes if n.op == "output")
    outs = out_node.args[0]
    outs = outs if isinstance(outs, list | tuple) else [outs]
    ret = ", ".join(arg(o) for o in outs)
    body.append(f"return ({ret},)" if cap.out_tuple else f"return {ret}")
    header = PARAMS_MARKER + json.dumps({"kind": "graph", **params}, sort_keys=True)
    sig = ", ".join(["self", *cap.arg_names])
    preludes = list(dict.fromkeys(h for k in ks for h in k.preludes if h))
    kernel_src = "\n\n\n".join([*preludes, *(k.source for k in ks)])
    return (
        f"{header}\n"
        f'"""Generated by kernel-bandit\'s graph realizer: {summary}."""\n\n'
        "import math\n\nimport torch\nimport triton\nimport triton.language as tl\n\n"
        "# ---- the reference (its Model class is the constructor and weights of ModelNew)\n"
        f"{reference_part(reference)}\n"
        f"# ---- generated kernels\n{NUM_SMS}\n\n{kernel_src}\n\n\n"
        "class ModelNew(Model):\n"
        f"    def forward({sig}):\n" + "\n".join(indent(body, 8)) + "\n"
    )
