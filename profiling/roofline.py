"""The physical floor under a kernel's runtime, and the check against it.

The memory term is the bytes that must cross DRAM at least once divided by the
measured copy bandwidth (which counts bytes read and written): every input and
parameter is read (the L2 is flushed before each timed repetition) and every
output that does not alias an input is written. Writes cannot hide in the L2:
the flush leaves it full of dirty lines, so every line a kernel touches costs a
write-back (measured on an H200: ``x * 2`` from 4 MB to 1 GB never ran below
this floor; it reached it at 1 GB). The compute term is the task's
``get_flops()`` divided by the measured matmul peak for its dtype (bf16/fp16:
the bf16 peak; fp32: the TF32 peak, since an honest fp32 kernel may use TF32).
A candidate measured below ``margin`` times the floor is rejected: it skipped
work, cached results, or hid work from the timer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from profiling.hardware import GpuFacts
from profiling.measurement import RooflineFloor

FLOOR_MARGIN = 0.8


@dataclass(frozen=True)
class Floor:
    memory_ms: float
    compute_ms: float | None
    bytes: int
    flops: int | None

    @property
    def ms(self) -> float:
        return max(self.memory_ms, self.compute_ms or 0.0)

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


def compute_floor(
    inputs: Any, outputs: Any, params: Iterable[Any], flops: int | None, facts: GpuFacts
) -> Floor | None:
    """The floor for one call, or None without measured bandwidth."""
    import torch

    if facts.dram_gbps <= 0:
        return None
    ins = _tensors(inputs) + list(params)
    read, seen = _unique_bytes(ins)
    written, _ = _unique_bytes(_tensors([outputs]), exclude=seen)
    nbytes = read + written
    memory_ms = nbytes / (facts.dram_gbps * 1e9) * 1e3
    compute_ms = None
    if flops:
        dtype = main_dtype(ins)
        if dtype in (torch.bfloat16, torch.float16):
            peak = facts.peak_tflops
        elif dtype == torch.float32:
            peak = facts.peak_tflops_tf32 or facts.peak_tflops / 2
        else:
            peak = 0.0
        if peak > 0:
            compute_ms = flops / (peak * 1e12) * 1e3
    return Floor(memory_ms, compute_ms, nbytes, int(flops) if flops else None)


def floor_violation(
    cand_ms: float, ref_ms: float | None, floor: Floor | None, margin: float = FLOOR_MARGIN
) -> str | None:
    """Error text when the candidate beats the floor by more than the margin.

    When the reference itself runs below the floor, the floor estimate does not
    hold for this task (e.g. outputs that are views) and no verdict is given.
    """
    if floor is None or floor.ms <= 0:
        return None
    limit = margin * floor.ms
    if ref_ms is not None and ref_ms < limit:
        return None
    if cand_ms < limit:
        return (
            f"faster than the roofline floor: {cand_ms:.4g} ms < {margin:g} x {floor.ms:.4g} ms "
            f"({floor.binding}-bound floor)"
        )
    return None


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
