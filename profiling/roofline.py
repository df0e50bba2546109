"""The physical floor under a kernel's runtime, and the check against it.

The memory term is the bytes that must cross DRAM at least once divided by the
measured copy bandwidth (which counts bytes read and written): every input and
parameter is read (the L2 is flushed before each timed repetition) and every
output that does not alias an input is written. Writes cannot hide in the L2:
the flush leaves it full of dirty lines, so every line a kernel touches costs a
write-back (measured on an H200: ``x * 2`` from 4 MB to 1 GB never ran below
this floor; it reached it at 1 GB).

The compute term is the task's FLOPs divided by a measured matmul peak
(:class:`profiling.hardware.GpuFacts`). The FLOPs are the module's own
``get_flops()`` when it defines one, else the count the task spec carries
(``Task.analysed_flops``: the graph analysis of its reference, attached above the
harness); the floor records which (``flops_source``). The peak follows the
precision the task is held to (:mod:`profiling.precision`): bf16/fp16 data, or an
fp32 task opted into ``PRECISION = "bf16"``/``"fp16"``: the bf16 peak; an fp32 task
opted into ``"tf32"``: the TF32 peak; any other fp32 task: the IEEE fp32 peak
(TF32 off), falling back to the TF32 peak where that was never measured (a lower
floor, never a wrong rejection). The floor records which (``peak``).

A candidate measured below ``margin`` times the floor is rejected: it skipped
work, cached results, or hid work from the timer. Where the correctness check
admits TF32-level error on an fp32 task that did not opt in (its reference is
TF32-sensitive, :func:`profiling.correctness.tolerance_for`), an honest kernel may
use TF32, so that check uses the compute term at the TF32 peak (``check_ms``);
elsewhere an fp32 product keeps fp32-level error as three TF32 products (3xTF32,
`strategies.graph.emit_matmul`), so the check uses a third of the TF32 peak where that
is above the IEEE one. The reported floor (``ms``) stays the IEEE one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from profiling.hardware import GpuFacts
from profiling.measurement import RooflineFloor

FLOOR_MARGIN = 0.8
FLOPS_FROM_TASK = "task"  # the module's get_flops()
FLOPS_FROM_ANALYSIS = "graph analysis"  # Task.analysed_flops
PEAK_BF16, PEAK_TF32, PEAK_FP32 = "bf16", "tf32", "fp32"


@dataclass(frozen=True)
class Floor:
    memory_ms: float
    compute_ms: float | None
    bytes: int
    flops: int | None
    flops_source: str | None = None  # FLOPS_FROM_TASK or FLOPS_FROM_ANALYSIS
    peak: str | None = None  # the matmul peak compute_ms is taken at (PEAK_*)
    # the compute term at the fastest peak the correctness check admits, where lower
    admitted_compute_ms: float | None = None

    @property
    def ms(self) -> float:
        return max(self.memory_ms, self.compute_ms or 0.0)

    @property
    def check_ms(self) -> float:
        """The floor a candidate is rejected below (with the margin): ``ms``, or with the
        compute term an admitted lower precision (TF32) reaches."""
        if self.admitted_compute_ms is None:
            return self.ms
        return max(self.memory_ms, self.admitted_compute_ms)

    @property
    def binding(self) -> str:
        return "compute" if (self.compute_ms or 0.0) > self.memory_ms else "memory"

    def record(self) -> RooflineFloor:
        """The typed floor a `Measurement` carries."""
        return RooflineFloor(
            ms=self.ms,
            bytes=self.bytes,
            flops=self.flops,
            bound=self.binding,
            memory_ms=self.memory_ms,
            compute_ms=self.compute_ms,
            flops_source=self.flops_source,
            peak=self.peak,
        )


def _tensors(objs: Iterable[Any]) -> list[Any]:
    import torch

    out = []
    for o in objs:
        if isinstance(o, torch.Tensor):
            out.append(o)
        elif isinstance(o, tuple | list):
            out.extend(_tensors(o))
    return out


def _unique_bytes(tensors: Iterable[Any], exclude: set[int] | None = None) -> tuple[int, set[int]]:
    seen: set[int] = set(exclude or ())
    total = 0
    for t in tensors:
        key = t.untyped_storage().data_ptr()
        if key in seen:
            continue
        seen.add(key)
        total += t.numel() * t.element_size()
    return total, seen


def main_dtype(tensors: Iterable[Any]) -> Any:
    """The floating dtype holding the most bytes (None when there is none)."""
    by: dict[Any, int] = {}
    for t in tensors:
        if t.is_floating_point():
            by[t.dtype] = by.get(t.dtype, 0) + t.numel() * t.element_size()
    return max(by, key=lambda d: by[d]) if by else None


def _tf32_peak(facts: GpuFacts) -> float:
    return facts.peak_tflops_tf32 or facts.peak_tflops / 2


def matmul_peak(dtype: Any, precision: str, facts: GpuFacts) -> tuple[float, str | None]:
    """The measured matmul peak (TFLOP/s) a task's arithmetic is floored at, and its name.

    ``dtype``: the task's main floating dtype; ``precision``: its ``PRECISION`` name
    (:func:`profiling.precision.precision_name`, "fp32" when it opted into nothing).
    (0.0, None) where no peak applies (no floating data, nothing measured).
    """
    import torch

    if dtype in (torch.bfloat16, torch.float16) or (
        dtype == torch.float32 and precision in ("bf16", "fp16")
    ):
        return (facts.peak_tflops, PEAK_BF16) if facts.peak_tflops > 0 else (0.0, None)
    if dtype != torch.float32:
        return 0.0, None
    if precision != PEAK_TF32 and facts.peak_tflops_fp32 > 0:
        return facts.peak_tflops_fp32, PEAK_FP32
    tf32 = _tf32_peak(facts)  # opted into TF32, or the IEEE peak was never measured
    return (tf32, PEAK_TF32) if tf32 > 0 else (0.0, None)


def compute_floor(
    inputs: Any,
    outputs: Any,
    params: Iterable[Any],
    flops: int | None,
    facts: GpuFacts,
    *,
    flops_source: str | None = None,
    precision: str = "fp32",
    tf32_admitted: bool = False,
) -> Floor | None:
    """The floor for one call, or None without measured bandwidth.

    ``precision``: the task's ``PRECISION`` name (picks the peak, `matmul_peak`);
    ``tf32_admitted``: whether the correctness check admits TF32-level error on its
    fp32 outputs (then a TF32 kernel is honest: `Floor.check_ms`).
    """
    if facts.dram_gbps <= 0:
        return None
    ins = _tensors(inputs) + list(params)
    read, seen = _unique_bytes(ins)
    written, _ = _unique_bytes(_tensors([outputs]), exclude=seen)
    nbytes = read + written
    memory_ms = nbytes / (facts.dram_gbps * 1e9) * 1e3
    compute_ms = admitted_ms = None
    peak_name = None
    if flops:
        peak, peak_name = matmul_peak(main_dtype(ins), precision, facts)
        if peak > 0:
            compute_ms = flops / (peak * 1e12) * 1e3
        # fp32 products at fp32-level error also run as three TF32 products (3xTF32); where
        # TF32-level error is admitted, as one
        tf32 = _tf32_peak(facts) / (1 if tf32_admitted else 3)
        if peak_name == PEAK_FP32 and tf32 > peak:
            admitted_ms = flops / (tf32 * 1e12) * 1e3
    return Floor(
        memory_ms,
        compute_ms,
        nbytes,
        int(flops) if flops else None,
        flops_source=flops_source if flops else None,
        peak=peak_name if compute_ms is not None else None,
        admitted_compute_ms=admitted_ms,
    )


def floor_violation(
    cand_ms: float, ref_ms: float | None, floor: Floor | None, margin: float = FLOOR_MARGIN
) -> str | None:
    """Error text when the candidate beats the floor by more than the margin.

    When the reference itself runs below the floor, the floor estimate does not
    hold for this task (e.g. outputs that are views) and no verdict is given.
    """
    if floor is None or floor.check_ms <= 0:
        return None
    limit = margin * floor.check_ms
    if ref_ms is not None and ref_ms < limit:
        return None
    if cand_ms < limit:
        return (
            f"faster than the roofline floor: {cand_ms:.4g} ms < {margin:g} x "
            f"{floor.check_ms:.4g} ms ({floor.binding}-bound floor)"
        )
    return None


def floor_flops(mod: Any, analysed: int | None) -> tuple[int | None, str | None]:
    """The FLOPs the compute floor uses and where they came from: the module's own
    ``get_flops()`` wins; else ``analysed`` (``Task.analysed_flops``); else (None, None)."""
    own = task_flops(mod)
    if own is not None:
        return own, FLOPS_FROM_TASK
    if analysed is not None and analysed > 0:
        return int(analysed), FLOPS_FROM_ANALYSIS
    return None, None


def task_flops(mod: Any) -> int | None:
    """The task module's optional ``get_flops()`` (None when absent, failing or not positive)."""
    fn = getattr(mod, "get_flops", None)
    if not callable(fn):
        return None
    try:
        v = int(fn())
    except Exception:
        return None
    return v if v > 0 else None
