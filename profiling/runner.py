"""One candidate's evaluation, inside the worker: load, check, time, judge.

Order of work (each stage can end the evaluation with a status):

1. trusted preparation (task module, optional ``torch.compile`` of the
   reference, warmed before any candidate code is loaded);
2. the static check (:mod:`profiling.static_check`); the candidate module is
   executed; timers and torch are checked for patches;
3. Model and ModelNew are built from ``get_init_inputs()`` under one seed and
   the reference's parameters copied into ModelNew where names and shapes match;
4. correctness trials, each with fresh inputs from a fresh seed: candidate
   first on cloned inputs (at an address that moves between trials), then the
   reference (TF32 off); inputs compared afterwards, an output aliasing an
   input rejected, outputs compared by dtype tolerance; then the probes of
   :mod:`profiling.probe_runs` (signed and wide-range inputs, an odd size)
   and the extra sizes likewise;
5. timing (:mod:`profiling.timed`: interleaved, rotating input sets sized to
   free memory, L2 flushed, timed outputs re-checked at random positions, the
   last output re-fingerprinted after a pause), hidden-work check, roofline
   floor, guards again, a last trial on fresh inputs, no threads left behind;
   with a probe bar (``probe_scope=best``) the probes of step 4 run here instead,
   and only for a candidate whose speedup beats the bar (a would-be new best).
"""

from __future__ import annotations

import functools
import sys
import threading
import traceback
import types
from collections.abc import Callable, Sequence
from typing import Any

import torch

from profiling import sandbox, timing
from profiling.correctness import (
    Tolerance,
    aliasing_error,
    compare_outputs,
    input_check,
    output_dtypes,
    storages,
)
from profiling.errors import TaskFailure, Verdict, classify, trim
from profiling.guards import library_thread
from profiling.input_probes import offset_clone
from profiling.measurement import HarnessDiagnostics, Measurement, ShapeResult, Status
from profiling.memory import PeakTracker, tensor_bytes
from profiling.phases import PhaseClock
from profiling.precision import opted_precision, tf32_error, tolerances
from profiling.probe_runs import InputProbes
from profiling.resources import kernel_resources
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
from profiling.static_check import rejection
from profiling.tasks import Task, exec_module
from profiling.timed import TimedStage, compiled_reference

CANDIDATE_MODULE = "kb_candidate"


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
        probe_tasks: Sequence[Task] = (),
    ) -> None:
        self.state = state
        self.task = task
        self.source = source
        self.settings = settings
        self.seed = seed
        self.extra_tasks = list(extra_tasks)
        self.probe_tasks = list(probe_tasks)
        self.trials_done = 0
        self.max_rel = 0.0
        self.counters: dict[str, float] = {}
        self.cand_module: types.ModuleType | None = None
        self.restart_after = False
        self.io_bytes: tuple[int, int] = (0, 0)  # the task's input and output bytes
        self.threads_before: set[int | None] = set()
        self.module: types.ModuleType | None = None
        self.last_out_storages: set[tuple[str, int]] = set()

    # -- calling candidate and reference code ------------------------------
    def cand(self, fn: Callable[[], Any], stage: str = "") -> Any:
        try:
            out = fn()
            if self.state.cuda:
                timing._synchronize()
            self.check_sandbox()
            return out
        except Verdict:
            raise
        except BaseException as e:
            self.check_sandbox()
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
            raise TaskFailure(
                Status.RUNTIME_ERROR, trim(f"reference model failed: {e}"), True
            ) from e
        finally:
            self.state.flags.write(saved)

    def check_guards(self, when: str) -> None:
        err = self.state.guard.check()
        if err:
            raise Verdict(Status.REJECTED, f"{err} ({when})", restart=True)

    @staticmethod
    def check_sandbox() -> None:
        seen = sandbox.take_violations()
        if seen:
            more = f" (and {len(seen) - 1} more)" if len(seen) > 1 else ""
            raise Verdict(Status.REJECTED, trim(seen[0] + more), restart=True)

    def check_threads(self, when: str) -> None:
        left = [
            t
            for t in threading.enumerate()
            if t.ident not in self.threads_before and t.is_alive() and not library_thread(t)
        ]
        if left:
            raise Verdict(
                Status.REJECTED,
                f"candidate left {len(left)} thread(s) running {when} (work deferred past the "
                "call's return?)",
                restart=True,
            )

    # -- stages -----------------------------------------------------------
    def load_candidate(self) -> Any:
        try:
            compile(self.source, "<candidate>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as e:
            c = classify(e if isinstance(e, SyntaxError) else SyntaxError(str(e)))
            raise Verdict(Status.SYNTAX_ERROR, c.error) from e
        why = rejection(self.source)
        if why:
            raise Verdict(Status.REJECTED, why)
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

    def trial(
        self, ref: Any, new: Any, inputs: list[Any], t: int, tols: list[Tolerance], label: str
    ) -> tuple[list[Tolerance], float]:
        """One correctness trial on ``inputs``; returns the tolerances and the relative error.

        Memory: inputs, the candidate's clone, the reference's clone and both outputs
        (3I + 2O); the clones are dropped before the tolerance probe.
        """
        cand_in = offset_clone(inputs, t)
        out = self.cand(functools.partial(new, *cand_in), "forward")
        ref_in = clone_all(inputs)
        ref_out = self.ref(ref, *ref_in)
        if not any(self.io_bytes):
            self.io_bytes = (tensor_bytes(inputs), tensor_bytes([ref_out]))
        problem = input_check(cand_in, inputs, ref_in) or aliasing_error(
            out, cand_in, ref_out, ref_in
        )
        if problem:
            raise Verdict(Status.INCORRECT, trim(f"{label}{problem}"))
        del cand_in, ref_in
        if not tols:
            tols = self._tolerances(ref, inputs, ref_out)
        self.last_out_storages = storages(out)
        cmp = compare_outputs(out, ref_out, tols)
        if not cmp.ok:
            raise Verdict(Status.INCORRECT, trim(f"{label}trial {t + 1}: {cmp.error}"))
        return tols, cmp.rel_error

    def trials(
        self, mod: types.ModuleType, model_new: Any, n: int, seed: int, label: str = ""
    ) -> tuple[Any, Any, list[Tolerance]]:
        """Correctness trials with fresh inputs each; returns the models and tolerances."""
        ref, new = self.build(mod, model_new, seed)
        tols: list[Tolerance] = []
        for t in range(n):
            inputs = self.inputs(mod, seed + 1 + t)
            tols, rel = self.trial(ref, new, inputs, t, tols, label)
            self.max_rel = max(self.max_rel, rel)
            if not label:
                self.trials_done = t + 1
            del inputs
        return ref, new, tols

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
            raise TaskFailure(Status.RUNTIME_ERROR, text, True) from e

    def _tolerances(self, ref: Any, inputs: list[Any], ref_out: Any) -> list[Tolerance]:
        """The precision policy (`profiling.precision`) for this reference's outputs."""
        dtypes = output_dtypes(ref_out)
        opted = opted_precision(self.module)
        tf32_err = None
        if self.state.cuda and torch.float32 in dtypes and opted is None:
            probe = self.ref(
                ref, *clone_all(inputs), matmul_tf32=True, cudnn_tf32=True, precision="high"
            )
            tf32_err = self.counters["tf32_reference_error"] = tf32_error(probe, ref_out)
            del probe
        return tolerances(dtypes, opted, tf32_err)

    # -- the whole thing --------------------------------------------------
    def run(self) -> Measurement:
        s = self.settings
        phase = PhaseClock(self.counters)
        mod = self.module = self.state.task_module(self.task)
        compiled = None
        if s.baseline_compile:
            with phase("baseline"):
                compiled = compiled_reference(self, mod)
        if self.state.cuda and self.state.flusher is None:
            self.state.flusher = timing.L2Flusher(
                self.state.facts.l2_bytes, self.state.torch_device
            )
        peak = PeakTracker(self.state.cuda)
        self.threads_before = {t.ident for t in threading.enumerate()}
        with torch.no_grad():
            with phase("load"):
                model_new = self.load_candidate()
            with phase("trials"):  # the first call compiles the candidate's kernels
                ref, new, tols = self.trials(mod, model_new, s.trials, self.seed)
            probes = InputProbes(self, mod, ref, new, tols, model_new)
            if s.probes and s.probe_bar is None:
                probes.run(phase)
            extra_shapes = []
            for i, extra in enumerate(self.extra_tasks):
                emod = self.state.task_module(extra)
                with phase("trials"):
                    self.trials(emod, model_new, s.trials, self.seed + 1000 * (i + 1),
                                f"size {extra.size}: ")
                extra_shapes.append(ShapeResult(size=extra.size, candidate=None, reference=None))
            self.check_guards("after the correctness runs")
            self.check_threads("after the correctness runs")
            with phase("timing"):
                stage = TimedStage(self, mod, ref, new, tols, compiled)
                timings, floor = stage.run()
            self.check_guards("after the timed runs")
            stage.release()  # keeps only the last timed output, for the re-check below
            if s.probes:  # call counting, stale pointers: one more trial on fresh inputs
                with phase("recheck"):
                    self.trial(ref, new, self.inputs(mod, self.seed + 800), 1, tols,
                               "after timing: ")
                    stage.recheck_last(self.last_out_storages)
            del stage
            primary = ShapeResult(
                size=self.task.size,
                candidate=timings["candidate"],
                reference=timings["reference"],
                compiled_reference=timings.get("compiled"),
            )
            if s.probes and s.probe_bar is not None:  # probe_scope=best: a would-be best only
                probes.run_if_best(phase, primary.speedup, s.probe_bar)
            self.check_threads("after the timed runs")
        if self.state.cuda:
            self.counters["peak_gpu_bytes"] = float(peak.peak() or 0)
        self.counters["task_io_bytes"] = float(sum(self.io_bytes))
        return Measurement(
            status=Status.OK,
            shapes=(primary, *extra_shapes),
            floor=floor,
            device=self.state.facts.name,
            timing_kind="gpu" if self.state.cuda else "interpreter",
            trials=self.trials_done,
            max_rel_error=self.max_rel,
            diagnostics=HarnessDiagnostics.from_dict(
                {**self.counters, **(kernel_resources(self.cand_module) if self.state.cuda else {})}
            ),
        )
