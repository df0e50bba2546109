"""Benchmark the evaluation harness itself, per bundled task.

For each task (or ``--tasks a,b``) one candidate (the reference-as-candidate
unless ``--candidate FILE``) is evaluated three times through a warm
`profiling.evaluator.WorkerEvaluator`: the first evaluation warms caches
(Triton, torch.compile), the next two are measured. Reported per task:

- eager PyTorch ms, ``torch.compile`` ms, the roofline floor (ms, which term
  binds: memory or compute);
- harness wall seconds per evaluation with a warm worker (target: <= 3 s at
  benchmark sizes, 5 trials and timing included);
- repeatability: the ratio of two timings of the same candidate (target within
  +-3 %), and the candidate/reference ratio of the self-comparison.

    python -m experiments.bench_harness                       # every task, GPU, default sizes
    python -m experiments.bench_harness --tasks softmax,rmsnorm --json-out h.json
    python -m experiments.bench_harness --device interpret --size smoke   # quick CPU check
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from experiments import TASKS_DIR
from profiling.channel import finite_or_none
from profiling.evaluator import (
    EvalSettings,
    WorkerEvaluator,
    reference_candidate_source,
    resolve_device,
)
from profiling.measurement import Measurement
from profiling.tasks import TaskError, bundled_task_names, load_task

WALL_TARGET_S = 3.0
REPEAT_TARGET = 0.03


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def bench_task(
    ev: WorkerEvaluator, name: str, size: str | None, source: str | None, repeats: int
) -> dict[str, Any]:
    task = load_task(name, size, TASKS_DIR)
    src = source if source is not None else reference_candidate_source(task)
    t0 = time.monotonic()
    first = ev.evaluate(task, src)
    first_wall = time.monotonic() - t0
    runs: list[Measurement] = [first]
    walls: list[float] = []
    for _ in range(repeats):
        t = time.monotonic()
        runs.append(ev.evaluate(task, src))
        walls.append(time.monotonic() - t)
    measured = runs[1:] or runs
    m = measured[0]
    cand = [r.runtime_ms for r in measured if r.runtime_ms]
    refs = [r.ref_runtime_ms for r in measured if r.ref_runtime_ms]
    comp = [r.compile_runtime_ms for r in measured if r.compile_runtime_ms]
    repeat_ratio = _ratio(cand[1], cand[0]) if len(cand) >= 2 else None
    return {
        "task": name,
        "size": task.size,
        "status": m.status.value,
        "error": m.error,
        "statuses": [r.status.value for r in runs],
        "device": m.device,
        "timing_kind": m.timing_kind,
        "eager_ms": statistics.median(refs) if refs else None,
        "compile_ms": statistics.median(comp) if comp else None,
        "candidate_ms": statistics.median(cand) if cand else None,
        "candidate_spread": m.shapes[0].candidate.spread
        if m.shapes and m.shapes[0].candidate
        else None,
        "floor_ms": m.floor_ms,
        "floor_binding": m.floor.bound if m.floor else None,
        "floor_memory_ms": m.floor.memory_ms if m.floor else None,
        "floor_compute_ms": m.floor.compute_ms if m.floor else None,
        "self_speedup": m.speedup,
        "repeat_ratio": repeat_ratio,
        "repeat_ok": repeat_ratio is not None and abs(repeat_ratio - 1) <= REPEAT_TARGET,
        "first_wall_s": first_wall,
        "wall_s": statistics.mean(walls) if walls else first_wall,
        "wall_ok": (statistics.mean(walls) if walls else first_wall) <= WALL_TARGET_S,
    }


def _f(v: float | None, fmt: str = ".4g") -> str:
    return "-" if v is None else format(v, fmt)


def render(rows: list[dict[str, Any]], facts: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    title = f"harness benchmark on {facts.get('name', '?')}"
    if facts.get("dram_gbps"):
        peaks = ", ".join(
            f"{facts.get(k, 0):.0f} {name}"
            for k, name in (("peak_tflops", "bf16"), ("peak_tflops_tf32", "tf32"),
                            ("peak_tflops_fp32", "fp32"))
        )  # fmt: skip
        title += f" ({facts['dram_gbps']:.0f} GB/s copy; TFLOP/s {peaks})"
    t = Table(title=title)
    for col in (
        "task",
        "size",
        "status",
        "eager ms",
        "compile ms",
        "floor ms",
        "binds",
        "cand ms",
        "self x",
        "repeat",
        "wall s",
        "first s",
    ):
        t.add_column(col, justify="left" if col in ("task", "size", "status", "binds") else "right")
    for r in rows:
        rep = r["repeat_ratio"]
        rep_s = (
            "-"
            if rep is None
            else f"[{'green' if r['repeat_ok'] else 'red'}]{(rep - 1) * 100:+.1f}%[/]"
        )
        wall_s = f"[{'green' if r['wall_ok'] else 'red'}]{r['wall_s']:.2f}[/]"
        t.add_row(
            r["task"],
            r["size"],
            r["status"],
            _f(r["eager_ms"]),
            _f(r["compile_ms"]),
            _f(r["floor_ms"]),
            r["floor_binding"] or "-",
            _f(r["candidate_ms"]),
            _f(r["self_speedup"], ".3f"),
            rep_s,
            wall_s,
            f"{r['first_wall_s']:.1f}",
        )
    console = Console() if sys.stdout.isatty() else Console(width=150)
    console.print(t)
    for r in rows:
        if r["status"] != "ok":
            console.print(f"[red]{r['task']}[/]: {r['status']}: {r['error']}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m experiments.bench_harness", description=__doc__.split("\n\n")[0]
    )
    ap.add_argument("--device", default="auto", choices=("cuda", "interpret", "auto"))
    ap.add_argument(
        "--size",
        default=None,
        help="size preset or k=v,... for every task (default: each file's own)",
    )
    ap.add_argument(
        "--tasks", default=None, help="comma-separated bundled task names (default: all)"
    )
    ap.add_argument(
        "--candidate", default=None, help="candidate file (default: the reference as candidate)"
    )
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument(
        "--repeats", type=int, default=2, help="measured evaluations per task after the warm one"
    )
    ap.add_argument(
        "--compile",
        dest="compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="time torch.compile(reference) (default: on for cuda, off for the interpreter)",
    )
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--json-out", default=None)
    args = ap.parse_args(argv)

    names = args.tasks.split(",") if args.tasks else bundled_task_names(TASKS_DIR)
    source = Path(args.candidate).read_text() if args.candidate else None
    device = resolve_device(args.device)
    use_compile = args.compile if args.compile is not None else device == "cuda"
    settings = EvalSettings(
        device=device, trials=args.trials, timeout_s=args.timeout, baseline_compile=use_compile
    )
    rows = []
    with WorkerEvaluator(settings) as ev:
        facts = ev.gpu_facts().to_dict()
        for name in names:
            try:
                row = bench_task(ev, name.strip(), args.size, source, args.repeats)
            except TaskError as e:
                print(f"error: {e}", file=sys.stderr)
                return 2
            rows.append(row)
            print(
                f"{row['task']:>22} {row['status']:>10}  eager {_f(row['eager_ms'])} ms  "
                f"wall {row['wall_s']:.2f} s  repeat {_f(row['repeat_ratio'], '.4f')}",
                file=sys.stderr,
                flush=True,
            )
    render(rows, facts)
    if args.json_out:
        out = {"device": device, "facts": facts, "settings": vars(args), "rows": rows}
        Path(args.json_out).write_text(json.dumps(finite_or_none(out), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
