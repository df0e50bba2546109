"""Small helpers shared by the dense generators (elementwise, transpose, matmul).

Strategy ids are matched by their name part (``tiling/block_size_up`` ->
``block_size_up``) so the generators do not depend on which family the catalog
files a strategy under.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

from profiling.tasks import Task
from strategies.offline.base import Params

WARPS = (1, 2, 4, 8, 16, 32)
# Programs per launch for persistent kernels when no CUDA device is present
# (the interpreter): small, so the tile loop runs more than once at smoke sizes.
FALLBACK_SMS = 4

IMPORTS = """\
import functools

import torch
import torch.nn as nn
import triton
import triton.language as tl
"""

# Rendered into modules whose kernels loop over tiles with one program per SM.
NUM_SMS_HELPER = f"""

@functools.lru_cache(maxsize=None)
def _num_sms(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).multi_processor_count
    return {FALLBACK_SMS}
"""

_ELEM_BYTES = {"float32": 4, "float": 4, "bfloat16": 2, "float16": 2, "half": 2, "float64": 8}


def task_constants(task: Task) -> dict[str, Any]:
    """The task's module constants with its size overrides applied."""
    return dict(task.constants)


def task_dtype(task: Task) -> str:
    return str(task_constants(task).get("DTYPE", "float32"))


def elem_bytes(dtype: str) -> int:
    return _ELEM_BYTES.get(dtype, 4)


def pow2_step(value: int, up: bool, lo: int, hi: int) -> int | None:
    """value * 2 or value // 2 when it stays within [lo, hi], else None."""
    new = value * 2 if up else value // 2
    return new if lo <= new <= hi else None


def warps_step(value: int, up: bool, hi: int = 32) -> int | None:
    i = WARPS.index(value) if value in WARPS else WARPS.index(4)
    j = i + (1 if up else -1)
    if j < 0 or j >= len(WARPS) or WARPS[j] > hi:
        return None
    return WARPS[j]


def wider_block(block: int, warps: int, elem: int, hi: int) -> int | None:
    """The 1-D block that gives every thread one 16-byte vector, then two, or None.

    Triton derives the vector width of an access from the contiguous elements
    each thread owns: ``block / (warps * 32)``.
    """
    vec = 16 // elem
    per_thread = block // (warps * 32)
    for target in (vec, 2 * vec):
        if per_thread < target and warps * 32 * target <= hi:
            return warps * 32 * target
    return None


def changed(old: Mapping[str, Any], **updates: Any) -> Params | None:
    """``old`` with ``updates`` applied, or None when nothing changes."""
    new = {**old, **updates}
    return None if new == dict(old) else new


def indent(code: str, spaces: int) -> str:
    return textwrap.indent(code, " " * spaces)


def load(ptr: str, mask: str | None, evict: bool, other: str | None = "0.0") -> str:
    """A ``tl.load`` call; unmasked when ``mask`` is None."""
    args = [ptr]
    if mask is not None:
        args.append(f"mask={mask}")
        if other is not None:
            args.append(f"other={other}")
    if evict:
        args.append('eviction_policy="evict_first"')
    return f"tl.load({', '.join(args)})"


def store(ptr: str, value: str, mask: str | None, evict: bool) -> str:
    args = [ptr, value]
    if mask is not None:
        args.append(f"mask={mask}")
    if evict:
        args.append('eviction_policy="evict_first"')
    return f"tl.store({', '.join(args)})"
