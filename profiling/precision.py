"""The precision policy: the tolerance each reference output is held to.

An fp32 output is held to fp32 (IEEE) unless the reference itself drifts under TF32
(measured once per trial set on a GPU: ``tf32_error``), in which case TF32-level error
is allowed; bf16/fp16 outputs to their own tolerances. A task opts an fp32 output into a
lower precision with a module constant ``PRECISION``: ``"tf32"`` (TF32 products: the TF32
tolerance, fp32's range, so the wide-range probe still runs), ``"bf16"`` or ``"fp16"``
(their tolerances; frees it from the wide-range input probe, whose range is not theirs).
``PRECISIONS`` is the one list of these names: the templates
(:mod:`strategies.graph.plan`) offer reduced-precision moves for exactly these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

import torch

from profiling.correctness import TF32, TOLERANCES, Tolerance, relative_error, tolerance_for
from profiling.state import listify

PRECISIONS = {"tf32": TF32, "bf16": TOLERANCES[torch.bfloat16], "fp16": TOLERANCES[torch.float16]}
FULL_RANGE = frozenset({"tf32"})  # opted precisions that keep fp32's exponent range


def named_precision(constants: Mapping[str, Any]) -> str:
    """The ``PRECISION`` among a task's module constants ("fp32" when absent)."""
    return str(constants.get("PRECISION", "fp32"))


def precision_name(module: ModuleType) -> str:
    """The task module's ``PRECISION`` constant ("fp32" when absent)."""
    return named_precision(vars(module))


def opted_precision(module: ModuleType) -> Tolerance | None:
    """The lower precision a task's module opts into (``PRECISION``), None for fp32."""
    return PRECISIONS.get(precision_name(module))


def wide_range_probe(module: ModuleType) -> bool:
    """Whether the wide-range input probe applies: fp32 and TF32 tasks, not bf16/fp16 ones."""
    name = precision_name(module)
    return name not in PRECISIONS or name in FULL_RANGE


def tf32_error(probe_out: Any, ref_out: Any) -> float:
    """How far the reference run under TF32 drifts from it, over its fp32 outputs."""
    errs = [
        relative_error(p, r)
        for p, r in zip(listify(probe_out), listify(ref_out), strict=False)
        if isinstance(r, torch.Tensor) and r.dtype == torch.float32 and isinstance(p, torch.Tensor)
    ]
    return max(errs, default=0.0)


def tolerances(dtypes: Sequence[torch.dtype | None], opted: Tolerance | None,
               tf32_err: float | None) -> list[Tolerance]:
    """One tolerance per output, by its dtype (see the module's docstring)."""
    return [
        opted if d == torch.float32 and opted is not None
        else tolerance_for(d or torch.float32, tf32_err)
        for d in dtypes
    ]
