"""Compact text of a parent's hardware counters, bottleneck and roofline for prompts.

Two or three short lines, numbers rounded, at most ``max_stalls`` stall reasons:
the LLM gets the diagnosis ("DRAM-bound at 88 % of peak, 85 % of the floor")
without a counter dump.
"""

from __future__ import annotations

from profiling.probes.counters import Bottleneck, Counters, Thresholds, classify

_WHAT = {
    Bottleneck.DRAM: "DRAM-bound (memory bandwidth)",
    Bottleneck.L2: "L2-bound",
    Bottleneck.L1: "L1/shared-memory-bound",
    Bottleneck.COMPUTE: "compute-bound (SM pipelines)",
    Bottleneck.LATENCY: "latency/occupancy-bound (no unit busy, warps stalled)",
    Bottleneck.LAUNCH: "launch-bound (launch overhead or host gaps dominate)",
    Bottleneck.BALANCED: "balanced (memory and compute both busy)",
    Bottleneck.NEAR_ROOFLINE: "near the roofline (little left to gain)",
    Bottleneck.UNKNOWN: "unknown",
}


def _pct(v: float | None) -> str | None:
    return None if v is None else f"{v:.0f}%"


def describe_counters(
    counters: Counters | None,
    *,
    roofline_fraction: float | None = None,
    runtime_ms: float | None = None,
    thresholds: Thresholds | None = None,
    max_stalls: int = 3,
    show_roofline: bool = True,
) -> str:
    """Prompt lines (``- ...``) for one measured kernel; empty when nothing is known."""
    lines = []
    if counters is not None:
        units = [
            f"{name} {p}"
            for name, v in (("SM", counters.sm_pct), ("DRAM", counters.dram_pct),
                            ("L2", counters.l2_pct), ("L1", counters.l1_pct))
            if (p := _pct(v)) is not None
        ]
        if counters.l2_hit_pct is not None:
            units.append(f"L2 hit {counters.l2_hit_pct:.0f}%")
        if counters.occupancy_pct is not None:
            units.append(f"achieved occupancy {counters.occupancy_pct:.0f}%")
        head = (f"- hardware counters ({counters.launches} launch"
                f"{'es' if counters.launches != 1 else ''}, "
                f"{counters.duration_ns / 1e3:.1f} us of kernel time): ")
        lines.append(head + (", ".join(units) or "throughputs not collected"))
        res = []
        if counters.registers is not None:
            res.append(f"{counters.registers} registers/thread")
        if counters.shared_bytes is not None:
            res.append(f"{counters.shared_bytes / 1024:.0f} KiB shared/block")
        if counters.block_size is not None:
            res.append(f"{counters.block_size} threads/block")
        if counters.spill_bytes:
            res.append(f"{counters.spill_bytes / 1024:.0f} KiB local-memory (spill) traffic")
        elif counters.spill_bytes is not None:
            res.append("no spills")
        if counters.stalls:
            top = ", ".join(f"{r} {v:.2g}" for r, v in counters.stalls[:max_stalls])
            res.append(f"top warp stalls (warps stalled per issued instruction): {top}")
        if res:
            lines.append("- " + "; ".join(res))
    kind = classify(counters, roofline_fraction=roofline_fraction, runtime_ms=runtime_ms,
                    thresholds=thresholds or Thresholds())
    verdict = []
    if kind is not Bottleneck.UNKNOWN and (counters is not None or show_roofline):
        verdict.append(f"bottleneck: {_WHAT[kind]}")
    if roofline_fraction is not None and show_roofline:
        verdict.append(f"at {100 * roofline_fraction:.0f}% of the physical floor (roofline)")
    if verdict:
        lines.append("- " + "; ".join(verdict))
    return "\n".join(lines)
