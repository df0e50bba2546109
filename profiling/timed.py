"""The timing stage of an evaluation: rotation sets, interleaved timing, after-checks.

- Rotation sets (inputs only) are generated after the correctness trials, two
  when the evaluation's memory budget and free memory allow, else one
  (:mod:`profiling.memory`); all contenders share one pointer-stable input
  buffer.
- Reference, candidate (and ``torch.compile``) are timed interleaved
  (:func:`profiling.timing.time_interleaved`); timed outputs are checked at
  positions drawn from the harness's own random generator, against the
  reference's output for that set, computed when needed on the shared buffer
  (no reference output is kept per set).
- Post-return writes: the candidate's last timed output is fingerprinted once
  the device is idle and again after a pause; any change (a thread or a host
  callback still writing) rejects it.
- Hidden work (side streams) and the roofline floor are checked on the GPU.
"""

from __future__ import annotations

import random
import sys
import time
import traceback
from typing import TYPE_CHECKING, Any

import torch

from profiling import timing
from profiling.correctness import Tolerance, compare_outputs, fingerprint, storages
from profiling.errors import Verdict
from profiling.measurement import RooflineFloor, Status, Timing
from profiling.memory import MAX_SETS, available_bytes, timing_sets
from profiling.precision import precision_name
from profiling.roofline import compute_floor, floor_flops, floor_violation
from profiling.state import listify, seed_all

if TYPE_CHECKING:
    from profiling.runner import Evaluation

CHANGED = "the candidate's output changed after its call had returned"
POST_RETURN_PAUSE_S = 0.05


class TimedStage:
    def __init__(
        self, ev: Evaluation, mod: Any, ref: Any, new: Any, tols: list[Tolerance], compiled: Any
    ) -> None:
        self.ev = ev
        self.mod = mod
        self.ref = ref
        self.new = new
        self.tols = tols
        self.compiled = compiled
        self.sets: list[list[Any]] = []
        self.buffers: list[Any] = []
        self.last: tuple[Any, tuple[int, ...]] | None = None

    def make_sets(self) -> None:
        ev = self.ev
        in_b, out_b = ev.io_bytes
        want = timing_sets(in_b, out_b, MAX_SETS, available_bytes())
        for k in range(want):
            try:
                inputs = ev.inputs(self.mod, ev.seed + 1 + k)
            except torch.cuda.OutOfMemoryError:
                if not self.sets:
                    raise
                break
            self.sets.append(inputs)
        ev.counters["timing_sets"] = float(len(self.sets))
        if ev.state.cuda:
            torch.cuda.empty_cache()

    def expected(self, k: int) -> Any:
        """The reference's output for set ``k``, computed on the shared buffer (which
        every timed call reloads anyway): no copy of the inputs, no output kept."""
        timing.load(self.buffers, self.sets[k])
        return self.ev.ref(self.ref, *self.buffers)

    def run(self) -> tuple[dict[str, Timing], RooflineFloor | None]:
        ev, state = self.ev, self.ev.state
        self.make_sets()
        tols = self.tols

        def check(k: int, out: Any) -> str | None:
            c = compare_outputs(out, self.expected(k), tols)
            return None if c.ok else c.error

        buffers = self.buffers = timing.make_buffers(self.sets[0])
        hooks = {"enter": state.flags.enter_ref, "exit": state.flags.write}
        contenders = [
            timing.Contender("reference", self.ref, buffers, **hooks),
            timing.Contender("candidate", self.new, buffers, check=check),
        ]
        if self.compiled is not None:
            contenders.append(timing.Contender("compiled", self.compiled, buffers, **hooks))
        if state.cuda:
            clock: Any = timing.CudaClock()
            cfg = timing.TimingConfig(warmup_ms=ev.settings.warmup_ms, rep_ms=ev.settings.rep_ms)
            flush = state.flusher
            hold_us = ev.settings.hold_us
            if hold_us > 0:
                if state.holder is None:
                    state.holder = timing.GpuHold()
                flush = timing.hold_after(flush, state.holder, hold_us)
                ev.counters["hold_us"] = hold_us
            self.check_hidden_work(contenders[0], contenders[1])
        else:
            clock, cfg, flush = timing.WallClock(), timing.INTERPRETER_CONFIG, None
        rng = random.Random(ev.seed ^ 0x5EED)
        result = ev.cand(
            lambda: timing.time_interleaved(contenders, self.sets, clock, flush, cfg, rng),
            "timed run",
        )
        ev.counters.update(timing.host_stats(contenders[1]))
        ref_host = timing.host_stats(contenders[0])
        if ref_host:
            ev.counters.update(ref_host_call_ms=ref_host["host_call_ms"],
                               ref_slow_calls=ref_host["slow_calls"])
        self.post_return_check(contenders[1])
        floor = self.floor(result) if state.cuda else None
        return result, floor

    def release(self) -> None:
        """Drop the rotation sets and the shared buffer (the held last output stays)."""
        self.sets, self.buffers = [], []
        if self.ev.state.cuda:
            torch.cuda.empty_cache()

    def post_return_check(self, c: timing.Contender) -> None:
        """The last timed output must stay as returned: after a pause, and (see
        `recheck_last`) after the candidate's next call."""
        if c.last is None:
            return
        k, out = c.last
        c.last = None
        if self.ev.state.cuda:
            timing._synchronize()
        before = fingerprint(out)
        time.sleep(POST_RETURN_PAUSE_S)
        if self.ev.state.cuda:
            timing._synchronize()
        if fingerprint(out) != before:
            raise Verdict(Status.REJECTED, CHANGED)
        err = compare_outputs(out, self.expected(k), self.tols)
        if not err.ok:
            raise Verdict(
                Status.INCORRECT, f"last timed output differs from the reference: {err.error}"
            )
        self.last = (out, before)

    def recheck_last(self, next_out_storages: set[tuple[str, int]]) -> None:
        """After one more call: the earlier output is unchanged, unless the candidate
        returned the very same buffer again (a reused output buffer is legitimate)."""
        if self.last is None:
            return
        out, before = self.last
        self.last = None
        if storages(out) & next_out_storages:
            return
        if fingerprint(out) != before:
            raise Verdict(Status.REJECTED, CHANGED + " (by a later call)")

    def check_hidden_work(self, ref: timing.Contender, cand: timing.Contender) -> None:
        """Reject work the CUDA events cannot see (calibrated on the reference)."""
        ev = self.ev
        saved = ev.state.flags.enter_ref()
        try:
            r_wall, r_event, _ = ev.ref(timing.hidden_work, ref)
        finally:
            ev.state.flags.write(saved)
        wall, event, n = ev.cand(lambda: timing.hidden_work(cand), "timed run")
        overhead = r_wall - r_event
        ev.counters.update(
            hidden_work_wall_ms=wall, hidden_work_event_ms=event, sync_overhead_ms=overhead
        )
        err = timing.hidden_work_error(wall, event, n, overhead)
        if err:
            raise Verdict(Status.REJECTED, err)

    def floor(self, timings: dict[str, Timing]) -> RooflineFloor | None:
        ev, ref = self.ev, self.ref
        params = (
            list(ref.parameters()) + list(ref.buffers()) if isinstance(ref, torch.nn.Module) else []
        )
        flops, source = floor_flops(self.mod, ev.task.analysed_flops)
        floor = compute_floor(
            self.sets[0], self.expected(0), params, flops, ev.state.facts,
            flops_source=source,
            precision=precision_name(self.mod),
            tf32_admitted=any(t.name == "tf32" for t in self.tols),
        )  # fmt: skip
        if floor is None:
            return None
        err = floor_violation(timings["candidate"].median_ms, timings["reference"].median_ms, floor)
        if err and ev.settings.check_floor:
            raise Verdict(Status.REJECTED, err)
        return floor.record()


def compiled_reference(ev: Evaluation, mod: Any) -> Any:
    """torch.compile(reference), cached per task in this worker (None if it fails)."""
    key = ev.task.module_source()
    if key in ev.state.compiled:
        return ev.state.compiled[key]
    compiled = None
    try:
        seed_all(0)
        model = mod.Model(*listify(mod.get_init_inputs()))
        if isinstance(model, torch.nn.Module):
            model = model.to(ev.state.torch_device).eval()
        compiled = torch.compile(model)
        inputs = ev.inputs(mod, 1)
        with torch.no_grad():
            ev.ref(compiled, *inputs)
    except Exception:
        print("torch.compile baseline failed:\n" + traceback.format_exc(), file=sys.stderr)
        compiled = None
    ev.state.compiled[key] = compiled
    ev.state.guard.refresh()  # compilation is trusted work; no candidate is loaded yet
    return compiled
