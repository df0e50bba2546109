"""Shared pieces of the variant benchmarks (`bench_library`, `bench_cuda_pointwise`): the
evaluator they time with and one measured variant as a JSON row and as table cells."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from profiling.evaluator import EvalSettings, WorkerEvaluator
from profiling.measurement import Measurement
from profiling.tasks import Task


def variant_parser(description: str, problems: str) -> argparse.ArgumentParser:
    """The options every variant benchmark takes (problems, size, device, trials, JSON)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--problems", default="", help=problems)
    ap.add_argument("--size", default="bench", help='size preset or k=v,... ("" = the default)')
    ap.add_argument("--device", default="cuda", choices=("cuda", "interpret"))
    ap.add_argument("--trials", type=int, default=2)
    ap.add_argument("--json", type=Path, help="write the rows here")
    return ap


def bench_evaluator(device: str, trials: int, **settings: Any) -> WorkerEvaluator:
    """Correctness trials and interleaved eager timing, without the torch.compile baseline,
    the sanitizer or the input probes (each variant is a known kernel, not a search step);
    ``settings``: further `EvalSettings` fields (a benchmark's own timing or hold)."""
    return WorkerEvaluator(EvalSettings(device=device, trials=trials, probes=False,
                                        baseline_compile=False, sanitize="off",
                                        remeasure="best", **settings))  # fmt: skip


def measure(
    ev: WorkerEvaluator, task: Task, label: str, src: str
) -> tuple[dict[str, Any], Measurement]:
    """Evaluate one variant: its JSON row and the measurement."""
    m = ev.evaluate(task, src)
    row = {"task": task.name, "size": task.size, "variant": label, "status": str(m.status),
           "error": m.error, "ms": m.runtime_ms, "eager_ms": m.ref_runtime_ms,
           "speedup": m.speedup}  # fmt: skip
    return row, m


def cells(m: Measurement) -> tuple[str, str, str]:
    """The ms, eager ms and x eager table cells ("-" where not measured)."""
    ms = f"{m.runtime_ms:9.4f}" if m.runtime_ms else f"{'-':>9}"
    eager = f"{m.ref_runtime_ms:9.4f}" if m.ref_runtime_ms else f"{'-':>9}"
    sp = f"{m.speedup:7.2f}x" if m.speedup else f"{'-':>8}"
    return ms, eager, sp


def error_cell(m: Measurement, width: int) -> str:
    return f"  {(m.error or '')[:width]}" if not m.ok else ""
