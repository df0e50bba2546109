"""Tune every KernelBench problem file in a directory with the offline realizer.

    python -m experiments.bench_kernelbench DIR [--iterations 40] [--size bench]
        [--json PATH] [--deadline S] [--device cuda|interpret] [--realizer offline|graph]
        [--gpus N] [--only a,b] [--resume] [--end S]
        [-- extra Hydra overrides]

DIR is any folder of KernelBench-format files (a KernelBench checkout's ``level1/``,
``tests/strategies/kernelbench``, ``experiments/tasks``). Each problem is one
``experiments.tune`` run in a subprocess (a crash ends only that problem). Per
problem the table shows the template classes its graph matched (``torch`` marks
library calls kept), whether a correct generated kernel was found, the best kernel
against eager and ``torch.compile``, its share of the roofline floor, candidates
evaluated and wall time; then coverage (problems with a correct generated kernel)
and geometric means. The JSON file is rewritten after every problem, so a run cut
short by ``--deadline`` (start no problem after S seconds) or ``--end`` (start a problem only
when its expected wall fits before S seconds: its earlier row's wall scaled to these
iterations, else the mean of this run's walls so far; a problem that does not fit is
skipped and a shorter one later in the list may still start) keeps what it measured, and
``--resume`` goes on from that file
(problems already in it are kept, not run again, unless their row was searched otherwise:
each row records its ``run`` settings, and a row with other iterations, policy, seed,
realizer, device or size is run again; Hydra overrides such as timing repetitions are
recorded but not compared). ``--gpus N`` tunes N problems at once, each on its own GPU and,
unless ``--no-pin``, on its own share of the CPU cores
(``KB_CPUS``, `profiling.affinity`): one problem's compiles cannot stall the launches
timed on another GPU. ``--copy``: once the problems are done, each memory-bound row is set
against a device copy of its own bytes on GPU 0 (`experiments.copy_floor`: the ``% copy``
column; a resumed row is timed again).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from experiments import copy_floor
from experiments.bench_tune import summarize
from profiling import affinity
from profiling.tasks import TaskError, load_task


def templates(path: Path, size: str | None) -> str:
    """The template classes a problem's graph matched (or why it has none)."""
    from strategies.errors import RealizerError
    from strategies.graph.plan import plan_for

    try:
        return plan_for(load_task(str(path), size)).summary
    except (RealizerError, TaskError) as e:
        return f"refused: {str(e)[:80]}"


def run_problem(
    path: Path, args: argparse.Namespace, size: str | None, gpu: int | None, extra: list[str],
    cpus: set[int] | None = None,
) -> float:
    out = args.out
    env = dict(os.environ)
    if gpu is not None:
        env["CUDA_VISIBLE_DEVICES"] = str(gpu)
    if cpus:
        env[affinity.ENV] = affinity.format_cpus(cpus)

    cmd = [
        sys.executable, "-m", "experiments.tune",
        f"task.name={path.resolve()}", f"policy={args.policy}",
        f"budget.iterations={args.iterations}", f"device={args.device}", f"seed={args.seed}",
        f"realizer={args.realizer}", "tracking=none", f"hydra.run.dir={out / path.stem}",
        *([f"task.size='{size}'"] if size else []),  # quoted: "k=v,..." is one value
        *extra,
    ]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    (out / f"{path.stem}.log").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        Console(stderr=True).print(f"{path.stem}: exit {proc.returncode}: {tail[0]}")
    return time.perf_counter() - start


def geomean(values: list[float]) -> float | None:
    vals = [v for v in values if v and v > 0]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else None


SEARCH_KEYS = ("iterations", "policy", "seed", "realizer", "device", "size")


def run_settings(args: argparse.Namespace) -> dict[str, Any]:
    """What a row's search was run with (stored in the row as ``run``)."""
    return {"iterations": args.iterations, "policy": args.policy, "seed": args.seed,
            "realizer": args.realizer, "device": args.device, "size": args.size,
            "overrides": list(args.overrides)}  # fmt: skip


def searched_otherwise(row: dict[str, Any], run: dict[str, Any]) -> list[str]:
    """The search settings in which an earlier row differs from this run ("k: a != b");
    a row without recorded settings (an older file) differs in none."""
    had = row.get("run")
    if not isinstance(had, dict):
        return []
    return [f"{k} {had.get(k)!r} != {run[k]!r}" for k in SEARCH_KEYS if had.get(k) != run[k]]


def earlier_rows(path: Path | None) -> list[dict[str, Any]]:
    """The rows of an earlier run's JSON file (none when it does not exist yet)."""
    if path is None:
        raise ValueError("--resume needs --json (the file to go on from)")
    if not path.exists():
        return []
    try:
        rows = json.loads(path.read_text())["rows"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"cannot resume from {path}: {e}") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "task" in r for r in rows):
        raise ValueError(f"cannot resume from {path}: rows without a task")
    return rows


FIXED_S = 25.0  # a problem's wall that does not grow with its iterations (start, reference)
MARGIN = 1.2  # an expected wall from this run's mean is padded by this factor


def expected_wall(
    earlier: dict[str, Any] | None, iterations: int, walls: list[float]
) -> float | None:
    """What a problem is expected to take: its earlier row's wall with the iteration-bound
    part scaled to ``iterations`` (a row without recorded iterations counts as this run's),
    else ``MARGIN`` x the mean wall of the problems finished so far, else None (unknown)."""
    if earlier and earlier.get("wall_s"):
        had = (earlier.get("run") or {}).get("iterations") or iterations
        return FIXED_S + max(0.0, earlier["wall_s"] - FIXED_S) * iterations / had
    return MARGIN * sum(walls) / len(walls) if walls else None


def render(rows: list[dict[str, Any]]) -> Table:
    def f(v: Any, fmt: str) -> str:
        return "-" if v is None else format(v, fmt)

    t = Table(title="kernel-bandit: KernelBench problems, offline realizer")
    for col in ("problem", "templates", "correct", "x eager", "x compile", "% floor",
                "% copy", "cands", "wide", "wall s"):  # fmt: skip
        t.add_column(col, justify="left" if col in ("problem", "templates") else "right")
    for r in rows:
        t.add_row(
            r["task"], r.get("templates", ""), "yes" if r.get("generated_ok") else "no",
            f(r.get("x_eager"), ".2f"), f(r.get("x_compile"), ".2f"),
            f(100 * r["roofline"] if r.get("roofline") else None, ".0f"),
            f(100 * r["pct_copy"] if r.get("pct_copy") else None, ".0f"),  # copy_floor
            f"{r.get('correct', 0)}/{r.get('candidates', 0)}", f(r.get("wide"), "d"),
            f(r["wall_s"], ".0f"),
        )  # fmt: skip
    return t


def totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in rows if r.get("status") == "ok"]
    return {
        "problems": len(rows),
        "coverage": sum(1 for r in rows if r.get("generated_ok")) / len(rows) if rows else 0.0,
        "geomean_x_eager": geomean([r["x_eager"] for r in ok]),
        "geomean_x_compile": geomean([r["x_compile"] for r in ok if r.get("x_compile")]),
        **copy_floor.counts(rows),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir", type=Path, help="folder of KernelBench-format .py files")
    p.add_argument("--iterations", type=int, default=40)
    p.add_argument("--size", default=None, help="size preset or k=v,... for every problem")
    p.add_argument("--json", type=Path, help="write the rows here after every problem")
    p.add_argument("--deadline", type=float, default=0.0,
                   help="start no new problem after this many seconds (0: no limit)")  # fmt: skip
    p.add_argument("--end", type=float, default=0.0,
                   help="start a problem only when its expected wall fits before this many "
                        "seconds (0: no limit)")  # fmt: skip
    p.add_argument("--device", default="cuda", choices=("cuda", "interpret"))
    p.add_argument("--realizer", default="offline", choices=("offline", "graph"))
    p.add_argument("--policy", default="hucb")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", default="", help="comma-separated file stems to run, in this order")
    p.add_argument("--gpus", type=int, default=1,
                   help="problems tuned at once, one GPU each (CUDA_VISIBLE_DEVICES)")  # fmt: skip
    p.add_argument(
        "--resume",
        action="store_true",
        help="keep the rows already in --json and run only the other problems",
    )
    p.add_argument("--no-pin", action="store_true",
                   help="with --gpus N > 1: do not give each GPU's problem its own CPU cores")  # fmt: skip
    p.add_argument("--copy", action="store_true",
                   help="after the problems, time a copy of each memory-bound row's bytes on "
                        "GPU 0 (experiments.copy_floor: the table's %% copy)")  # fmt: skip
    p.add_argument("--out", type=Path, default=Path("runs/bench_kernelbench"))
    p.add_argument("overrides", nargs="*", help="extra Hydra overrides for every run")
    args = p.parse_intermixed_args(argv)  # overrides may follow the options
    if not args.dir.is_dir():
        print(f"error: {args.dir} is not a directory", file=sys.stderr)
        return 2
    files = sorted(f for f in args.dir.glob("*.py") if not f.name.startswith("_"))
    if args.only:  # in the order given (the most wanted first, when a deadline may cut)
        rank = {stem: i for i, stem in enumerate(args.only.split(","))}
        files = sorted((f for f in files if f.stem in rank), key=lambda f: rank[f.stem])
    if not files:
        print(f"error: no problem files in {args.dir}", file=sys.stderr)
        return 2
    rows: list[dict[str, Any]] = []
    run = run_settings(args)
    before: dict[str, dict[str, Any]] = {}  # earlier rows, the expected walls' base
    if args.resume:
        try:
            rows = earlier_rows(args.json)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        before = {r["task"]: r for r in rows}
        stale = {r["task"]: why for r in rows if (why := searched_otherwise(r, run))}
        for task, why in sorted(stale.items()):
            print(f"resuming: {task} runs again (its row was searched with {', '.join(why)})")
        rows = [r for r in rows if r["task"] not in stale]
        done = {r["task"] for r in rows}
        files = [f for f in files if f.stem not in done]
        print(f"resuming: {len(done)} problems kept from {args.json}, {len(files)} to run")
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    gpus: queue.Queue[int | None] = queue.Queue()
    for i in range(args.gpus):
        gpus.put(i if args.gpus > 1 else None)
    lock = threading.Lock()
    shares = [] if args.gpus < 2 or args.no_pin else affinity.split_cpus(affinity.available(),
                                                                         args.gpus)  # fmt: skip
    if shares:
        print("CPU cores per GPU: " + ", ".join(
            f"GPU {i}: {affinity.format_cpus(c)}" for i, c in enumerate(shares)))  # fmt: skip

    walls: list[float] = []  # of the problems finished in this run

    def write() -> None:
        if args.json:  # after every problem, so a run cut short keeps what it measured
            args.json.write_text(json.dumps({"rows": rows, "totals": totals(rows)}, indent=2))

    def skip(stem: str, why: str) -> None:
        """A problem not started keeps its earlier row, if any (nothing measured is lost):
        only a stale row's problem is in the list to run, and its row left ``rows``."""
        Console().print(f"{stem} skipped: {why}")
        if stem in before:
            with lock:
                rows.append(before[stem])

    def one(path: Path) -> None:
        now = time.perf_counter() - start
        if args.deadline and now > args.deadline:
            return skip(path.stem, f"the deadline of {args.deadline:.0f} s passed")
        with lock:
            expect = expected_wall(before.get(path.stem), args.iterations, walls)
        if args.end and expect is not None and now + expect > args.end:
            return skip(path.stem, f"expected {expect:.0f} s from {now:.0f} s ends after "
                                   f"the end at {args.end:.0f} s")  # fmt: skip
        try:
            size = load_task(str(path), args.size).size if args.size else None
        except TaskError:
            size = None  # the preset is not defined for this file: its own size
        gpu = gpus.get()
        try:
            cpus = shares[gpu] if shares and gpu is not None else None
            wall = run_problem(path, args, size, gpu, args.overrides, cpus)
        finally:
            gpus.put(gpu)
        row = summarize(path.stem, args.out / path.stem, wall)
        row["templates"] = templates(path, size)
        row["size"] = size or "default"
        row["generated_ok"] = row.get("status") == "ok" and row.get("correct", 0) > 1
        row["run"] = run
        with lock:
            walls.append(wall)
            rows.append(row)
            Console().print(f"{path.stem}: " + json.dumps(row))
            write()

    with ThreadPoolExecutor(max_workers=args.gpus) as pool:
        list(pool.map(one, files))
    rows.sort(key=lambda r: r["task"])
    if args.copy:  # the GPUs are idle now: a copy of each memory-bound row's bytes
        timers = copy_floor.gpu_timers(0) if args.device == "cuda" else None
        if timers is None:
            print("--copy: no CUDA GPU to time copies on; the rows have no % copy")
        else:
            copy_floor.add_copies(rows, *timers)
    write()
    Console(width=200).print(render(rows))
    Console().print(json.dumps(totals(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
