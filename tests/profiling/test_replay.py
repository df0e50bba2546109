"""The replay evaluator: recorded hits with seeded noise, explicit misses, recorded seconds."""

from __future__ import annotations

import threading

import pytest

from experiments import TASKS_DIR
from profiling.clock import Clock, VirtualClock
from profiling.evaluator import reference_candidate_source
from profiling.landscape import LandscapeError
from profiling.measurement import Status
from profiling.replay import ReplayEvaluator, ReplaySettings, jitter
from profiling.tasks import load_task
from profiling.testing import EvaluatorCase, EvaluatorConformance
from tests.fakes.landscapes import SYNTHETIC_GPU, synthetic_landscape


@pytest.fixture(scope="module")
def task():
    return load_task("softmax", None, TASKS_DIR)


@pytest.fixture(scope="module")
def landscape(task, tmp_path_factory):
    return synthetic_landscape(task, tmp_path_factory.mktemp("land") / "softmax.jsonl", depth=1)


def _kernel(landscape, depth=1):
    return next(e for e in landscape.entries.values() if e.depth == depth and e.samples[0].ok)


def test_the_synthetic_landscape_says_so(landscape):
    assert landscape.header.synthetic and "not a measurement" in landscape.header.gpu.name
    assert landscape.header.reference_hash in landscape and len(landscape) > 5


def test_a_hit_serves_the_recorded_measurement_and_its_seconds(task, landscape):
    ev = ReplayEvaluator(landscape, noise="none")
    ref = ev.evaluate(task, reference_candidate_source(task))
    want = landscape.get(landscape.header.reference_hash).samples[0]
    assert ref == want and ref.ok and ref.wall_s == want.wall_s > 0
    assert ev.gpu_facts() == SYNTHETIC_GPU and ev.device == "cuda" and ev.hits == 1


def test_a_miss_is_an_explicit_status_with_no_timing_and_no_seconds(task, landscape):
    ev = ReplayEvaluator(landscape)
    m = ev.evaluate(task, "class ModelNew: pass  # never recorded\n")
    assert m.status is Status.NOT_RECORDED and not m.ok
    assert m.runtime_ms is None and m.wall_s == 0.0 and "not in the recorded landscape" in m.error
    assert ev.misses == 1 and ev.hits == 0
    other = task.with_size("smoke")
    m = ev.evaluate(other, reference_candidate_source(task))
    assert m.status is Status.NOT_RECORDED and "size 'smoke'" in m.error


def test_noise_is_seeded_per_kernel_and_serving_and_stays_near_the_record(task, landscape):
    entry = _kernel(landscape)
    source_of = {landscape.header.reference_hash: reference_candidate_source(task)}
    from strategies.catalog import load_catalog
    from strategies.graph.realizer import GraphRealizer
    from strategies.space import SpaceWalker

    walker = SpaceWalker(GraphRealizer(), task, load_catalog().runnable("softmax", "cuda"))
    source_of.update({n.hash: n.source for n in walker.breadth_first(1)})
    src = source_of[entry.hash]
    a, b = ReplayEvaluator(landscape, seed=1), ReplayEvaluator(landscape, seed=1)
    first = [a.evaluate(task, src).runtime_ms for _ in range(5)]
    assert first == [b.evaluate(task, src).runtime_ms for _ in range(5)]  # same seed, same draws
    assert len(set(first)) > 1  # each serving draws anew
    c = ReplayEvaluator(landscape, seed=2)
    assert [c.evaluate(task, src).runtime_ms for _ in range(5)] != first
    rec = entry.samples[0].shapes[0].candidate
    se = 1.2533 * (rec.p80_ms - rec.p20_ms) / 1.6832 / rec.reps**0.5
    assert all(abs(x - rec.median_ms) <= 3 * se + 1e-12 for x in first)


def test_several_samples_are_drawn_from_not_jittered():
    import random

    from profiling.measurement import Measurement, ShapeResult, Timing

    t = Timing(1.0, 0.5, 1.5, 4)
    m = Measurement(Status.OK, shapes=(ShapeResult("default", t, t),))
    out = jitter(m, random.Random(0))
    assert out.shapes[0].candidate.median_ms != 1.0 and out.shapes[0].reference.median_ms != 1.0
    assert out.shapes[0].candidate.p80_ms - out.shapes[0].candidate.p20_ms == pytest.approx(1.0)


def test_for_task_loads_the_given_file_and_refuses_another_tasks(task, landscape):
    folder = landscape.path.parent
    ev = ReplayEvaluator.for_task(task, ReplaySettings(landscape=str(landscape.path)), folder)
    assert len(ev.landscape) == len(landscape)
    ev = ReplayEvaluator.for_task(task, ReplaySettings(), folder)  # the task's own file there
    assert len(ev.landscape) == len(landscape)
    with pytest.raises(LandscapeError, match="recorded for task 'softmax'"):
        ReplayEvaluator.for_task(
            load_task("rmsnorm", None, TASKS_DIR), ReplaySettings(landscape=str(landscape.path)), folder
        )
    with pytest.raises(LandscapeError, match="no landscape file"):
        ReplayEvaluator.for_task(task, ReplaySettings(), folder / "empty")
    with pytest.raises(ValueError, match=r"replay\.noise"):
        ReplaySettings(noise="loud")


def test_virtual_clock_serial_and_concurrent_lanes():
    c = VirtualClock()
    c.charge(2.0)
    assert c.now() == 2.0
    c.charge(1.0, lane=0)
    c.charge(3.0, lane=1)
    c.charge(1.5, lane=0)
    assert c.now() == 5.0  # lanes run side by side: the busiest one counts
    c.settle()
    c.charge(1.0, lane=0)
    assert c.now() == 6.0
    c.charge(0.5)  # a serial charge waits for the lanes
    assert c.now() == 6.5
    with pytest.raises(ValueError):
        c.charge(float("nan"))
    threads = [threading.Thread(target=c.charge, args=(0.25, i % 2)) for i in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert c.now() == pytest.approx(7.5)


def test_the_real_clock_ignores_charges():
    c = Clock()
    t = c.now()
    c.charge(1e6)
    c.settle()
    assert c.now() - t < 1.0 and not c.virtual


class TestReplayEvaluatorConforms(EvaluatorConformance):
    @pytest.fixture
    def evaluator_case(self, task, landscape):
        from strategies.catalog import load_catalog
        from strategies.graph.realizer import GraphRealizer
        from strategies.space import SpaceWalker

        walker = SpaceWalker(GraphRealizer(), task, load_catalog().runnable("softmax", "cuda"))
        expected = {n.source: landscape.get(n.hash).samples[0].status for n in walker.breadth_first(1)}
        assert Status.OK in expected.values()
        expected["class ModelNew: pass  # not recorded\n"] = Status.NOT_RECORDED
        return EvaluatorCase(make=lambda: ReplayEvaluator(landscape, seed=0), task=task, expected=expected)


def test_a_replay_evaluator_pickles_with_its_landscape(task, landscape):
    import pickle

    ev = pickle.loads(pickle.dumps(ReplayEvaluator(landscape, seed=4)))
    assert ev.seed == 4 and len(ev.landscape) == len(landscape)
    assert ev.evaluate(task, reference_candidate_source(task)).ok  # the lock is back


def test_counters_are_served_and_their_profiling_seconds_are_not_charged(task, tmp_path):
    """A landscape recorded with --counters: the measurement comes back with its counters;
    its wall seconds without the Nsight Compute time (a replayed run profiles nothing)."""
    from tests.fakes.landscapes import PROFILE_S

    land = synthetic_landscape(task, tmp_path / "softmax.jsonl", depth=1, counters=True)
    ev = ReplayEvaluator(land, noise="none")
    ref = ev.evaluate(task, reference_candidate_source(task))
    recorded = land.get(land.header.reference_hash).samples[0]
    assert ref.counters == recorded.counters and ref.counters is not None
    assert recorded.diagnostics.profile_s == PROFILE_S
    assert ref.wall_s == pytest.approx(recorded.wall_s - PROFILE_S) and ref.wall_s > 0
    assert ref.diagnostics.profile_s is None and ref.evaluation_s == ref.wall_s  # not twice
