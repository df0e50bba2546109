"""On a GPU host with Nsight Compute: the real probe on a real forward."""

from __future__ import annotations

import shutil

import pytest

from experiments import TASKS_DIR
from profiling.evaluator import reference_candidate_source
from profiling.probes.base import ForwardRun, ProbeTarget
from profiling.probes.counters import classify
from profiling.probes.ncu import NcuProbe
from profiling.tasks import load_task

pytestmark = pytest.mark.gpu


def test_ncu_profiles_the_softmax_reference() -> None:
    if shutil.which("ncu") is None:
        pytest.fail("ncu is not on PATH on this GPU host")
    task = load_task("softmax", tasks_dir=TASKS_DIR)
    probe = NcuProbe()
    rec = probe.collect(ForwardRun(ProbeTarget(task, reference_candidate_source(task), "cuda",
                                               reference=True)))
    assert rec.counters is not None, rec.note
    c = rec.counters
    assert c.launches >= 1 and c.duration_ns > 0
    assert c.dram_pct is not None and 0 < c.dram_pct <= 100
    assert c.registers and c.registers > 0
    assert c.dram_read_bytes and c.dram_read_bytes > 0
    print(f"softmax reference: {c.launches} launches, dram {c.dram_pct:.0f}%, sm {c.sm_pct}, "
          f"class {classify(c)}, {rec.seconds:.1f} s")
    assert rec.seconds < 30


def test_every_candidate_gets_counters_through_the_evaluator() -> None:
    from profiling.evaluator import EvalSettings, WorkerEvaluator
    from profiling.probes.registry import ProbeSettings
    from strategies.graph.realizer import initial_source

    task = load_task("softmax", tasks_dir=TASKS_DIR)
    probes = ProbeSettings(names=("ncu", "triton"), every_candidate=True)
    with WorkerEvaluator(EvalSettings(device="cuda", trials=1), probes=probes) as ev:
        m = ev.evaluate(task, initial_source(task))
        assert m.ok, m.error
        assert m.counters is not None and m.counters.launches >= 1
        assert m.counters.excluded_launches >= 0 and m.counters.dram_pct is not None
        report = ev.profile(task, initial_source(task))
        assert report.cached  # the same source is never profiled twice
        fresh = ev.profile(task, initial_source(task) + "\n# another kernel\n")
        assert fresh.compiled is not None and fresh.compiled.n_regs, fresh.notes
        print(f"softmax default kernel: {m.counters.dram_pct:.0f}% DRAM, "
              f"{fresh.seconds:.1f} s to profile")
