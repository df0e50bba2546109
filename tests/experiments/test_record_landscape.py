"""Recording landscapes: best-first / depth / sample walks, resume, time budget, the CLI."""

from __future__ import annotations

import itertools

import pytest

from experiments import TASKS_DIR
from experiments.record_landscape import Walk, main, record_task
from profiling.landscape import load_landscape
from profiling.replay import ReplayEvaluator
from profiling.tasks import load_task
from strategies.catalog import load_catalog
from strategies.graph.realizer import GraphRealizer
from strategies.space import SpaceWalker
from tests.fakes.landscapes import synthetic_landscape


@pytest.fixture(scope="module")
def task():
    return load_task("softmax", None, TASKS_DIR)


@pytest.fixture(scope="module")
def gpu(task, tmp_path_factory):
    """A stand-in GPU: the replay of a synthetic depth-3 landscape (a real Evaluator peer)."""
    land = synthetic_landscape(task, tmp_path_factory.mktemp("g") / "truth.jsonl", depth=3)
    return land


def _record(task, gpu, walk, out, **kw):
    ev = ReplayEvaluator(gpu, noise="none")
    return record_task(task, ev, GraphRealizer(), load_catalog(), walk, out, **kw), ev


def test_best_first_expands_the_fastest_kernels_first(task, gpu, tmp_path):
    rec, ev = _record(task, gpu, Walk("best-first", count=15), tmp_path / "l.jsonl")
    land = load_landscape(tmp_path / "l.jsonl")
    assert rec.kernels == len(land) == 16 and rec.new == 16 and ev.misses == 0  # 15 + the reference
    assert land.header.reference_hash in land and land.header.mode == "best-first 15"
    depth1 = [e for e in land.entries.values() if e.depth == 1]
    best1 = min((e for e in depth1 if e.best_ms), key=lambda e: e.best_ms)
    deeper = [e for e in land.entries.values() if e.depth == 2]
    assert deeper and all(e.chain[0] == best1.chain[0] for e in deeper)  # the best one's children
    assert rec.best_speedup and rec.best_speedup > 1


def test_depth_walk_is_exhaustive_and_a_rerun_resumes_without_measuring_again(task, gpu, tmp_path):
    out = tmp_path / "l.jsonl"
    rec, _ = _record(task, gpu, Walk("depth", depth=1), out)
    n1 = sum(1 for e in gpu.entries.values() if e.depth <= 1)
    assert rec.kernels == rec.new == n1 and rec.max_depth == 1 and rec.complete
    again, ev = _record(task, gpu, Walk("depth", depth=1), out)
    assert again.new == 0 and ev.hits == 0 and again.kernels == n1
    deeper, _ = _record(task, gpu, Walk("depth", depth=2), out)
    assert deeper.kernels == sum(1 for e in gpu.entries.values() if e.depth <= 2)
    assert deeper.new == deeper.kernels - n1


def test_a_time_budget_stops_the_walk_and_says_so(task, gpu, tmp_path):
    ticks = itertools.count()
    rec, _ = _record(task, gpu, Walk("depth", depth=3), tmp_path / "l.jsonl",
                     deadline=10.0, clock=lambda: float(next(ticks)))
    assert not rec.complete and 0 < rec.new < 12


def test_sample_and_repeats(task, gpu, tmp_path):
    rec, _ = _record(task, gpu, Walk("sample", count=12, depth=3, seed=1), tmp_path / "l.jsonl",
                     repeats=2)
    land = load_landscape(tmp_path / "l.jsonl")
    assert rec.kernels == 13 and all(len(e.samples) == 2 for e in land.entries.values())


def test_cli_user_errors_are_one_line(capsys):
    assert main(["--task", "no_such_task", "--device", "interpret"]) == 2
    assert "error:" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--task", "softmax", "--depth", "-1"])


@pytest.mark.slow
def test_cli_dry_run_on_the_interpreter(tmp_path, capsys):
    out = tmp_path / "softmax.jsonl"
    assert main(["--task", "softmax", "--size", "smoke", "--device", "interpret",
                 "--best-first", "2", "--out", str(out)]) == 0
    land = load_landscape(out)
    assert len(land) == 3 and land.header.size == "smoke" and land.header.device == "interpret"
    assert all(e.samples[0].wall_s > 0 for e in land.entries.values())
    assert "recorded landscapes" in capsys.readouterr().out


def test_tune_walk_records_what_tuning_runs_visit_and_replays_them(task, gpu, tmp_path):
    from bandit.budget import Budget
    from bandit.policies import make_policy
    from bandit.tuner import Tuner, TunerParts
    from profiling.clock import VirtualClock

    out = tmp_path / "l.jsonl"
    walk = Walk("tune", count=500, depth=10, seed=1, policies=("hucb", "random"))
    rec, _ = _record(task, gpu, walk, out)
    land = load_landscape(out)
    assert rec.complete and rec.kernels == len(land) < 22  # 2 runs of 10 iterations, shared kernels
    assert all(e.depth in (0, -1) for e in land.entries.values())
    for policy in ("hucb", "random"):  # the recorded runs replay without a miss
        ev = ReplayEvaluator(land, noise="none")
        Tuner(task, ev, GraphRealizer(), make_policy(policy, 0),
              load_catalog(), parts=TunerParts(clock=VirtualClock())).run(Budget(iterations=10))
        assert ev.misses == 0 and ev.hits > 5
    small, _ = _record(task, gpu, Walk("tune", count=5, depth=10, seed=1), tmp_path / "s.jsonl")
    assert small.kernels == 6  # the count bounds the recording (the reference included)


def test_fast_recording_rescales_seconds_to_the_full_settings(task, gpu, tmp_path):
    from dataclasses import replace as dc_replace

    class Slower(ReplayEvaluator):  # the "full settings" evaluator: three times the seconds
        def evaluate(self, task, source):
            m = super().evaluate(task, source)
            return dc_replace(m, wall_s=3 * m.wall_s)

    ev = ReplayEvaluator(gpu, noise="none")
    out = tmp_path / "l.jsonl"
    record_task(task, ev, GraphRealizer(), load_catalog(), Walk("depth", depth=1), out,
                full=Slower(gpu, noise="none"))
    land = load_landscape(out)
    assert land.header.seconds_scale == pytest.approx(3.0)
    ref = land.get(land.header.reference_hash).samples[0]
    truth_ref = gpu.get(land.header.reference_hash).samples[0]
    assert ref.wall_s == pytest.approx(3 * truth_ref.wall_s)  # the reference: measured in full
    kernel = next(e for e in land.entries.values() if e.depth == 1)
    served = ReplayEvaluator(land, noise="none")
    walker = SpaceWalker(GraphRealizer(), task, load_catalog().for_kind("softmax"))
    src = {n.hash: n.source for n in walker.breadth_first(1)}[kernel.hash]
    assert served.evaluate(task, src).wall_s == pytest.approx(3 * kernel.samples[0].wall_s)


def test_counters_ask_the_recording_worker_to_profile_every_kernel(tmp_path, monkeypatch):
    """--counters: the recording evaluator runs Nsight Compute (and Triton's stats) on every
    kernel it measures; the reference-rescaling evaluator does not."""
    import profiling.evaluator as evaluator

    seen = []
    real = evaluator.WorkerEvaluator

    class Spy(real):
        def __init__(self, settings, *args, **kwargs):
            seen.append(kwargs.get("probes"))
            super().__init__(settings, *args, **kwargs)

    monkeypatch.setattr(evaluator, "WorkerEvaluator", Spy)
    out = tmp_path / "softmax.jsonl"
    assert main(["--task", "softmax", "--size", "smoke", "--device", "interpret",
                 "--best-first", "1", "--counters", "--out", str(out)]) == 0
    probes, full = seen
    assert probes.every_candidate and set(probes.names) == {"ncu", "triton"}
    assert full is None
    assert main(["--task", "softmax", "--size", "smoke", "--device", "interpret",
                 "--best-first", "1", "--out", str(tmp_path / "b.jsonl")]) == 0
    assert seen[2] is None


def test_counters_parents_profiles_each_expanded_kernel_once_and_resumes_onto_old_files(
        task, gpu, tmp_path):
    """--counters parents: the best-first walk profiles every kernel it expands (the parents
    a tuner refines) as one more sample; leaves stay unprofiled; replay serves the parents'
    counters; resuming a file recorded without counters profiles its parents then."""
    out = tmp_path / "l.jsonl"
    plain, _ = _record(task, gpu, Walk("best-first", count=15), out)
    assert plain.new == 16 and plain.max_depth >= 2
    before = load_landscape(out)
    assert all(m.counters is None for e in before.entries.values() for m in e.samples)
    counted = synthetic_landscape(task, tmp_path / "truth_c.jsonl", depth=3, counters=True)
    profiler = ReplayEvaluator(counted, noise="none")
    again, ev = _record(task, gpu, Walk("best-first", count=15), out, profiler=profiler)
    assert again.new == 0 and ev.hits == 0  # nothing measured again without counters
    land = load_landscape(out)
    profiled = {h for h, e in land.entries.items() if any(m.counters for m in e.samples)}
    assert land.header.reference_hash in profiled  # the first parent
    assert 1 < len(profiled) < len(land)  # parents only, not the leaves
    assert profiler.hits == len(profiled)  # each parent once
    assert all(len(land.get(h).samples) == 2 for h in profiled)
    # the replayed parents come back with their counters, whichever sample is drawn
    served = ReplayEvaluator(land, noise="recorded", seed=3)
    walker = SpaceWalker(GraphRealizer(), task, load_catalog().for_kind("softmax"))
    sources = {n.hash: n.source for n in walker.breadth_first(3)}
    for h in profiled:
        for _ in range(4):
            assert served.evaluate(task, sources[h]).counters is not None
    # a third pass has nothing left to profile
    third, _ = _record(task, gpu, Walk("best-first", count=15), out, profiler=profiler)
    assert third.new == 0 and profiler.hits == len(profiled)


def test_counters_parents_needs_the_best_first_walk(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--task", "softmax", "--depth", "1", "--counters", "parents"])
    assert e.value.code == 2
    assert "--counters parents needs the best-first walk" in capsys.readouterr().err
