"""One candidate's evaluation, inside the worker: load, check, time, judge.

Order of work (each stage can end the evaluation with a status):

1. trusted preparation (task module, optional ``torch.compile`` of the
   reference, warmed before any candidate code is loaded);
2. the candidate module is executed; timers and torch are checked for patches;
3. Model and ModelNew are built from ``get_init_inputs()`` under one seed and
   the reference's parameters copied into ModelNew where names and shapes match;
4. correctness trials, each with fresh inputs from a fresh seed: candidate
   first on cloned inputs, then the reference (TF32 off), inputs compared
   afterwards, outputs compared by dtype tolerance; extra sizes likewise;
5. timing (interleaved, rotating input sets, L2 flushed, timed outputs
   re-checked), hidden-work check, roofline floor, guards again.
"""

from __future__ import annotations

import sys
import threading
import traceback
import types
from collections.abc import Callable, Sequence
from typing import Any

import torch

from profiling import timing
from profiling.correctness import (
    Tolerance,
    compare_outputs,
    input_check,
    output_dtypes,
    relative_error,
    tolerance_for,
)
from profiling.errors import Verdict, classify, trim
from profiling.guards import library_thread
from profiling.measurement import HarnessDiagnostics, Measurement, ShapeResult, Status, Timing
from profiling.resources import kernel_resources
from profiling.roofline import compute_floor, floor_violation, task_flops
from profiling.state import (
    RunSettings,
    WorkerState,
    clone_all,
    copy_matching_state,
    cuda_healthy,
    listify,
    seed_all,
    to_device,
)
from profiling.tasks import Task, exec_module

CANDIDATE_MODULE = "kb_candidate"
TIMING_SETS = 3


class Evaluation:
    """The evaluation of one candidate source against one task."""

    def __init__(
        self,
        state: WorkerState,
        task: Task,
        source: str,
        settings: RunSettings,
        seed: int,
        extra_tasks: Sequence[Task] = (),
    ) -> None:
        self.state = state
        self.task = task
        self.source = source
        self.settings = settings
        self.seed = seed
        self.extra_tasks = list(extra_tasks)
        self.trials_done = 0
        self.max_rel = 0.0
        self.counters: dict[str, float] = {}
        self.cand_module: types.ModuleType | None = None

    # -- calling candidate and reference code ------------------------------
    def cand(self, fn: Callable[[], Any], stage: str = "") -> Any:
        try:
            out = fn()
            if self.state.cuda:
                timing._synchronize()
            return out
        except Verdict:
            raise
        except BaseException as e:
            c = classify(e, CANDIDATE_MODULE)
            restart = c.cuda_fatal or (self.state.cuda and not cuda_healthy())
            text = (
                f"{c.error} (in {stage})" if stage and c.status is Status.RUNTIME_ERROR else c.error
            )
            raise Verdict(c.status, trim(text), restart) from e

    def ref(self, fn: Callable[..., Any], *args: Any, **flags: Any) -> Any:
        saved = self.state.flags.enter_ref(**flags)
        try:
            out = fn(*args)
            if self.state.cuda:
                timing._synchronize()
            return out
        except BaseException as e:
            print(traceback.format_exc(), file=sys.stderr)
            # the candidate may have broken shared state (or the task is broken): start clean
            raise Verdict(Status.RUNTIME_ERROR, trim(f"reference model failed: {e}"), True) from e
        finally:
            self.state.flags.write(saved)

    def check_guards(self, when: str) -> None:
        err = self.state.guard.check()
        if err:
            raise Verdict(Status.REJECTED, f"{err} ({when})", restart=True)

    # -- stages -----------------------------------------------------------
    def load_candidate(self) -> Any:
        try:
            compile(self.source, "<candidate>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as e:
            c = classify(e if isinstance(e, SyntaxError) else SyntaxError(str(e)))
            raise Verdict(Status.SYNTAX_ERROR, c.error) from e
        self.cand_module = self.cand(lambda: exec_module(self.source, CANDIDATE_MODULE), "import")
        self.check_guards("at import")
        model_new = vars(self.cand_module).get("ModelNew")
        if model_new is None or not callable(model_new):
            raise Verdict(Status.RUNTIME_ERROR, "candidate defines no ModelNew")
        return model_new

    def build(self, mod: types.ModuleType, model_new: Any, seed: int) -> tuple[Any, Any]:
        dev = self.state.torch_device
        seed_all(seed)
        init = self.task_call(lambda: listify(mod.get_init_inputs()), "get_init_inputs()")
        seed_all(seed)
        ref = self.ref(lambda: mod.Model(*init))
        seed_all(seed)
        new = self.cand(lambda: model_new(*init), "ModelNew.__init__")
        if isinstance(ref, torch.nn.Module):
            ref = ref.to(dev).eval()
        if isinstance(new, torch.nn.Module) and isinstance(ref, torch.nn.Module):
            self.cand(lambda: copy_matching_state(ref, new), "load_state_dict")
        if isinstance(new, torch.nn.Module):
            new = self.cand(lambda: new.to(dev).eval(), "ModelNew.to")
        return ref, new

    def trials(
        self, mod: types.ModuleType, model_new: Any, n: int, seed: int, keep: int, label: str = ""
    ) -> tuple[Any, Any, list[list[Any]], list[Any], list[Tolerance]]:
        """Correctness trials; returns models, kept input sets, their ref outputs, tolerances."""
        ref, new = self.build(mod, model_new, seed)
        kept_in: list[list[Any]] = []
        kept_out: list[Any] = []
        tols: list[Tolerance] = []
        for t in range(max(n, keep)):
            inputs = self.inputs(mod, seed + 1 + t)
            if t < n:
                cand_in = clone_all(inputs)
                out = self.cand(lambda cand_in=cand_in: new(*cand_in), "forward")
            ref_in = clone_all(inputs)
            ref_out = self.ref(ref, *ref_in)
            if not tols:
                tols = self._tolerances(ref, inputs, ref_out)
            if t < n:
                mutation = input_check(cand_in, inputs, ref_in)
                if mutation:
                    raise Verdict(Status.INCORRECT, f"{label}{mutation}")
                cmp = compare_outputs(out, ref_out, tols)
                self.max_rel = max(self.max_rel, cmp.rel_error)
                if not cmp.ok:
                    raise Verdict(Status.INCORRECT, trim(f"{label}trial {t + 1}: {cmp.error}"))
                if not label:
                    self.trials_done = t + 1
                del out, cand_in
            if t < keep:
                kept_in.append(inputs)
                kept_out.append(ref_out)
        return ref, new, kept_in, kept_out, tols

    def inputs(self, mod: types.ModuleType, seed: int) -> list[Any]:
        """``get_inputs()`` under ``seed``, created directly on the GPU when it allows."""
        dev = self.state.torch_device
        seed_all(seed)
        if self.state.cuda:
            try:
                with dev:
                    return to_device(listify(mod.get_inputs()), dev)
            except Exception:  # e.g. numpy-based inputs: build them on the CPU instead
                seed_all(seed)
        return self.task_call(lambda: to_device(listify(mod.get_inputs()), dev), "get_inputs()")

    @staticmethod
    def task_call(fn: Callable[[], Any], what: str) -> Any:
        """Call task code other than the model: a failure is the task's, not the candidate's."""
        try:
            return fn()
        except Exception as e:
            print(traceback.format_exc(), file=sys.stderr)
            text = trim(f"task {what} failed: {type(e).__name__}: {e}")
            raise Verdict(Status.RUNTIME_ERROR, text, True) from e

    def _tolerances(self, ref: Any, inputs: list[Any], ref_out: Any) -> list[Tolerance]:
        dtypes = output_dtypes(ref_out)
        tf32_err = None
        if self.state.cuda and torch.float32 in dtypes:
            probe = self.ref(
                ref, *clone_all(inputs), matmul_tf32=True, cudnn_tf32=True, precision="high"
            )
            errs = [
                relative_error(p, r)
                for p, r in zip(listify(probe), listify(ref_out), strict=False)
                if isinstance(r, torch.Tensor)
                and r.dtype == torch.float32
                and isinstance(p, torch.Tensor)
            ]
            tf32_err = max(errs, default=0.0)
            self.counters["tf32_reference_error"] = tf32_err
        return [
            tolerance_for(d, tf32_err) if d is not None else tolerance_for(torch.float32)
            for d in dtypes
        ]

    def compiled_reference(self, mod: types.ModuleType) -> Any:
        """torch.compile(reference), cached per task in this worker (None if it fails)."""
        key = self.task.module_source()
        if key in self.state.compiled:
            return self.state.compiled[key]
        compiled = None
        try:
            seed_all(0)
            model = mod.Model(*listify(mod.get_init_inputs()))
            if isinstance(model, torch.nn.Module):
                model = model.to(self.state.torch_device).eval()
            compiled = torch.compile(model)
            inputs = self.inputs(mod, 1)
            with torch.no_grad():
                self.ref(compiled, *inputs)
        except Exception:
            print("torch.compile baseline failed:\n" + traceback.format_exc(), file=sys.stderr)
            compiled = None
        self.state.compiled[key] = compiled
        self.state.guard.refresh()  # compilation is trusted work; no candidate is loaded yet
        return compiled

    def time_it(
        self,
        ref: Any,
        new: Any,
        sets: list[list[Any]],
        outs: list[Any],
        tols: list[Tolerance],
        compiled: Any,
    ) -> dict[str, Timing]:
        state = self.state
        flags = state.flags

        def check(k: int, out: Any) -> str | None:
            c = compare_outputs(out, outs[k], tols)
            return None if c.ok else c.error

        # the reference runs under the harness's numerics flags (TF32 off), set outside the timer
        hooks = {"enter": flags.enter_ref, "exit": flags.write}
        contenders = [
            timing.Contender("reference", ref, timing.make_buffers(sets[0]), **hooks),
            timing.Contender("candidate", new, timing.make_buffers(sets[0]), check=check),
        ]
        if compiled is not None:
            contenders.append(
                timing.Contender("compiled", compiled, timing.make_buffers(sets[0]), **hooks)
            )
        if state.cuda:
            if state.flusher is None:
                state.flusher = timing.L2Flusher(state.facts.l2_bytes, state.torch_device)
            clock: Any = timing.CudaClock()
            cfg = timing.TimingConfig(
                warmup_ms=self.settings.warmup_ms, rep_ms=self.settings.rep_ms
            )
            flush = state.flusher
        else:
            clock, cfg, flush = timing.WallClock(), timing.INTERPRETER_CONFIG, None
        if state.cuda:
            self.check_hidden_work(contenders[0], contenders[1])
        result = self.cand(
            lambda: timing.time_interleaved(contenders, sets, clock, flush, cfg), "timed run"
        )
        return result

    def check_hidden_work(self, ref: timing.Contender, cand: timing.Contender) -> None:
        """Reject work the CUDA events cannot see (calibrated on the reference)."""
        saved = self.state.flags.enter_ref()
        try:
            r_wall, r_event, _ = self.ref(timing.hidden_work, ref)
        finally:
            self.state.flags.write(saved)
        wall, event, n = self.cand(lambda: timing.hidden_work(cand), "timed run")
        overhead = r_wall - r_event
        self.counters.update(
            hidden_work_wall_ms=wall, hidden_work_event_ms=event, sync_overhead_ms=overhead
        )
        err = timing.hidden_work_error(wall, event, n, overhead)
        if err:
            raise Verdict(Status.REJECTED, err)

    # -- the whole thing --------------------------------------------------
    def run(self) -> Measurement:
        s = self.settings
        mod = self.state.task_module(self.task)
        compiled = self.compiled_reference(mod) if s.baseline_compile else None
        threads_before = {t.ident for t in threading.enumerate()}
        with torch.no_grad():
            model_new = self.load_candidate()
            keep = max(2, min(TIMING_SETS, s.trials))
            ref, new, sets, outs, tols = self.trials(mod, model_new, s.trials, self.seed, keep)
            extra_shapes = []
            for i, extra in enumerate(self.extra_tasks):
                emod = self.state.task_module(extra)
                self.trials(
                    emod, model_new, s.trials, self.seed + 1000 * (i + 1), 0, f"size {extra.size}: "
                )
                extra_shapes.append(ShapeResult(size=extra.size, candidate=None, reference=None))
            self.check_guards("after the correctness runs")
            timings = self.time_it(ref, new, sets, outs, tols, compiled)
            self.check_guards("after the timed runs")
            floor = None
            if self.state.cuda:
                params = (
                    list(ref.parameters()) + list(ref.buffers())
                    if isinstance(ref, torch.nn.Module)
                    else []
                )
                flops = task_flops(mod)
                floor = compute_floor(sets[0], outs[0], params, flops, self.state.facts)
                if floor is not None:
                    err = floor_violation(
                        timings["candidate"].median_ms, timings["reference"].median_ms, floor
                    )
                    if err and s.check_floor:
                        raise Verdict(Status.REJECTED, err)
        left = [
            t
            for t in threading.enumerate()
            if t.ident not in threads_before and t.is_alive() and not library_thread(t)
        ]
        if left:
            self.restart_after = True
        primary = ShapeResult(
            size=self.task.size,
            candidate=timings["candidate"],
            reference=timings["reference"],
            compiled_reference=timings.get("compiled"),
        )
        return Measurement(
            status=Status.OK,
            shapes=(primary, *extra_shapes),
            floor=floor.record() if floor is not None else None,
            device=self.state.facts.name,
            timing_kind="gpu" if self.state.cuda else "interpreter",
            trials=self.trials_done,
            max_rel_error=self.max_rel,
            diagnostics=HarnessDiagnostics.from_dict(
                {**self.counters, **(kernel_resources(self.cand_module) if self.state.cuda else {})}
            ),
        )

    restart_after = False
