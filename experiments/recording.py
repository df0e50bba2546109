"""Recording landscapes: walk a task's kernel space and measure it into a landscape file.

`record_task` drives one task: a `Walk` (best-first, depth, sample or tune; see
``experiments.record_landscape`` for the command) yields kernels, each new one is
evaluated and appended to the file, kernels already in it are served back, so a
recording resumes where it stopped.
"""

from __future__ import annotations

import datetime as dt
import heapq
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from profiling.evaluator import EvalSettings, Evaluator
from profiling.hardware import GpuFacts
from profiling.landscape import (
    Landscape,
    LandscapeHeader,
    LandscapeWriter,
    software_versions,
    source_hash,
)
from profiling.measurement import Measurement
from profiling.tasks import Task
from strategies.catalog import Catalog
from strategies.space import Node, SpaceWalker, realizer_version
from strategies.types import Realizer

TUNE_DEPTH = -1  # kernels recorded from tuning runs: their strategy moves are not tracked
# the evaluation settings of `device=cuda` (conf/device/cuda.yaml): recorded seconds
# per evaluation are then what a tuning run on the GPU pays
CUDA_SETTINGS = EvalSettings(device="cuda", trials=5, baseline_compile=True, timeout_s=120.0)
# --fast: fewer correctness trials, shorter timing; seconds rescaled (see record_task)
FAST_SETTINGS = EvalSettings(
    device="cuda", trials=2, warmup_ms=10.0, rep_ms=40.0, baseline_compile=False, timeout_s=120.0
)


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
    catalog: Catalog,
    walk: Walk,
    out: Path,
    *,
    deadline: float | None = None,
    repeats: int = 1,
    settings: EvalSettings = CUDA_SETTINGS,
    clock: Callable[[], float] = time.monotonic,
    on_measure: Callable[[Node, Measurement], None] | None = None,
    full: Evaluator | None = None,
    profiler: Evaluator | None = None,
) -> TaskRecord:
    """Walk and measure one task's space into `out` (resuming what is there).

    `full`: when `evaluator` runs lighter settings (``--fast``), an evaluator with the
    tune app's settings: a new file's reference is measured by both (twice each, the
    second counts), the full measurement is recorded, and the ratio of their seconds
    becomes the header's ``seconds_scale``.

    `profiler`: an evaluator that also runs the hardware probes (``--counters parents``):
    each kernel the best-first walk expands (the parents a tuner refines) is measured by it
    once more, so its counters join the landscape as one more sample; leaves stay
    unprofiled. Resuming a landscape recorded without counters profiles its parents."""
    t0 = clock()
    device = evaluator.device
    gpu = evaluator.gpu_facts()
    walker = SpaceWalker(realizer, task, catalog.runnable(task.kind, device), gpu)
    scale, ref_full = 1.0, None
    if full is not None and not out.exists():
        ref_full = [full.evaluate(task, walker.root.source) for _ in range(2)][-1]
        ref_fast = [evaluator.evaluate(task, walker.root.source) for _ in range(2)][-1]
        if ref_full.ok and ref_fast.ok and ref_fast.evaluation_s > 0:
            scale = ref_full.evaluation_s / ref_fast.evaluation_s
    header = LandscapeHeader(
        task=task.name,
        size=task.size,
        kind=task.kind,
        device=device,
        gpu=gpu,
        realizer=realizer.name,
        realizer_version=realizer_version(realizer),
        reference_hash=walker.root.hash,
        mode=walk.describe(),
        settings={k: v for k, v in vars(settings).items() if k != "device"},
        recorded_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        seconds_scale=scale,
        software=software_versions(),
    )
    new = 0
    out_of_time = False
    with LandscapeWriter(out, header) as writer:
        known: Landscape | None = writer.existing
        measured: dict[str, Measurement] = (
            {h: with_counters(e.samples) for h, e in known.entries.items()} if known else {}
        )
        depths = {h: e.depth for h, e in known.entries.items()} if known else {}
        if ref_full is not None:
            writer.add(walker.root.hash, ref_full, 0)
            measured[walker.root.hash], depths[walker.root.hash] = ref_full, 0

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

        def profile(node: Node) -> None:
            """Counters for a parent that has none (one more sample of it)."""
            nonlocal out_of_time
            m = measured.get(node.hash)
            if profiler is None or m is None or not m.ok or m.counters is not None:
                return
            if deadline is not None and clock() >= deadline:
                out_of_time = True
                return
            p = profiler.evaluate(task, node.source)
            writer.add(node.hash, p, depths.get(node.hash, node.depth), node.chain)
            if p.ok and p.counters is not None:
                measured[node.hash] = p

        if walk.mode == "tune":
            _tune_walk(task, evaluator, realizer, catalog, walk, measure,
                       measured.__contains__, lambda: len(measured) >= walk.count + 1)
        else:
            for _ in _walk(walker, walk, measure, lambda: len(measured), profile,
                           measured.__contains__):
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
    catalog: Catalog,
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
            tuner = Tuner(task, Recording(), realizer, make_policy(policy, seed), catalog)
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
    expand: Callable[[Node], None] = lambda node: None,
    known: Callable[[str], bool] = lambda h: False,
) -> Iterator[None]:
    """Drive `measure` over the walk's nodes; yields after each node (to check the clock).
    Best-first calls `expand(node)` on each kernel before its children are made."""
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
    # a resumed walk re-expands the recorded part (cheap: nothing is measured again, but its
    # parents get `expand`) and stops where a kernel beyond the count would be measured
    while heap:
        _, _, node, m = heapq.heappop(heap)
        children = walker.children(node, m)
        if recorded() >= walk.count + 1 and children and not any(known(c.hash) for c in children):
            return  # the recording never expanded this one
        expand(node)
        yield None
        for child in children:
            if recorded() >= walk.count + 1 and not known(child.hash):
                return
            cm = measure(child)
            yield None
            if cm is None:
                return
            ms = cm.runtime_ms if cm.ok and cm.runtime_ms else None
            if ms is not None:
                heapq.heappush(heap, (ms, order, child, cm))
                order += 1


def with_counters(samples: Sequence[Measurement]) -> Measurement:
    """A recorded kernel's first sample that carries counters, else its first."""
    return next((m for m in samples if m.counters is not None), samples[0])
