"""Measurement: typed floor and diagnostics, derived numbers, JSON round trip."""

from __future__ import annotations

import json

from profiling.measurement import (
    HarnessDiagnostics,
    Measurement,
    RooflineFloor,
    ShapeResult,
    Status,
    Timing,
)
from profiling.probes.counters import Counters, KernelCounters

SHAPE = ShapeResult("default", Timing(0.5, 0.49, 0.52, 100), Timing(1.0, 0.98, 1.02, 100),
                    Timing(0.8, 0.79, 0.81, 50))


def _full() -> Measurement:
    return Measurement(
        status=Status.OK,
        shapes=(SHAPE,),
        counters=Counters(1, 5e5, dram_pct=81.0, stalls=(("long_scoreboard", 9.5),),
                          kernels=(KernelCounters("k", 5e5, dram_pct=81.0,
                                                  stalls={"long_scoreboard": 9.5}),)),
        floor=RooflineFloor(ms=0.25, bytes=4 << 20, flops=None, bound="memory", memory_ms=0.25),
        diagnostics=HarnessDiagnostics(hidden_work_wall_ms=5.1, n_regs=32.0, shared_bytes=4096.0),
        device="NVIDIA H200",
        trials=5,
    )


def test_derived_numbers():
    m = _full()
    assert m.speedup == 2.0  # reference / candidate, same worker
    assert m.speedup_vs_compile == 0.8 / 0.5
    assert m.floor_ms == 0.25 and m.roofline_fraction == 0.5
    assert m.resources == {"n_regs": 32.0, "shared": 4096.0}
    assert Measurement(Status.OK).floor_ms is None and Measurement(Status.OK).roofline_fraction is None


def test_round_trip_through_json():
    m = _full()
    again = Measurement.from_dict(json.loads(json.dumps(m.to_dict())))
    assert again == m
    d = m.to_dict()
    assert d["floor_ms"] == 0.25 and d["speedup"] == 2.0
    assert d["diagnostics"] == {"hidden_work_wall_ms": 5.1, "n_regs": 32.0, "shared_bytes": 4096.0}


def test_old_run_logs_still_load():
    old = {
        "status": "ok",
        "shapes": [{"size": "default", "candidate": {"median_ms": 0.5, "p20_ms": 0.4, "p80_ms": 0.6,
                                                      "reps": 10},
                    "reference": {"median_ms": 1.0, "p20_ms": 0.9, "p80_ms": 1.1, "reps": 10}}],
        "counters": {"floor_memory_ms": 0.2, "floor_compute_ms": 0.3, "floor_bytes": 1024.0,
                     "floor_flops": 1e9, "floor_compute_bound": 1.0,
                     "tf32_reference_error": 0.01, "sm__throughput.pct": 40.0},
        "floor_ms": 0.3,
        "resources": {"n_regs": 64.0, "n_spills": 0.0},
    }
    m = Measurement.from_dict(old)
    assert m.floor == RooflineFloor(ms=0.3, bytes=1024, flops=1_000_000_000, bound="compute",
                                    memory_ms=0.2, compute_ms=0.3)
    assert m.counters is None  # untyped metric names are not hardware counters any more
    assert m.diagnostics.tf32_reference_error == 0.01 and m.diagnostics.n_regs == 64.0
    assert m.resources == {"n_regs": 64.0, "n_spills": 0.0}
    assert m.speedup == 2.0


def test_the_floor_says_where_its_flops_and_peak_came_from():
    floor = RooflineFloor(ms=2.0, bytes=64, flops=10**9, bound="compute", memory_ms=0.1,
                          compute_ms=2.0, flops_source="graph analysis", peak="fp32")  # fmt: skip
    m = Measurement(status=Status.OK, floor=floor)
    again = Measurement.from_dict(json.loads(json.dumps(m.to_dict())))
    assert again.floor == floor
    older = {"ms": 2.0, "bytes": 64, "flops": 10**9, "bound": "compute"}  # before the fields
    assert RooflineFloor.from_dict(older).flops_source is None
    assert RooflineFloor.from_dict(older).peak is None
