"""Benchmark the pointwise template's CUDA C++ target against its Triton kernels, per problem.

For each problem with a pointwise group that can be CUDA (`strategies.graph.emit_cuda`):
the Triton heuristic start, the Triton start with its mask-free path (``alignment_hints``),
then ``vectorization/cuda_vec4`` (256 threads), with ``streaming_eviction`` and with 512
threads; and the CUDA kernel once more at the problem's own small, odd default size
(correctness where the scalar tail or kernel takes over). Every variant goes through
`profiling.evaluator.WorkerEvaluator` (correctness trials against the reference, eager
timed interleaved). Prints a table per problem and, with ``--json``, writes the rows.

    python -m experiments.bench_cuda_pointwise                  # relu, gelu, mish, swiglu, bias, conv
    python -m experiments.bench_cuda_pointwise --problems tests/strategies/kernelbench/06_mish.py
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from experiments import KERNELBENCH_DIR
from experiments.variant_rows import bench_evaluator, cells, error_cell, measure, variant_parser
from profiling.evaluator import WorkerEvaluator
from profiling.tasks import Task, TaskError, load_task
from strategies.errors import RealizerError
from strategies.graph.plan import plan_for
from strategies.graph.realizer import apply, render_plan

DEFAULT = [str(KERNELBENCH_DIR / f"{n}.py") for n in
           ("01_relu", "03_gelu", "06_mish", "11_swiglu", "12_bias_residual",
            "40_conv_bias_ops")]  # fmt: skip
# (label, moves from the heuristic start); None: the move chain does not apply
VARIANTS = [
    ("triton start", ()),
    ("triton + alignment_hints", ("vectorization/alignment_hints",)),
    ("cuda (256 threads)", ("vectorization/cuda_vec4",)),
    ("cuda + streaming", ("vectorization/cuda_vec4", "memory_layout/streaming_eviction")),
    ("cuda 512 threads", ("vectorization/cuda_vec4", "tiling/block_size_up")),
]


def variants(task: Task) -> list[tuple[str, str]]:
    """(label, source) of each variant that applies (none without a CUDA-able group)."""
    plan = plan_for(task)
    if not any(f.cuda for f in plan.facts):
        return []
    out = []
    for label, moves in VARIANTS:
        p: dict[str, Any] | None = plan.initial()
        for m in moves:
            p = apply(plan, m, p) if p is not None else None
        if p is not None:
            out.append((label, render_plan(plan, p)))
    return out


def _row(ev: WorkerEvaluator, task: Task, label: str, src: str) -> dict[str, Any]:
    row, m = measure(ev, task, label, src)
    ms, eager, sp = cells(m)
    print(f"  {label:32} {m.status!s:10} {ms} {eager} {sp}{error_cell(m, 70)}", flush=True)
    return row


def main(argv: Sequence[str] | None = None) -> int:
    ap = variant_parser(__doc__.split("\n\n")[0], "comma-separated problem files")
    args = ap.parse_args(argv)
    names = [p for p in args.problems.split(",") if p] or DEFAULT
    try:
        tasks = [(load_task(n, args.size or None), load_task(n)) for n in names]
    except TaskError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ev = bench_evaluator(args.device, args.trials)
    rows: list[dict[str, Any]] = []
    try:
        print(f"device: {ev.gpu_facts().name}", flush=True)
        for task, small in tasks:
            try:
                found = variants(task)
                odd = [v for v in variants(small) if v[0] == "cuda + streaming"]
            except RealizerError as e:
                print(f"{task.name}: {e}")
                continue
            if not found:
                print(f"{task.name} ({task.size}): no pointwise group the CUDA kernel can address")
                continue
            print(f"\n{task.name} ({task.size}; {plan_for(task).summary})")
            print(f"  {'variant':32} {'status':10} {'ms':>9} {'eager ms':>9} {'x eager':>8}")
            for label, src in found:
                rows.append(_row(ev, task, label, src))
            for label, src in odd:
                rows.append(_row(ev, small, f"{label} @ default size", src))
            if args.json:
                args.json.write_text(json.dumps(rows, indent=1))
    finally:
        ev.close()
    bad = [r for r in rows if r["status"] != "ok"]
    print(f"\n{len(rows) - len(bad)}/{len(rows)} variants correct")
    return 0


if __name__ == "__main__":
    sys.exit(main())
