"""Record a task's landscape on a GPU: every kernel the offline realizer reaches, measured.

Walks the space the realizer opens from the task's reference program and
measures each kernel through the real evaluation worker, appending one line per
measurement to a landscape file (:mod:`profiling.landscape`) that
``device=replay`` serves later on any CPU. Re-running the same command resumes:
kernels already in the file are not measured again.

Walks (one per run):

- ``--best-first N`` (default, N=60): like the tuner, expand the fastest kernel
  measured so far (all its one-move children), then the next fastest, ...
  until N kernels are recorded: the part of the space tuning runs visit.
- ``--depth D``: every kernel within D strategy moves (softmax: about 15 at depth 1,
  100 at depth 2, 500 at depth 3).
- ``--sample N [--max-depth D]``: N kernels from random walks up to D moves deep.
- ``--counters`` (with any walk): every kernel also profiled by Nsight Compute, its
  counters stored with its measurement, so replayed runs have the counters that
  masks, clustering and headroom-first parents read (``ablation_hardware --replay``).
  ``--counters parents`` (best-first): only the kernels the walk expands, i.e. the
  parents a tuner refines, are profiled (one more sample each, with counters); the
  leaves are not, which saves the ~5 s of Nsight Compute on most kernels. Resuming a
  landscape recorded without counters this way adds counters to its parents.
- ``--tune N [--policies a,b] [--seeds S] [--iterations I]``: the kernels real
  tuning runs visit (every policy x seeds 0..S-1, I iterations each, kernels
  measured before served from the file) until N are recorded: those runs then
  replay without a miss; other seeds, and noise, stray from them.

Tuning runs go deep (each improvement is one more move), so a replay of any
finite landscape meets kernels outside it: they are ``not_recorded`` misses and
``experiments.compare`` reports them per policy. On a synthetic stand-in for
softmax, at about 100 kernels best-first misses least; from a few hundred
kernels on, ``--tune`` serves its recorded seeds best.

Examples::

    python -m experiments.record_landscape --task softmax --depth 2
    python -m experiments.record_landscape --all --budget-s 1100     # every bundled task, ~18 min
    python -m experiments.record_landscape --all --budget-s 540 --best-first 120  # extend them (resumes)

``--budget-s`` bounds the whole command (split evenly over the tasks still to
record; a task that finishes early leaves its time to the others). The files go
to ``experiments/landscapes/<task>.jsonl`` (``--out``/``--out-dir`` to change).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from experiments import LANDSCAPES_DIR, TASKS_DIR
from experiments.recording import (
    CUDA_SETTINGS,
    FAST_SETTINGS,
    POLICIES,
    TaskRecord,
    Walk,
    record_task,
)
from profiling.landscape import LandscapeError, landscape_path
from profiling.measurement import Measurement
from profiling.tasks import TaskError, bundled_task_names, load_task
from strategies.space import Node

EXIT_USER_ERROR = 2
__all__ = ["Walk", "main", "record_task"]


# -- the command ---------------------------------------------------------------------


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m experiments.record_landscape", description=__doc__.split("\n\n")[0]
    )
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--task", help="bundled task names or KernelBench problem files, comma-separated")
    which.add_argument("--all", action="store_true", help="every bundled task")
    ap.add_argument("--size", default=None, help="size preset or k=v,... (default: the task's own)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--best-first", type=int, metavar="N", help="record N kernels, best first (default 60)")
    mode.add_argument("--depth", type=int, metavar="D", help="every kernel within D moves")
    mode.add_argument("--sample", type=int, metavar="N", help="N kernels from random walks")
    mode.add_argument("--tune", type=int, metavar="N",
                      help="N kernels that tuning runs visit (--policies x --seeds, --iterations each)")
    ap.add_argument("--policies", default=",".join(POLICIES), help="--tune: policies to run")
    ap.add_argument("--seeds", type=int, default=2, help="--tune: seeds 0 .. S-1 per policy")
    ap.add_argument("--iterations", type=int, default=40, help="--tune: iterations per run")
    ap.add_argument("--max-depth", type=int, default=6, help="--sample: longest walk (default 6)")
    ap.add_argument("--seed", type=int, default=0, help="--sample: walk seed")
    ap.add_argument("--repeats", type=int, default=1, help="measurements per kernel (noise samples)")
    ap.add_argument("--budget-s", type=float, default=None, help="seconds for the whole command")
    ap.add_argument("--fast", action="store_true",
                    help="2 trials, 40 ms timing, no torch.compile baseline; seconds rescaled to "
                         "the full settings by timing the reference both ways")
    ap.add_argument("--counters", nargs="?", const="every", choices=("every", "parents"),
                    help="profile every kernel (bare --counters) or only the expanded parents "
                         "(best-first) with Nsight Compute (+~5 s a kernel on an H200): "
                         "replayed runs then see counters, so masks and headroom act under replay")
    ap.add_argument("--out", type=Path, help="landscape file (with --task)")
    ap.add_argument("--out-dir", type=Path, default=LANDSCAPES_DIR, help="folder (with --all)")
    ap.add_argument("--device", default="cuda", choices=("cuda", "interpret"),
                    help="interpret: a CPU dry run of the recorder (not a landscape to commit)")
    args = ap.parse_args(argv)
    if args.out is not None and (args.all or "," in (args.task or "")):
        ap.error("--out names one file: give one --task, or use --out-dir")
    if args.counters == "parents" and (args.depth is not None or args.sample is not None
                                       or args.tune is not None):
        ap.error("--counters parents needs the best-first walk (its parents are the expanded kernels)")
    for name in ("best_first", "depth", "sample", "tune", "repeats", "seeds", "iterations"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "depth" else 1):
            ap.error(f"--{name.replace('_', '-')} must be positive, got {value}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    if args.depth is not None:
        walk = Walk("depth", depth=args.depth)
    elif args.tune is not None:
        policies = tuple(p.strip() for p in args.policies.split(",") if p.strip())
        walk = Walk("tune", count=args.tune, depth=args.iterations, seed=args.seeds,
                    policies=policies)
    elif args.sample is not None:
        walk = Walk("sample", count=args.sample, depth=args.max_depth, seed=args.seed)
    else:
        walk = Walk("best-first", count=args.best_first or 60)
    from strategies.catalog import load_catalog
    from strategies.factory import build_realizer

    realizer = build_realizer("offline", {})
    try:
        names = bundled_task_names(TASKS_DIR) if args.all else [t.strip() for t in args.task.split(",") if t.strip()]
        tasks = [load_task(n, args.size, TASKS_DIR) for n in names]
        for t in tasks:
            realizer.check_task(t)
    except (TaskError, ValueError) as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return EXIT_USER_ERROR
    if args.device == "cuda":
        from profiling.evaluator import resolve_device

        if resolve_device("auto") != "cuda":
            print("error: recording needs a CUDA device (or --device interpret for a dry run)",
                  file=sys.stderr)
            return EXIT_USER_ERROR
    from dataclasses import replace

    from profiling.evaluator import WorkerEvaluator
    from profiling.probes.registry import ProbeSettings

    settings = (FAST_SETTINGS if args.fast else CUDA_SETTINGS) if args.device == "cuda" else replace(
        CUDA_SETTINGS, device="interpret", trials=1, baseline_compile=False, timeout_s=300.0
    )
    catalog = load_catalog()
    start = time.monotonic()
    records: list[TaskRecord] = []
    full_settings = CUDA_SETTINGS if args.device == "cuda" else replace(settings, trials=2)
    probes = ProbeSettings(names=("ncu", "triton"), every_candidate=True) if args.counters \
        else None
    with contextlib.ExitStack() as stack:
        evaluator = stack.enter_context(
            WorkerEvaluator(settings, probes=probes if args.counters == "every" else None))
        progress = stack.enter_context(_Progress(len(tasks), walk))
        full = stack.enter_context(WorkerEvaluator(full_settings))
        profiler = (stack.enter_context(WorkerEvaluator(settings, probes=probes))
                    if args.counters == "parents" else None)
        for i, task in enumerate(tasks):
            out = args.out if args.out else landscape_path(args.out_dir, task.name, task.size)
            deadline = None
            if args.budget_s is not None:
                left = args.budget_s - (time.monotonic() - start)
                deadline = time.monotonic() + max(left, 0.0) / (len(tasks) - i)
            progress.begin(task.name)
            try:
                rec = record_task(
                    task, evaluator, realizer, catalog, walk, out,
                    deadline=deadline, repeats=args.repeats, settings=settings,
                    on_measure=progress.step, full=full if args.fast else None,
                    profiler=profiler,
                )
            except LandscapeError as e:
                print(f"error: {e}", file=sys.stderr)
                return EXIT_USER_ERROR
            progress.end(rec)
            records.append(rec)
    _table(records)
    return 0


class _Progress:
    """A rich progress bar per task on a terminal; one plain line per task in logs."""

    def __init__(self, tasks: int, walk: Walk) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = Console(stderr=True)
        self.walk = walk
        self.bar = (
            Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                     TimeElapsedColumn(), TextColumn("{task.fields[last]}"), console=self.console)
            if self.console.is_terminal else None
        )
        self._id = None
        self.console.print(f"recording {tasks} task(s), {walk.describe()}", highlight=False)

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def begin(self, name: str) -> None:
        if self.bar is not None:
            total = self.walk.count + 1 if self.walk.mode != "depth" else None
            self._id = self.bar.add_task(name, total=total, last="")

    def step(self, node: Node, m: Measurement) -> None:
        if self.bar is not None and self._id is not None:
            ms = f"{m.runtime_ms:.4f} ms" if m.ok and m.runtime_ms else str(m.status)
            self.bar.update(self._id, advance=1, last=f"d{node.depth} {ms}")

    def end(self, rec: TaskRecord) -> None:
        line = (f"{rec.task}: {rec.kernels} kernels ({rec.new} new) to depth {rec.max_depth} "
                f"in {rec.seconds:.0f} s -> {rec.path}" + ("" if rec.complete else " (time budget reached)"))
        self.console.print(line, highlight=False, soft_wrap=True)


def _table(records: Sequence[TaskRecord]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="recorded landscapes")
    for col in ("task", "kernels", "new", "depth", "best x ref", "seconds", "file"):
        table.add_column(col, justify="left" if col in ("task", "file") else "right")
    for r in records:
        table.add_row(r.task, str(r.kernels), str(r.new), str(r.max_depth),
                      f"{r.best_speedup:.3g}" if r.best_speedup else "-", f"{r.seconds:.0f}",
                      str(r.path) + ("" if r.complete else " (partial)"))
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
