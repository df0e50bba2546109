"""Benchmark the offline realizer: how fast are the kernels it can reach, per task?

For each bundled task (or ``--tasks a,b``, bundled names or KernelBench files): the
heuristic start kernel of the graph templates, every one-step strategy variant of it, and a greedy hill-climb
(each round applies every applicable strategy to the current best and keeps the
best improvement) are evaluated through `profiling.evaluator.WorkerEvaluator`.
A table per task shows the best variant's strategy chain, its runtime, eager
PyTorch's runtime, the speedup, the achieved bandwidth (minimum bytes moved /
runtime) and its fraction of the measured DRAM copy bandwidth.

    python -m experiments.bench_offline                          # every bundled task, GPU
    python -m experiments.bench_offline --tasks softmax,rmsnorm --rounds 2
    python -m experiments.bench_offline --device interpret --size smoke --json-out b.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from experiments import TASKS_DIR
from profiling.evaluator import Evaluator
from profiling.hardware import GpuFacts
from profiling.measurement import Measurement
from profiling.tasks import Task, TaskError, bundled_task_names, load_task
from strategies.graph.realizer import GraphRealizer, initial_source
from strategies.types import RealizeRequest, Strategy


@dataclass
class Variant:
    chain: tuple[str, ...]
    source: str
    measurement: Measurement

    @property
    def ms(self) -> float:
        r = self.measurement.runtime_ms
        return r if self.measurement.ok and r else float("inf")

    def to_dict(self, nbytes: int) -> dict[str, Any]:
        m = self.measurement
        return {
            "chain": list(self.chain),
            "status": str(m.status),
            "error": m.error,
            "runtime_ms": m.runtime_ms,
            "eager_ms": m.ref_runtime_ms,
            "speedup": m.speedup,
            "gbps": nbytes / (m.runtime_ms * 1e6) if m.ok and m.runtime_ms else None,
        }


@dataclass
class TaskReport:
    task: str
    size: str
    nbytes: int
    default: Variant
    one_step: list[Variant] = field(default_factory=list)
    best: Variant | None = None
    evaluations: int = 0


def strategies_for(kind: str, device: str) -> list[Strategy]:
    """The catalog's strategies for a kind; CUDA C++ ones only where a GPU runs them."""
    from strategies.catalog import load_catalog

    return [s for s in load_catalog().for_kind(kind) if s.target == "triton" or device == "cuda"]


def min_bytes(task: Task) -> int:
    """Bytes every correct kernel moves at least: inputs and parameters read, outputs written."""
    import torch

    mod = task.load_module()
    torch.manual_seed(0)
    model = mod.Model(*mod.get_init_inputs())
    inputs = mod.get_inputs()
    total = sum(t.numel() * t.element_size() for t in inputs if isinstance(t, torch.Tensor))
    total += sum(p.numel() * p.element_size() for p in model.parameters())
    try:
        with torch.device("meta"):
            meta_model = mod.Model(*mod.get_init_inputs())
        out = meta_model(*[t.to("meta") if isinstance(t, torch.Tensor) else t for t in inputs])
    except Exception:
        return total
    outs = out if isinstance(out, tuple | list) else (out,)
    return total + sum(o.numel() * o.element_size() for o in outs if isinstance(o, torch.Tensor))


def make_evaluator(device: str, trials: int) -> Evaluator:
    from profiling.evaluator import EvalSettings, WorkerEvaluator

    return WorkerEvaluator(EvalSettings(device=device, trials=trials))


# ---------------------------------------------------------------- search


def bench_task(
    task: Task, evaluator: Evaluator, rounds: int, log: Callable[[str], None] = print
) -> TaskReport:
    realizer = GraphRealizer()
    strategies = strategies_for(task.kind, evaluator.device)
    cache: dict[str, Measurement] = {}

    def evaluate(chain: tuple[str, ...], source: str) -> Variant:
        if source not in cache:
            cache[source] = evaluator.evaluate(task, source)
            m = cache[source]
            shown = _chain(chain)
            ms = (
                f"{m.runtime_ms:.4f} ms" if m.ok and m.runtime_ms else f"{m.status}: {m.error[:80]}"
            )
            log(f"  [{task.name}] {shown}: {ms}")
        return Variant(chain, source, cache[source])

    def children(parent: Variant) -> list[Variant]:
        out = []
        for s in strategies:
            r = realizer.realize(RealizeRequest(task=task, strategy=s, parent_source=parent.source))
            if r.ok and r.source is not None:
                out.append(evaluate((*parent.chain, s.id), r.source))
        return out

    default = evaluate((), initial_source(task))
    report = TaskReport(task.name, task.size, min_bytes(task), default)
    report.one_step = children(default)
    best = min([default, *report.one_step], key=lambda v: v.ms)
    for _ in range(max(0, rounds - 1)):
        step = min(children(best), key=lambda v: v.ms, default=None)
        if step is None or step.ms >= best.ms * 0.99:
            break
        best = step
    report.best = best
    report.evaluations = len(cache)
    return report


# ---------------------------------------------------------------- output


def print_report(rep: TaskReport, facts: GpuFacts, show_all: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{rep.task} ({rep.size}, {rep.nbytes / 1e6:.4g} MB moved at least)")
    for col in ("variant", "status", "ms", "eager ms", "speedup", "GB/s", "% DRAM"):
        table.add_column(col, justify="left" if col in ("variant", "status") else "right")
    rows: list[tuple[str, Variant]] = [("default", rep.default)]
    if show_all:
        rows += [(_chain(v.chain), v) for v in rep.one_step]
    else:
        ok = [v for v in rep.one_step if v.measurement.ok]
        if ok:
            b1 = min(ok, key=lambda v: v.ms)
            rows.append((f"best one-step: {_chain(b1.chain)}", b1))
    if rep.best is not None:
        rows.append(("BEST: " + _chain(rep.best.chain), rep.best))
    for label, v in rows:
        d = v.to_dict(rep.nbytes)
        gbps = d["gbps"]
        frac = f"{100 * gbps / facts.dram_gbps:.0f}%" if gbps and facts.dram_gbps else "-"
        table.add_row(
            label,
            d["status"],
            _f(d["runtime_ms"]),
            _f(d["eager_ms"]),
            f"{d['speedup']:.2f}x" if d["speedup"] else "-",
            f"{gbps:.0f}" if gbps else "-",
            frac,
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=150)
    console.print(table)


def _chain(chain: Sequence[str]) -> str:
    return " + ".join(s.rsplit("/", 1)[-1] for s in chain) or "default"


def _f(x: float | None) -> str:
    return f"{x:.4f}" if x else "-"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--tasks",
        help="comma-separated task names or KernelBench files (default: every bundled task)",
    )
    ap.add_argument("--size", default=None, help="size preset or k=v,... for every task")
    ap.add_argument("--device", default="auto", choices=("auto", "cuda", "interpret"))
    ap.add_argument("--rounds", type=int, default=3, help="hill-climb rounds (1 = one-step only)")
    ap.add_argument("--trials", type=int, default=2, help="correctness trials per candidate")
    ap.add_argument("--all", action="store_true", help="list every one-step variant")
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args(argv)

    try:
        if args.tasks:
            tasks = [load_task(t.strip(), args.size, TASKS_DIR) for t in args.tasks.split(",") if t.strip()]
        else:
            tasks = [load_task(n, args.size, TASKS_DIR) for n in bundled_task_names(TASKS_DIR)]
    except TaskError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    evaluator = make_evaluator(args.device, args.trials)
    reports: list[TaskReport] = []
    try:
        facts = evaluator.gpu_facts()
        print(f"device: {facts.name}, DRAM copy {facts.dram_gbps:.0f} GB/s", flush=True)
        for task in tasks:
            rep = bench_task(task, evaluator, args.rounds)
            reports.append(rep)
            print_report(rep, facts, args.all)
    finally:
        evaluator.close()
    if args.json_out:
        out = {
            "device": facts.name,
            "dram_gbps": facts.dram_gbps,
            "tasks": [
                {
                    "task": r.task,
                    "size": r.size,
                    "min_bytes": r.nbytes,
                    "evaluations": r.evaluations,
                    "default": r.default.to_dict(r.nbytes),
                    "one_step": [v.to_dict(r.nbytes) for v in r.one_step],
                    "best": r.best.to_dict(r.nbytes) if r.best else None,
                    "best_source": r.best.source if r.best else None,
                }
                for r in reports
            ],
        }
        args.json_out.write_text(json.dumps(out, indent=2))
        print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
