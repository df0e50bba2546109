from __future__ import annotations

import pytest

from profiling.probes.ncu_csv import (
    STALL_TEMPLATE,
    number,
    parse_raw_csv,
    unit_scale,
    unknown_metrics,
)
from tests.profiling.probes.ncu_fakes import raw_csv

ROW = {
    "gpu__time_duration.sum": "12,345",
    "sm__throughput.avg.pct_of_peak_sustained_elapsed": 41.5,
    "dram__throughput.avg.pct_of_peak_sustained_elapsed": 88.25,
    "lts__throughput.avg.pct_of_peak_sustained_elapsed": 60.0,
    "lts__t_sector_hit_rate.pct": 33.3,
    "l1tex__throughput.avg.pct_of_peak_sustained_active": 25.0,
    "sm__warps_active.avg.pct_of_peak_sustained_active": 71.0,
    "launch__registers_per_thread": 32,
    "launch__shared_mem_per_block_static": 0,
    "launch__shared_mem_per_block_dynamic": 8192,
    "launch__block_size": 256,
    "launch__grid_size": 4096,
    "dram__bytes_read.sum": "8,388,608",
    "dram__bytes_write.sum": 4194304,
    "l1tex__t_bytes_pipe_lsu_mem_local_op_ld.sum": 0,
    "l1tex__t_bytes_pipe_lsu_mem_local_op_st.sum": 0,
    STALL_TEMPLATE.format("long_scoreboard"): 55.0,
    STALL_TEMPLATE.format("barrier"): 5.0,
}


def test_parse_one_row_per_launch() -> None:
    text = "==PROF== Connected\nsome child output\n" + raw_csv(
        [("softmax_kernel", ROW), ("void at::native::FillFunctor", {"gpu__time_duration.sum": 900})]
    )
    ks = parse_raw_csv(text)
    assert [k.name for k in ks] == ["softmax_kernel", "void at::native::FillFunctor"]
    k = ks[0]
    assert k.duration_ns == 12345.0
    assert k.dram_pct == 88.25 and k.l2_hit_pct == 33.3 and k.occupancy_pct == 71.0
    assert k.registers == 32 and k.block_size == 256 and k.grid_size == 4096
    assert k.shared_bytes == 8192 and k.spill_bytes == 0.0
    assert k.dram_read_bytes == 8388608.0 and k.dram_write_bytes == 4194304.0
    assert k.stalls["long_scoreboard"] == 55.0 and k.stalls["barrier"] == 5.0
    assert "wait" not in k.stalls  # n/a is absent, not zero
    assert ks[1].dram_pct is None and ks[1].duration_ns == 900.0


def test_units_row_scales_to_base_units() -> None:
    text = raw_csv(
        [("k", {"gpu__time_duration.sum": 2.5, "dram__bytes_read.sum": 3.0,
                "launch__shared_mem_per_block_static": 1.5})],
        units={"gpu__time_duration.sum": "usecond", "dram__bytes_read.sum": "Mbyte",
               "launch__shared_mem_per_block_static": "Kbyte/block"},
    )
    (k,) = parse_raw_csv(text)
    assert k.duration_ns == pytest.approx(2500.0)
    assert k.dram_read_bytes == pytest.approx(3e6)
    assert k.shared_bytes == 1500


def test_no_report_is_no_launch() -> None:
    assert parse_raw_csv("") == []
    assert parse_raw_csv("==WARNING== No kernels were profiled.\n") == []


def test_helpers() -> None:
    assert number("1,024") == 1024.0 and number("n/a") is None and number("") is None
    assert unit_scale("msecond") == 1e6 and unit_scale("Gbyte") == 1e9 and unit_scale("%") == 1.0
    out = "==ERROR== Failed to find metric bogus__metric.sum\n==PROF== x"
    assert unknown_metrics(out, ["bogus__metric.sum", "dram__bytes_read.sum"]) == {
        "bogus__metric.sum"
    }
    assert unknown_metrics("==ERROR== something else", ["dram__bytes_read.sum"]) == set()
