"""Chat messages for the LLM realizer: output contract, parent kernel, strategy.

A prompt is built from one `RealizeRequest` and nothing else, so it is bounded:
every variable part (reference, parent source, error text, counters, guidance)
is cut to a fixed cap, and the run's history never enters it.
"""

from __future__ import annotations

from dataclasses import dataclass

from profiling.hardware import GpuFacts
from profiling.measurement import Measurement
from strategies.hardware_text import describe_counters
from strategies.types import RealizeRequest

Message = dict[str, str]


@dataclass(frozen=True)
class PromptLimits:
    """Character caps for the variable parts of a prompt."""

    reference_chars: int = 12_000
    parent_chars: int = 16_000
    error_chars: int = 2_000
    guidance_chars: int = 4_000
    counters: int = 3  # warp-stall reasons quoted with the parent's hardware counters


DEFAULT_LIMITS = PromptLimits()


def truncate(text: str, cap: int) -> str:
    """Keep the head and the tail of ``text``, at most ``cap`` characters plus a marker."""
    if len(text) <= cap:
        return text
    head = cap * 2 // 3
    tail = cap - head
    omitted = len(text) - head - tail
    return f"{text[:head]}\n# ... [{omitted} characters omitted] ...\n{text[len(text) - tail :]}"


_CONTRACT = """\
You are an expert GPU kernel engineer. You rewrite PyTorch programs into faster custom GPU kernels.

Output contract:
- Reply with exactly one fenced ```python code block holding a complete, self-contained Python \
module. No prose is needed; anything outside the block is ignored.
- The module defines `class ModelNew(torch.nn.Module)`. Its constructor takes exactly the same \
arguments as the reference `Model`'s constructor, and `forward` takes the same inputs and returns \
the same outputs (shape, dtype and values within tolerance).
{backend}
- Imports are limited to: torch, triton, math, numpy, cupy, functools, typing, itertools, \
operator, dataclasses, collections.
- Do not read or write files, the network, processes or environment variables; do not use side \
CUDA streams; do not cache outputs between calls; do not modify the inputs; do not patch torch, \
triton or timers. Results are checked on fresh random inputs and timed under a profiler."""

_BACKENDS = {
    "triton": (
        "- The heavy computation runs in your own Triton kernels (`import triton`, `import "
        "triton.language as tl`, `@triton.jit`). PyTorch may allocate outputs, make views and "
        "launch kernels, but must not compute the result with the PyTorch ops being replaced."
    ),
    "cuda": (
        "- The heavy computation runs in your own CUDA C++ kernel, written as a Python string "
        '(`extern "C" __global__ ...`) and compiled once with `cupy.RawKernel` or '
        "`cupy.RawModule`. Pass tensors zero-copy (`cupy.asarray(t)` or `t.data_ptr()`), launch on "
        "PyTorch's current stream (`cupy.cuda.ExternalStream(torch.cuda.current_stream()."
        "cuda_stream)`), and return torch tensors. PyTorch may allocate outputs and make views "
        "but must not compute the result with the PyTorch ops being replaced."
    ),
}


def system_message(target: str) -> str:
    backend = _BACKENDS.get(target, _BACKENDS["triton"])
    return _CONTRACT.format(backend=backend)


def describe_gpu(gpu: GpuFacts) -> str:
    facts = [f"- device: {gpu.name}"]
    if gpu.compute_capability:
        facts.append(f"- compute capability: {gpu.compute_capability}")
    if gpu.sm_count:
        facts.append(f"- streaming multiprocessors: {gpu.sm_count}")
    if gpu.l2_bytes:
        facts.append(f"- L2 cache: {gpu.l2_bytes / 2**20:.0f} MiB")
    if gpu.smem_per_block_bytes:
        facts.append(f"- shared memory per block: {gpu.smem_per_block_bytes // 1024} KiB")
    if gpu.dram_gbps:
        facts.append(f"- measured DRAM bandwidth: {gpu.dram_gbps:.0f} GB/s")
    if gpu.peak_tflops:
        facts.append(f"- measured bf16 matmul peak: {gpu.peak_tflops:.0f} TFLOP/s")
    if gpu.peak_tflops_tf32:
        facts.append(f"- measured fp32 matmul peak with TF32: {gpu.peak_tflops_tf32:.0f} TFLOP/s")
    if gpu.peak_tflops_fp32:
        facts.append(f"- measured IEEE fp32 matmul peak: {gpu.peak_tflops_fp32:.0f} TFLOP/s")
    return "\n".join(facts)


def describe_measurement(m: Measurement | None, limits: PromptLimits = DEFAULT_LIMITS) -> str:
    if m is None:
        return "- not measured yet"
    lines = [f"- status: {m.status}"]
    if m.error:
        lines.append(f"- error:\n```\n{truncate(m.error.strip(), limits.error_chars)}\n```")
    if m.runtime_ms is not None:
        where = "GPU time" if m.timing_kind == "gpu" else f"{m.timing_kind} time, not GPU time"
        ref = f", reference {m.ref_runtime_ms:.4g} ms" if m.ref_runtime_ms is not None else ""
        lines.append(f"- runtime: {m.runtime_ms:.4g} ms ({where}){ref}")
    if m.speedup is not None:
        lines.append(f"- speedup over the reference: {m.speedup:.3g}x")
    if m.roofline_fraction is not None and m.floor is not None:
        lines.append(
            f"- roofline: {100 * m.roofline_fraction:.0f}% of the physical floor "
            f"({m.floor.bound}-bound)"
        )
    hardware = describe_counters(
        m.counters,
        roofline_fraction=m.roofline_fraction,
        runtime_ms=m.runtime_ms if m.timing_kind == "gpu" else None,
        max_stalls=limits.counters,
        show_roofline=False,
    )
    if hardware:
        lines.append(hardware)
    resources = m.diagnostics.resources
    if resources:
        lines.append(
            "- resources: " + ", ".join(f"{k}={v:g}" for k, v in sorted(resources.items()))
        )
    return "\n".join(lines)


def graph_analysis(request: RealizeRequest) -> str:
    """The op list with shapes and dtypes, bytes, FLOPs and the floor; "" when the
    reference cannot be captured (the prompt then goes without it)."""
    from profiling.precision import named_precision
    from strategies.errors import RealizerError
    from strategies.graph.analysis import analyze
    from strategies.graph.plan import graph_plan

    try:
        return analyze(graph_plan(request.task)).text(
            request.gpu, named_precision(request.task.constants)
        )
    except RealizerError:
        return ""


def _fenced(source: str, cap: int) -> str:
    return f"```python\n{truncate(source.strip(), cap)}\n```"


def user_message(request: RealizeRequest, limits: PromptLimits = DEFAULT_LIMITS) -> str:
    task, strategy = request.task, request.strategy
    reference = task.module_source()
    size = task.size + (
        f" ({', '.join(f'{k}={v}' for k, v in task.overrides.items())})" if task.overrides else ""
    )
    parts = [
        f"## Task\n{task.name} (kind: {task.kind}, size: {size})",
        "## Reference program (defines Model, get_inputs, get_init_inputs)\n"
        + _fenced(reference, limits.reference_chars),
    ]
    analysis = graph_analysis(request)
    if analysis:
        parts.append("## What the reference computes (its captured ATen graph)\n" + analysis)
    if request.parent_source.strip() in (reference.strip(), task.source.strip()):
        parts.append(
            "## Parent kernel\nThe parent is the reference program itself: write the "
            "first custom-kernel version of it."
        )
    else:
        parts.append(
            "## Parent kernel (the version to improve)\n"
            + _fenced(request.parent_source, limits.parent_chars)
        )
    parts += [
        "## Parent measurement\n" + describe_measurement(request.parent_measurement, limits),
        f"## Strategy to apply: {strategy.id}\n{strategy.description}\n\n"
        + truncate(strategy.guidance.strip(), limits.guidance_chars),
        "## Target GPU\n" + describe_gpu(request.gpu),
        "## Constraints\n"
        f"- Apply the strategy `{strategy.id}` to the parent; keep what already works.\n"
        "- Stay correct for every shape `get_inputs` can produce at other sizes: derive sizes, "
        "strides and grids from the inputs at run time, mask ragged edges.\n"
        "- Keep the reference's dtypes and numerics (accumulate in float32).\n"
        "- Reply with the complete module in one ```python block.",
    ]
    return "\n\n".join(parts)


def realize_messages(
    request: RealizeRequest, limits: PromptLimits = DEFAULT_LIMITS
) -> list[Message]:
    return [
        {"role": "system", "content": system_message(request.strategy.target)},
        {"role": "user", "content": user_message(request, limits)},
    ]


def repair_messages(
    request: RealizeRequest,
    source: str,
    measurement: Measurement,
    limits: PromptLimits = DEFAULT_LIMITS,
) -> list[Message]:
    """The original turn, the failed module as the assistant's answer, then the error."""
    error = truncate((measurement.error or "(no error text)").strip(), limits.error_chars)
    feedback = (
        f"Your module failed with status `{measurement.status}`:\n```\n{error}\n```\n"
        f"Fix it and reply with the complete corrected module in one ```python block, still "
        f"applying the strategy `{request.strategy.id}`."
    )
    return [
        *realize_messages(request, limits),
        {"role": "assistant", "content": _fenced(source, limits.parent_chars)},
        {"role": "user", "content": feedback},
    ]
