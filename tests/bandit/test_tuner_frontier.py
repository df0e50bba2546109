"""The frontier (dedupe, per-cluster best), a plugged-in clusterer, the run log format,
and the package's lazy re-exports."""

from __future__ import annotations

import json
import subprocess
import sys

from bandit import Budget, Tuner, TunerParts, TunerSettings, make_policy
from bandit.frontier import Frontier, source_hash
from bandit.runlog import RunLog
from profiling.measurement import Measurement, Status
from strategies.types import Candidate
from tests.bandit.tuner_fakes import (
    REF_SOURCE,
    TASK,
    FakeEvaluator,
    FakeRealizer,
    catalog,
    ok,
    params_of,
)


def test_source_hash_ignores_trailing_whitespace_only():
    assert source_hash("a = 1\nb = 2\n") == source_hash("a = 1   \nb = 2\n\n\n")
    assert source_hash("a = 1\n") != source_hash("a = 2\n")
    assert source_hash("  a = 1") != source_hash("a = 1")  # indentation is code


def test_frontier_best_per_cluster_and_dedupe():
    f = Frontier()
    f.add(Candidate("ref", "ref"), ok(10.0), 0)
    f.add(Candidate("a", "a"), ok(8.0), 1, cluster=1)
    f.add(Candidate("b", "b"), Measurement.failure(Status.INCORRECT, "wrong"), 2, cluster=2)
    f.add(Candidate("c", "c"), ok(9.0), 3, cluster=1)
    assert f.clusters() == (0, 1)  # cluster 2 holds no correct kernel: no parent there
    assert f.best().id == "a" and f.best(1).id == "a" and f.best(0).id == "ref"
    assert f.best(2) is None
    assert f.lookup("b  \n").id == "b"  # failures are remembered too: never re-evaluated
    assert f.lookup("zzz") is None
    assert len(f) == 4 and "c" in f and [m.id for m in f] == ["ref", "a", "b", "c"]


class ByTiling:
    """Clusters kernels by whether they use tiling/rows (a stand-in for counters)."""

    def assign(self, candidate, measurement, frontier):
        return 1 if (params_of(candidate.source) or {}).get("tiling/rows") else 0


def test_a_clusterer_plugs_in_and_clusters_become_arms(tmp_path):
    tuner = Tuner(
        TASK,
        FakeEvaluator(),
        FakeRealizer(),
        make_policy("hucb", 0),
        catalog(),
        settings=TunerSettings(seed=0),
        parts=TunerParts(
            run_log=tmp_path / "run.jsonl",
            clusterer=ByTiling(),
            reference_source=REF_SOURCE,
        ),
    )
    result = tuner.run(Budget(iterations=12))
    assert {m.cluster for m in result.members} == {0, 1}
    assert {a.cluster for a in tuner.arms()} == {0, 1}
    for r in result.records:
        if r.arm.cluster == 1:
            parent = next(m for m in result.members if m.id == r.parent_id)
            assert parent.cluster == 1
    # resume restores the clusters from the log without asking the clusterer again
    again = Tuner(
        TASK,
        FakeEvaluator(),
        FakeRealizer(),
        make_policy("hucb", 0),
        catalog(),
        settings=TunerSettings(seed=0),
        parts=TunerParts(run_log=tmp_path / "run.jsonl", reference_source=REF_SOURCE),
    )
    again.start()
    assert [m.cluster for m in again.frontier] == [m.cluster for m in result.members]


def test_run_log_lines(tmp_path):
    log = tmp_path / "run.jsonl"
    Tuner(
        TASK,
        FakeEvaluator(),
        FakeRealizer(tokens=(3, 2)),
        make_policy("ucb", 0),
        catalog(),
        parts=TunerParts(run_log=log, reference_source=REF_SOURCE, meta={"config": {"seed": 0}}),
    ).run(Budget(iterations=2))
    every = [json.loads(x) for x in log.read_text().splitlines()]
    # journal lines: each measurement and realizer answer as soon as it arrived
    assert [x["type"] for x in every] == [
        "header", "measured", "candidate", "realized", "measured", "candidate", "iteration",
        "realized", "measured", "candidate", "iteration", "end",
    ]  # fmt: skip
    lines = [x for x in every if x["type"] not in ("measured", "realized")]
    header = lines[0]
    assert header["task"] == "fake" and header["policy"] == "ucb" and header["seed"] == 0
    assert header["meta"] == {"config": {"seed": 0}}
    assert lines[1]["id"] == "ref" and lines[1]["measurement"]["status"] == "ok"
    assert lines[2]["cost"]["prompt_tokens"] == 3
    it = lines[3]
    assert it["record"]["iteration"] == 1 and it["policy_state"]["policy"] == "ucb"
    assert lines[-1]["stop_reason"] == "iterations 2/2"
    logged = RunLog(log).read()
    assert len(logged.records) == 2 and not logged.orphans


def test_import_bandit_is_lazy():
    code = (
        "import sys, bandit; "
        "assert not [m for m in sys.modules if m.startswith(('bandit.', 'torch', 'mlflow'))]; "
        "from bandit import Tuner, Budget, make_policy, Arm, TuneResult, Observer; "
        "print('ok')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
