"""Benchmark scaling out: evaluations per minute with 1..N workers, and batch rounds.

Two measurements (tasks at their own sizes unless ``--size``):

1. Throughput over a task mix (``--tasks``, default softmax,layernorm,gelu): for
   n = 1 .. N workers (one per visible GPU), a fresh local executor evaluates
   ``--throughput`` distinct offline-realizer kernels of every task in the mix
   (never the same kernel twice across n); candidates evaluated per minute, worker
   start (the first evaluation of each task on each worker: the reference, its
   baselines, compilation) shown apart.
2. Tuning runs at equal iterations on the first task of the mix: the real tuner
   (hucb, offline realizer, seed 0) for ``--iterations`` iterations in rounds of
   k = 1 and k = 4 on all N workers; wall seconds (worker start and the reference
   included), seconds per iteration and best speedup. On one GPU, k=4 vs k=1 shows
   how much realization overlaps evaluation.

Each GPU's utilization is sampled from NVML (or nvidia-smi) through every
measurement (`experiments.gpu_utilization`): mean % and the share of samples idle;
the throughput lines also give the mean seconds per evaluation phase
(`profiling.phases`), so idle GPUs can be traced to the host work around them.

Every configuration gets a fresh worker and an empty Triton cache, so no run
reuses another's compilations. Prints a table; ``--json FILE`` writes it.

    python -m experiments.bench_scale                       # on a GPU host
    python -m experiments.bench_scale --device interpret --size smoke --iterations 4 --throughput 3
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from bandit.budget import Budget
from bandit.executors import LocalExecutor, visible_gpus
from bandit.policies import make_policy
from bandit.rounds import run_rounds
from bandit.tuner import Tuner
from experiments import TASKS_DIR
from experiments.gpu_utilization import UtilizationSampler
from profiling.evaluator import EvalSettings, Evaluator, reference_candidate_source
from profiling.measurement import Measurement
from profiling.tasks import Task, TaskError, load_task
from strategies.catalog import load_catalog
from strategies.factory import build_realizer
from strategies.space import SpaceWalker

CUDA = EvalSettings(device="cuda")  # what device=cuda runs (5 trials, torch.compile baseline)


@dataclass(frozen=True)
class Throughput:
    workers: int
    candidates: int
    seconds: float
    per_minute: float
    start_s: float  # first evaluation of each task (the reference) on every worker
    utilization: str = ""  # per GPU over the timed evaluations
    phases: str = ""  # mean seconds per evaluation phase (`profiling.phases`), the rest "other"


@dataclass(frozen=True)
class RunTiming:
    batch: int
    workers: int
    iterations: int
    seconds: float
    s_per_iteration: float
    best_speedup: float
    evaluations: int
    stop_reason: str
    utilization: str = ""  # per GPU over the whole run


class _Fresh:
    """Worker `i` of one configuration: pinned to its GPU, with its own empty Triton cache."""

    def __init__(self, settings: EvalSettings, gpus: Sequence[str], cache: str) -> None:
        self.settings, self.gpus, self.cache = settings, list(gpus), cache

    def __call__(self, index: int) -> Evaluator:
        from profiling.evaluator import WorkerEvaluator

        env = {"TRITON_CACHE_DIR": f"{self.cache}/w{index}"}
        if self.gpus:
            env["CUDA_VISIBLE_DEVICES"] = self.gpus[index]
        return WorkerEvaluator(self.settings, env=env)


def kernels(task: Task, device: str, count: int) -> list[str]:
    """`count` distinct kernels of the offline realizer's space, nearest the reference first."""
    strategies = load_catalog().runnable(task.kind, device)
    walker = SpaceWalker(build_realizer("offline", {}), task, strategies)
    out = []
    for node in walker.breadth_first(4):
        if node.depth > 0:
            out.append(node.source)
            if len(out) == count:
                break
    return out


def throughput(mix: Sequence[tuple[Task, Sequence[str]]], settings: EvalSettings,
               gpus: Sequence[str], n: int) -> Throughput:
    """Evaluate every task's kernels on `n` fresh workers, one task after the other."""
    start = elapsed = 0.0
    count = 0
    measured = []
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as cache, LocalExecutor(
        _Fresh(settings, gpus[:n], cache), n
    ) as ex, UtilizationSampler(gpus[:n]) as util:
        for task, sources in mix:
            t0 = time.monotonic()
            ex.map(task, [reference_candidate_source(task)] * n)  # every worker meets the task
            start += time.monotonic() - t0
            t0 = time.monotonic()
            done = ex.map(task, sources)
            elapsed += time.monotonic() - t0
            assert len(done) == len(sources)
            count += len(sources)
            measured += [e.measurement for e in done]
    return Throughput(n, count, elapsed, 60.0 * count / elapsed, start, util.describe(),
                      phase_means(measured))


def phase_means(measured: Sequence[Measurement]) -> str:
    """``trials 1.10, timing 0.52, ..., other 0.90`` s: where an evaluation's wall went."""
    if not measured:
        return ""
    totals: dict[str, float] = {}
    for m in measured:
        for k, v in m.diagnostics.phases.items():
            totals[k] = totals.get(k, 0.0) + v
    other = sum(m.wall_s for m in measured) - sum(totals.values())
    parts = [*(f"{k} {v / len(measured):.2f}" for k, v in totals.items()),
             f"other {other / len(measured):.2f}"]
    return ", ".join(parts)


def tuning_run(task: Task, settings: EvalSettings, gpus: Sequence[str], workers: int,
               batch: int, iterations: int) -> RunTiming:
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as cache, LocalExecutor(
        _Fresh(settings, gpus[:workers], cache), workers
    ) as ex, UtilizationSampler(gpus[:workers]) as util:
        realizer = build_realizer("offline", {})
        tuner = Tuner(task, ex, realizer, make_policy("hucb", 0), load_catalog())
        t0 = time.monotonic()
        result = run_rounds(tuner, ex, Budget(iterations=iterations), batch)
        elapsed = time.monotonic() - t0
    n = len(result.records)
    return RunTiming(batch, workers, n, elapsed, elapsed / max(n, 1), result.best_speedup,
                     len(result.members), result.stop_reason, util.describe())


def _table(rows_t: Sequence[Throughput], rows_r: Sequence[RunTiming], title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console() if Console().is_terminal else Console(width=150)
    t = Table(title=f"{title}: candidates evaluated per minute")
    for col in ("workers", "candidates", "seconds", "per minute", "x 1 worker", "worker start s",
                "GPU utilization"):
        t.add_column(col, justify="left" if col == "GPU utilization" else "right")
    base = rows_t[0].per_minute if rows_t else 0.0
    for r in rows_t:
        t.add_row(str(r.workers), str(r.candidates), f"{r.seconds:.1f}", f"{r.per_minute:.1f}",
                  f"{r.per_minute / base:.2f}" if base else "-", f"{r.start_s:.1f}", r.utilization)
    console.print(t)
    t = Table(title=f"{title}: tuning runs at equal iterations (hucb, offline realizer, seed 0)")
    for col in ("batch k", "workers", "iterations", "wall s", "s / iteration", "best speedup",
                "kernels measured", "stop", "GPU utilization"):
        t.add_column(col, justify="left" if col in ("stop", "GPU utilization") else "right")
    for r in rows_r:
        t.add_row(str(r.batch), str(r.workers), str(r.iterations), f"{r.seconds:.1f}",
                  f"{r.s_per_iteration:.2f}", f"{r.best_speedup:.3f}", str(r.evaluations),
                  r.stop_reason, r.utilization)
    console.print(t)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments.bench_scale",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", "--task", dest="tasks", default="softmax,layernorm,gelu",
                    help="comma-separated task mix; the tuning runs use the first")
    ap.add_argument("--size", default=None, help="size preset or k=v,...")
    ap.add_argument("--device", default="cuda", choices=("cuda", "interpret"))
    ap.add_argument("--max-workers", type=int, default=None, help="default: every visible GPU")
    ap.add_argument("--throughput", type=int, default=16,
                    help="kernels of each task per throughput point (0: no throughput points)")
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--batches", default="1,4", help="round sizes to compare ('': no tuning runs)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args(argv)
    try:
        batches = [int(b) for b in args.batches.split(",") if b.strip()]
        if min(batches, default=1) < 1 or args.throughput < 0 or args.iterations < 1:
            raise ValueError
    except ValueError:
        print("error: --batches and --iterations take positive whole numbers, --throughput 0 or more",
              file=sys.stderr)
        return 2
    try:
        tasks = [load_task(t.strip(), args.size, TASKS_DIR) for t in args.tasks.split(",") if t.strip()]
        if not tasks:
            raise ValueError("--tasks names no task")
        for task in tasks:
            build_realizer("offline", {}).check_task(task)
    except (TaskError, ValueError) as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    gpus = visible_gpus() if args.device == "cuda" else []
    if args.device == "cuda" and not gpus:
        print("error: no CUDA device is visible (use --device interpret for a dry run)",
              file=sys.stderr)
        return 2
    n_max = args.max_workers or max(len(gpus), 1)
    if args.device == "cuda" and n_max > len(gpus):
        print(f"error: --max-workers {n_max} but {len(gpus)} GPU(s) are visible", file=sys.stderr)
        return 2
    settings = CUDA if args.device == "cuda" else replace(
        CUDA, device="interpret", trials=1, baseline_compile=False, timeout_s=300.0)
    pools = [(t, kernels(t, args.device, args.throughput * n_max)) for t in tasks] \
        if args.throughput else []
    task = tasks[0]
    rows_t: list[Throughput] = []
    rows_r: list[RunTiming] = []

    def save() -> None:  # after every measurement: a run cut short keeps what it measured
        if args.json:
            args.json.write_text(json.dumps({
                "tasks": [t.name for t in tasks], "run_task": task.name, "size": task.size,
                "device": args.device, "gpus": gpus,
                "throughput": [asdict(r) for r in rows_t], "runs": [asdict(r) for r in rows_r],
            }, indent=2))

    for n in range(1, n_max + 1) if args.throughput else ():
        mix = [(t, pool[(n - 1) * args.throughput : n * args.throughput]) for t, pool in pools]
        print(f"throughput with {n} worker(s): {sum(len(s) for _, s in mix)} kernels of "
              f"{len(mix)} task(s) ...", file=sys.stderr, flush=True)
        rows_t.append(throughput(mix, settings, gpus, n))
        r = rows_t[-1]
        print(f"  {r.per_minute:.1f} per minute ({r.candidates} in {r.seconds:.1f} s, start "
              f"{r.start_s:.1f} s; {r.utilization}); s per evaluation: {r.phases}",
              file=sys.stderr, flush=True)
        save()
    for k in batches:
        print(f"tuning run, rounds of {k} on {n_max} worker(s), {args.iterations} iterations ...",
              file=sys.stderr, flush=True)
        rows_r.append(tuning_run(task, settings, gpus, n_max, k, args.iterations))
        r = rows_r[-1]
        print(f"  {r.seconds:.1f} s, best {r.best_speedup:.3f}x, {r.evaluations} kernels, "
              f"{r.stop_reason}; {r.utilization}", file=sys.stderr, flush=True)
        save()
    title = f"{', '.join(t.name for t in tasks)} on {args.device} ({len(gpus) or 1} GPU(s) visible)"
    _table(rows_t, rows_r, title)
    save()
    if args.json:
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
