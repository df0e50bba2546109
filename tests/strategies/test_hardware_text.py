from __future__ import annotations

from profiling.probes.counters import Counters
from strategies.hardware_text import describe_counters


def test_counters_bottleneck_and_roofline_in_a_few_lines() -> None:
    c = Counters(2, 41_200.0, sm_pct=31.2, dram_pct=88.4, l2_pct=60.0, l2_hit_pct=33.0,
                 occupancy_pct=71.0, registers=32, shared_bytes=8192, spill_bytes=0.0,
                 block_size=256, stalls=(("long_scoreboard", 55.0), ("barrier", 5.0)))
    text = describe_counters(c, roofline_fraction=0.62)
    assert text.count("\n") == 2
    assert "2 launches" in text and "41.2 us" in text
    assert "SM 31%" in text and "DRAM 88%" in text and "L2 hit 33%" in text
    assert "32 registers/thread" in text and "8 KiB shared/block" in text and "no spills" in text
    assert "long_scoreboard 55" in text
    assert "DRAM-bound" in text and "62% of the physical floor" in text
    assert len(text) < 600


def test_without_counters_only_what_is_known() -> None:
    assert describe_counters(None) == ""
    only_floor = describe_counters(None, roofline_fraction=0.9)
    assert "near the roofline" in only_floor and "90%" in only_floor
    spilling = describe_counters(Counters(1, 9_000.0, sm_pct=10.0, spill_bytes=4096.0))
    assert "4 KiB local-memory (spill) traffic" in spilling and "latency" in spilling
