"""Ablation of the hardware-aware search: masks + clusters on vs off vs flat UCB vs random.

For each task (``--tasks``), configuration and seed, one tuning run of the real
`Tuner` with the offline realizer. All runs of a task share one evaluation cache
(source -> measurement) and one probe cache, so a kernel is measured and
profiled once and every configuration sees the same numbers: the runs replay a
landscape recorded on the fly. ``--landscape PATH`` loads such a landscape
before (kernels in it are not measured again) and writes it back after, with
each kernel's hardware counters, for later replays.

Configurations:

- ``hucb+hw``: hucb, 3 runtime-behaviour clusters, saturation masks, headroom-first
  parents, parents profiled by ncu;
- ``hucb``: hucb, one cluster, no masks, no profiling (the search as before);
- ``ucb``: flat UCB over strategies; ``random``: uniform random.

Per task and configuration: the best speedup reached (mean and range over
seeds) and the iterations each run needed to reach 95 % of the best speedup any
run found for that task (``-`` when it never did).

    python -m experiments.ablation_hardware --tasks softmax --seeds 3 --iterations 40 \\
        --landscape landscape_softmax.json --json ablation_softmax.json
    python -m experiments.ablation_hardware --replay --tasks softmax,layernorm --seeds 10

``--replay``: no GPU; each task's committed landscape (`experiments.record_landscape`) is
served instead, kernels outside it are ``not_recorded``. Masks, clusters and
headroom-first parents read the counters recorded with the measurements
(``record_landscape --counters``); without them ``hucb+hw`` differs from ``hucb`` only by
its clusters.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from contextlib import nullcontext
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
from profiling.evaluator import EvalSettings, Evaluator, WorkerEvaluator
from profiling.hardware import GpuFacts
from profiling.landscape import LandscapeError
from profiling.measurement import Measurement
from profiling.probes.registry import ProbeSettings
from profiling.replay import ReplayEvaluator, ReplaySettings
from profiling.tasks import Task, TaskError, load_task
from strategies.catalog import load_catalog
from strategies.factory import build_realizer

CONFIGS: dict[str, tuple[str, HardwareSettings, bool]] = {
    "hucb+hw": ("hucb", HardwareSettings(clusters=3, masks=("saturation",)), True),
    "hucb": ("hucb", HardwareSettings(clusters=1, masks=(), headroom=False), False),
    "ucb": ("ucb", HardwareSettings(clusters=1, masks=(), headroom=False), False),
    "random": ("random", HardwareSettings(clusters=1, masks=(), headroom=False), False),
}


@dataclass
class SharedEvaluator:
    """One worker for every run of a task; each source measured (and profiled) once."""

    inner: Evaluator  # the GPU worker, or a replay of the task's recorded landscape
    measured: dict[str, Measurement] = field(default_factory=dict)  # by source hash
    profiled: dict[str, Profiled] = field(default_factory=dict)
    evaluations: int = 0

    @property
    def device(self) -> str:
        return self.inner.device

    def evaluate(self, task: Task, source: str) -> Measurement:
        key = source_hash(source)
        if key not in self.measured:
            self.measured[key] = self.inner.evaluate(task, source)
            self.evaluations += 1
        return self.measured[key]

    def profile(self, task: Task, source: str, reference: bool) -> Profiled:
        key = source_hash(source)
        if key not in self.profiled:
            assert isinstance(self.inner, WorkerEvaluator), "replay profiles nothing"
            report = self.inner.profile(task, source, reference)
            self.profiled[key] = Profiled(report.counters, report.seconds)
        return self.profiled[key]

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


def load_landscape(path: Path | None, task: Task) -> dict[str, Measurement]:
    if path is None or not path.is_file():
        return {}
    data = json.loads(path.read_text())
    entry = data.get(f"{task.name}:{task.size}", {})
    return {k: Measurement.from_dict(v) for k, v in entry.items()}


def save_landscape(path: Path, task: Task, measured: dict[str, Measurement]) -> None:
    data = json.loads(path.read_text()) if path.is_file() else {}
    data[f"{task.name}:{task.size}"] = {k: m.to_dict() for k, m in measured.items()}
    path.write_text(json.dumps(data))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", default="softmax", help="comma-separated bundled tasks")
    ap.add_argument("--size", default=None, help="size preset for every task")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--device", default="cuda", choices=("cuda", "interpret"))
    ap.add_argument("--landscape", type=Path, help="recorded landscape to reuse and extend")
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
    except (TaskError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        replays = {t.name: ReplayEvaluator.for_task(t, ReplaySettings(noise="none"), args.replay)
                   for t in tasks} if args.replay else {}
    except LandscapeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    quick = EvalSettings(device=args.device, trials=2, baseline_compile=False)
    probes = ProbeSettings(names=("ncu", "triton"))
    rows: list[dict[str, Any]] = []
    with nullcontext(None) if args.replay else WorkerEvaluator(quick, probes=probes) as worker:
        for task in tasks:
            t0 = time.monotonic()
            known = load_landscape(args.landscape, task)
            inner = replays[task.name] if args.replay else worker
            ev = SharedEvaluator(inner, known, {k: Profiled(m.counters, 0.0)  # a resume
                                                for k, m in known.items() if m.counters})
            curves: dict[tuple[str, int], list[float]] = {}
            masked: dict[tuple[str, int], int] = {}
            for s in range(args.seeds):  # seed-major: a run cut short has every config's seed 0
                for c in configs:
                    run = one_run(task, ev, c, s, args.iterations)
                    curves[c, s], masked[c, s] = run.best, run.masked_rounds
                    print(f"{task.name} {c} seed {s}: best {max(curves[c, s], default=1.0):.3f}x "
                          f"({ev.evaluations} kernels measured so far, "
                          f"{time.monotonic() - t0:.0f} s)", flush=True)
                    if args.landscape is not None:  # kept after every run, for a resume
                        _save(args.landscape, task, ev)
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


def _save(path: Path, task: Task, ev: SharedEvaluator) -> None:
    merged = {k: replace(m, counters=m.counters or _counters(ev, k)) for k, m in ev.measured.items()}
    save_landscape(path, task, merged)


def _counters(ev: SharedEvaluator, key: str) -> Any:
    p = ev.profiled.get(key)
    return p.counters if p is not None else None


if __name__ == "__main__":
    sys.exit(main())
