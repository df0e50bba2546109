"""Benchmark the matmul template's library point against its Triton GEMM, per problem.

For each problem with a matmul group that has an epilogue: the Triton GEMM start
(``library`` off: the fused Triton kernel), the library point at the same start
(the product from PyTorch, one generated epilogue kernel), and every one-move
library variant (``block_size_up/down``, ``tile_aspect``, ``warps_up/down``,
``streaming_eviction``), each evaluated through `profiling.evaluator.WorkerEvaluator`
(correctness trials, eager timed interleaved). Prints a table per problem and,
with ``--json``, writes the rows.

    python -m experiments.bench_library --size bench          # 36, 38, 39 + bundled bf16
    python -m experiments.bench_library --problems tests/strategies/kernelbench/38_linear_gelu_scale.py
    python -m experiments.bench_library --device interpret --size "" --problems ...  # CPU smoke
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from experiments import KERNELBENCH_DIR, TASKS_DIR
from profiling.evaluator import EvalSettings, WorkerEvaluator
from profiling.tasks import Task, TaskError, load_task
from strategies.catalog import load_catalog
from strategies.errors import RealizerError
from strategies.graph.plan import plan_for
from strategies.graph.realizer import GraphRealizer, render_plan
from strategies.graph.space_matmul import LIBRARY_MOVES
from strategies.types import RealizeRequest

DEFAULT = [str(KERNELBENCH_DIR / f"{n}.py") for n in
           ("36_bmm_scale", "38_linear_gelu_scale", "39_linear_layernorm_relu")]  # fmt: skip
BUNDLED = ["matmul_bias_gelu"]  # bf16 at its default size (the bench size names no preset)


def variants(task: Task) -> list[tuple[str, str]]:
    """(label, source): the Triton GEMM start, the library start, one-move library variants."""
    plan = plan_for(task)
    found = [i for i, f in enumerate(plan.facts) if f.template == "matmul" and f.epilogue]
    if not found:
        return []
    i = found[0]
    groups = [dict(p) for p in plan.initial()["groups"]]
    gemm = [dict(p) for p in groups]
    gemm[i].pop("library", None)
    catalog = load_catalog()
    realizer = GraphRealizer()

    def move(sid: str, parent: str) -> str | None:
        r = realizer.realize(RealizeRequest(task=task, strategy=catalog.get(sid),
                                            parent_source=parent))  # fmt: skip
        return r.source if r.ok else None

    gemm_src = render_plan(plan, {"groups": gemm})
    lib_src = move("fusion/fuse_epilogue", gemm_src)
    if lib_src is None:
        return [("triton gemm start", gemm_src)]
    out = [("triton gemm start", gemm_src), ("library start", lib_src)]
    for name in LIBRARY_MOVES:
        sid = next(s.id for s in catalog if s.id.endswith("/" + name))
        if name != "fuse_epilogue" and (src := move(sid, lib_src)) is not None:
            out.append((f"library + {name}", src))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", default="", help="comma-separated problem files or bundled names")
    ap.add_argument("--size", default="bench", help='size preset or k=v,... ("" = the default)')
    ap.add_argument("--device", default="cuda", choices=("cuda", "interpret"))
    ap.add_argument("--trials", type=int, default=2)
    ap.add_argument("--json", type=Path, help="write the rows here")
    args = ap.parse_args(argv)
    names = [p for p in args.problems.split(",") if p] or DEFAULT + BUNDLED
    try:
        tasks = [load_task(n, None if n in BUNDLED else args.size or None, TASKS_DIR)
                 for n in names]  # fmt: skip
    except TaskError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ev = WorkerEvaluator(EvalSettings(device=args.device, trials=args.trials, probes=False,
                                      baseline_compile=False, sanitize="off", remeasure="best"))  # fmt: skip
    rows: list[dict[str, Any]] = []
    try:
        print(f"device: {ev.gpu_facts().name}", flush=True)
        for task in tasks:
            try:
                found = variants(task)
            except RealizerError as e:
                print(f"{task.name}: {e}")
                continue
            if not found:
                print(
                    f"{task.name} ({task.size}): no epilogue, no library point (no matmul group with work after the product)"
                )
                continue
            print(f"\n{task.name} ({task.size})")
            print(f"  {'variant':34} {'status':10} {'ms':>9} {'eager ms':>9} {'x eager':>8}")
            for label, src in found:
                m = ev.evaluate(task, src)
                rows.append({"task": task.name, "size": task.size, "variant": label,
                             "status": str(m.status), "error": m.error, "ms": m.runtime_ms,
                             "eager_ms": m.ref_runtime_ms, "speedup": m.speedup})  # fmt: skip
                ms = f"{m.runtime_ms:9.4f}" if m.runtime_ms else f"{'-':>9}"
                eager = f"{m.ref_runtime_ms:9.4f}" if m.ref_runtime_ms else f"{'-':>9}"
                sp = f"{m.speedup:7.2f}x" if m.speedup else f"{'-':>8}"
                print(f"  {label:34} {m.status!s:10} {ms} {eager} {sp}"
                      + (f"  {m.error[:60]}" if not m.ok else ""), flush=True)  # fmt: skip
                if args.json:
                    args.json.write_text(json.dumps(rows, indent=1))
    finally:
        ev.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
