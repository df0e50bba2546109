"""Set each memory-bound row of a `bench_kernelbench` table against a copy of its own bytes.

    python -m experiments.copy_floor experiments/results/kb40-h200.json [--write] [--gpu 0]

The roofline floor (`profiling.roofline`) divides the bytes a kernel must move by the copy
bandwidth measured at 1 GiB, where a launch's fixed costs (ramp-up, the last wave's tail)
have vanished. A 128 MB problem cannot reach that rate: a device-to-device copy of the same
bytes, timed as the evaluator times a kernel (`profiling.hardware.copy_ms`), is the measured
copy bandwidth at that size. For every memory-bound row this times such a copy on the GPU
and prints floor, copy and best times with ``% floor`` (floor / best) and ``% copy``
(copy / best); ``--write`` adds ``copy_ms`` and ``pct_copy`` to the rows and the counts to
the totals. A row's bytes are its ``floor_bytes`` or, for rows written before that field,
its floor time times the copy bandwidth measured now at 1 GiB (the floor's own method).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

TARGET = 0.85  # the bar: memory-bound kernels at >= 85 % of copy bandwidth


def memory_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tuned rows whose floor is set by memory traffic (with ``roofline``, the best
    kernel's floor / best time, and the floor and best times)."""
    return [r for r in rows if r.get("status") == "ok" and r.get("floor_bound") == "memory"
            and r.get("roofline") and r.get("best_ms") and r.get("floor_ms")]  # fmt: skip


def row_bytes(row: dict[str, Any], gbps: Callable[[], float]) -> int:
    """The bytes the row's floor counts: recorded, or its floor time at today's bandwidth."""
    if row.get("floor_bytes"):
        return int(row["floor_bytes"])
    return round(row["floor_ms"] * 1e-3 * gbps() * 1e9)


def add_copies(
    rows: Sequence[dict[str, Any]], copy: Callable[[int], float], gbps: Callable[[], float]
) -> list[dict[str, Any]]:
    """The memory-bound rows with ``copy_bytes`` (`row_bytes`), ``copy_ms`` (``copy`` of those
    bytes) and ``pct_copy`` (copy / best)."""
    out = []
    for r in memory_rows(rows):
        n = row_bytes(r, gbps)
        ms = copy(n)
        r["copy_bytes"], r["copy_ms"], r["pct_copy"] = n, ms, ms / r["best_ms"]
        out.append(r)
    return out


def gpu_timers(gpu: int = 0) -> tuple[Callable[[int], float], Callable[[], float]] | None:
    """The GPU's copy timer and (measured once, when first asked) its 1 GiB copy rate, or
    None without a CUDA GPU."""
    import torch

    if not torch.cuda.is_available():
        return None
    from profiling import hardware

    dev = torch.device("cuda", gpu)
    return (lambda n: hardware.copy_ms(n, gpu)), functools.cache(
        lambda: hardware.copy_bandwidth_gbps(dev)
    )


def counts(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Memory-bound rows, and how many reach the target against the floor and the copy."""
    mem = memory_rows(rows)
    return {
        "memory_bound": len(mem),
        "at_target_floor": sum(1 for r in mem if r["roofline"] >= TARGET),
        "at_target_copy": sum(1 for r in mem if (r.get("pct_copy") or 0.0) >= TARGET),
    }


def render(rows: Sequence[dict[str, Any]]) -> Table:
    t = Table(title="memory-bound rows: the floor (1 GiB copy rate) and a copy of their bytes")
    for col in ("problem", "MB moved", "floor ms", "copy ms", "best ms", "% floor", "% copy"):
        t.add_column(col, justify="left" if col == "problem" else "right")
    for r in sorted(rows, key=lambda r: r["pct_copy"]):
        t.add_row(r["task"], f"{r['copy_bytes'] / 1e6:.0f}", f"{r['floor_ms']:.4f}",
                  f"{r['copy_ms']:.4f}", f"{r['best_ms']:.4f}", f"{100 * r['roofline']:.0f}",
                  f"{100 * r['pct_copy']:.0f}")  # fmt: skip
    return t


def main(argv: list[str] | None = None, copy: Callable[[int], float] | None = None,
         gbps: Callable[[], float] | None = None) -> int:  # fmt: skip
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("json", type=Path, help="a bench_kernelbench --json file")
    p.add_argument("--write", action="store_true", help="add the copy figures to the file")
    p.add_argument("--gpu", type=int, default=0, help="the GPU to time the copies on")
    args = p.parse_args(argv)
    try:
        data = json.loads(args.json.read_text())
        rows = data["rows"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"error: cannot read a bench_kernelbench table from {args.json}: {e}",
              file=sys.stderr)  # fmt: skip
        return 2
    if copy is None or gbps is None:
        timers = gpu_timers(args.gpu)
        if timers is None:
            print("error: copy_floor times copies on a CUDA GPU; none is visible", file=sys.stderr)
            return 2
        copy, gbps = copy or timers[0], gbps or timers[1]
    done = add_copies(rows, copy, gbps)
    Console(width=160).print(render(done))
    c = counts(rows)
    Console().print(f"memory-bound rows: {c['memory_bound']}; at >= {TARGET:.0%} of the floor: "
                    f"{c['at_target_floor']}; of a copy of their bytes: {c['at_target_copy']}")
    if args.write:
        data.setdefault("totals", {}).update(c)
        args.json.write_text(json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
