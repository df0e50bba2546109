"""Ablation of the hardware-aware search: masks + clusters on vs off vs flat UCB vs random.

For each task (``--tasks``), configuration and seed, one tuning run of the real
`Tuner` with the offline realizer. All runs of a task share one evaluation cache
(source -> measurement) and one probe cache, so a kernel is measured and
profiled once and every configuration sees the same numbers: the runs replay a
landscape recorded on the fly. ``--landscape PATH`` records it into a real
landscape file (`profiling.landscape`, the format ``record_landscape`` writes):
kernels already in it are not measured again, each new one is appended as it is
measured, and a profiled parent's counters as one more sample of it, so the run
can be replayed later (``--replay``). PATH is a ``.jsonl`` / ``.jsonl.gz`` file
(one task) or a folder holding each task's file under its usual name
(``softmax.jsonl``, ``softmax@smoke.jsonl``), which ``--replay PATH`` reads.

Configurations:

- ``hucb+hw``: hucb, 3 runtime-behaviour clusters, saturation masks, headroom-first
  parents, parents profiled by ncu;
- ``hucb``: hucb, one cluster, no masks, no profiling (the search as before);
- ``ucb``: flat UCB over strategies; ``random``: uniform random.

Per task and configuration: the best speedup reached (mean and range over
seeds) and the iterations each run needed to reach 95 % of the best speedup any
run found for that task (``-`` when it never did).

    python -m experiments.ablation_hardware --tasks softmax --seeds 3 --iterations 40 \\
        --landscape ablation_landscapes --json ablation_softmax.json
    python -m experiments.ablation_hardware --replay ablation_landscapes --tasks softmax
    python -m experiments.ablation_hardware --replay --tasks softmax,layernorm --seeds 10

``--replay``: no GPU; each task's committed landscape (`experiments.record_landscape`) is
served instead, kernels outside it are ``not_recorded``. Masks, clusters and
headroom-first parents read the counters recorded with the measurements
(``record_landscape --counters``); without them ``hucb+hw`` differs from ``hucb`` only by
its clusters. With ``--landscape``, ``--replay`` serves that file (or folder) instead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bandit.budget import Budget
from bandit.clustering import RuntimeClusterer
from bandit.frontier import source_hash
from bandit.hardware import HardwareSettings, Profiled, hardware_view
from bandit.policies import make_policy
from bandit.tuner import Tuner, TunerParts, TunerSettings
from experiments import LANDSCAPES_DIR, TASKS_DIR
from experiments.recording import TUNE_DEPTH, with_counters
from profiling.evaluator import EvalSettings, Evaluator, WorkerEvaluator, reference_candidate_source
from profiling.hardware import GpuFacts
from profiling.landscape import (
    LandscapeError,
    LandscapeHeader,
    LandscapeWriter,
    landscape_path,
    software_versions,
)
from profiling.measurement import Measurement
from profiling.probes.registry import ProbeSettings
from profiling.replay import ReplayEvaluator, ReplaySettings
from profiling.tasks import Task, TaskError, load_task
from strategies.catalog import load_catalog
from strategies.factory import build_realizer
from strategies.space import realizer_version

CONFIGS: dict[str, tuple[str, HardwareSettings, bool]] = {
    "hucb+hw": ("hucb", HardwareSettings(clusters=3, masks=("saturation",)), True),
    "hucb": ("hucb", HardwareSettings(clusters=1, masks=(), headroom=False), False),
    "ucb": ("ucb", HardwareSettings(clusters=1, masks=(), headroom=False), False),
    "random": ("random", HardwareSettings(clusters=1, masks=(), headroom=False), False),
}


@dataclass
class SharedEvaluator:
    """One worker for every run of a task; each source measured (and profiled) once.

    With a `writer`, each new measurement is appended to its landscape as it is made, and
    counters a profile brings for a kernel recorded without them as one more sample."""

    inner: Evaluator  # the GPU worker, or a replay of the task's recorded landscape
    measured: dict[str, Measurement] = field(default_factory=dict)  # by source hash
    profiled: dict[str, Profiled] = field(default_factory=dict)
    evaluations: int = 0
    writer: LandscapeWriter | None = None
    reference_hash: str = ""  # recorded at depth 0; other kernels' moves are not tracked

    @classmethod
    def resuming(cls, inner: Evaluator, writer: LandscapeWriter | None) -> SharedEvaluator:
        """Every kernel already in the writer's landscape served from it, counters too."""
        known = writer.existing if writer is not None else None
        measured = {h: with_counters(e.samples) for h, e in known.entries.items()} if known else {}
        profiled = {k: Profiled(m.counters, 0.0) for k, m in measured.items() if m.counters}
        ref = writer.header.reference_hash if writer is not None else ""
        return cls(inner, measured, profiled, writer=writer, reference_hash=ref)

    @property
    def device(self) -> str:
        return self.inner.device

    def evaluate(self, task: Task, source: str) -> Measurement:
        key = source_hash(source)
        if key not in self.measured:
            m = self.measured[key] = self.inner.evaluate(task, source)
            self.evaluations += 1
            if self.writer is not None:
                self.writer.add(key, m, self._depth(key))
        return self.measured[key]

    def profile(self, task: Task, source: str, reference: bool) -> Profiled:
        key = source_hash(source)
        if key not in self.profiled:
            assert isinstance(self.inner, WorkerEvaluator), "replay profiles nothing"
            report = self.inner.profile(task, source, reference)
            self.profiled[key] = Profiled(report.counters, report.seconds)
            m = self.measured.get(key)
            if self.writer is not None and m is not None and m.counters is None \
                    and report.counters is not None:
                self.writer.add(key, replace(m, counters=report.counters), self._depth(key))
        return self.profiled[key]

    def _depth(self, key: str) -> int:
        return 0 if key == self.reference_hash else TUNE_DEPTH

    def gpu_facts(self) -> GpuFacts:
        return self.inner.gpu_facts()

    def close(self) -> None:
        """The shared worker is closed by its owner."""


@dataclass(frozen=True)
class RunCurve:
    best: list[float]  # best speedup after each iteration
    masked_rounds: int  # mask rounds that closed at least one arm


def one_run(task: Task, ev: SharedEvaluator, config: str, seed: int, iterations: int) -> RunCurve:
    """One tuning run of a configuration."""
    policy_name, hw, profiled = CONFIGS[config]
    catalog = load_catalog()
    strategies = catalog.runnable(task.kind, ev.device)
    # under replay the counters come with the recorded measurements (record_landscape --counters)
    live = isinstance(ev.inner, WorkerEvaluator)
    profile = (lambda cid, src, ref: ev.profile(task, src, ref)) if profiled and live else None
    clusters = RuntimeClusterer(hw.clusters, hw.recluster_every, seed) if hw.clusters > 1 else None
    view = hardware_view(hw, profile, {s.id: s.resource for s in strategies})
    tuner = Tuner(
        task, ev, build_realizer("offline", {}), make_policy(policy_name, seed), catalog,
        settings=TunerSettings(seed=seed), parts=TunerParts(clusterer=clusters, hardware=view),
    )
    result = tuner.run(Budget(iterations=iterations))
    masked = sum(any(d.masked for d in e.decisions) for e in view.events)
    return RunCurve([r.best_speedup for r in result.records], masked)


def to_95(curve: Sequence[float], target: float) -> int | None:
    return next((i + 1 for i, b in enumerate(curve) if b >= 0.95 * target), None)


def landscape_files(where: Path, tasks: Sequence[Task]) -> dict[str, Path]:
    """Each task's landscape file under ``--landscape``: `where` itself when it names a
    ``.jsonl`` / ``.jsonl.gz`` file (one task only), else the task's file in that folder."""
    if where.name.endswith((".jsonl", ".jsonl.gz")):
        if len(tasks) != 1:
            raise ValueError(f"--landscape {where} is one task's landscape file; name a folder "
                             f"for {len(tasks)} tasks")
        return {tasks[0].name: where}
    return {t.name: landscape_path(where, t.name, t.size) for t in tasks}


def landscape_header(task: Task, worker: Evaluator, settings: EvalSettings,
                     mode: str) -> LandscapeHeader:
    """The header of what the live ablation records, as `experiments.recording` builds it."""
    realizer = build_realizer("offline", {})
    return LandscapeHeader(
        task=task.name,
        size=task.size,
        kind=task.kind,
        device=worker.device,
        gpu=worker.gpu_facts(),
        realizer=realizer.name,
        realizer_version=realizer_version(realizer),
        reference_hash=source_hash(reference_candidate_source(task)),
        mode=mode,
        settings={k: v for k, v in vars(settings).items() if k != "device"},
        recorded_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        note="experiments.ablation_hardware (2 correctness trials, no torch.compile baseline; "
             "seconds not rescaled)",
        software=software_versions(),
    )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", default="softmax", help="comma-separated bundled tasks")
    ap.add_argument("--size", default=None, help="size preset for every task")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--device", default="cuda", choices=("cuda", "interpret"))
    ap.add_argument("--landscape", type=Path, metavar="PATH",
                    help="landscape file (.jsonl, one task) or folder of them to reuse and extend "
                         "(with --replay: to replay)")
    ap.add_argument("--replay", nargs="?", const=LANDSCAPES_DIR, type=Path, metavar="DIR",
                    help="no GPU: replay each task's committed landscape (from DIR, default "
                         "experiments/landscapes); masks act where it was recorded --counters")
    ap.add_argument("--json", type=Path, help="write the table as JSON here")
    args = ap.parse_args(argv)
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    try:
        tasks = [load_task(t.strip(), args.size, TASKS_DIR) for t in args.tasks.split(",") if t.strip()]
        unknown = [c for c in configs if c not in CONFIGS]
        if unknown:
            raise ValueError(f"unknown config {unknown[0]!r} (configs: {', '.join(CONFIGS)})")
        files = landscape_files(args.landscape, tasks) if args.landscape is not None else {}
    except (TaskError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        replays = {t.name: ReplayEvaluator.for_task(
            t, ReplaySettings(landscape=str(files[t.name]) if files else None, noise="none"),
            args.replay) for t in tasks} if args.replay else {}
    except LandscapeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    quick = EvalSettings(device=args.device, trials=2, baseline_compile=False)
    probes = ProbeSettings(names=("ncu", "triton"))
    mode = (f"ablation {'/'.join(configs)} x seeds 0-{args.seeds - 1}, "
            f"{args.iterations} iterations each")
    rows: list[dict[str, Any]] = []
    with ExitStack() as stack:
        worker = None if args.replay else stack.enter_context(WorkerEvaluator(quick, probes=probes))
        try:  # live: each task's landscape opened (and checked) before anything runs
            writers = {t.name: stack.enter_context(LandscapeWriter(
                files[t.name], landscape_header(t, worker, quick, mode)))
                for t in tasks} if files and worker is not None else {}
        except LandscapeError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        for task in tasks:
            t0 = time.monotonic()
            inner = replays[task.name] if worker is None else worker
            ev = SharedEvaluator.resuming(inner, writers.get(task.name))
            curves: dict[tuple[str, int], list[float]] = {}
            masked: dict[tuple[str, int], int] = {}
            for s in range(args.seeds):  # seed-major: a run cut short has every config's seed 0
                for c in configs:
                    run = one_run(task, ev, c, s, args.iterations)
                    curves[c, s], masked[c, s] = run.best, run.masked_rounds
                    print(f"{task.name} {c} seed {s}: best {max(curves[c, s], default=1.0):.3f}x "
                          f"({ev.evaluations} kernels measured so far, "
                          f"{time.monotonic() - t0:.0f} s)", flush=True)
            best = max((max(v) for v in curves.values() if v), default=1.0)
            for c in configs:
                finals = [curves[c, s][-1] if curves[c, s] else 1.0 for s in range(args.seeds)]
                hits = [to_95(curves[c, s], best) for s in range(args.seeds)]
                rows.append({
                    "task": task.name, "config": c, "best_speedup_mean": statistics.mean(finals),
                    "best_speedup_min": min(finals), "best_speedup_max": max(finals),
                    "iters_to_95": hits, "task_best": best,
                    "masked_rounds": [masked[c, s] for s in range(args.seeds)],
                })
            where = (f"replayed, {inner.misses} not recorded, "
                     f"{sum(m.counters is not None for m in ev.measured.values())} with counters"
                     if isinstance(inner, ReplayEvaluator) else f"{len(ev.profiled)} profiled")
            print(f"{task.name}: {ev.evaluations} kernels measured ({where}), "
                  f"{time.monotonic() - t0:.0f} s", flush=True)
    print(f"\n{'task':<22}{'config':<10}{'best x (mean [min-max])':<28}"
          f"{'iterations to 95 %':<22}rounds with an arm masked")
    for r in rows:
        hits = " ".join("-" if h is None else str(h) for h in r["iters_to_95"])
        masks = " ".join(str(m) for m in r["masked_rounds"])
        print(f"{r['task']:<22}{r['config']:<10}"
              f"{r['best_speedup_mean']:.3f} [{r['best_speedup_min']:.3f}-"
              f"{r['best_speedup_max']:.3f}]{'':<6}{hits:<22}{masks}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
