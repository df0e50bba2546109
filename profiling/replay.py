"""The replay evaluator: serves a recorded landscape instead of running kernels.

In the manner of Kernel Tuner's simulation mode, `ReplayEvaluator` answers
`evaluate(task, source)` from a `Landscape` (:mod:`profiling.landscape`): the
recorded measurement of the source's hash, with recorded noise drawn from a
seeded generator, and its recorded evaluation seconds in ``wall_s`` (times the
landscape's ``seconds_scale`` when it was recorded with lighter settings; the
tuner charges to its clock, a `profiling.clock.VirtualClock` under replay). A
source outside the landscape is an explicit miss: status ``not_recorded``, an
error naming the landscape, no timing and no evaluation seconds — never a guess.

Noise (``noise="recorded"``): with several recorded samples of a kernel one of
them is drawn; with one, each median is redrawn from a normal distribution with
the standard error of a median of ``reps`` repetitions whose p20..p80 spread
was recorded (sigma = (p80 - p20) / 1.683, SE = 1.2533 sigma / sqrt(reps)).
Draws depend only on (seed, kernel hash, how often this evaluator served it),
so replays are deterministic whatever order parallel workers evaluate in.
``noise="none"`` serves the first sample unchanged. Counters belong to the kernel: a
sample recorded without them is served with those of another sample of the same kernel
(`record_landscape --counters parents` profiles a kernel as one more sample).
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from profiling.hardware import GpuFacts
from profiling.landscape import Landscape, landscape_path, load_landscape, source_hash
from profiling.measurement import Measurement, ShapeResult, Status, Timing
from profiling.tasks import Task

NOISE_MODES = ("recorded", "none")
_P20_P80_SIGMAS = 1.6832  # p80 - p20 of a normal distribution, in standard deviations
_MEDIAN_SE = 1.2533  # standard error of a sample median, in sigma / sqrt(n)


@dataclass(frozen=True)
class ReplaySettings:
    landscape: str | None = None  # a landscape file; None: the committed one of the task
    noise: str = "recorded"  # "recorded" | "none"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.noise not in NOISE_MODES:
            raise ValueError(f"replay.noise must be one of {', '.join(NOISE_MODES)}, got {self.noise!r}")


def resolve_landscape(settings: ReplaySettings, task: str, size: str, folder: Path) -> Path:
    """The landscape file to replay for a task: the given one, else the task's in `folder`."""
    return Path(settings.landscape) if settings.landscape else landscape_path(folder, task, size)


class ReplayEvaluator:
    """An `Evaluator` over a recorded landscape (thread-safe; no process, no GPU)."""

    def __init__(self, landscape: Landscape, *, noise: str = "recorded", seed: int = 0) -> None:
        ReplaySettings(noise=noise, seed=seed)  # validates
        self.landscape = landscape
        self.noise = noise
        self.seed = seed
        # the tuner offers the arms of the device the landscape was recorded on
        self.device = landscape.header.device
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __getstate__(self) -> dict[str, object]:  # picklable (Ray actors get a copy)
        state = dict(self.__dict__)
        state.pop("_lock")
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @classmethod
    def for_task(cls, task: Task, settings: ReplaySettings, folder: Path) -> ReplayEvaluator:
        """Load the landscape for `task`: ``settings.landscape``, else the task's in `folder`
        (LandscapeError, one line, when absent or another task's)."""
        path = resolve_landscape(settings, task.name, task.size, folder)
        landscape = load_landscape(path)
        landscape.check_task(task.name, task.size)
        return cls(landscape, noise=settings.noise, seed=settings.seed)

    # -- the Evaluator protocol ------------------------------------------------------

    def gpu_facts(self) -> GpuFacts:
        return self.landscape.header.gpu

    def close(self) -> None:
        """Nothing to release."""

    def evaluate(self, task: Task, source: str) -> Measurement:
        h = self.landscape.header
        if (task.name, task.size) != (h.task, h.size):
            return self._miss(f"this landscape is of task {h.task!r} at size {h.size!r}, not "
                              f"{task.name!r} at size {task.size!r}")
        key = source_hash(source)
        entry = self.landscape.get(key)
        if entry is None or not entry.samples:
            with self._lock:
                self.misses += 1
            return self._miss(f"kernel {key} is not in the recorded landscape {self.landscape.describe()}")
        with self._lock:
            n = self._served.get(key, 0)
            self._served[key] = n + 1
            self.hits += 1
        if self.noise == "none":
            m = entry.samples[0]
        else:
            rng = random.Random(f"{self.seed}:{key}:{n}")
            if len(entry.samples) > 1:
                m = entry.samples[rng.randrange(len(entry.samples))]
            else:
                m = jitter(entry.samples[0], rng)
        if m.counters is None:  # counters belong to the kernel, not to one sample's noise
            m = replace(m, counters=next(
                (s.counters for s in entry.samples if s.counters is not None), None))
        # the evaluation's own seconds: a landscape's Nsight Compute time is not charged
        return replace(m, wall_s=m.evaluation_s * h.seconds_scale,
                       diagnostics=replace(m.diagnostics, profile_s=None))

    def _miss(self, error: str) -> Measurement:
        return Measurement.failure(
            Status.NOT_RECORDED,
            error,
            device=self.landscape.header.gpu.name,
            timing_kind="gpu",
            wall_s=0.0,
        )


def jitter(m: Measurement, rng: random.Random) -> Measurement:
    """`m` with every timing's median redrawn within its recorded standard error."""
    if not m.shapes:
        return m
    shapes = tuple(
        ShapeResult(
            s.size,
            _jitter_timing(s.candidate, rng),
            _jitter_timing(s.reference, rng),
            _jitter_timing(s.compiled_reference, rng),
        )
        for s in m.shapes
    )
    return replace(m, shapes=shapes)


def _jitter_timing(t: Timing | None, rng: random.Random) -> Timing | None:
    if t is None or t.median_ms <= 0:
        return t
    sigma = max(t.p80_ms - t.p20_ms, 0.0) / _P20_P80_SIGMAS
    se = _MEDIAN_SE * sigma / math.sqrt(max(t.reps, 1))
    # never more than 3 standard errors, never below half the recorded median
    delta = max(-3.0, min(3.0, rng.gauss(0.0, 1.0))) * se
    median = max(t.median_ms + delta, 0.5 * t.median_ms)
    shift = median - t.median_ms
    return Timing(median, max(t.p20_ms + shift, 0.0), t.p80_ms + shift, t.reps)
