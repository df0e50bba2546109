import torch

from profiling.hardware import GpuFacts
from profiling.roofline import compute_floor, floor_violation

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
