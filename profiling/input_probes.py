"""Inputs beyond the task's own distribution, and a second, awkward shape.

A candidate that is right only on ``torch.rand`` inputs (a ReLU that copies its
input), only when nothing it mutates shows (an in-place ReLU on non-negative
data), or only at sizes that are multiples of its block (no bounds mask) passes
the task's own trials. The harness therefore also runs:

- a *signed* probe: every floating input redrawn as ``randn * 3`` (negatives,
  zeros crossed, mutation shows);
- a *wide* probe: floating inputs ``randn * 1e5`` (beyond fp16's range, so
  an fp16 downgrade of an fp32 task overflows);
- an *odd-size* probe (chosen by the parent): every even size constant
  replaced by an odd one no larger than ``ODD_CAP``, so that no size is a
  multiple of a common block size.

A probe counts only where the reference allows it: if the reference gives
NaN/Inf on the probe inputs where it gave finite values on the task's own, or
fails at the odd size, the probe is skipped. A task narrows the domain with a
module constant ``INPUT_DOMAIN``: ``"any"`` (default), ``"nonnegative"``,
``"positive"`` (probes keep the sign: ``|randn| * scale``, plus a tiny offset
for positive) or ``"task"`` (no value probes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

DOMAINS = ("any", "nonnegative", "positive", "task")
SIGNED_SCALE = 3.0
WIDE_SCALE = 1e5
ODD_CAP = 513
# constants that are never sizes (dtype names, flags) are not ints, so only ints change;
# these int-valued names are left alone as well (dimension indices, seeds, counts of things)
NOT_SIZES = frozenset({"DIM_INDEX", "SEED", "AXIS", "REDUCE_DIM", "NUM_LAYERS"})


def input_domain(module: Any) -> str:
    d = getattr(module, "INPUT_DOMAIN", "any")
    return d if d in DOMAINS else "any"


def probe_inputs(inputs: Sequence[Any], kind: str, domain: str, seed: int) -> list[Any] | None:
    """Floating inputs redrawn for probe ``kind`` ("signed" or "wide"); None to skip."""
    if domain == "task":
        return None
    scale = SIGNED_SCALE if kind == "signed" else WIDE_SCALE
    g = torch.Generator(device="cpu").manual_seed(seed)
    out: list[Any] = []
    changed = False
    for x in inputs:
        if isinstance(x, torch.Tensor) and x.is_floating_point() and x.numel() > 0:
            y = torch.randn(x.shape, generator=g, dtype=torch.float32).to(x.device)
            if domain in ("nonnegative", "positive"):
                y = y.abs_()
            y = y.mul_(scale)
            if domain == "positive":
                y = y.add_(1e-3)
            out.append(y.to(x.dtype))
            changed = True
        else:
            out.append(x)
    return out if changed else None


def output_finite(out: Any) -> list[bool]:
    """Per output: whether the reference's output on the task's own inputs is all finite."""
    from profiling.correctness import all_finite, flatten_output

    return [
        not (isinstance(t, torch.Tensor) and t.is_floating_point()) or all_finite(t)
        for t in flatten_output(out)
    ]


def reference_allows(probe_out: Any, finite: Sequence[bool]) -> bool:
    """The probe is meaningful: no NaN/Inf in the reference's output that its own inputs lacked."""
    from profiling.correctness import all_finite, flatten_output

    for p, was_finite in zip(flatten_output(probe_out), finite, strict=False):
        floating = isinstance(p, torch.Tensor) and p.is_floating_point() and p.numel() > 0
        if floating and was_finite and not all_finite(p):
            return False
    return True


def _odd(v: int) -> int:
    v = min(v, ODD_CAP)
    return v if v % 2 else v - 1


def odd_size_specs(consts: Mapping[str, Any], overrides: Mapping[str, Any]) -> list[str]:
    """Size specs to try, in order, for the odd-size probe (empty when nothing can change).

    First every even size constant at once, then each alone (a task whose sizes are
    tied, e.g. heads dividing a width, still gets one odd dimension).
    """
    current = {**consts, **overrides}
    names = [
        k
        for k, v in current.items()
        if isinstance(v, int) and not isinstance(v, bool) and v >= 2 and k not in NOT_SIZES
    ]
    even = [k for k in names if _odd(current[k]) != current[k]]
    if not even:
        return []
    base = {k: v for k, v in overrides.items()}

    def spec(keys: Sequence[str]) -> str:
        d = {**base, **{k: _odd(int(current[k])) for k in keys}}
        return ",".join(f"{k}={v}" for k, v in d.items())

    specs = [spec(even)]
    if len(even) > 1:
        specs += [spec([k]) for k in even]
    return specs[:4]


def offset_clone(xs: Sequence[Any], trial: int) -> list[Any]:
    """Clones of the inputs, at an address that differs between consecutive trials.

    On odd trials each contiguous tensor lives 256 bytes into a slightly larger
    allocation, so a kernel (or CUDA graph) that cached its first call's
    pointers does not find them again even when the allocator reuses a block.
    """
    out: list[Any] = []
    for x in xs:
        if not isinstance(x, torch.Tensor):
            out.append(x)
            continue
        if trial % 2 == 0 or not x.is_contiguous() or x.numel() == 0:
            out.append(x.clone())
            continue
        pad = max(1, 256 // x.element_size())
        store = torch.empty(x.numel() + pad, dtype=x.dtype, device=x.device)
        y = store[pad:].view(x.shape)
        y.copy_(x)
        out.append(y)
    return out
