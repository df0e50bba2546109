"""Benchmark the hardware probes: what Nsight Compute says about each bundled task.

For each bundled task (or ``--tasks a,b``): the
reference program, the offline realizer's best known kernel (the fastest kernel of
the task's committed landscape in experiments/landscapes, rebuilt from its strategy
chain through the offline realizer; a one-step search where no landscape has a
kernel faster than the reference, or with ``--search``; ``--default`` adds the heuristic
start kernel) are evaluated by the worker (runtime,
roofline floor) and profiled by the ncu probe (one forward in a short-lived
child per task). The table shows SM %, DRAM %, L2 hit %, achieved occupancy, registers,
the bottleneck class, the fraction of the roofline floor reached and the
profiling seconds per candidate (child start included).

    python -m experiments.bench_probes                       # every task, about 3 min on an H200
    python -m experiments.bench_probes --tasks softmax,matmul --json probes.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from experiments import LANDSCAPES_DIR, TASKS_DIR
from profiling.evaluator import EvalSettings, WorkerEvaluator, reference_candidate_source
from profiling.landscape import landscape_path, load_landscape
from profiling.measurement import Measurement
from profiling.probes.base import ProbeReport, ProbeTarget
from profiling.probes.counters import classify
from profiling.probes.ncu import NcuSettings
from profiling.probes.registry import ProbeSettings
from profiling.probes.session import ProbeSession
from profiling.tasks import Task, TaskError, bundled_task_names, load_task
from strategies.catalog import load_catalog
from strategies.factory import build_realizer
from strategies.graph.realizer import initial_source
from strategies.types import RealizeRequest


def landscape_best(task: Task) -> tuple[str, ...] | None:
    """The strategy chain of the fastest kernel in the task's committed landscape that beats
    the reference; None without one."""
    path = landscape_path(LANDSCAPES_DIR, task.name, task.size)
    if not path.exists():
        return None
    land = load_landscape(path)
    ref = land.get(land.header.reference_hash)
    ref_ms = ref.best_ms if ref is not None else None
    faster = [e for h, e in land.entries.items() if h != land.header.reference_hash
              and e.best_ms and (ref_ms is None or e.best_ms < ref_ms)]
    return min(faster, key=lambda e: e.best_ms or 0.0).chain if faster else None


@dataclass(frozen=True)
class Row:
    task: str
    kernel: str  # "reference" | "default" (the heuristic start) | "best: <chain>"
    status: str
    runtime_ms: float | None
    sm_pct: float | None
    dram_pct: float | None
    l2_hit_pct: float | None
    occupancy_pct: float | None
    registers: int | None
    bottleneck: str
    roofline_fraction: float | None
    profile_s: float
    launches: int | None
    note: str = ""


def chain_source(task: Task, chain: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """The offline kernel after applying ``chain``; stops at the first step that does not apply."""
    realizer = build_realizer("offline", {})
    by_id = {s.id: s for s in load_catalog().for_kind(task.kind)}
    source, done = initial_source(task), ()
    for sid in chain:
        strategy = by_id.get(sid)
        if strategy is None:
            break
        r = realizer.realize(RealizeRequest(task=task, strategy=strategy, parent_source=source))
        if not r.ok or r.source is None:
            break
        source, done = r.source, (*done, sid)
    return source, done


def search_best(task: Task, evaluator: WorkerEvaluator) -> tuple[str, tuple[str, ...]]:
    """The fastest of the heuristic start kernel and its one-step variants."""
    realizer = build_realizer("offline", {})
    default = initial_source(task)
    best = (default, (), _ms(evaluator.evaluate(task, default)))
    for s in load_catalog().for_kind(task.kind):
        if s.target != "triton":
            continue
        r = realizer.realize(RealizeRequest(task=task, strategy=s, parent_source=default))
        if r.ok and r.source is not None:
            ms = _ms(evaluator.evaluate(task, r.source))
            if ms < best[2]:
                best = (r.source, (s.id,), ms)
    return best[0], best[1]


def _ms(m: Measurement) -> float:
    return m.runtime_ms if m.ok and m.runtime_ms else float("inf")


def profile_row(
    task: Task, label: str, m: Measurement, report: ProbeReport
) -> Row:
    seconds = report.seconds
    c = report.counters
    note = report.notes[0] if report.notes else ""
    regs = c.registers if c and c.registers else (
        report.compiled.n_regs if report.compiled else m.resources.get("n_regs"))
    return Row(
        task=task.name,
        kernel=label,
        status=str(m.status),
        runtime_ms=m.runtime_ms,
        sm_pct=c.sm_pct if c else None,
        dram_pct=c.dram_pct if c else None,
        l2_hit_pct=c.l2_hit_pct if c else None,
        occupancy_pct=c.occupancy_pct if c else None,
        registers=int(regs) if regs else None,
        bottleneck=str(classify(c, roofline_fraction=m.roofline_fraction)),
        roofline_fraction=m.roofline_fraction,
        profile_s=seconds,
        launches=c.launches if c else None,
        note=note,
    )


def bench_task(
    task: Task,
    evaluator: WorkerEvaluator,
    probes: ProbeSession,
    with_default: bool,
    search: bool,
    device: str = "cuda",
) -> list[Row]:
    kernels: list[tuple[str, str, bool]] = [("reference", reference_candidate_source(task), True)]
    if with_default:
        kernels.append(("default", initial_source(task), False))
    recorded = None if search else landscape_best(task)
    if recorded is None:
        src, chain = search_best(task, evaluator)
    else:
        src, chain = chain_source(task, recorded)
    kernels.append(("best: " + (" + ".join(s.rsplit("/", 1)[-1] for s in chain) or "default"),
                    src, False))
    measured = [evaluator.evaluate(task, source) for _, source, _ in kernels]
    # one profiling child per task for all its kernels (one start instead of several)
    reports = probes.profile_many(
        [ProbeTarget(task, source, device, reference=ref) for _, source, ref in kernels]
    )
    return [
        profile_row(task, label, m, report)
        for (label, _, _), m, report in zip(kernels, measured, reports, strict=True)
    ]


def _f(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def print_table(rows: Sequence[Row]) -> None:
    head = ("task", "kernel", "ms", "SM%", "DRAM%", "L2hit%", "occ%", "regs", "class",
            "floor%", "prof s")
    lines = [head]
    for r in rows:
        lines.append((
            r.task, r.kernel[:34], _f(r.runtime_ms, ".4f") if r.status == "ok" else r.status,
            _f(r.sm_pct, ".0f"), _f(r.dram_pct, ".0f"), _f(r.l2_hit_pct, ".0f"),
            _f(r.occupancy_pct, ".0f"), _f(r.registers, "d"), r.bottleneck,
            _f(None if r.roofline_fraction is None else 100 * r.roofline_fraction, ".0f"),
            f"{r.profile_s:.1f}",
        ))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    for line in lines:
        print("  ".join(str(v).ljust(w) if i < 2 else str(v).rjust(w)
                        for i, (v, w) in enumerate(zip(line, widths, strict=True))))
    notes = {r.note for r in rows if r.note}
    for n in sorted(notes):
        print(f"note: {n}")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", help="comma-separated task names (default: every bundled task)")
    ap.add_argument("--size", default=None, help="size preset or k=v,... for every task")
    ap.add_argument("--default", action="store_true", help="also profile the heuristic start kernel")
    ap.add_argument("--search", action="store_true",
                    help="find the best kernel by a one-step search instead of the recorded chain")
    ap.add_argument("--ncu", default="ncu", help="the Nsight Compute executable")
    ap.add_argument("--probes", default="ncu,triton", help="probes to run (ncu, nvml, triton)")
    ap.add_argument("--device", default="cuda", choices=("cuda", "interpret"),
                    help="interpret: a CPU dry run of the script (no counters)")
    ap.add_argument("--json", type=Path, help="write the rows as JSON here")
    args = ap.parse_args(argv)
    try:
        names = ([t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks
                 else [n for n in bundled_task_names(TASKS_DIR)])
        tasks = [load_task(n, args.size, TASKS_DIR) for n in names]
    except TaskError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    names = tuple(n.strip() for n in args.probes.split(",") if n.strip())
    try:
        settings = ProbeSettings(names=names, ncu=NcuSettings(executable=args.ncu))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    probes = ProbeSession(settings)
    rows: list[Row] = []
    t0 = time.monotonic()
    # one correctness trial, no torch.compile baseline, short timing: the runtimes only
    # place each kernel against its roofline floor; the counters are the point
    quick = EvalSettings(device=args.device, trials=1, baseline_compile=False, warmup_ms=10.0,
                         rep_ms=40.0)
    with WorkerEvaluator(quick) as evaluator:
        facts = evaluator.gpu_facts()
        print(f"device: {facts.name}", flush=True)
        for task in tasks:
            new = bench_task(task, evaluator, probes, args.default, args.search, args.device)
            for r in new:
                print(f"  {r.task} {r.kernel}: {r.bottleneck}, profiled in {r.profile_s:.1f} s",
                      flush=True)
            rows.extend(new)
            if args.json:  # after every task, so a cut run keeps what it measured
                _write_json(args.json, facts.name, rows)
    print()
    print_table(rows)
    profiled = [r.profile_s for r in rows if r.launches]
    if profiled:
        print(f"profiling: {sum(profiled) / len(profiled):.1f} s per candidate (mean), "
              f"max {max(profiled):.1f} s; total wall {time.monotonic() - t0:.0f} s")
    if args.json:
        _write_json(args.json, facts.name, rows)
        print(f"wrote {args.json}")
    return 0


def _write_json(path: Path, device: str, rows: Sequence[Row]) -> None:
    out: dict[str, Any] = {"device": device, "rows": [asdict(r) for r in rows]}
    path.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    sys.exit(main())
