"""Nsight Compute's metric names and the parser of its ``--csv --page raw`` output.

Why the raw page: it has one row per profiled launch and one column per metric,
headed by the metric's own name (``dram__bytes_read.sum``) with a units row
under the header. The default ``details`` page is long-format (one row per
kernel x section x metric) keyed by display names ("DRAM Throughput") that
change between Nsight Compute versions and sections; the raw page's keys are
the names we asked for. ``--print-units base`` keeps units unscaled (byte,
nsecond), and the units row is still honoured (Kbyte, usecond, ...) in case a
caller leaves auto-scaling on. Numbers may carry thousands separators.

Lines before the header (``==PROF==``, ``==WARNING==``, the child's own
output) are skipped.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from typing import Any

from profiling.probes.counters import KernelCounters

# metric -> KernelCounters field (valid on Hopper, Nsight Compute 2023+)
METRICS: Mapping[str, str] = {
    "gpu__time_duration.sum": "duration_ns",
    "sm__throughput.avg.pct_of_peak_sustained_elapsed": "sm_pct",
    "dram__throughput.avg.pct_of_peak_sustained_elapsed": "dram_pct",
    "lts__throughput.avg.pct_of_peak_sustained_elapsed": "l2_pct",
    "lts__t_sector_hit_rate.pct": "l2_hit_pct",
    "l1tex__throughput.avg.pct_of_peak_sustained_active": "l1_pct",
    "sm__warps_active.avg.pct_of_peak_sustained_active": "occupancy_pct",
    "launch__registers_per_thread": "registers",
    "launch__block_size": "block_size",
    "launch__grid_size": "grid_size",
    "dram__bytes_read.sum": "dram_read_bytes",
    "dram__bytes_write.sum": "dram_write_bytes",
}
SHARED_METRICS = ("launch__shared_mem_per_block_static", "launch__shared_mem_per_block_dynamic")
# local-memory traffic: what register spills cost at run time
SPILL_METRICS = (
    "l1tex__t_bytes_pipe_lsu_mem_local_op_ld.sum",
    "l1tex__t_bytes_pipe_lsu_mem_local_op_st.sum",
)
# warp-stall reasons, as "warps stalled on it per issued instruction" (the ratio Nsight
# Compute's WarpStateStats section ranks); "selected" (always 1.0) is not a stall
STALL_REASONS = (
    "long_scoreboard",
    "short_scoreboard",
    "barrier",
    "math_pipe_throttle",
    "mio_throttle",
    "lg_throttle",
    "wait",
    "not_selected",
    "no_instruction",
    "membar",
    "dispatch_stall",
    "branch_resolving",
    "drain",
    "imc_miss",
    "tex_throttle",
    "sleeping",
    "gmma",
    "misc",
)
STALL_TEMPLATE = "smsp__average_warps_issue_stalled_{}_per_issue_active.ratio"
STALL_METRICS = {STALL_TEMPLATE.format(r): r for r in STALL_REASONS}


def all_metrics() -> tuple[str, ...]:
    return (*METRICS, *SHARED_METRICS, *SPILL_METRICS, *STALL_METRICS)


_INT_FIELDS = {"registers", "block_size", "grid_size"}
_PREFIX = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 1024.0, "Mi": 1024.0**2}
_TIME = {"nsecond": 1.0, "usecond": 1e3, "msecond": 1e6, "second": 1e9, "ns": 1.0, "us": 1e3,
         "ms": 1e6, "s": 1e9}


def unit_scale(unit: str) -> float:
    """Factor to the base unit (byte, nanosecond) for one units-row entry."""
    base = unit.strip().split("/")[0].strip()
    if base in _TIME:
        return _TIME[base]
    m = re.fullmatch(r"(Ki|Mi|[KMGT]?)(byte|B)", base)
    if m:
        return _PREFIX[m.group(1)]
    return 1.0


def number(text: str) -> float | None:
    t = text.strip().replace(",", "")
    if not t or t.lower() in ("n/a", "nan", "-"):
        return None
    try:
        return float(t)
    except ValueError:
        return None


def _rows(text: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(
        (i for i, ln in enumerate(lines) if ln.startswith('"ID"') or ln.startswith("ID,")), None
    )
    if start is None:
        return []
    body = [ln for ln in lines[start:] if ln.strip() and not ln.startswith("==")]
    return list(csv.reader(io.StringIO("\n".join(body))))


def parse_raw_csv(text: str) -> list[KernelCounters]:
    """Every profiled launch in an ``ncu --csv --page raw`` report, in order."""
    rows = _rows(text)
    if len(rows) < 2:
        return []
    header = rows[0]
    col = {name: i for i, name in enumerate(header)}
    units_row = rows[1] if _is_units_row(rows[1], col) else None
    data = rows[2:] if units_row is not None else rows[1:]

    def value(row: list[str], metric: str) -> float | None:
        i = col.get(metric)
        if i is None or i >= len(row):
            return None
        v = number(row[i])
        if v is None:
            return None
        return v * (unit_scale(units_row[i]) if units_row is not None else 1.0)

    out = []
    for row in data:
        if len(row) < len(header) // 2:  # a stray line, not a launch
            continue
        name = row[col["Kernel Name"]] if "Kernel Name" in col else "?"
        fields: dict[str, Any] = {}
        for metric, attr in METRICS.items():
            v = value(row, metric)
            if v is not None:
                fields[attr] = int(v) if attr in _INT_FIELDS else v
        shared = [value(row, m) for m in SHARED_METRICS]
        if any(s is not None for s in shared):
            fields["shared_bytes"] = int(sum(s or 0.0 for s in shared))
        spills = [value(row, m) for m in SPILL_METRICS]
        if any(s is not None for s in spills):
            fields["spill_bytes"] = sum(s or 0.0 for s in spills)
        stalls = {
            reason: v
            for metric, reason in STALL_METRICS.items()
            if (v := value(row, metric)) is not None
        }
        fields.setdefault("duration_ns", 0.0)
        out.append(KernelCounters(name=name, stalls=stalls, **fields))
    return out


def _is_units_row(row: list[str], col: Mapping[str, int]) -> bool:
    i = col.get("ID")
    return i is not None and i < len(row) and number(row[i]) is None


_MISSING = re.compile(r"(?:metric|Metric)[^\n]*?([a-z0-9_]+__[A-Za-z0-9_.]+)")


def unknown_metrics(output: str, requested: Iterable[str]) -> set[str]:
    """Requested metrics an ``==ERROR==`` line says were not found (to retry without)."""
    wanted = set(requested)
    bad: set[str] = set()
    for line in output.splitlines():
        if "==ERROR==" not in line or "metric" not in line.lower():
            continue
        bad.update(m for m in wanted if m in line)
        bad.update(m for m in _MISSING.findall(line) if m in wanted)
    return bad
