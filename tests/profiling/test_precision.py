"""The precision policy: which tolerance each reference output is held to."""

from __future__ import annotations

import types

import torch

from profiling.correctness import TOLERANCES, tolerance_for
from profiling.precision import opted_precision, tf32_error, tolerances


def _module(**consts):
    return types.SimpleNamespace(**consts)


def test_a_task_opts_fp32_outputs_into_bf16_or_fp16_and_nothing_else():
    assert opted_precision(_module()) is None
    assert opted_precision(_module(PRECISION="fp32")) is None
    assert opted_precision(_module(PRECISION="bf16")) == TOLERANCES[torch.bfloat16]
    assert opted_precision(_module(PRECISION="fp16")) == TOLERANCES[torch.float16]
    assert opted_precision(_module(PRECISION="int4")) is None


def test_tolerances_follow_each_outputs_dtype_and_the_opt_in():
    bf16 = TOLERANCES[torch.bfloat16]
    dtypes = [torch.float32, torch.bfloat16, None]
    assert tolerances(dtypes, None, None) == [
        tolerance_for(torch.float32), tolerance_for(torch.bfloat16), tolerance_for(torch.float32)
    ]
    # the opt-in replaces fp32 only; a TF32-sensitive reference widens fp32, never bf16
    assert tolerances(dtypes, bf16, None)[0] == bf16
    assert tolerances(dtypes, bf16, None)[1] == tolerance_for(torch.bfloat16)
    wide = tolerances([torch.float32], None, 1e-3)[0]
    assert wide == tolerance_for(torch.float32, 1e-3) and wide != tolerance_for(torch.float32)


def test_tf32_error_is_the_worst_fp32_output_drift():
    ref = [torch.ones(8), torch.ones(8, dtype=torch.bfloat16), 3]
    probe = [torch.ones(8) * 1.01, torch.zeros(8, dtype=torch.bfloat16), 4]
    assert abs(tf32_error(probe, ref) - 0.01) < 1e-6  # the bf16 and non-tensor outputs ignored
    assert tf32_error(torch.ones(4), torch.ones(4)) == 0.0


def test_tf32_opt_in_has_the_tf32_tolerance_and_keeps_the_wide_probe() -> None:
    from profiling.correctness import TF32
    from profiling.precision import wide_range_probe

    assert opted_precision(_module(PRECISION="tf32")) == TF32
    assert wide_range_probe(_module(PRECISION="tf32"))
    assert wide_range_probe(_module())
    assert not wide_range_probe(_module(PRECISION="bf16"))
    assert not wide_range_probe(_module(PRECISION="fp16"))


def test_the_templates_offer_tf32_for_exactly_the_harness_precisions() -> None:
    from types import SimpleNamespace

    from profiling.precision import PRECISIONS
    from strategies.graph.plan import task_allows_tf32

    for name in PRECISIONS:
        assert task_allows_tf32(SimpleNamespace(constants={"PRECISION": name}))
    for name in ("fp32", "int8", ""):
        assert not task_allows_tf32(SimpleNamespace(constants={"PRECISION": name}))
    assert not task_allows_tf32(SimpleNamespace(constants={}))
