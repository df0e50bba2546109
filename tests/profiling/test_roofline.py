from dataclasses import replace

import torch

from profiling.hardware import GpuFacts
from profiling.roofline import (
    FLOPS_FROM_ANALYSIS,
    FLOPS_FROM_TASK,
    compute_floor,
    floor_flops,
    floor_violation,
)

FACTS = GpuFacts(
    name="fake", l2_bytes=1 << 20, dram_gbps=1000.0, peak_tflops=100.0, peak_tflops_tf32=50.0
)


def test_memory_floor_counts_inputs_params_and_outputs_once():
    x = torch.empty(1 << 20, dtype=torch.float32)  # 4 MiB in
    y = torch.empty(1 << 20, dtype=torch.float32)  # 4 MiB out
    w = torch.empty(1 << 18, dtype=torch.float32)  # 1 MiB of parameters
    f = compute_floor([x, x.view(-1)], y, [w], None, FACTS)  # the view is not counted twice
    assert f.bytes == (4 << 20) + (1 << 20) + (4 << 20)
    assert abs(f.memory_ms - f.bytes / 1e12 * 1e3) < 1e-12
    assert f.compute_ms is None and f.binding == "memory" and f.ms == f.memory_ms


def test_output_aliasing_an_input_is_not_written():
    x = torch.empty(1 << 22)
    f = compute_floor([x], x.view(2, -1), [], None, FACTS)
    assert f.bytes == x.numel() * 4


def test_compute_floor_uses_peak_by_dtype():
    a = torch.empty(16, dtype=torch.bfloat16)
    f = compute_floor([a], a.clone(), [], 10**12, FACTS)
    assert abs(f.compute_ms - 10.0) < 1e-9 and f.binding == "compute"
    b = torch.empty(16, dtype=torch.float32)
    assert abs(compute_floor([b], b.clone(), [], 10**12, FACTS).compute_ms - 20.0) < 1e-9


def test_floor_violation_with_margin_and_reference_sanity():
    f = compute_floor([torch.empty(1 << 20)], torch.empty(1), [], None, FACTS)  # ~4.2 us
    ms = f.ms
    assert floor_violation(0.5 * ms, 10 * ms, f) is not None
    assert "roofline" in floor_violation(0.5 * ms, 10 * ms, f)
    assert floor_violation(0.9 * ms, 10 * ms, f) is None
    assert floor_violation(0.5 * ms, 0.5 * ms, f) is None  # the floor does not hold for this task
    assert floor_violation(0.5 * ms, None, None) is None
    assert compute_floor([], None, [], None, GpuFacts()) is None


# -- the peak follows the task's precision; FLOPs from the task or the analysis --------

PEAKS = GpuFacts(
    name="fake", dram_gbps=1000.0, peak_tflops=100.0, peak_tflops_tf32=50.0,
    peak_tflops_fp32=10.0,
)  # fmt: skip
FLOPS = 10**12  # 10 ms at 100 TFLOP/s, 20 ms at 50, 100 ms at 10


def _floor(dtype, precision="fp32", facts=PEAKS, **kw):
    a = torch.empty(16, dtype=dtype)
    return compute_floor([a], a.clone(), [], FLOPS, facts, precision=precision, **kw)


def test_fp32_without_opt_in_is_floored_at_the_ieee_fp32_peak():
    f = _floor(torch.float32)
    assert abs(f.compute_ms - 100.0) < 1e-9 and f.peak == "fp32"
    assert f.record().peak == "fp32" and f.record().compute_ms == f.compute_ms


def test_fp32_opted_into_tf32_keeps_the_tf32_peak():
    f = _floor(torch.float32, precision="tf32")
    assert abs(f.compute_ms - 20.0) < 1e-9 and f.peak == "tf32"


def test_fp32_opted_into_bf16_and_bf16_data_use_the_bf16_peak():
    for f in (_floor(torch.float32, precision="bf16"), _floor(torch.bfloat16),
              _floor(torch.float16)):  # fmt: skip
        assert abs(f.compute_ms - 10.0) < 1e-9 and f.peak == "bf16"


def test_an_unmeasured_fp32_peak_falls_back_to_the_tf32_one():
    old = replace(PEAKS, peak_tflops_fp32=0.0)  # facts cached before the fp32 peak existed
    f = _floor(torch.float32, facts=old)
    assert abs(f.compute_ms - 20.0) < 1e-9 and f.peak == "tf32"
    assert f.admitted_compute_ms is None


def test_a_tf32_kernel_the_precision_policy_admits_is_not_rejected():
    """The reported floor is IEEE; the rejection uses the TF32 peak when TF32 error passes."""
    admitted = _floor(torch.float32, tf32_admitted=True)
    strict = _floor(torch.float32)
    assert admitted.ms == strict.ms == 100.0  # reported: IEEE fp32
    assert abs(admitted.check_ms - 20.0) < 1e-9 and abs(strict.check_ms - 60.0) < 1e-9
    tf32_speed = 25.0  # faster than 0.8 x the IEEE floor, slower than 0.8 x the TF32 one
    assert floor_violation(tf32_speed, 500.0, admitted) is None
    assert "roofline" in floor_violation(tf32_speed, 500.0, strict)
    assert floor_violation(10.0, 500.0, admitted) is not None  # below even the TF32 floor


def test_an_fp32_product_as_three_tf32_products_is_not_rejected():
    """fp32-level error on tensor cores (3xTF32) runs at a third of the TF32 peak: the
    rejection uses that where it is above the IEEE peak; the reported floor stays IEEE."""
    strict = _floor(torch.float32)
    assert strict.ms == 100.0 and abs(strict.check_ms - 60.0) < 1e-9  # 50 / 3 TFLOP/s
    assert floor_violation(55.0, 500.0, strict) is None  # under 0.8 x 100, over 0.8 x 60
    assert "roofline" in floor_violation(40.0, 500.0, strict)
    slow_tc = replace(PEAKS, peak_tflops_tf32=24.0)  # 8 TFLOP/s a third: IEEE is faster
    f = _floor(torch.float32, facts=slow_tc)
    assert f.admitted_compute_ms is None and f.check_ms == f.ms == 100.0


class _Module:
    def __init__(self, flops=None):
        if flops is not None:
            self.get_flops = lambda: flops


def test_the_task_get_flops_wins_over_the_analysed_count():
    assert floor_flops(_Module(123), 456) == (123, FLOPS_FROM_TASK)
    assert floor_flops(_Module(), 456) == (456, FLOPS_FROM_ANALYSIS)
    assert floor_flops(_Module(0), 456) == (456, FLOPS_FROM_ANALYSIS)  # not positive: ignored
    assert floor_flops(_Module(), None) == (None, None)


def test_the_floor_records_where_its_flops_came_from():
    f = _floor(torch.float32, flops_source=FLOPS_FROM_ANALYSIS)
    assert f.flops == FLOPS and f.record().flops_source == "graph analysis"
    a = torch.empty(16)
    none = compute_floor([a], a.clone(), [], None, PEAKS, flops_source=FLOPS_FROM_TASK)
    assert none.compute_ms is None and none.record().flops_source is None
    assert none.record().peak is None
