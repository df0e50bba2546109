"""The parser and the aggregation on ncu output recorded on an H200 (see data/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiling.probes.counters import Bottleneck, aggregate, classify
from profiling.probes.ncu_csv import parse_raw_csv

DATA = Path(__file__).parent.parent / "data"


def _read(name: str) -> str:
    return (DATA / name).read_text()


def test_triton_softmax_launch() -> None:
    (k,) = parse_raw_csv(_read("ncu_raw_h200_softmax_triton.csv"))
    assert k.name == "softmax_k"
    assert k.duration_ns == 64384.0
    assert k.dram_pct == 78.45 and k.l2_pct == 88.34 and k.l2_hit_pct == 49.46
    assert k.sm_pct == 28.62 and k.l1_pct == 30.67 and k.occupancy_pct == 71.89
    assert k.registers == 38 and k.shared_bytes == 32 and k.spill_bytes == 0.0
    assert k.block_size == 256 and k.grid_size == 8192
    assert k.dram_read_bytes == 134_229_248 and k.dram_write_bytes == 108_832_768
    assert k.stalls["long_scoreboard"] == 18.27 and k.stalls["short_scoreboard"] == 6.87
    assert "selected" not in k.stalls  # not a stall reason
    c = aggregate([k])
    assert c is not None and c.stalls[0][0] == "long_scoreboard"
    assert [r for r, _ in c.stalls] == ["long_scoreboard", "short_scoreboard", "barrier"]
    # DRAM at 78 % and L2 at 88 %: below the 80 % DRAM mask line, memory-bound all the same
    assert classify(c) is Bottleneck.DRAM
    assert c.utilization("l2") == pytest.approx(0.8834)


def test_torch_reference_three_launches() -> None:
    ks = parse_raw_csv(_read("ncu_raw_h200_torch_softmax_relu_matmul.csv"))
    assert len(ks) == 3
    assert ks[0].name.startswith("void at::<unnamed>::cunn_SoftMaxForwardReg")
    assert ks[2].name.startswith("nvjet_sm90")
    assert ks[2].registers == 168 and ks[2].shared_bytes == 213_188
    assert ks[2].stalls["gmma"] == 3.71
    ref = aggregate(ks, exclude_internal=False)
    assert ref is not None and ref.launches == 3 and ref.excluded_launches == 0
    total = 107_392 + 62_848 + 25_248
    assert ref.duration_ns == total
    want = (48.02 * 107_392 + 80.77 * 62_848 + 6.93 * 25_248) / total
    assert ref.dram_pct == pytest.approx(want)
    assert ref.registers == 168
    # as a candidate's forward: only the library GEMM is its own kernel
    cand = aggregate(ks)
    assert cand is not None and cand.launches == 1 and cand.excluded_launches == 2
    assert cand.kernels[0].name.startswith("nvjet")
    # SM 72 % and L1 (shared-memory operand traffic) 65 %, within 10 points: balanced
    assert classify(cand) is Bottleneck.BALANCED
