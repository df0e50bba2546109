"""Where a tuning run's candidates are evaluated, built from its settings.

`open_evaluation` turns the resolved device and executor settings into an
`Evaluation`: the executor (local worker processes, one per visible GPU, or Ray
actors), the clock the tuner charges (real time, or a `VirtualClock` under
replay) and notes for the user (a synthetic landscape, one recorded with another
realizer version). Problems the user can fix (no landscape for the task, Ray not
installed) are one-line `UserError`s.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bandit.executors import BaseExecutor, ExecutorError, make_executor, visible_gpus
from experiments import LANDSCAPES_DIR
from experiments.settings import TuneSettings
from profiling import affinity
from profiling.clock import Clock, VirtualClock
from profiling.errors import UserError
from profiling.evaluator import EvalSettings, Evaluator
from profiling.landscape import LandscapeError, minor_version, software_versions
from profiling.probes.registry import ProbeSettings
from profiling.replay import ReplayEvaluator
from profiling.tasks import Task
from strategies.space import realizer_version
from strategies.types import Realizer


@dataclass(frozen=True)
class Evaluation:
    executor: BaseExecutor  # also the tuner's `Evaluator`
    clock: Clock
    notes: tuple[str, ...] = ()
    landscape: str | None = None  # replay: what is replayed (for tags and tables)


@dataclass(frozen=True)
class WorkerFactory:
    """Builds worker `i`'s `WorkerEvaluator` (picklable, so Ray actors can call it too).

    ``gpus``: pin worker `i` to ``gpus[i]`` through CUDA_VISIBLE_DEVICES (local
    executor on CUDA); empty: leave the environment alone (Ray assigns the GPU).
    ``cpus``: worker `i`'s share of the host's cores (``KB_CPUS``, `profiling.affinity`);
    empty: all of them.
    """

    settings: EvalSettings
    gpus: tuple[str, ...] = ()
    probes: ProbeSettings | None = None  # probe.every_candidate: counters on every kernel
    cpus: tuple[str, ...] = ()

    def __call__(self, index: int) -> Evaluator:
        from profiling.evaluator import WorkerEvaluator

        env = {"CUDA_VISIBLE_DEVICES": self.gpus[index]} if self.gpus else {}
        if self.cpus:
            env[affinity.ENV] = self.cpus[index]
        return WorkerEvaluator(self.settings, env=env or None, probes=self.probes)


@dataclass(frozen=True)
class SharedEvaluator:
    """Every worker uses the same (thread-safe) evaluator: a replay."""

    evaluator: Evaluator

    def __call__(self, index: int) -> Evaluator:
        return self.evaluator


def eval_settings(settings: TuneSettings, device: str) -> EvalSettings:
    """The device section with the resolved device (torch.compile timed on CUDA only)."""
    ev = settings.device.evaluation
    return replace(ev, device=device, baseline_compile=ev.baseline_compile and device == "cuda")


def open_evaluation(
    settings: TuneSettings, task: Task, device: str, realizer: Realizer
) -> Evaluation:
    """The executor and clock for a run on `device` ("cuda", "interpret" or "replay")."""
    ex = settings.executor
    notes: list[str] = []
    try:
        if device == "replay":
            assert settings.replay is not None
            try:
                replay = ReplayEvaluator.for_task(task, settings.replay, LANDSCAPES_DIR)
            except LandscapeError as e:
                raise UserError(
                    f"{e} (record one on a GPU: python -m experiments.record_landscape "
                    f"--task {task.name}, or set replay.landscape=FILE)"
                ) from None
            notes += _replay_notes(replay, realizer, task)
            # replay needs no GPU: Ray actors then hold none
            executor = make_executor(ex.name, SharedEvaluator(replay), ex.workers or 1, "replay")
            return Evaluation(executor, VirtualClock(), tuple(notes), replay.landscape.describe())
        gpus = tuple(visible_gpus()) if device == "cuda" else ()
        if device == "cuda" and ex.workers is not None and ex.workers > max(len(gpus), 1):
            raise UserError(
                f"executor.workers={ex.workers} but {len(gpus)} GPU(s) are visible "
                "(one worker per GPU)"
            )
        workers = ex.workers or (max(len(gpus), 1) if ex.name == "local" else None)
        pin = gpus if ex.name == "local" and device == "cuda" else ()
        every = settings.probe if settings.probe.every_candidate else None
        # several GPU workers: each its own cores, so one's compiles cannot stall another's timing
        shares = affinity.split_cpus(affinity.available(), len(pin)) if len(pin) > 1 else []
        cpus = tuple(affinity.format_cpus(s) for s in shares)
        factory = WorkerFactory(eval_settings(settings, device), pin, every, cpus)
        executor = make_executor(ex.name, factory, workers, device)
        if ex.batch < executor.workers:
            notes.append(
                f"note: {executor.workers} workers but executor.batch={ex.batch}: "
                f"at most {ex.batch} of them busy at a time"
            )
        return Evaluation(executor, Clock(), tuple(notes))
    except ExecutorError as e:
        raise UserError(str(e)) from None


def _replay_notes(replay: ReplayEvaluator, realizer: Realizer, task: Task) -> list[str]:
    h = replay.landscape.header
    notes = [f"replaying {replay.landscape.describe()}; seconds are recorded GPU seconds"]
    if h.synthetic:
        notes.append("warning: this landscape is SYNTHETIC (generated for tests, not measured)")
    if realizer.name != h.realizer:
        notes.append(
            f"warning: the landscape holds kernels of the {h.realizer} realizer, this run uses "
            f"{realizer.name}: its kernels will be not_recorded misses"
        )
    elif not h.synthetic and h.realizer_version != (now := realizer_version(realizer)):
        notes.append(
            f"warning: the landscape was recorded with realizer version {h.realizer_version}, "
            f"this is {now}: kernels it now writes differently are not_recorded misses "
            f"(python -m experiments.check_landscape {replay.landscape.path or 'FILE'} tells "
            "whether any do, and restamps the file when none does)"
        )
    recorded, running = h.software.get("torch"), software_versions()["torch"]
    if recorded and minor_version(recorded) != minor_version(running):
        notes.append(
            f"warning: the landscape was recorded with torch {recorded}, this is {running}: "
            "the graph templates capture the reference through torch, and an op it decomposes "
            "differently gives other kernels (not_recorded misses)"
        )
    return notes
