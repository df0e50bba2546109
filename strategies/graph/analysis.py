"""What a task computes, in numbers: the ATen op list with shapes and dtypes, the
bytes that must cross DRAM, the FLOPs, and the roofline floor on a GPU.

Shared by the graph realizer's plan and the LLM realizer's prompt, so both work
from the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import fx

from profiling.hardware import GpuFacts
from profiling.roofline import matmul_peak
from strategies.graph import ops, row_ops
from strategies.graph.plan import Plan, evaluate

MAX_OPS = 60


@dataclass(frozen=True)
class Analysis:
    ops: tuple[str, ...]  # one line per op: "name = op(shapes) -> shape dtype"
    bytes: int  # inputs, parameters and outputs, each once
    flops: int
    templates: str  # the partition summary
    dtype: torch.dtype | None = None  # the floating dtype holding the most input bytes

    def floor_ms(
        self, gpu: GpuFacts, precision: str = "fp32"
    ) -> tuple[float | None, float | None, str | None]:
        """(memory floor, compute floor, peak name) on this GPU, in ms; None where a fact
        is missing. The compute floor divides by the peak the harness floors the task at
        (`profiling.roofline.matmul_peak`: IEEE fp32 unless ``precision`` opts into TF32,
        bf16/fp16 for half-precision data), so the prompt and the harness agree."""
        mem = self.bytes / (gpu.dram_gbps * 1e6) if gpu.dram_gbps else None
        peak, name = matmul_peak(self.dtype, precision, gpu) if self.flops else (0.0, None)
        comp = self.flops / (peak * 1e9) if peak > 0 else None
        return mem, comp, name

    def text(self, gpu: GpuFacts | None = None, precision: str = "fp32") -> str:
        lines = [f"- partition: {self.templates}"]
        lines.append(
            f"- minimum DRAM traffic: {self.bytes / 1e6:.3f} MB (inputs, weights, outputs once)"
        )
        lines.append(f"- arithmetic: {self.flops / 1e9:.4f} GFLOP")
        if gpu is not None:
            mem, comp, peak = self.floor_ms(gpu, precision)
            if mem is not None:
                bound = "compute" if comp is not None and comp > mem else "memory"
                floor = max(mem, comp or 0.0)
                at = "" if comp is None else f", compute {comp:.4g} ms at the {peak} peak"
                lines.append(f"- roofline floor: {floor:.4g} ms ({bound}-bound; memory "
                             f"{mem:.4g} ms{at})")  # fmt: skip
        shown = self.ops[:MAX_OPS]
        more = len(self.ops) - len(shown)
        lines.append("- ATen ops at this size:\n" + "\n".join(f"    {o}" for o in shown))
        if more:
            lines.append(f"    ... {more} more")
        return "\n".join(lines)


def _shape(node: object, hints: dict[str, int]) -> tuple[int, ...] | None:
    v = ops.val(node)
    if not isinstance(v, torch.Tensor):
        return None
    return tuple(evaluate(str(s), hints) for s in v.shape)


def _numel(shape: tuple[int, ...] | None) -> int:
    n = 1
    for s in shape or ():
        n *= s
    return n


def _desc(node: fx.Node, hints: dict[str, int]) -> str:
    def one(a: object) -> str:
        if isinstance(a, fx.Node):
            s = _shape(a, hints)
            return f"{a.name}{list(s)}" if s is not None else a.name
        return (
            repr(a) if not isinstance(a, list | tuple) else "[" + ", ".join(one(x) for x in a) + "]"
        )

    out = _shape(node, hints)
    v = ops.val(node)
    res = f" -> {list(out)} {str(v.dtype).removeprefix('torch.')}" if out is not None else ""
    return f"{node.name} = {ops.op_name(node)}({', '.join(one(a) for a in node.args)}){res}"


def _flops(node: fx.Node, hints: dict[str, int]) -> int:
    name = ops.op_name(node)
    out = _shape(node, hints)
    if out is None:
        return 0
    if name in ops.MATMULS:
        a = ops.normalized_args(node)[1 if name == "addmm.default" else 0]
        return 2 * _numel(out) * (_shape(a, hints) or (1,))[-1]
    if name == "convolution.default":
        w = _shape(node.args[1], hints) or (1,)
        return 2 * _numel(out) * _numel(w[1:])
    if row_ops.reduction(node):
        return _numel(_shape(node.args[0], hints))
    return _numel(out)


def analyze(plan: Plan) -> Analysis:
    hints = plan.cap.hints
    nodes = plan.part.nodes
    lines, flops, total = [], 0, 0
    for n in nodes:
        if n.op == "call_function" and ops.is_tensor(n):
            lines.append(_desc(n, hints))
            flops += _flops(n, hints)
    outs = next(n for n in nodes if n.op == "output").args[0]
    outs = outs if isinstance(outs, list | tuple) else [outs]
    seen: set[str] = set()
    by_dtype: dict[torch.dtype, int] = {}
    for n in [*(n for n in nodes if n.op == "placeholder"), *outs]:
        if isinstance(n, fx.Node) and n.name not in seen and ops.is_tensor(n):
            seen.add(n.name)
            dt = ops.val(n).dtype
            size = _numel(_shape(n, hints)) * dt.itemsize
            total += size
            if n.op == "placeholder" and dt.is_floating_point:
                by_dtype[dt] = by_dtype.get(dt, 0) + size
    dtype = max(by_dtype, key=lambda d: by_dtype[d]) if by_dtype else None
    return Analysis(tuple(lines), total, flops, plan.summary, dtype)
