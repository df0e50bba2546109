"""Tuner loop with a fake realizer and a replaying evaluator: stops, dedupe, repair,
fatal realizer errors, resume and determinism."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from bandit import Budget, Tuner, TunerParts, TunerSettings, make_policy
from bandit.records import IterationRecord
from bandit.runlog import RunLog
from bandit.tuner import TuneError
from tests.bandit.tuner_fakes import (
    REF_MS,
    REF_SOURCE,
    STRATEGIES,
    TASK,
    CheckingRealizer,
    FakeEvaluator,
    FakeRealizer,
    RecordingObserver,
    catalog,
    ok,
    render,
)


def make_tuner(
    policy: str = "ucb",
    seed: int = 0,
    realizer: FakeRealizer | None = None,
    evaluator: FakeEvaluator | None = None,
    run_log: Path | None = None,
    repair_turns: int = 0,
    observers=(),
    **options,
) -> Tuner:
    return Tuner(
        TASK,
        evaluator or FakeEvaluator(),
        realizer or FakeRealizer(),
        make_policy(policy, seed, **options),
        catalog(),
        settings=TunerSettings(seed=seed, repair_turns=repair_turns),
        parts=TunerParts(run_log=run_log, observers=observers, reference_source=REF_SOURCE),
    )


def comparable(records: tuple[IterationRecord, ...]) -> list[dict]:
    return [{k: v for k, v in asdict(r).items() if k != "wall_s"} for r in records]


def test_reference_is_measured_first_and_is_the_baseline():
    ev = FakeEvaluator()
    result = make_tuner(evaluator=ev).run(Budget(iterations=3))
    assert ev.sources[0] == REF_SOURCE
    assert result.reference.id == "ref"
    assert result.reference.runtime_ms == REF_MS
    for r in result.records:
        if r.runtime_ms:
            assert r.speedup == pytest.approx(REF_MS / r.runtime_ms)


def test_arms_exclude_cuda_strategies_under_the_interpreter_and_foreign_kinds():
    tuner = make_tuner()
    tuner.start()
    strategies = {a.strategy for a in tuner.arms()}
    assert "parallelism/cuda_grid" not in strategies
    assert "memory_layout/matmul_only" not in strategies
    assert {"tiling/rows", "tiling/cols", "vectorization/wide", "fusion/broken"} == strategies
    assert {a.cluster for a in tuner.arms()} == {0}

    cuda = make_tuner(evaluator=FakeEvaluator(device="cuda"))
    cuda.start()
    assert "parallelism/cuda_grid" in {a.strategy for a in cuda.arms()}


def test_a_kind_the_catalog_does_not_know_is_offered_every_strategy_the_device_runs():
    # one meaning of "applies" (Catalog.runnable): an arbitrary KernelBench file's kind is
    # open to strategies that name other kinds; the realizer decides what it can do
    tuner = Tuner(
        replace(TASK, kind="19_ReLU"),
        FakeEvaluator(),
        FakeRealizer(),
        make_policy("ucb", 0),
        catalog(),
        parts=TunerParts(reference_source=REF_SOURCE),
    )
    tuner.start()
    offered = {a.strategy for a in tuner.arms()}
    assert "memory_layout/matmul_only" in offered and "parallelism/cuda_grid" not in offered
    assert offered == {s.id for s in catalog().runnable("19_ReLU", "interpret")}


def test_iteration_budget_stops_and_says_so():
    result = make_tuner().run(Budget(iterations=5))
    assert len(result.records) == 5
    assert result.stop_reason == "iterations 5/5"
    assert result.ok and result.error is None
    assert [r.iteration for r in result.records] == [1, 2, 3, 4, 5]


def test_token_and_usd_budgets_count_realizer_costs():
    result = make_tuner(realizer=FakeRealizer(tokens=(70, 30), usd=0.01)).run(
        Budget(iterations=100, tokens=250)
    )
    assert result.stop_reason == "tokens 300/250"
    assert len(result.records) == 3
    last = result.records[-1]
    assert (last.tokens_prompt, last.tokens_completion) == (210, 90)
    assert last.cost_usd == pytest.approx(0.03)

    result = make_tuner(realizer=FakeRealizer(tokens=(1, 1), usd=0.5)).run(
        Budget(iterations=100, usd=1.2)
    )
    assert result.stop_reason.startswith("usd ")
    assert len(result.records) == 3


def test_seconds_budget(monkeypatch):
    import profiling.clock as clock_mod

    clock = iter(range(0, 1000, 7))  # every monotonic() call advances 7 s
    monkeypatch.setattr(clock_mod.time, "monotonic", lambda: float(next(clock)))
    result = make_tuner().run(Budget(seconds=60))
    assert result.stop_reason.startswith("seconds ")
    assert 0 < len(result.records) < 20
    assert result.records[-1].wall_s <= result.spend.seconds


def test_best_so_far_is_monotone_and_matches_the_frontier():
    result = make_tuner().run(Budget(iterations=12))
    speedups = [r.best_speedup for r in result.records]
    assert speedups == sorted(speedups)
    assert result.best_speedup == pytest.approx(speedups[-1])
    assert result.best.runtime_ms == pytest.approx(result.records[-1].best_runtime_ms)
    assert result.best.runtime_ms == min(m.runtime_ms for m in result.members if m.ok)


def test_duplicate_sources_reuse_the_measurement():
    class SameSource(FakeRealizer):
        def realize(self, request):
            real = super().realize(request)
            return replace(real, source=render({"tiling/rows": 1}) if real.source else None)

    ev = FakeEvaluator()
    result = make_tuner(policy="random", realizer=SameSource(), evaluator=ev).run(
        Budget(iterations=6)
    )
    produced = [r for r in result.records if r.candidate_id is not None]
    assert produced, "the realizer produced something"
    assert ev.calls == 2  # the reference and the single distinct source
    assert sum(not r.duplicate for r in produced) == 1
    assert all(r.candidate_id == produced[0].candidate_id for r in produced)
    assert len(result.members) == 2


def test_no_candidate_earns_zero_and_is_recorded():
    result = make_tuner(policy="greedy").run(Budget(iterations=8))
    empty = [r for r in result.records if r.status == "no_candidate"]
    for r in empty:
        assert r.reward == 0.0 and r.candidate_id is None and r.error


def _only(sid: str):
    return tuple(s for s in STRATEGIES if s.id == sid)


def _broken_only(
    ev: FakeEvaluator, real: FakeRealizer, repair_turns: int, run_log: Path | None = None
) -> Tuner:
    """A tuner whose only strategy yields a kernel that fails to compile until repaired."""
    return Tuner(
        TASK,
        ev,
        real,
        make_policy("ucb", 0),
        catalog(_only("fusion/broken")),
        settings=TunerSettings(repair_turns=repair_turns),
        parts=TunerParts(run_log=run_log, reference_source=REF_SOURCE),
    )


def test_repair_turns_fix_compile_errors():
    ev, real = FakeEvaluator(), FakeRealizer()
    result = _broken_only(ev, real, repair_turns=1).run(Budget(iterations=1))
    rec = result.records[0]
    assert rec.status == "ok" and rec.repairs == 1 and rec.candidate_id == "c1.r1"
    assert real.repairs == 1 and ev.calls == 3  # ref, broken, repaired
    assert {m.id for m in result.members} == {"ref", "c1", "c1.r1"}
    assert result.best.id == "c1.r1"
    assert rec.reward == pytest.approx(0.5)

    ev, real = FakeEvaluator(), FakeRealizer()
    rec = _broken_only(ev, real, repair_turns=0).run(Budget(iterations=1)).records[0]
    assert rec.status == "compile_error" and rec.reward == 0.0 and rec.repairs == 0
    assert "fake compile failure" in rec.error
    assert real.repairs == 0


def test_realizer_error_stops_cleanly_and_keeps_the_run_log(tmp_path):
    log = tmp_path / "run.jsonl"
    obs = RecordingObserver()
    result = make_tuner(realizer=FakeRealizer(fail_at=4), run_log=log, observers=[obs]).run(
        Budget(iterations=10)
    )
    assert not result.ok
    assert result.error == "fake endpoint unreachable"
    assert result.stop_reason == "realizer error: fake endpoint unreachable"
    assert len(result.records) == 3
    assert len(obs.ends) == 1 and obs.ends[0] is result
    logged = RunLog(log).read()
    assert len(logged.records) == 3
    assert logged.ends[-1]["error"] == "fake endpoint unreachable"


def test_realizer_error_during_repair_keeps_the_measured_candidate(tmp_path):
    real = FakeRealizer(fail_repair=True)
    tuner = _broken_only(FakeEvaluator(), real, repair_turns=2, run_log=tmp_path / "run.jsonl")
    result = tuner.run(Budget(iterations=5))
    assert result.error == "fake key revoked"
    assert len(result.records) == 1 and result.records[0].status == "compile_error"
    assert "c1" in {c.candidate.id for c in RunLog(tmp_path / "run.jsonl").read().candidates}


def test_reference_failure_is_a_tune_error():
    class Broken(FakeEvaluator):
        def evaluate(self, task, source):
            from profiling.measurement import Measurement, Status

            return Measurement.failure(Status.RUNTIME_ERROR, "CUDA out of memory")

    with pytest.raises(TuneError, match=r"reference program .* failed"):
        make_tuner(evaluator=Broken()).run(Budget(iterations=1))


@pytest.mark.parametrize("policy", ["hucb", "ucb", "thompson", "random"])
def test_deterministic_given_seed_and_measurements(policy):
    a = make_tuner(policy=policy, seed=3).run(Budget(iterations=10))
    b = make_tuner(policy=policy, seed=3).run(Budget(iterations=10))
    assert comparable(a.records) == comparable(b.records)
    assert [m.candidate.source for m in a.members] == [m.candidate.source for m in b.members]


def test_realize_requests_carry_parent_and_seed():
    real = FakeRealizer()
    tuner = make_tuner(realizer=real, seed=2)
    p = tuner.ask()
    assert p.iteration == 1 and p.parent.id == "ref"
    assert p.request.parent_source == REF_SOURCE and p.request.gpu.name == "Fake GPU"
    assert p.request.strategy.id == p.arm.strategy
    rec = tuner.tell(p, tuner.realize(p))
    assert rec.parent_id == "ref"
    assert real.seeds == [2 * 1_000_003 + 1]


def test_parent_rule_reference_always_refines_the_reference():
    result = make_tuner(policy="best_of_n").run(Budget(iterations=6))
    assert {r.parent_id for r in result.records} == {"ref"}


def test_cluster_best_parent_is_the_best_kernel_so_far():
    result = make_tuner(policy="ucb").run(Budget(iterations=10))
    by_id = {m.id: m for m in result.members}
    best_before = "ref"
    for r in result.records:
        assert r.parent_id == best_before
        best_before = r.best_id
    assert by_id[result.records[-1].best_id] is result.best


@pytest.mark.parametrize("policy", ["hucb", "thompson"])
def test_resume_continues_exactly_without_reevaluating(tmp_path, policy):
    full = make_tuner(policy=policy, seed=1).run(Budget(iterations=10))

    log = tmp_path / "run.jsonl"
    ev1 = FakeEvaluator()
    first = make_tuner(policy=policy, seed=1, evaluator=ev1, run_log=log).run(Budget(iterations=4))
    assert first.stop_reason == "iterations 4/4"
    ev2 = FakeEvaluator()
    obs = RecordingObserver()
    resumed = make_tuner(policy=policy, seed=1, evaluator=ev2, run_log=log, observers=[obs])
    result = resumed.run(Budget(iterations=10))
    assert comparable(result.records) == comparable(full.records)
    assert obs.starts[0].resumed and len(obs.starts[0].records) == 4
    assert len(obs.iterations) == 6
    assert ev1.calls + ev2.calls == len(result.members)  # nothing measured twice
    assert REF_SOURCE not in ev2.sources
    assert result.records[4].wall_s >= first.records[-1].wall_s

    # resuming a finished run evaluates nothing and adds no iteration
    ev3 = FakeEvaluator()
    again = make_tuner(policy=policy, seed=1, evaluator=ev3, run_log=log).run(Budget(iterations=10))
    assert ev3.calls == 0 and len(again.records) == 10


def test_resume_after_a_crash_mid_iteration_reuses_orphan_measurements(tmp_path):
    full = make_tuner(seed=5).run(Budget(iterations=8))
    log = tmp_path / "run.jsonl"
    make_tuner(seed=5, run_log=log).run(Budget(iterations=8))
    lines = log.read_text().splitlines()
    # cut after the 6th iteration's candidates but before its iteration line, plus a torn line
    iters = [i for i, line in enumerate(lines) if json.loads(line)["type"] == "iteration"]
    cut = iters[5]
    assert json.loads(lines[cut - 1])["type"] == "candidate"
    log.write_text("\n".join(lines[:cut]) + '\n{"type": "iteration", "rec')

    ev = FakeEvaluator()
    result = make_tuner(seed=5, evaluator=ev, run_log=log).run(Budget(iterations=8))
    assert comparable(result.records) == comparable(full.records)
    orphan_source = json.loads(lines[cut - 1])["source"]
    assert orphan_source not in ev.sources
    # read back: every kernel once (the orphan was logged again by the resumed iteration)
    logged = RunLog(log).read()
    assert len(logged.records) == 8 and not logged.orphans
    ids = [c.candidate.id for c in logged.candidates]
    assert len(ids) == len(set(ids)) == len(result.members)


def test_resume_refuses_another_runs_log(tmp_path):
    log = tmp_path / "run.jsonl"
    make_tuner(seed=1, run_log=log).run(Budget(iterations=2))
    with pytest.raises(ValueError, match="belongs to another run: seed"):
        make_tuner(seed=2, run_log=log).run(Budget(iterations=4))


def test_observers_see_everything_and_a_broken_one_is_disabled():
    class Exploding(RecordingObserver):
        def on_iteration(self, record):
            raise RuntimeError("boom")

    good, bad = RecordingObserver(), Exploding()
    with pytest.warns(RuntimeWarning, match="Exploding failed in on_iteration"):
        result = make_tuner(observers=[bad, good]).run(Budget(iterations=4))
    assert len(good.starts) == 1 and good.starts[0].reference.id == "ref"
    assert good.iterations == list(result.records)
    assert good.ends == [result]
    assert bad.ends == []  # disabled after the failure


def test_per_arm_summaries_add_up():
    result = make_tuner(realizer=FakeRealizer(tokens=(10, 5), usd=0.001)).run(Budget(iterations=9))
    by_strategy = result.by_strategy()
    assert sum(s.pulls for s in by_strategy.values()) == 9
    assert sum(s.tokens for s in by_strategy.values()) == result.records[-1].tokens
    by_family = result.by_family()
    assert by_family["tiling"].pulls == sum(
        s.pulls for k, s in by_strategy.items() if k.startswith("tiling/")
    )
    assert sum(s.usd for s in by_family.values()) == pytest.approx(result.records[-1].cost_usd)


def test_keyboard_interrupt_stops_with_a_result(tmp_path):
    class Interrupting(FakeEvaluator):
        def evaluate(self, task, source):
            if self.calls == 3:
                raise KeyboardInterrupt
            return super().evaluate(task, source)

    result = make_tuner(evaluator=Interrupting(), run_log=tmp_path / "r.jsonl").run(
        Budget(iterations=10)
    )
    assert result.stop_reason == "interrupted"
    assert len(RunLog(tmp_path / "r.jsonl").read().records) == len(result.records)


def test_arms_the_realizer_would_decline_are_masked():
    realizer = CheckingRealizer()
    result = make_tuner(policy="ucb", realizer=realizer).run(Budget(iterations=40))
    assert realizer.checks > 0 and len(result.records) == 40
    # every iteration produced a kernel: no pull is wasted on a known no-op
    assert all(r.status != "no_candidate" for r in result.records)
    plain = make_tuner(policy="ucb").run(Budget(iterations=40))
    assert any(r.status == "no_candidate" for r in plain.records)


def test_search_exhausted_when_the_realizer_declines_every_arm():
    tuner = Tuner(
        TASK,
        FakeEvaluator(),
        CheckingRealizer(deterministic=True),
        make_policy("ucb", 0),
        catalog(_only("vectorization/wide")),  # applies once, and improves: then nothing is left
        parts=TunerParts(reference_source=REF_SOURCE),
    )
    result = tuner.run(Budget(iterations=10))
    assert len(result.records) == 1 and result.records[0].status == "ok"
    assert result.stop_reason.startswith("search exhausted")


class _SlowStart(FakeEvaluator):
    """Every generated kernel starts 3x slower than the reference (a vendor library)."""

    def evaluate(self, task, source):
        m = super().evaluate(task, source)
        if m.ok and source != REF_SOURCE:
            return ok(m.runtime_ms * 3.0)
        return m


def test_parent_is_the_best_written_kernel_even_when_eager_is_faster():
    result = make_tuner(policy="ucb", evaluator=_SlowStart()).run(Budget(iterations=12))
    assert result.best.id == "ref"  # nothing beat the reference: it stays the best result
    parents = [r.parent_id for r in result.records]
    assert parents[0] == "ref"
    # once a kernel exists, kernels are refined, not the reference over and over
    assert all(p != "ref" for p in parents[1:])
    # and refining them pays: rewards come from improvements over the kernel parents
    assert any(r.reward > 0 for r in result.records[1:])


def test_deterministic_realizer_never_repeats_a_parent_strategy_pair():
    realizer = CheckingRealizer(deterministic=True)
    result = make_tuner(policy="hucb", realizer=realizer, evaluator=_SlowStart()).run(
        Budget(iterations=40)
    )
    pairs = [(r.parent_id, r.arm.strategy) for r in result.records]
    assert len(pairs) == len(set(pairs))
    # a duplicate can only come from another path to the same kernel
    assert sum(r.duplicate for r in result.records) < len(result.records) // 2


def test_a_stuck_best_kernel_hands_over_to_the_runner_up():
    """When every strategy has been tried on the best kernel, the search goes on
    from the next best instead of stopping (a local optimum is not the end)."""
    realizer = CheckingRealizer(deterministic=True)
    result = make_tuner(policy="ucb", realizer=realizer, evaluator=_SlowStart()).run(
        Budget(iterations=30)
    )
    kernels = [m for m in result.members if m.id != "ref" and m.runtime_ms]
    handed_over = 0
    for r in result.records[1:]:
        before = [m for m in kernels if m.iteration < r.iteration]
        best = min(before, key=lambda m: (m.runtime_ms, m.iteration))
        handed_over += r.parent_id not in ("ref", best.id)
    assert handed_over > 0
    assert len(result.records) == 30 or result.stop_reason.startswith("search exhausted")
