"""GPU memory of one evaluation: the task's own bytes, the budget, the rotation sets, the peak.

Budget (see DESIGN.md): an evaluation needs at most about 3x the task's own
input + output bytes (I + O), plus the L2 flush buffer, plus a small fixed
allowance (`evaluation_budget`):

- the L2 flush buffer (3x the L2, at least 256 MiB: 256 MiB on an H200, whose L2 is 60 MiB) is the
  worker's, allocated once before its first evaluation and kept; the peak each
  evaluation reports (`PeakTracker`) is measured above it, so it is not in
  the 3x;
- ``FIXED_ALLOWANCE`` (64 MiB) covers what the first evaluation in a worker
  allocates once and keeps: cuBLAS/cuBLASLt workspaces (PyTorch allocates them
  through its caching allocator on the first matmul, 32 MiB + a few MiB on
  Hopper) and Triton's small global scratch. It does not grow with the task.
  (The CUDA context itself is not a torch allocation and is in no peak.)

Where the rest goes:

- a correctness trial: the inputs (I), the candidate's offset clone (I), its
  output (O), the reference's clone (I) and output (O): 3I + 2O, freed after
  the trial; comparisons run in 1 Mi-element chunks whose float64 temporaries
  (~64 MiB) fit the fixed allowance (`profiling.correctness.CHUNK`; a 16 Mi chunk
  cost ~1 GiB and put every small task at 6-9x its bytes on the H200);
- timing with n rotation sets (`timing_bytes`): the sets (inputs only, n x I),
  one input buffer shared by all contenders (I), the live output (O), the held
  last output (O), and the reference's output for the set being checked,
  computed on the shared buffer when a timed output is checked and freed right
  after (O): (n + 1) I + 3 O. No reference output is kept per set and no
  snapshot of a timed output is held (`profiling.timing` checks each at once).

How many rotation sets (`timing_sets`): the L2 is flushed before every timed
call, whatever the task's size, so the sets are not there to keep data out of
the L2 (a task below the L2's size, about 50 MB on an H200, would stay L2-resident
across calls only without the flush; above it nothing stays). They are there so
that consecutive timed calls see different values at the same address: a kernel
that caches its output by pointer, or returns a stale one, then fails the check.
Two sets do that as well as three (every other call sees new values, and the
number of checked calls per block no longer depends on the set count), and
``2 x I + I + 3 O = 3 (I + O)``: two sets fit the budget for every task. One set
is used only when free memory is short (a big task on a small or busy GPU); the
harness's post-timing trial on fresh inputs still catches stale outputs then.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

MARGIN_BYTES = 512 << 20  # left free for the allocator's rounding and the reference's temporaries
BUDGET_FACTOR = 3  # an evaluation's budget: this many times the task's own bytes ...
FIXED_ALLOWANCE = 64 << 20  # ... plus what a worker's first evaluation allocates once and keeps
MAX_SETS = 2  # rotation sets wanted (see the module's docstring)


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


def evaluation_budget(in_bytes: int, out_bytes: int) -> int:
    """Bytes one evaluation may allocate above what its worker held before it (the L2
    flush buffer is among those): 3 (I + O) plus the fixed allowance."""
    return BUDGET_FACTOR * (in_bytes + out_bytes) + FIXED_ALLOWANCE


def timing_bytes(n_sets: int, in_bytes: int, out_bytes: int) -> int:
    """What the timing stage holds at most with ``n_sets`` rotation sets: (n + 1) I + 3 O."""
    return (n_sets + 1) * in_bytes + 3 * out_bytes


def timing_sets(in_bytes: int, out_bytes: int, wanted: int, avail: int | None) -> int:
    """How many rotation sets (at least 1, at most ``wanted``) fit both in the evaluation's
    budget and in ``avail`` (free memory, less a margin); ``avail`` None (no GPU): ``wanted``."""
    if avail is None:
        return wanted
    limit = min(evaluation_budget(in_bytes, out_bytes), max(0, avail - MARGIN_BYTES))
    n = wanted
    while n > 1 and timing_bytes(n, in_bytes, out_bytes) > limit:
        n -= 1
    return max(1, n)


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
