"""A task's plan: its captured graph, partition and per-group facts (cached per task)."""

from __future__ import annotations

import functools
import json
import threading
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import sympy
import torch

from profiling.precision import PRECISIONS, named_precision
from profiling.tasks import Task
from strategies.errors import RealizerError
from strategies.graph import emit_cuda, ops
from strategies.graph.builder import Builder
from strategies.graph.capture import Captured, capture
from strategies.graph.emit_pointwise import has_transpose
from strategies.graph.partition import Group, Partition, partition, shape_key
from strategies.graph.reduction_parts import can_split, online_pairs, red_kind, rereads
from strategies.graph.space import Facts
from strategies.graph.templates import initial


@dataclass(frozen=True)
class Plan:
    cap: Captured
    part: Partition
    facts: tuple[Facts, ...]
    reference: str  # the task module source the generated file embeds
    summary: str

    @property
    def templates(self) -> tuple[str, ...]:
        return tuple(g.template for g in self.part.groups)

    def initial(self) -> dict[str, Any]:
        return {"groups": [initial(f) for f in self.facts]}

    def allowing_tf32(self) -> Plan:
        """The same plan with TF32 opted in by the user (fp32 matmul groups gain the move)."""
        return replace(self, facts=tuple(replace(f, tf32=True) for f in self.facts))

    def on_gpu(self, sms: int) -> Plan:
        """The same plan for a GPU with ``sms`` SMs (0: unknown, keep the default)."""
        if sms <= 0 or all(f.sms == sms for f in self.facts):
            return self
        return replace(self, facts=tuple(replace(f, sms=sms) for f in self.facts))

    def order(self) -> list[int]:
        """Group indices, heaviest first: the order moves are offered in."""
        return sorted(range(len(self.facts)), key=lambda i: (-self.facts[i].weight, i))


def evaluate(expr: str, hints: dict[str, int]) -> int:
    try:
        return int(expr)
    except ValueError:
        return int(sympy.sympify(expr).subs(hints))


def task_allows_tf32(task: Task) -> bool:
    """A task whose ``PRECISION`` opts into tf32 or lower (:data:`profiling.precision.PRECISIONS`,
    the harness's one list) accepts TF32 products for its fp32 matmuls."""
    return named_precision(task.constants) in PRECISIONS


def _facts(g: Group, part: Partition, hints: dict[str, int], tf32: bool = False) -> Facts:
    sizes = [evaluate(s, hints) for s in g.shape]
    numel = 1
    for s in sizes:
        numel *= s
    item = max((ops.val(n).dtype.itemsize for n in g.members if ops.is_tensor(n)), default=4)
    traffic = len(part.inputs(g)) + len(part.outputs(g))
    logs = any(ops.has_log(n) for n in g.members)  # fast_math applies (reduction, pointwise)
    if g.template == "matmul":
        a = ops.normalized_args(g.anchor)[1 if ops.op_name(g.anchor) == "addmm.default" else 0]
        k = evaluate(str(ops.val(a).shape[-1]), hints)
        m = sizes[-2]
        fp32 = ops.val(a).dtype == torch.float32
        args = ops.normalized_args(g.anchor)
        pair = args[1:3] if ops.op_name(g.anchor) == "addmm.default" else args[:2]
        return Facts("matmul", numel, rows=m, cols=sizes[-1], depth=k, itemsize=item,
                     weight=2.0 * numel * k / 50, fp32_dot=fp32, tf32=tf32,
                     epilogue=len(g.members) > 1,
                     tma=all(_tma_fits(x, hints) for x in pair),
                     a_k_major=_k_major(pair[0], -1, hints),
                     b_k_major=_k_major(pair[1], -2, hints))  # fmt: skip
    if g.template == "reduction":
        c = 1
        for d in g.red_dims:
            c *= sizes[d]
        r = max(1, numel // max(1, c))
        big = [d for d, n in enumerate(sizes) if n > 1]  # size-1 axes do not count
        red = [d for d in big if d in g.red_dims]
        inner = red == big[len(big) - len(red) :]
        split = can_split(g, part.outputs(g))
        return Facts("reduction", numel, rows=r, cols=c, itemsize=item, innermost=inner,
                     weight=float(numel * item * traffic), splittable=split,
                     online=bool(online_pairs(g)), rereads=rereads(g, part.outputs(g)),
                     logs=logs,
                     welford=any(red_kind(n) == "var" for n in g.members))  # fmt: skip
    transposed = has_transpose(Builder(part, g))
    return Facts("pointwise", numel, itemsize=item, weight=float(numel * item * traffic),
                 transposed=transposed, cuda=emit_cuda.supported(Builder(part, g)),
                 logs=logs)  # fmt: skip


def _k_major(node: Any, axis: int, hints: dict[str, int]) -> bool:
    """A matmul operand contiguous along K at its captured strides (``axis``: K's axis, -1
    for A, -2 for B) or with a single K element (no tensor value: taken as K-major)."""
    v = ops.val(node)
    if not isinstance(v, torch.Tensor) or v.dim() < 2:
        return True
    return evaluate(str(v.shape[axis]), hints) == 1 or evaluate(str(v.stride(axis)), hints) == 1


def _tma_fits(node: Any, hints: dict[str, int]) -> bool:
    """A matmul operand a TMA descriptor can describe at its captured strides: a unit stride
    on one of its last two axes (the other read by the transposed descriptor) and every
    other stride a positive multiple of 16 bytes (the generated `_tma_desc` checks the same
    and the base's alignment at run time, and falls back to the pointer kernel)."""
    v = ops.val(node)
    if not isinstance(v, torch.Tensor) or v.dim() < 2:
        return False
    strides = [evaluate(str(s), hints) for s in v.stride()]
    inner = -1 if strides[-1] == 1 else -2 if strides[-2] == 1 else 0
    rest = [s for d, s in enumerate(strides) if d != len(strides) + inner]
    return inner != 0 and all(s > 0 and s * v.dtype.itemsize % 16 == 0 for s in rest)


def describe(part: Partition) -> str:
    parts = []
    for g in part.groups:
        names = Counter(ops.op_name(n).split(".")[0] for n in g.members)
        parts.append(f"{g.template}({', '.join(names)})")
    rest = Counter(
        ops.op_name(n).split(".")[0]
        for n in part.torch_steps()
        if ops.is_tensor(n) and ops.op_name(n) not in ops.VIEWS
    )
    if rest:
        parts.append(f"torch({', '.join(rest)})")
    return " + ".join(parts)


_CAPTURE_LOCK = threading.Lock()


@functools.lru_cache(maxsize=32)
def _plan(name: str, source: str, path: str, task_json: str) -> Plan:
    del name, path  # part of the cache key only
    task = Task.from_dict(json.loads(task_json))
    cap = capture(task)
    part = partition(cap.gm)
    summary = describe(part)
    tf32 = task_allows_tf32(task)
    facts = tuple(_facts(g, part, cap.hints, tf32) for g in part.groups)
    return Plan(cap, part, facts, source, summary)


def graph_plan(task: Task) -> Plan:
    """Capture and partition a task (cached); RealizerError (one line) when it cannot be
    captured. The plan may hold no group (only library calls)."""
    src = task.module_source()
    # the key leaves out the roofline's FLOPs count (bandit.flops attaches it after a first
    # capture of the same task): the graph does not depend on it
    d = task.to_dict()
    d.pop("analysed_flops", None)
    key = json.dumps(d, sort_keys=True)
    with _CAPTURE_LOCK:  # tracing uses process-wide dispatch state: one capture at a time
        return _plan(task.name, src, task.path, key)


def plan_for(task: Task) -> Plan:
    """The plan of a task with something to generate; RealizerError (one line) otherwise."""
    plan = graph_plan(task)
    if not plan.part.groups:
        raise RealizerError(
            f"{task.name}: nothing to generate (the graph is only library calls: "
            f"{plan.summary or 'none'}); use realizer=openai for this task"
        )
    return plan


def tensor_shape(node: Any) -> tuple[str, ...]:
    v = ops.val(node)
    return shape_key(node) if isinstance(v, torch.Tensor) else ()
