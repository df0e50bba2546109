"""Does a device hold take the host's launch time out of the timed calls? An A/B of
``device.hold_us`` on fixed kernels, measured rather than argued.

    python -m experiments.bench_hold --problems 43_batchnorm_inference,12_bias_residual \\
        [--hold 0,300] [--repeats 5] [--size bench] [--json out.json]

Each problem's heuristic start (``plan.initial()``, rendered by the graph realizer) is
evaluated ``--repeats`` times under every hold, the holds alternating so that drift in the
machine falls on all of them alike. Each evaluation times the candidate and the eager
reference interleaved (`profiling.timing.time_interleaved`) with the hold queued before
every start event. The table, per problem and hold, gives the median over the repeats of:
the candidate's and the reference's median ms, the candidate's p80/p20, the share of slow
calls (event time over `profiling.measurement.SLOW` x the p20) for both, the candidate's
host ms per call, and x eager. A hold that works lowers the slow shares and the medians of
launch-bound kernels, and leaves a kernel that is longer than its launch as it was.
"""

from __future__ import annotations

import json
import statistics
import sys
from collections.abc import Sequence
from typing import Any

from experiments import KERNELBENCH_DIR, TASKS_DIR
from experiments.bench_params import parse_value
from experiments.variant_rows import bench_evaluator, variant_parser
from profiling.measurement import Measurement
from profiling.tasks import TaskError, load_task
from strategies.errors import RealizerError
from strategies.graph.plan import plan_for
from strategies.graph.realizer import render_plan


def parse_holds(text: str) -> list[float]:
    """``"0,300"`` -> ``[0.0, 300.0]`` (ValueError on an empty list or a negative value)."""
    holds = [float(parse_value(v)) for v in text.split(",") if v.strip()]
    if not holds or any(h < 0 for h in holds):
        raise ValueError(f"--hold wants non-negative microseconds like 0,300, got {text!r}")
    return holds


def resolve(problem: str) -> str:
    """A bare stem names a file of the bundled KernelBench-format problems."""
    path = KERNELBENCH_DIR / f"{problem}.py"
    return str(path) if path.exists() else problem


def row_of(problem: str, hold: float, m: Measurement) -> dict[str, Any]:
    """One evaluation as a JSON row (None where it was not measured)."""
    shape = m.shapes[0] if m.shapes else None
    cand = shape.candidate if shape else None
    ref = shape.reference if shape else None
    d = m.diagnostics
    return {
        "problem": problem, "hold_us": hold, "status": str(m.status), "error": m.error,
        "ms": cand.median_ms if cand else None, "p20_ms": cand.p20_ms if cand else None,
        "p80_ms": cand.p80_ms if cand else None, "ref_ms": ref.median_ms if ref else None,
        "slow_calls": d.slow_calls, "ref_slow_calls": d.ref_slow_calls,
        "host_call_ms": d.host_call_ms, "speedup": m.speedup,
    }  # fmt: skip


def summarize(rows: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Medians over the repeats of one problem and hold (measured rows only)."""
    ok = [r for r in rows if r["ms"]]

    def med(key: str) -> float | None:
        xs = [r[key] for r in ok if r[key] is not None]
        return statistics.median(xs) if xs else None

    spread = [r["p80_ms"] / r["p20_ms"] for r in ok if r["p20_ms"]]
    return {"ms": med("ms"), "ref_ms": med("ref_ms"), "slow_calls": med("slow_calls"),
            "ref_slow_calls": med("ref_slow_calls"), "host_call_ms": med("host_call_ms"),
            "speedup": med("speedup"), "p80_p20": statistics.median(spread) if spread else None,
            "n": float(len(ok))}  # fmt: skip


def fmt(x: float | None, spec: str, width: int) -> str:
    return format(x, spec).rjust(width) if x is not None else "-".rjust(width)


def main(argv: Sequence[str] | None = None) -> int:
    ap = variant_parser(__doc__.split("\n\n")[0], "comma-separated problem stems or files")
    ap.add_argument("--hold", default="0,300", help="hold microseconds to compare")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rep-ms", type=float, default=20.0)
    ap.add_argument("--warmup-ms", type=float, default=5.0)
    args = ap.parse_args(argv)
    try:
        holds = parse_holds(args.hold)
        if args.repeats < 1:
            raise ValueError(f"--repeats must be at least 1, got {args.repeats}")
        problems = [p.strip() for p in args.problems.split(",") if p.strip()]
        if not problems:
            raise ValueError("--problems names no problem")
        todo = []
        for p in problems:
            task = load_task(resolve(p), args.size or None, TASKS_DIR)
            plan = plan_for(task)
            todo.append((p, task, render_plan(plan, plan.initial())))
    except (ValueError, TaskError, RealizerError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    evs = [bench_evaluator(args.device, args.trials, remeasure_speedup=0.0, hold_us=h,
                           rep_ms=args.rep_ms, warmup_ms=args.warmup_ms)
           for h in holds]  # fmt: skip
    rows: list[dict[str, Any]] = []
    try:
        print(f"device: {evs[0].gpu_facts().name}; holds {holds} us; {args.repeats} repeats",
              flush=True)  # fmt: skip
        for name, task, src in todo:
            for k in range(args.repeats):
                order = list(zip(holds, evs, strict=True))
                if k % 2:
                    order.reverse()
                for hold, ev in order:
                    row = row_of(name, hold, ev.evaluate(task, src))
                    rows.append(row)
                    print(f"  {name:28} hold {hold:6.0f} #{k}: {row['status']:8} "
                          f"{fmt(row['ms'], '.4f', 8)} ms  slow {fmt(row['slow_calls'], '.2f', 5)}"
                          f"{'  ' + (row['error'] or '')[:60] if row['error'] else ''}",
                          flush=True)  # fmt: skip
                    if args.json:
                        args.json.write_text(json.dumps(rows, indent=1))
    finally:
        for ev in evs:
            ev.close()
    print(f"\n{'problem':28} {'hold us':>7} {'ms':>8} {'p80/p20':>7} {'slow':>5} {'host ms':>7} "
          f"{'ref ms':>8} {'ref slow':>8} {'x eager':>7} {'n':>2}")  # fmt: skip
    for name, _, _ in todo:
        for hold in holds:
            s = summarize([r for r in rows if r["problem"] == name and r["hold_us"] == hold])
            print(f"{name:28} {hold:7.0f} {fmt(s['ms'], '.4f', 8)} {fmt(s['p80_p20'], '.2f', 7)} "
                  f"{fmt(s['slow_calls'], '.2f', 5)} {fmt(s['host_call_ms'], '.3f', 7)} "
                  f"{fmt(s['ref_ms'], '.4f', 8)} {fmt(s['ref_slow_calls'], '.2f', 8)} "
                  f"{fmt(s['speedup'], '.2f', 7)} {s['n']:2.0f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
