"""The input probes as the worker runs them (`profiling.input_probes` makes their inputs).

After a candidate's own correctness trials: signed and wide-range values where the
reference allows them, then the first odd size at which the reference runs; the candidate
must be right on each. With a probe bar (``EvalSettings.probe_scope=best``) they run after
the timing instead, and only on a candidate whose speedup beats the bar (a would-be new
best); one that does not says so (``probes_not_best``).
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from profiling.correctness import Tolerance
from profiling.errors import TaskFailure
from profiling.input_probes import input_domain, output_finite, probe_inputs, reference_allows
from profiling.phases import PhaseClock
from profiling.precision import wide_range_probe
from profiling.state import clone_all

if TYPE_CHECKING:
    from profiling.runner import Evaluation


@dataclass
class InputProbes:
    """The probes of one evaluation's candidate: the task module, the built reference and
    candidate models, the tolerances of its trials and the candidate's ``ModelNew``."""

    ev: Evaluation
    mod: types.ModuleType
    ref: Any
    new: Any
    tols: list[Tolerance]
    model_new: Any

    def run(self, phase: PhaseClock) -> None:
        with phase("probes"):
            self.values()
        with phase("size_probe"):  # compiles the candidate again at the odd size
            self.odd_size()

    def run_if_best(self, phase: PhaseClock, speedup: float | None, bar: float) -> None:
        if speedup is not None and speedup > bar:
            self.run(phase)
        else:
            self.ev.counters["probes_not_best"] = 1.0

    def values(self) -> None:
        """Signed and wide-range inputs, where the reference allows them.

        Only one set of probe inputs is alive at a time (memory: a trial's 3I + 2O).
        """
        ev, mod, ref = self.ev, self.mod, self.ref
        domain = input_domain(mod)
        seed = ev.seed + 700
        finite = output_finite(ev.ref(ref, *clone_all(ev.inputs(mod, seed))))
        # an opted-in lower precision (PRECISION) is not held to fp32's range either
        kinds = ("signed", "wide") if wide_range_probe(mod) else ("signed",)
        for i, kind in enumerate(kinds):
            probe = probe_inputs(ev.inputs(mod, seed), kind, domain, seed + 1 + i)
            if probe is None:
                continue
            if not reference_allows(ev.ref(ref, *clone_all(probe)), finite):
                ev.counters[f"probe_{kind}_skipped"] = 1.0
                continue
            label = "signed inputs: " if kind == "signed" else "wide-range inputs (|x|~1e5): "
            ev.trial(ref, self.new, probe, 1 + i, self.tols, label)
            del probe

    def odd_size(self) -> None:
        """The first odd size at which the reference runs; the candidate must be right there."""
        ev = self.ev
        for task in ev.probe_tasks:
            emod = ev.state.task_module(task)
            try:
                ref, _ = ev.build(emod, self.model_new, ev.seed + 900)
                ref_out = ev.ref(ref, *ev.inputs(emod, ev.seed + 901))
                del ref_out
            except TaskFailure:
                continue
            ev.trials(emod, self.model_new, 1, ev.seed + 900, f"odd size {task.size}: ")
            ev.counters["probe_size_checked"] = 1.0
            return
        if ev.probe_tasks:
            ev.counters["probe_size_skipped"] = 1.0
