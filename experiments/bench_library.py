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

With ``--tma`` it benchmarks the Triton GEMM's TMA variant instead: per problem (default:
the bundled bf16 ``matmul`` and ``matmul_bias_gelu`` at their default sizes and
``34_matmul`` fp32 at ``--size``), eager (cuBLAS), the Triton GEMM start, the start with
``alignment_hints`` (TMA descriptor loads), and the TMA kernel at the retired per-kind
kernel's Hopper tile (128x256x64, GROUP_M 8, 8 warps, 3 stages), with ms, x eager and
TFLOP/s::

    python -m experiments.bench_library --tma --json tma.json
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from experiments import KERNELBENCH_DIR, TASKS_DIR
from experiments.variant_rows import bench_evaluator, cells, error_cell, measure, variant_parser
from profiling.evaluator import WorkerEvaluator
from profiling.tasks import Task, TaskError, load_task
from strategies.catalog import load_catalog
from strategies.errors import RealizerError
from strategies.graph.plan import plan_for
from strategies.graph.realizer import GraphRealizer, render_plan
from strategies.graph.space_matmul import LIBRARY_MOVES, gemm_fits
from strategies.types import RealizeRequest

DEFAULT = [str(KERNELBENCH_DIR / f"{n}.py") for n in
           ("36_bmm_scale", "38_linear_gelu_scale", "39_linear_layernorm_relu")]  # fmt: skip
BUNDLED = ["matmul_bias_gelu"]  # bf16 at its default size (the bench size names no preset)
TMA_DEFAULT = ["matmul", "matmul_bias_gelu", str(KERNELBENCH_DIR / "34_matmul.py")]
HOPPER_TILE = {"BM": 128, "BN": 256, "BK": 64, "GROUP_M": 8, "num_warps": 8, "num_stages": 3}


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


def tma_variants(task: Task) -> list[tuple[str, str | None]]:
    """(label, source or None: why not): the Triton GEMM start (library off), the start
    after ``alignment_hints`` (TMA where the operands' strides fit), and the TMA kernel at
    the per-kind Hopper tile."""
    plan = plan_for(task)
    i = plan.templates.index("matmul")
    groups = [dict(p) for p in plan.initial()["groups"]]
    groups[i].pop("library", None)
    start = render_plan(plan, {"groups": groups})
    r = GraphRealizer().realize(RealizeRequest(
        task=task, strategy=load_catalog().get("vectorization/alignment_hints"),
        parent_source=start))  # fmt: skip
    tma = r.source if r.ok and r.params["groups"][i].get("tma") else None
    tile = {**groups[i], **HOPPER_TILE, "even": True, "tma": 1}
    while not gemm_fits(tile, plan.facts[i]) and tile["BK"] > 16:  # fp32: a shorter K step
        tile["BK"] //= 2
    wide = None
    if plan.facts[i].tma and gemm_fits(tile, plan.facts[i]):
        wide = render_plan(plan, {"groups": [*groups[:i], tile, *groups[i + 1 :]]})

    def name(g: dict[str, Any]) -> str:
        return f"{g['BM']}x{g['BN']}x{g['BK']} w{g['num_warps']} s{g['num_stages']} g{g['GROUP_M']}"

    return [(f"start {name(groups[i])}", start), ("start + tma (alignment_hints)", tma),
            (f"tma {name(tile)}", wide)]  # fmt: skip


def _gemm_flops(task: Task) -> float:
    f = next(f for f in plan_for(task).facts if f.template == "matmul")
    return 2.0 * f.numel * f.depth


def tma_main(ev: WorkerEvaluator, tasks: list[Task], out: Path | None) -> None:
    rows: list[dict[str, Any]] = []
    for task in tasks:
        flops = _gemm_flops(task)
        print(f"\n{task.name} ({task.size})")
        print(f"  {'variant':34} {'status':10} {'ms':>9} {'x eager':>8} {'TFLOP/s':>8}")
        eager: list[float] = []
        for label, src in tma_variants(task):
            if src is None:
                print(f"  {label:34} {'-':10} (no TMA kernel: strides or shared memory)")
                continue
            row, m = measure(ev, task, label, src)
            if m.ref_runtime_ms:
                eager.append(m.ref_runtime_ms)
            tf = flops / (m.runtime_ms * 1e9) if m.runtime_ms else None
            rows.append({**row, "tflops": tf})
            ms, _, sp = cells(m)
            tfs = f"{tf:8.1f}" if tf else f"{'-':>8}"
            print(f"  {label:34} {m.status!s:10} {ms} {sp} {tfs}{error_cell(m, 60)}", flush=True)
            if out:
                out.write_text(json.dumps(rows, indent=1))
        if eager:
            e = sorted(eager)[len(eager) // 2]
            rows.append({"task": task.name, "size": task.size, "variant": "eager (cuBLAS)",
                         "ms": e, "tflops": flops / (e * 1e9)})  # fmt: skip
            print(
                f"  {'eager (cuBLAS), median':34} {'':10} {e:9.4f} {1:7.2f}x "
                f"{flops / (e * 1e9):8.1f}"
            )
        if out:
            out.write_text(json.dumps(rows, indent=1))


def main(argv: Sequence[str] | None = None) -> int:
    ap = variant_parser(__doc__.split("\n\n")[0], "comma-separated problem files or bundled names")
    ap.add_argument("--tma", action="store_true", help="the TMA variant's table (see above)")
    args = ap.parse_args(argv)
    default = TMA_DEFAULT if args.tma else DEFAULT + BUNDLED
    names = [p for p in args.problems.split(",") if p] or default
    bundled = ["matmul", *BUNDLED]  # bundled names: their default (bf16) size
    try:
        tasks = [load_task(n, None if n in bundled else args.size or None, TASKS_DIR)
                 for n in names]  # fmt: skip
    except TaskError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    ev = bench_evaluator(args.device, args.trials)
    rows: list[dict[str, Any]] = []
    try:
        print(f"device: {ev.gpu_facts().name}", flush=True)
        if args.tma:
            tma_main(ev, tasks, args.json)
            return 0
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
                row, m = measure(ev, task, label, src)
                rows.append(row)
                ms, eager, sp = cells(m)
                print(f"  {label:34} {m.status!s:10} {ms} {eager} {sp}{error_cell(m, 60)}",
                      flush=True)  # fmt: skip
                if args.json:
                    args.json.write_text(json.dumps(rows, indent=1))
    finally:
        ev.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
