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
- ``--depth D``: every kernel within D strategy moves (softmax: 15 at depth 1,
  108 at depth 2, 501 at depth 3).
- ``--sample N [--max-depth D]``: N kernels from random walks up to D moves deep.
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
    python -m experiments.record_landscape --all --budget-s 270      # every bundled task, ~5 min
    python -m experiments.record_landscape --all --budget-s 540 --best-first 120  # extend them

``--budget-s`` bounds the whole command (split evenly over the tasks still to
record; a task that finishes early leaves its time to the others). The files go
to ``experiments/landscapes/<task>.jsonl`` (``--out``/``--out-dir`` to change).
"""

from __future__ import annotations

import argparse
import datetime as dt
import heapq
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from experiments import LANDSCAPES_DIR, TASKS_DIR
from profiling.evaluator import EvalSettings, Evaluator
from profiling.hardware import GpuFacts
from profiling.landscape import (
    Landscape,
    LandscapeError,
    LandscapeHeader,
    LandscapeWriter,
    landscape_path,
    source_hash,
)
from profiling.measurement import Measurement
from profiling.tasks import Task, TaskError, bundled_task_names, load_task
from strategies.space import Node, SpaceWalker, realizer_version, runnable_strategies
from strategies.types import Realizer, Strategy

EXIT_USER_ERROR = 2
TUNE_DEPTH = -1  # kernels recorded from tuning runs: their strategy moves are not tracked
# the evaluation settings of `device=cuda` (conf/device/cuda.yaml): recorded seconds
# per evaluation are then what a tuning run on the GPU pays
CUDA_SETTINGS = EvalSettings(device="cuda", trials=5, baseline_compile=True, timeout_s=120.0)


POLICIES = ("hucb", "ucb", "thompson", "egreedy", "random", "greedy", "best_of_n")


@dataclass(frozen=True)
class Walk:
    mode: str  # "best-first" | "depth" | "sample" | "tune"
    count: int = 60  # best-first / sample / tune: kernels to record
    depth: int = 2  # depth: moves; sample: the longest walk; tune: iterations per run
    seed: int = 0  # sample: walk seed; tune: how many seeds (0 .. seed-1) per policy
    policies: tuple[str, ...] = POLICIES  # tune

    def describe(self) -> str:
        if self.mode == "depth":
            return f"depth {self.depth}"
        if self.mode == "tune":
            return (f"tune {self.count} ({'/'.join(self.policies)} x seeds 0-{self.seed - 1}, "
                    f"{self.depth} iterations each)")
        if self.mode == "sample":
            return f"sample {self.count} (walks up to {self.depth} moves, seed {self.seed})"
        return f"best-first {self.count}"


@dataclass(frozen=True)
class TaskRecord:
    task: str
    path: Path
    kernels: int  # in the file after this run
    new: int  # measured by this run
    best_speedup: float | None
    max_depth: int
    seconds: float
    complete: bool  # the walk ended before the time budget


def record_task(
    task: Task,
    evaluator: Evaluator,
    realizer: Realizer,
    strategies: Sequence[Strategy],
    walk: Walk,
    out: Path,
    *,
    deadline: float | None = None,
    repeats: int = 1,
    settings: EvalSettings = CUDA_SETTINGS,
    clock: Callable[[], float] = time.monotonic,
    on_measure: Callable[[Node, Measurement], None] | None = None,
) -> TaskRecord:
    """Walk and measure one task's space into `out` (resuming what is there)."""
    t0 = clock()
    device = evaluator.device
    gpu = evaluator.gpu_facts()
    walker = SpaceWalker(realizer, task, runnable_strategies(strategies, task.kind, device), gpu)
    header = LandscapeHeader(
        task=task.name,
        size=task.size,
        kind=task.kind,
        device=device,
        gpu=gpu,
        realizer=realizer.name,
        realizer_version=realizer_version(),
        reference_hash=walker.root.hash,
        mode=walk.describe(),
        settings={k: v for k, v in vars(settings).items() if k != "device"},
        recorded_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )
    new = 0
    out_of_time = False
    with LandscapeWriter(out, header) as writer:
        known: Landscape | None = writer.existing
        measured: dict[str, Measurement] = (
            {h: e.samples[0] for h, e in known.entries.items()} if known else {}
        )
        depths = {h: e.depth for h, e in known.entries.items()} if known else {}

        def measure(node: Node) -> Measurement | None:
            nonlocal new, out_of_time
            if node.hash in measured:
                return measured[node.hash]
            if deadline is not None and clock() >= deadline:
                out_of_time = True
                return None
            m = evaluator.evaluate(task, node.source)
            writer.add(node.hash, m, node.depth, node.chain)
            for _ in range(repeats - 1):
                writer.add(node.hash, evaluator.evaluate(task, node.source), node.depth, node.chain)
            measured[node.hash] = m
            depths[node.hash] = node.depth
            new += 1
            if on_measure is not None:
                on_measure(node, m)
            return m

        if walk.mode == "tune":
            _tune_walk(task, evaluator, realizer, walker.strategies, walk, measure,
                       measured.__contains__, lambda: len(measured) >= walk.count + 1)
        else:
            for _ in _walk(walker, walk, measure, lambda: len(measured)):
                if out_of_time:
                    break
    ref = measured.get(walker.root.hash)
    ref_ms = ref.runtime_ms if ref is not None and ref.ok else None
    best = min(
        (m.runtime_ms for h, m in measured.items() if h != walker.root.hash and m.ok and m.runtime_ms),
        default=None,
    )
    return TaskRecord(
        task=task.name,
        path=out,
        kernels=len(measured),
        new=new,
        best_speedup=ref_ms / best if ref_ms and best else None,
        max_depth=max(depths.values(), default=0),
        seconds=clock() - t0,
        complete=not out_of_time,
    )


class _Stop(Exception):
    """The recording's kernel count or time budget is reached: end the tuning run."""


def _tune_walk(
    task: Task,
    evaluator: Evaluator,
    realizer: Realizer,
    strategies: Sequence[Strategy],
    walk: Walk,
    measure: Callable[[Node], Measurement | None],
    known: Callable[[str], bool],
    full: Callable[[], bool],
) -> None:
    """Record what real tuning runs visit: every policy for seeds 0 .. walk.seed-1, each
    `walk.depth` iterations; kernels measured before are served from the recording.
    Ends when `full()` (kernel count reached) or `measure` says the time is up (None)."""
    from bandit.budget import Budget
    from bandit.policies import make_policy
    from bandit.tuner import TuneError, Tuner

    class Recording:
        device = evaluator.device

        def gpu_facts(self) -> GpuFacts:
            return evaluator.gpu_facts()

        def close(self) -> None:
            """The wrapped evaluator is closed by its owner."""

        def evaluate(self, task: Task, source: str) -> Measurement:
            h = source_hash(source)
            m = measure(Node(source, h, TUNE_DEPTH)) if known(h) or not full() else None
            if m is None:
                raise _Stop
            return m

    for seed in range(walk.seed):
        for policy in walk.policies:
            tuner = Tuner(task, Recording(), realizer, make_policy(policy, seed), strategies)
            try:
                tuner.run(Budget(iterations=walk.depth))
            except _Stop:
                return
            except TuneError:  # e.g. the reference failed: no run can go on
                return


def _walk(
    walker: SpaceWalker,
    walk: Walk,
    measure: Callable[[Node], Measurement | None],
    recorded: Callable[[], int],
) -> Iterator[None]:
    """Drive `measure` over the walk's nodes; yields after each node (to check the clock)."""
    if walk.mode == "depth":
        for node in walker.breadth_first(walk.depth):
            measure(node)
            yield None
        return
    if walk.mode == "sample":
        measure(walker.root)
        yield None
        for node in walker.random_walks(walk.count, walk.depth, walk.seed):
            if recorded() >= walk.count + 1:
                return
            measure(node)
            yield None
        return
    # best-first: expand the fastest measured kernel next, as the tuner refines its best
    root_m = measure(walker.root)
    yield None
    heap: list[tuple[float, int, Node, Measurement | None]] = [(0.0, 0, walker.root, root_m)]
    order = 1
    while heap and recorded() < walk.count + 1:
        _, _, node, m = heapq.heappop(heap)
        for child in walker.children(node, m):
            if recorded() >= walk.count + 1:
                return
            cm = measure(child)
            yield None
            if cm is None:
                return
            ms = cm.runtime_ms if cm.ok and cm.runtime_ms else None
            if ms is not None:
                heapq.heappush(heap, (ms, order, child, cm))
                order += 1


# -- the command ---------------------------------------------------------------------


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m experiments.record_landscape", description=__doc__.split("\n\n")[0]
    )
    which = ap.add_mutually_exclusive_group(required=True)
    which.add_argument("--task", help="a bundled task name or a KernelBench problem file")
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
    ap.add_argument("--out", type=Path, help="landscape file (with --task)")
    ap.add_argument("--out-dir", type=Path, default=LANDSCAPES_DIR, help="folder (with --all)")
    ap.add_argument("--device", default="cuda", choices=("cuda", "interpret"),
                    help="interpret: a CPU dry run of the recorder (not a landscape to commit)")
    args = ap.parse_args(argv)
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
    from strategies.offline.realizer import OfflineRealizer

    realizer = OfflineRealizer()
    try:
        names = bundled_task_names(TASKS_DIR) if args.all else [args.task]
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

    settings = CUDA_SETTINGS if args.device == "cuda" else replace(
        CUDA_SETTINGS, device="interpret", trials=1, baseline_compile=False, timeout_s=300.0
    )
    catalog = list(load_catalog())
    start = time.monotonic()
    records: list[TaskRecord] = []
    with WorkerEvaluator(settings) as evaluator, _Progress(len(tasks), walk) as progress:
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
                    on_measure=progress.step,
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
                      f"{r.best_speedup:.2f}" if r.best_speedup else "-", f"{r.seconds:.0f}",
                      str(r.path) + ("" if r.complete else " (partial)"))
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
