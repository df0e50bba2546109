"""The tuner with hardware counters: masks, headroom, prompts, clusters, roofline stop."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from bandit import Budget, Tuner, TunerParts, TunerSettings, make_policy
from bandit.clustering import RuntimeClusterer
from bandit.hardware import HardwareSettings, Profiled, hardware_view
from bandit.runlog import RunLog
from profiling.measurement import Measurement, RooflineFloor
from profiling.probes.counters import Counters
from profiling.tasks import Task
from strategies.types import RealizeRequest
from tests.bandit.tuner_fakes import (
    REF_SOURCE,
    TASK,
    FakeEvaluator,
    FakeRealizer,
    catalog,
    params_of,
    strategy,
)

STRATS = (
    replace(strategy("vectorization/wide"), resource="dram"),
    replace(strategy("tiling/rows"), resource="sm"),
    replace(strategy("tiling/cols"), resource="sm"),
)
RESOURCES = {s.id: s.resource for s in STRATS}


def counters_for(source: str) -> Counters:
    """A kernel with the wide-vector strategy applied saturates DRAM (92 %)."""
    params = params_of(source) or {}
    dram = 92.0 if params.get("vectorization/wide") else 45.0
    return Counters(launches=1, duration_ns=1e6, dram_pct=dram, sm_pct=30.0)


class FakeProfiler:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, cid: str, source: str, reference: bool) -> Profiled:
        self.calls.append(cid)
        return Profiled(counters_for(source), 1.5)


@dataclass
class SeeingRealizer(FakeRealizer):
    """Remembers the parent counters each request carried (what a prompt would quote)."""

    seen: list = None  # type: ignore[assignment]

    def realize(self, request: RealizeRequest):  # type: ignore[no-untyped-def]
        if self.seen is None:
            self.seen = []
        m = request.parent_measurement
        self.seen.append(m.counters if m is not None else None)
        return super().realize(request)


DEFAULTS = HardwareSettings()


def make(profile=None, settings=DEFAULTS, evaluator=None, realizer=None,  # type: ignore[no-untyped-def]
         run_log: Path | None = None, clusterer=None, policy: str = "hucb") -> Tuner:
    return Tuner(
        TASK, evaluator or FakeEvaluator(), realizer or FakeRealizer(),
        make_policy(policy, 0), catalog(STRATS), settings=TunerSettings(seed=0),
        parts=TunerParts(
            run_log=run_log,
            clusterer=clusterer,
            hardware=hardware_view(settings, profile, RESOURCES),
            reference_source=REF_SOURCE,
        ),
    )


def test_saturated_dram_is_masked_logged_and_parents_profiled_once(tmp_path: Path) -> None:
    prof = FakeProfiler()
    realizer = SeeingRealizer()
    tuner = make(prof, realizer=realizer, run_log=tmp_path / "run.jsonl")
    result = tuner.run(Budget(iterations=6))
    wide = [r for r in result.records if r.arm.strategy == "vectorization/wide"]
    assert wide and wide[0].status == "ok"
    # once the best kernel carries wide vectors, DRAM arms are masked with a reason
    masked = [r for r in result.records if any("masked" in d for d in r.masks)]
    assert masked, [r.masks for r in result.records]
    assert all(r.arm.strategy != "vectorization/wide" for r in masked)
    assert any("dram at 92%" in d for d in masked[0].masks)
    assert len(prof.calls) == len(set(prof.calls))  # each parent profiled once
    assert "ref" in prof.calls
    assert all(c is not None for c in realizer.seen)  # every request quotes its parent's counters
    logged = RunLog(tmp_path / "run.jsonl").read().records
    assert logged[-1].masks == result.records[-1].masks
    lines = [json.loads(x) for x in (tmp_path / "run.jsonl").read_text().splitlines()]
    assert any(x.get("record", {}).get("masks") for x in lines if x["type"] == "iteration")


def test_no_profiler_no_counters_no_masks_same_run() -> None:
    plain = Tuner(TASK, FakeEvaluator(), FakeRealizer(), make_policy("hucb", 0), catalog(STRATS),
                  settings=TunerSettings(seed=0),
                  parts=TunerParts(reference_source=REF_SOURCE),).run(
        Budget(iterations=6))

    def absent(cid: str, source: str, reference: bool) -> Profiled:
        return Profiled(None, 0.0)  # what a missing ncu answers

    for profile in (None, absent):
        run = make(profile).run(Budget(iterations=6))
        assert [(r.arm, r.candidate_id) for r in run.records] == [
            (r.arm, r.candidate_id) for r in plain.records
        ]
        assert all(r.masks == () for r in run.records)


def test_one_cluster_reproduces_the_single_cluster_run() -> None:
    plain = make().run(Budget(iterations=8))
    one = make(clusterer=RuntimeClusterer(clusters=1)).run(Budget(iterations=8))
    assert [(r.arm, r.candidate_id, r.reward) for r in one.records] == [
        (r.arm, r.candidate_id, r.reward) for r in plain.records
    ]
    two = make(clusterer=RuntimeClusterer(clusters=2, every=1)).run(Budget(iterations=8))
    assert len(two.records) == 8  # runs through, clusters join the arms as they appear


@dataclass
class FloorEvaluator(FakeEvaluator):
    """Measurements with a roofline floor at 5 ms (the reference runs 10 ms)."""

    def evaluate(self, task: Task, source: str) -> Measurement:
        m = super().evaluate(task, source)
        return replace(m, floor=RooflineFloor(ms=5.0, bytes=1, flops=None, bound="memory"))


def test_roofline_goal_stops_the_run_and_names_the_reason() -> None:
    result = make(evaluator=FloorEvaluator()).run(Budget(iterations=40, stop_at_roofline=0.7))
    assert result.stop_reason.startswith("roofline ")
    assert result.stop_reason.endswith(">= 0.70")
    assert len(result.records) < 40
    best = max((m for m in result.members if m.id != "ref" and m.ok),
               key=lambda m: m.measurement.roofline_fraction or 0)
    assert best.measurement.roofline_fraction >= 0.7


def test_resume_keeps_the_profiled_counters(tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    first = FakeProfiler()
    make(first, run_log=log).run(Budget(iterations=3))
    assert first.calls
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    assert {x["id"] for x in lines if x["type"] == "counters"} == set(first.calls)
    again = FakeProfiler()
    resumed = make(again, run_log=log).run(Budget(iterations=6))
    assert len(resumed.records) == 6
    assert not set(again.calls) & set(first.calls)  # nothing profiled twice
