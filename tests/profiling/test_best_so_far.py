"""The per-task bar the re-measure and the out-of-bounds check share."""

from __future__ import annotations

from experiments import TASKS_DIR
from profiling.best_so_far import BestSoFar
from profiling.measurement import Measurement, ShapeResult, Status, Timing
from profiling.tasks import load_task


def m(speedup: float) -> Measurement:
    return Measurement(Status.OK, shapes=(ShapeResult("default", Timing(1.0, 1.0, 1.0, 5),
                                                      Timing(speedup, speedup, speedup, 5)),))


def test_a_speedup_beats_the_bar_of_its_own_task_only() -> None:
    soft, gelu = (load_task(n, "smoke", TASKS_DIR) for n in ("softmax", "gelu"))
    bar = BestSoFar()
    assert m(2.0).speedup == 2.0
    assert bar.beats(soft, m(2.0)) and not bar.beats(soft, m(0.0))
    bar.stood(soft, m(2.0))
    assert not bar.beats(soft, m(2.0)) and not bar.beats(soft, m(1.5))
    assert bar.beats(soft, m(2.5)) and bar.beats(gelu, m(1.5))
    bar.stood(soft, m(1.2))  # a lower one that stood does not lower the bar
    assert not bar.beats(soft, m(1.9))
    anything = BestSoFar(float("-inf"))
    assert anything.beats(soft, m(0.0))
