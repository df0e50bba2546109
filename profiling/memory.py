"""GPU memory of one evaluation: the task's own bytes, what is free, the peak.

Budget (see DESIGN.md): an evaluation needs at most about 3x the task's own
input + output bytes (I + O) plus the L2 flush buffer. Where the memory goes:

- a correctness trial: the inputs (I), the candidate's offset clone (I), its
  output (O), the reference's clone (I) and output (O): 3I + 2O, freed after
  the trial; comparisons run in chunks (bounded temporaries);
- timing: the rotation sets (I + O each), one input buffer shared by all
  contenders (I), the live output (O) and one snapshot per checked call (O):
  with one set 2I + 3O.

The number of rotation sets (1..3) is chosen from the memory free after the
trials and the budget (3x the task's bytes, at least 4 GiB), so a 6 GB-a-tensor
elementwise op uses one set, a small one three.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

MARGIN_BYTES = 512 << 20  # left free for the allocator, cuBLAS workspaces, Triton
BUDGET_FACTOR = 3  # an evaluation's budget: this many times the task's own bytes ...
SMALL_TASK_BYTES = 4 << 30  # ... or this much, whichever is more (small tasks: 3 sets)


def tensor_bytes(objs: Iterable[Any]) -> int:
    """Bytes of the distinct storages among the tensors in ``objs`` (nested lists too)."""
    seen: set[tuple[str, int]] = set()
    total = 0
    stack = list(objs)
    while stack:
        x = stack.pop()
        if isinstance(x, list | tuple):
            stack.extend(x)
        elif isinstance(x, torch.Tensor) and x.numel() > 0:
            st = x.untyped_storage()
            key = (x.device.type, st.data_ptr())
            if key not in seen:
                seen.add(key)
                total += st.nbytes()
    return total


def available_bytes() -> int | None:
    """Memory the next allocations can use: free on the device plus torch's idle cache."""
    if not torch.cuda.is_available():
        return None
    free, _ = torch.cuda.mem_get_info()
    return int(free + torch.cuda.memory_reserved() - torch.cuda.memory_allocated())


def timing_sets(in_bytes: int, out_bytes: int, wanted: int, avail: int | None) -> int:
    """How many rotation sets fit next to timing's own needs (at least 1, at most ``wanted``),
    within both the free memory and the evaluation's budget (a big task gets one set)."""
    if avail is None:
        return wanted
    per_set = in_bytes + out_bytes
    avail = min(avail, max(BUDGET_FACTOR * per_set, SMALL_TASK_BYTES))
    # timing itself: the shared input buffer, the live output, one snapshot per set,
    # and the reference's input clone while a set is generated
    fixed = 2 * in_bytes + 2 * out_bytes + MARGIN_BYTES
    extra = max(0, avail - fixed - per_set) // max(per_set + out_bytes, 1)
    return int(max(1, min(wanted, 1 + extra)))


class PeakTracker:
    """Peak GPU bytes allocated by one evaluation (above what was allocated before it)."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda
        self.base = 0
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()

    def peak(self) -> int | None:
        if not self.cuda:
            return None
        return int(torch.cuda.max_memory_allocated() - self.base)
