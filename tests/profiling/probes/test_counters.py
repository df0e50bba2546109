from __future__ import annotations

import pytest

from profiling.probes.counters import (
    Bottleneck,
    Counters,
    KernelCounters,
    Thresholds,
    aggregate,
    classify,
    internal_kernel,
)


def k(name: str, ns: float, **kw: object) -> KernelCounters:
    return KernelCounters(name=name, duration_ns=ns, **kw)  # type: ignore[arg-type]


def test_internal_kernel_names() -> None:
    assert internal_kernel("void at::native::vectorized_elementwise_kernel<4, at::native::FillFunctor<float>>(int)")
    assert internal_kernel("void cub::DeviceReduceKernel<...>")
    assert internal_kernel("void at::<unnamed>::cunn_SoftMaxForwardReg<float, float, float>(...)")
    assert internal_kernel("void at::vectorized_elementwise_kernel<4, at::<unnamed>::launch_clamp_>")
    assert not internal_kernel("_softmax_kernel")
    assert not internal_kernel("nvjet_sm90_tst_256x128_64x4_1x2_h_bz_coopA_NNT")
    assert not internal_kernel("flat_kernel")  # "at::" needs a word boundary
    assert not internal_kernel("sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64")


def test_aggregate_weights_by_duration_and_filters_torch_kernels() -> None:
    launches = [
        k("main_kernel", 300.0, dram_pct=90.0, sm_pct=20.0, registers=40, shared_bytes=0,
          dram_read_bytes=1e6, dram_write_bytes=5e5, block_size=256,
          stalls={"long_scoreboard": 60.0, "wait": 10.0}),
        k("tail_kernel", 100.0, dram_pct=10.0, sm_pct=60.0, registers=96, shared_bytes=4096,
          dram_read_bytes=1e5, block_size=128, stalls={"long_scoreboard": 20.0, "barrier": 50.0}),
        k("void at::native::vectorized_elementwise_kernel<4, FillFunctor>", 5000.0, dram_pct=99.0),
    ]
    c = aggregate(launches)
    assert c is not None
    assert c.launches == 2 and c.excluded_launches == 1
    assert c.duration_ns == 400.0
    assert c.dram_pct == pytest.approx((90 * 300 + 10 * 100) / 400)
    assert c.sm_pct == pytest.approx((20 * 300 + 60 * 100) / 400)
    assert c.registers == 96 and c.shared_bytes == 4096
    assert c.block_size == 256  # of the longest launch
    assert c.dram_read_bytes == pytest.approx(1.1e6) and c.dram_write_bytes == pytest.approx(5e5)
    assert c.stalls[0] == ("long_scoreboard", pytest.approx(50.0))
    assert [r for r, _ in c.stalls] == ["long_scoreboard", "barrier", "wait"]
    assert c.l2_pct is None  # not collected stays unknown, not 0


def test_aggregate_keeps_torch_kernels_when_they_are_all_there_is() -> None:
    only = [k("void at::native::reduce_kernel<512>", 200.0, dram_pct=70.0)]
    c = aggregate(only)
    assert c is not None and c.launches == 1 and c.excluded_launches == 0
    assert aggregate([]) is None
    mixed = [k("mine", 10.0), k("void at::native::copy_kernel", 10.0)]
    assert aggregate(mixed, exclude_internal=False).launches == 2  # type: ignore[union-attr]


def _c(**kw: object) -> Counters:
    base: dict[str, object] = {"launches": 1, "duration_ns": 100_000.0}
    base.update(kw)
    return Counters(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("counters", "extra", "want"),
    [
        (_c(dram_pct=92.0, l2_pct=80.0, sm_pct=30.0), {}, Bottleneck.DRAM),
        (_c(dram_pct=30.0, l2_pct=85.0, sm_pct=30.0), {}, Bottleneck.L2),
        (_c(dram_pct=20.0, l1_pct=75.0, sm_pct=40.0), {}, Bottleneck.L1),
        (_c(dram_pct=20.0, sm_pct=88.0), {}, Bottleneck.COMPUTE),
        (_c(dram_pct=75.0, sm_pct=70.0), {}, Bottleneck.BALANCED),
        (_c(dram_pct=75.0, l2_pct=72.0, sm_pct=10.0), {}, Bottleneck.DRAM),
        (_c(dram_pct=25.0, sm_pct=30.0, occupancy_pct=12.0), {}, Bottleneck.LATENCY),
        (_c(launches=4, duration_ns=8_000.0, dram_pct=90.0), {}, Bottleneck.LAUNCH),
        (_c(dram_pct=90.0), {"runtime_ms": 1.0}, Bottleneck.LAUNCH),  # 0.1 ms of 1 ms busy
        (_c(dram_pct=90.0), {"roofline_fraction": 0.9}, Bottleneck.NEAR_ROOFLINE),
        (None, {}, Bottleneck.UNKNOWN),
        (_c(), {}, Bottleneck.UNKNOWN),
    ],
)
def test_classify(counters: Counters | None, extra: dict, want: Bottleneck) -> None:
    assert classify(counters, **extra) is want


def test_thresholds_move_the_lines() -> None:
    c = _c(dram_pct=55.0, sm_pct=20.0)
    assert classify(c) is Bottleneck.LATENCY
    assert classify(c, thresholds=Thresholds(busy=0.5)) is Bottleneck.DRAM


def test_utilization_per_resource() -> None:
    c = _c(launches=2, dram_pct=80.0, sm_pct=50.0)
    assert c.utilization("dram") == pytest.approx(0.8)
    assert c.utilization("sm") == pytest.approx(0.5)
    assert c.utilization("l2") is None
    assert c.utilization("launch") == pytest.approx(0.5)
    assert _c().utilization("launch") == 1.0


def test_round_trip_through_dict() -> None:
    c = aggregate([k("a", 10.0, dram_pct=50.0, stalls={"wait": 3.0}), k("b", 30.0, sm_pct=80.0)])
    assert c is not None
    assert Counters.from_dict(c.to_dict()) == c
