"""Timing reference and candidate in the same process, interleaved.

Protocol (GPU): each callable ("contender") owns pointer-stable input buffers.
Before every repetition the next input set is copied into them (rotating
through several sets drawn from fresh seeds), the L2 is flushed by writing a
buffer larger than it, and the call is bracketed by CUDA events. Contenders
alternate in blocks (ref, cand, cand, ref, ...), so slow drifts of clock or
temperature hit both and the ratio survives. The median and p20/p80 of many
repetitions are reported. Outputs of timed repetitions are checked against the
reference for the input set used, right after the end event (outside the timed
region; no snapshot is held, so checking costs no memory): a kernel that caches
results by data pointer, or returns stale outputs, fails here. Two sets are
enough for that (consecutive calls see different values at the same address);
how many calls per block are checked does not depend on the number of sets. `hidden_work` compares a
device-synchronized wall clock with the event time to catch work launched on
side streams that the events do not see.

The host's side of each timed call is recorded too (`host_stats`): the seconds
from the start event's record to the call's return. The events time the device,
but a device with nothing queued runs the start event at once, so whenever the
host needs longer to launch the call's kernels than the device needs for the
work queued before it (the input copy and the L2 flush), the event time holds
host time: the slow calls' host times tell. An optional hold (`GpuHold`,
``device.hold_us``) queues a spinning kernel between the flush and the start
event, so the host is that much ahead (NVBench's blocking kernel, by time); it
cannot hide work on the inputs, which the host reaches only through the device.

Under the Triton interpreter the same loop runs with a wall clock and a few
repetitions; those figures are labeled interpreter time, not GPU time.

The timers used here are bound when this module is imported, which the worker
does before any candidate is loaded.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from profiling.errors import Verdict
from profiling.measurement import SLOW, Status, Timing

_perf_counter = time.perf_counter
_Event = torch.cuda.Event
_record = torch.cuda.Event.record
_elapsed = torch.cuda.Event.elapsed_time
_synchronize = torch.cuda.synchronize
_sleep = getattr(torch.cuda, "_sleep", None)


class WallClock:
    """Synchronous wall-clock timing (CPU / interpreter)."""

    kind = "interpreter"

    def __init__(self) -> None:
        self._done: list[float] = []

    def start(self) -> Any:
        return _perf_counter()

    def stop(self, token: Any) -> None:
        self._done.append((_perf_counter() - token) * 1e3)

    def collect(self) -> list[float]:
        out, self._done = self._done, []
        return out


class CudaClock:
    """CUDA events on the current stream; read after one synchronize per block."""

    kind = "gpu"

    def __init__(self) -> None:
        self._pending: list[tuple[Any, Any]] = []

    def start(self) -> Any:
        e = _Event(enable_timing=True)
        _record(e)
        return e

    def stop(self, token: Any) -> None:
        e = _Event(enable_timing=True)
        _record(e)
        self._pending.append((token, e))

    def collect(self) -> list[float]:
        _synchronize()
        out = [_elapsed(s, e) for s, e in self._pending]
        self._pending = []
        return out


FLUSH_MIN_BYTES = 256 << 20
FLUSH_L2_FACTOR = 3


def flush_bytes(l2_bytes: int) -> int:
    """The L2 flush buffer's size: several times the L2, at least `FLUSH_MIN_BYTES`."""
    return max(FLUSH_MIN_BYTES, FLUSH_L2_FACTOR * int(l2_bytes))


class L2Flusher:
    """Writes a buffer several times the L2 size before each timed call."""

    def __init__(self, l2_bytes: int, device: Any) -> None:
        self.buf = torch.empty(flush_bytes(l2_bytes), dtype=torch.int8, device=device)

    def __call__(self) -> None:
        self.buf.zero_()


class GpuHold:
    """Spins the current stream for a given time (``torch.cuda._sleep``), calibrated once
    with events: ``hold(us)`` queues about ``us`` microseconds of device time."""

    CALIBRATION_CYCLES = 2_000_000

    def __init__(self) -> None:
        if _sleep is None:
            raise RuntimeError("this torch build has no torch.cuda._sleep")
        _sleep(1000)  # the spin kernel's first launch loads it
        s, e = _Event(enable_timing=True), _Event(enable_timing=True)
        _record(s)
        _sleep(self.CALIBRATION_CYCLES)
        _record(e)
        _synchronize()
        self.cycles_per_us = self.CALIBRATION_CYCLES / max(_elapsed(s, e) * 1e3, 1e-3)

    def __call__(self, us: float) -> None:
        assert _sleep is not None
        _sleep(max(1, int(us * self.cycles_per_us)))


def hold_after(
    flush: Callable[[], None] | None, hold: Callable[[float], None], us: float
) -> Callable[[], None]:
    """What runs before each timed call's start event: the flush, then the hold."""

    def before() -> None:
        if flush is not None:
            flush()
        hold(us)

    return before


Check = Callable[[int, Any], "str | None"]


@dataclass
class Contender:
    name: str
    fn: Callable[..., Any]
    buffers: list[Any]
    check: Check | None = None  # (input set index, output) -> error text or None
    enter: Callable[[], Any] | None = None  # run before each call, outside the timed region
    exit: Callable[[Any], None] | None = None  # run after each call with enter's result
    times: list[float] = field(default_factory=list)
    host: list[float] = field(default_factory=list)  # host ms of each timed call, as `times`
    calls: int = 0
    last: tuple[int, Any] | None = None  # (input set, output) of the last timed call


CHECKED_PER_BLOCK = 3  # timed calls checked per block of a checked contender (at least)


@dataclass(frozen=True)
class TimingConfig:
    warmup_ms: float = 25.0
    rep_ms: float = 100.0
    min_reps: int = 10
    max_reps: int = 1000
    rounds: int = 10
    max_warmup_calls: int = 200


# Interpreter timings are labeled as such and only rank candidates roughly: few reps.
INTERPRETER_CONFIG = TimingConfig(warmup_ms=0.0, rep_ms=30.0, min_reps=3, max_reps=25, rounds=3)


def make_buffers(inputs: Sequence[Any]) -> list[Any]:
    return [x.clone() if isinstance(x, torch.Tensor) else x for x in inputs]


def load(buffers: list[Any], data: Sequence[Any]) -> None:
    for b, src in zip(buffers, data, strict=True):
        if isinstance(b, torch.Tensor):
            b.copy_(src)


def summarize(times: Sequence[float]) -> Timing:
    xs = sorted(times)
    return Timing(
        median_ms=_quantile(xs, 0.5),
        p20_ms=_quantile(xs, 0.2),
        p80_ms=_quantile(xs, 0.8),
        reps=len(xs),
    )


def _quantile(xs: Sequence[float], q: float) -> float:
    if not xs:
        return math.nan
    pos = q * (len(xs) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _call(
    c: Contender, data_sets: Sequence[Sequence[Any]], clock: Any, flush: Any
) -> tuple[int, Any, float]:
    """One timed call: (input set, output, host ms from the start event to the return)."""
    k = c.calls % len(data_sets)
    c.calls += 1
    load(c.buffers, data_sets[k])
    saved = c.enter() if c.enter is not None else None
    try:
        if flush is not None:
            flush()
        token = clock.start()
        h0 = _perf_counter()
        out = c.fn(*c.buffers)
        host = (_perf_counter() - h0) * 1e3
        clock.stop(token)
    finally:
        if c.exit is not None:
            c.exit(saved)
    return k, out, host


def _estimate_ms(
    c: Contender, data_sets: Sequence[Sequence[Any]], clock: Any, flush: Any, cfg: TimingConfig
) -> float:
    _call(c, data_sets, clock, flush)
    est = max(clock.collect()[0], 1e-4)
    n = int(min(cfg.max_warmup_calls, max(0, cfg.warmup_ms / est)))
    if n:
        for _ in range(n):
            _call(c, data_sets, clock, flush)
        est = max(_quantile(sorted(clock.collect()), 0.5), 1e-4)
    return est


def time_interleaved(
    contenders: Sequence[Contender],
    data_sets: Sequence[Sequence[Any]],
    clock: Any,
    flush: Callable[[], None] | None = None,
    cfg: TimingConfig = TimingConfig(),
    rng: random.Random | None = None,
) -> dict[str, Timing]:
    """Time all contenders, alternating blocks; returns a Timing per name.

    In every block of a checked contender, ``CHECKED_PER_BLOCK`` (at least
    ``len(data_sets)``) consecutive calls at a random position (``rng``: the
    harness's, never the candidate's) are checked as soon as each returns, so no
    call count tells the candidate which calls are looked at. The last call's
    output is kept on the contender (``last``) for the post-return check. Raises
    `Verdict(incorrect)` when a timed output fails its check.
    """
    rng = rng or random.Random()
    n_checked = max(len(data_sets), CHECKED_PER_BLOCK)
    reps: dict[str, int] = {}
    for c in contenders:
        est = _estimate_ms(c, data_sets, clock, flush, cfg)
        want = cfg.rep_ms / est if cfg.rep_ms > 0 else cfg.min_reps
        reps[c.name] = int(min(cfg.max_reps, max(cfg.min_reps, math.ceil(want))))
    rounds = max(1, min(cfg.rounds, min(reps.values())))
    for r in range(rounds):
        order = list(contenders) if r % 2 == 0 else list(contenders)[::-1]
        for c in order:
            block = math.ceil(reps[c.name] / rounds)
            first = rng.randrange(max(1, block - n_checked + 1))
            for j in range(block):
                k, out, host = _call(c, data_sets, clock, flush)
                c.host.append(host)
                if c.check is not None and first <= j < first + n_checked:
                    err = c.check(k, out)
                    if err:
                        raise Verdict(Status.INCORRECT,
                                      f"output of a timed run differs from the reference: {err}")
                if c.check is not None and r == rounds - 1 and j == block - 1:
                    c.last = (k, out)
                del out
        times = clock.collect()
        i = 0
        for c in order:
            block = math.ceil(reps[c.name] / rounds)
            c.times.extend(times[i : i + block])
            i += block
    return {c.name: summarize(c.times) for c in contenders}


def host_stats(c: Contender) -> dict[str, float]:
    """The host's side of a contender's timed calls (diagnostics, by name).

    ``host_call_ms`` / ``host_call_p80_ms``: median and p80 of the host time of a call;
    ``slow_calls``: the fraction of calls whose event time exceeds `SLOW` x the p20;
    ``slow_call_host_ms`` / ``fast_call_host_ms``: the median host time of those calls and
    of the others. Slow calls that took longer on the host than the fast ones are
    launch-bound: the device had run out of queued work before their kernels arrived.
    """
    if not c.times:
        return {}
    bar = SLOW * _quantile(sorted(c.times), 0.2)
    split: dict[bool, list[float]] = {True: [], False: []}
    for t, h in zip(c.times, c.host, strict=True):  # recorded in step by time_interleaved
        split[t > bar].append(h)
    xs = sorted(c.host)
    out = {
        "host_call_ms": _quantile(xs, 0.5),
        "host_call_p80_ms": _quantile(xs, 0.8),
        "slow_calls": len(split[True]) / len(xs),
    }
    for slow, name in ((True, "slow_call_host_ms"), (False, "fast_call_host_ms")):
        if split[slow]:
            out[name] = _quantile(sorted(split[slow]), 0.5)
    return out


def hidden_work(
    c: Contender, budget_ms: float = 10.0, min_calls: int = 3, max_calls: int = 20
) -> tuple[float, float, int]:
    """Median (wall ms, event ms) per call, each call between two device syncs.

    The events bracket the call on the current stream; the wall clock spans
    from before the start event to after a device-wide synchronize. For honest
    code the two differ by a small constant (event creation, sync latency),
    whatever the CPU launch overhead, because an idle stream records the start
    at once. Work launched on a side stream that the current stream never waits
    for shows up only in the wall time.
    """
    walls: list[float] = []
    events: list[float] = []
    while len(walls) < max_calls and (len(walls) < min_calls or sum(walls) < budget_ms):
        _synchronize()
        t0 = _perf_counter()
        s = _Event(enable_timing=True)
        _record(s)
        c.fn(*c.buffers)
        e = _Event(enable_timing=True)
        _record(e)
        _synchronize()
        walls.append((_perf_counter() - t0) * 1e3)
        events.append(_elapsed(s, e))
    return _quantile(sorted(walls), 0.5), _quantile(sorted(events), 0.5), len(walls)


def hidden_work_error(
    wall_ms: float, event_ms: float, n: int, overhead_ms: float = 0.0
) -> str | None:
    """Error text when the wall time exceeds the event time by more than the honest overhead.

    ``overhead_ms``: the same wall-minus-event gap measured on the reference
    (calibrates the sync latency of this machine).
    """
    if wall_ms - event_ms > max(0.1, 0.5 * event_ms) + max(0.0, overhead_ms):
        return (
            f"work hidden from the timer (side stream?): a call takes {wall_ms:.3g} ms of "
            f"device-synchronized wall time but {event_ms:.3g} ms of event time (median of {n})"
        )
    return None
