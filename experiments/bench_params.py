"""Time a grid of template parameters for one group of a problem: where a start heuristic
should point, measured rather than guessed.

    python -m experiments.bench_params tests/strategies/kernelbench/16_sum_dim1.py \\
        --set ROWS=128,512 --set BLOCK_C=8,16,32 --set num_warps=4,8 [--group 0] [--json out.json]

The problem's heuristic start (``plan.initial()``) is the base; every combination of the
``--set`` values replaces those keys in group ``--group`` (default: the heaviest group), is
rendered by the graph realizer and evaluated with correctness trials and the reference timed
interleaved (`experiments.variant_rows.bench_evaluator`). Combinations the template's space
would not admit (`strategies.graph.space.admissible`: blocks beyond Triton's tensor limit,
reduction blocks that spill registers) are skipped. The table, fastest first: the parameters
that differ from the start, status, ms, x eager and % of the roofline floor; the start itself
is the first row measured.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Sequence
from typing import Any

from experiments import TASKS_DIR
from experiments.variant_rows import bench_evaluator, cells, error_cell, measure, variant_parser
from profiling.tasks import TaskError, load_task
from strategies.errors import RealizerError
from strategies.graph.plan import plan_for
from strategies.graph.realizer import OPTIONAL_KEYS, render_plan
from strategies.graph.space import admissible


def parse_value(text: str) -> Any:
    """``8`` -> 8, ``true`` -> True, ``loop`` -> "loop"."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(low)
    except ValueError:
        return text.strip()


def parse_sets(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["ROWS=1,2", "mode=loop"]`` -> ``{"ROWS": [1, 2], "mode": ["loop"]}`` (ValueError)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise ValueError(f"--set wants KEY=V1,V2,..., got {item!r}")
        grid[key.strip()] = [parse_value(v) for v in values.split(",") if v.strip()]
    return grid


def combos(base: dict[str, Any], grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The start, then every grid combination that differs from it (no duplicates)."""
    out = [dict(base)]
    for values in itertools.product(*grid.values()):
        p = {**base, **dict(zip(grid, values, strict=True))}
        if p not in out:
            out.append(p)
    return out


def label(p: dict[str, Any], base: dict[str, Any]) -> str:
    diff = {k: v for k, v in p.items() if base.get(k) != v}
    return " ".join(f"{k}={v}" for k, v in sorted(diff.items())) or "start"


def main(argv: Sequence[str] | None = None) -> int:
    ap = variant_parser(__doc__.split("\n\n")[0], "the problem: a KernelBench file or bundled name")
    ap.add_argument("problem", help="a KernelBench-format file or a bundled task name")
    ap.add_argument("--set", action="append", default=[], help="KEY=V1,V2,... (repeatable)")
    ap.add_argument("--group", type=int, default=None, help="group index (default: heaviest)")
    args = ap.parse_args(argv)
    try:
        grid = parse_sets(args.set)
        task = load_task(args.problem, args.size or None, TASKS_DIR)
        plan = plan_for(task)
    except (ValueError, TaskError, RealizerError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    gi = plan.order()[0] if args.group is None else args.group
    if not 0 <= gi < len(plan.facts):
        print(f"error: --group {gi}: the plan has {len(plan.facts)} groups", file=sys.stderr)
        return 2
    start, f = plan.initial(), plan.facts[gi]
    base = dict(start["groups"][gi])
    unknown = sorted(set(grid) - set(base) - OPTIONAL_KEYS)
    if unknown:
        print(f"error: group {gi} ({f.template}) has no parameter "
              f"{', '.join(unknown)}; it has {', '.join(sorted(base))}", file=sys.stderr)  # fmt: skip
        return 2
    todo = [p for p in combos(base, grid) if admissible(p, f)]
    print(f"{task.name} ({task.size}): {plan.summary}; group {gi} "
          f"({f.template}) start {json.dumps(base, sort_keys=True)}; "
          f"{len(todo)} variants", flush=True)  # fmt: skip
    ev = bench_evaluator(args.device, args.trials)
    rows: list[dict[str, Any]] = []
    try:
        print(f"device: {ev.gpu_facts().name}", flush=True)
        for p in todo:
            groups = [dict(g) for g in start["groups"]]
            groups[gi] = p
            name = label(p, base)
            try:
                src = render_plan(plan, {**start, "groups": groups})
            except RealizerError as e:
                print(f"  {name:48} not rendered: {e}", flush=True)
                continue
            row, m = measure(ev, task, name, src)
            floor = m.floor.ms if m.floor else None
            row.update(params=p, floor_pct=100 * floor / m.runtime_ms if floor and m.runtime_ms
                       else None)  # fmt: skip
            rows.append(row)
            ms, _, sp = cells(m)
            print(f"  {name:48} {m.status!s:10} {ms} {sp}{error_cell(m, 60)}", flush=True)
            if args.json:
                args.json.write_text(json.dumps(rows, indent=1))
    finally:
        ev.close()
    ok = sorted((r for r in rows if r["ms"]), key=lambda r: r["ms"])
    print(f"\n{task.name}: fastest first ({len(ok)} of {len(rows)} measured)")
    print(f"  {'variant':48} {'ms':>9} {'x eager':>8} {'% floor':>8}")
    for r in ok:
        pct = f"{r['floor_pct']:8.0f}" if r["floor_pct"] else f"{'-':>8}"
        print(f"  {r['variant']:48} {r['ms']:9.4f} {r['speedup']:7.2f}x {pct}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
