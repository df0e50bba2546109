"""Re-measuring a large speedup from a fresh process."""

from __future__ import annotations

import os

from profiling.evaluator import EvalSettings, WorkerEvaluator
from profiling.measurement import Status
from profiling.remeasure import Outside, confirmation_error, remeasure
from profiling.worker_process import WorkerProcess

from .conftest import candidate, task


def test_confirmation_rule():
    assert confirmation_error(10.0, Outside(1.0, 0.12, "kernels")) is None  # 8.3x vs 10x
    err = confirmation_error(10.0, Outside(1.0, 0.5, "kernels"))
    assert err and "not confirmed" in err and "2x" in err and "kernel durations" in err


def test_child_measures_reference_and_candidate():
    t = task("row_softmax")
    env = WorkerProcess._env("interpret", {}, os.getcwd())
    out = remeasure(t.to_dict(), candidate("softmax_ok"), "interpret", env, 120)
    assert isinstance(out, Outside), out
    assert out.kind == "wall" and out.ref_ms > 0 and out.cand_ms > 0


def test_child_reports_a_patched_timer_as_failure():
    t = task("row_softmax")
    env = WorkerProcess._env("interpret", {}, os.getcwd())
    out = remeasure(t.to_dict(), candidate("timer_patch"), "interpret", env, 120)
    assert isinstance(out, str) and "time.perf_counter" in out


def test_speedup_over_threshold_is_remeasured_and_recorded():
    settings = EvalSettings(device="interpret", trials=2, remeasure_speedup=1e-9)
    with WorkerEvaluator(settings) as ev:
        m = ev.evaluate(task("row_softmax"), candidate("softmax_ok"))
    assert m.status is Status.OK, m.error
    assert m.diagnostics.speedup_outside > 0
