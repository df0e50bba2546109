"""Tune every bundled task and print one table: what the whole product achieves.

    python -m experiments.bench_tune [--tasks a,b] [--iterations 40] [--policy hucb]
        [--realizer offline] [--seed 0] [--device cuda] [--out runs/bench_tune/<now>]
        [--json-out table.json] [-- extra overrides]

Each task is one ``experiments.tune`` run (a subprocess, so a crash in one task
does not end the benchmark) into its own folder
``<out>/<task>-<policy>-s<seed>-<realizer>``, all in one MLflow experiment
(``<out>/mlflow.db``). ``--out`` defaults to a new timestamped folder; a run
folder that already exists is never reused or read as this run's result (the
row says so and the benchmark fails), and a run that exits non-zero is reported
as failed whatever files it left. The table reads the run directories back:

- eager / compile ms: the reference and ``torch.compile(reference)`` as timed by
  the harness in the first evaluation;
- floor ms: the roofline floor (min bytes / measured copy bandwidth, FLOPs / matmul
  peak for the task's precision; the JSON rows say which term binds, whether the
  FLOPs are the task's ``get_flops`` or the graph analysis, and which peak);
- best ms, x eager, x compile, % floor: the best kernel found (x eager is its
  `Measurement.speedup`: reference / candidate, timed interleaved in one worker);
- same-kernel ratio: reference timed as a candidate against itself (1.000 = the
  harness reproduces its own timing);
- eval s: mean wall seconds per candidate evaluation with a warm worker;
- wall s: the whole tuning run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from experiments import TASKS_DIR
from profiling.measurement import Timing
from profiling.tasks import bundled_task_names


def run_name(task: str, args: argparse.Namespace) -> str:
    """One folder per (task, policy, seed, realizer)."""
    return f"{task}-{args.policy}-s{args.seed}-{args.realizer}"


def bench_task(
    task: str, args: argparse.Namespace, out: Path, extra: list[str], runner: Any = subprocess.run
) -> dict[str, Any]:
    """Run one task into a fresh folder and summarize it; never reads an older run."""
    run_dir = out / run_name(task, args)
    if run_dir.exists():
        return {
            "task": task,
            "wall_s": 0.0,
            "run_dir": str(run_dir),
            "status": f"stale: {run_dir} already exists (use a new --out)",
        }
    cmd = [
        sys.executable, "-m", "experiments.tune",
        f"task={task}", f"policy={args.policy}", f"realizer={args.realizer}",
        f"budget.iterations={args.iterations}", f"device={args.device}", f"seed={args.seed}",
        f"tracking.uri=sqlite:///{(out / 'mlflow.db').resolve()}",
        f"tracking.experiment={args.experiment}",
        f"hydra.run.dir={run_dir}", "progress=plain",
        *extra,
    ]  # fmt: skip
    start = time.perf_counter()
    proc = runner(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    (out / f"{run_name(task, args)}.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        Console(stderr=True).print(f"{task}: exit {proc.returncode}: {tail[0]}", markup=False)
        return {
            "task": task,
            "wall_s": wall,
            "run_dir": str(run_dir),
            "status": f"failed (exit {proc.returncode}): {tail[0]}",
        }
    return {**summarize(task, run_dir, wall), "run_dir": str(run_dir)}


def timing_spread(measurements: list[dict[str, Any]]) -> dict[str, Any]:
    """How steady the candidates' timings were: ``wide`` candidates (`Timing.wide` at the
    primary size), the mean share of slow timed calls and the median host time of a call
    (`profiling.timing.host_stats`; absent in records older than those diagnostics)."""
    timings = [((m.get("shapes") or [{}])[0] or {}).get("candidate") for m in measurements]
    wide = sum(1 for t in timings if t and Timing(**t).wide)
    diags = [m.get("diagnostics") or {} for m in measurements]
    slow = [d["slow_calls"] for d in diags if d.get("slow_calls") is not None]
    host = [d["host_call_ms"] for d in diags if d.get("host_call_ms") is not None]
    return {
        "wide": wide,
        "slow_calls": statistics.fmean(slow) if slow else None,
        "host_call_ms": statistics.median(host) if host else None,
    }


def summarize(task: str, run_dir: Path, wall_s: float) -> dict[str, Any]:
    path = run_dir / "candidates.jsonl"
    row: dict[str, Any] = {"task": task, "wall_s": wall_s}
    if not path.is_file():
        return {**row, "status": "no run"}
    cands = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    ref = next((c for c in cands if c["id"] == "ref"), None)
    ok = [c for c in cands if c["status"] == "ok" and c.get("measurement")]
    if ref is None or not ok:
        return {**row, "status": "reference failed"}
    rm = ref["measurement"]
    best = max(ok, key=lambda c: c.get("speedup") or 0.0)  # Member.speedup, as the tuner ranks
    bm = best["measurement"]
    eager, comp = rm["ref_runtime_ms"], rm.get("compile_runtime_ms")
    walls = [c["measurement"]["wall_s"] for c in cands[1:] if c.get("measurement")]
    return {
        **row,
        "status": "ok",
        "device": rm.get("device", ""),
        "eager_ms": eager,
        "compile_ms": comp,
        "floor_ms": rm.get("floor_ms"),
        # what sets the floor: its binding term, where its FLOPs came from (task or graph
        # analysis) and the matmul peak of its compute term (profiling.roofline)
        **{f"floor_{k}": (rm.get("floor") or {}).get(k)
           for k in ("bound", "flops_source", "peak", "bytes")},
        "best_ms": bm["runtime_ms"],
        # Measurement.speedup: reference / candidate, timed interleaved in the same worker
        "x_eager": best.get("speedup"),
        "x_compile": (
            bm["compile_runtime_ms"] / bm["runtime_ms"] if bm.get("compile_runtime_ms") else None
        ),
        "roofline": bm.get("roofline_fraction"),
        "same_kernel_ratio": rm["runtime_ms"] / rm["ref_runtime_ms"],
        "eval_s": statistics.median(walls) if walls else None,
        "candidates": len(cands),
        "correct": len(ok),
        "best_chain": best.get("strategy_id") or "reference",
        **timing_spread([c["measurement"] for c in ok if c["id"] != "ref"]),
    }


def render(rows: list[dict[str, Any]]) -> Table:
    def f(v: Any, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    t = Table(title="kernel-bandit: tuning every bundled task")
    for col in ("task", "eager ms", "compile ms", "floor ms", "best ms", "x eager",
                "x compile", "% floor", "same-kernel", "eval s", "ok/cands", "wall s"):  # fmt: skip
        t.add_column(col, justify="left" if col == "task" else "right")
    for r in rows:
        if r.get("status") != "ok":
            t.add_row(r["task"], r.get("status", "?"), *[""] * 9, f(r["wall_s"], ".0f"))
            continue
        t.add_row(
            r["task"], f(r["eager_ms"], ".4f"), f(r["compile_ms"], ".4f"), f(r["floor_ms"], ".4f"),
            f(r["best_ms"], ".4f"), f(r["x_eager"], ".2f"), f(r["x_compile"], ".2f"),
            f(100 * r["roofline"] if r["roofline"] else None, ".0f"),
            f(r["same_kernel_ratio"], ".3f"), f(r["eval_s"], ".2f"),
            f"{r['correct']}/{r['candidates']}", f(r["wall_s"], ".0f"),
        )  # fmt: skip
    return t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", default="", help="comma-separated bundled tasks (default: all)")
    p.add_argument("--iterations", type=int, default=40)
    p.add_argument("--policy", default="hucb")
    p.add_argument("--realizer", default="offline")
    p.add_argument("--device", default="cuda", choices=("cuda", "interpret", "auto"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--experiment", default="bench-tune")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("runs/bench_tune") / time.strftime("%Y-%m-%d_%H-%M-%S"),
        help="a new folder per benchmark (default: runs/bench_tune/<now>)",
    )
    p.add_argument("--json-out", type=Path)
    p.add_argument("--deadline", type=float, default=0.0,
                   help="start no new task after this many seconds (0: no limit)")  # fmt: skip
    p.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = p.parse_args(argv)
    known = bundled_task_names(TASKS_DIR)
    tasks = [t for t in args.tasks.split(",") if t] or known
    unknown = sorted(set(tasks) - set(known))
    if unknown:
        print(f"error: unknown task(s) {', '.join(unknown)} (bundled: {', '.join(known)})",
              file=sys.stderr)  # fmt: skip
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    start = time.perf_counter()
    for task in tasks:
        if args.deadline and time.perf_counter() - start > args.deadline:
            Console().print(f"deadline of {args.deadline:.0f} s passed: {task} and later skipped")
            break
        rows.append(bench_task(task, args, args.out, args.overrides))
        Console().print(f"{task}: " + json.dumps(rows[-1]))
        if args.json_out:  # after every task, so a run cut short keeps what it measured
            args.json_out.write_text(json.dumps(rows, indent=2))
    Console(width=160).print(render(rows))
    return 0 if all(r.get("status") == "ok" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
