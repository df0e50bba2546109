"""Re-measuring a large speedup from a fresh process."""

from __future__ import annotations

import os

import pytest

from profiling.evaluator import EvalSettings, WorkerEvaluator
from profiling.measurement import Measurement, ShapeResult, Status, Timing
from profiling.remeasure import Outside, RemeasurePolicy, confirmation_error, remeasure
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



def _ok(speedup: float) -> Measurement:
    def t(ms: float) -> Timing:
        return Timing(ms, ms, ms, 10)

    return Measurement(status=Status.OK, shapes=(ShapeResult("default", t(1.0 / speedup), t(1.0)),),
                       device="interpret", trials=2)


@pytest.mark.parametrize("mode, expected", [
    # 8x, 7x (below the 8x that stood), 9x, 3x (under the threshold), 12x that fell to 6x
    # outside, then 10x (over the 9x that stood: the 6x did not raise the bar)
    ("best", [True, False, True, False, True, True]),
    ("always", [True, True, True, False, True, True]),
])
def test_which_large_speedups_are_remeasured(mode, expected):
    """`remeasure=best` re-measures only a speedup that would become the task's new best
    (what "counts"); `always` every one over the threshold."""
    policy = RemeasurePolicy(mode, threshold=5.0)
    t = task("row_softmax")
    got = []
    for inside, outside in ((8, 8), (7, 7), (9, 9), (3, 3), (12, 6), (10, 10)):
        wanted = policy.wanted(t, _ok(inside))
        got.append(wanted)
        if wanted:
            policy.stood(t, _ok(outside))
    assert got == expected
    assert not RemeasurePolicy("best", threshold=0).wanted(t, _ok(100))  # 0: never


def test_an_unknown_remeasure_mode_is_refused():
    """The settings and the policy refuse it with the same one line (one list of modes)."""
    with pytest.raises(ValueError, match="remeasure must be one of best, always") as settings:
        EvalSettings(remeasure="sometimes")
    with pytest.raises(ValueError) as policy:
        RemeasurePolicy("sometimes", threshold=5.0)
    assert str(settings.value) == str(policy.value) == (
        "remeasure must be one of best, always, got 'sometimes'")
    assert EvalSettings(remeasure="always").remeasure == "always"
