"""experiments.compare on a real (SQLite) MLflow store filled by replayed tuning runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bandit.budget import Budget
from bandit.policies import make_policy
from bandit.tuner import Tuner, TunerParts
from experiments import TASKS_DIR
from experiments.compare import CompareError, compare, fetch_runs, main
from experiments.compare_stats import RunCurve, interval, mann_whitney, summarize
from experiments.report import RunDirWriter
from experiments.settings import TrackingSettings
from experiments.tracking import MlflowTracker
from profiling.clock import VirtualClock
from profiling.replay import ReplayEvaluator
from profiling.tasks import load_task
from strategies.catalog import load_catalog
from strategies.graph.realizer import GraphRealizer
from tests.fakes.landscapes import synthetic_landscape

POLICIES = ("hucb", "random")
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A small replayed sweep: 2 policies x 3 seeds on a synthetic softmax landscape."""
    root = tmp_path_factory.mktemp("sweep")
    task = load_task("softmax", None, TASKS_DIR)
    land = synthetic_landscape(task, root / "softmax.jsonl", depth=2)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    for policy in POLICIES:
        for seed in SEEDS:
            run_dir = root / f"{policy}-{seed}"
            run_dir.mkdir()
            tracker = MlflowTracker(
                TrackingSettings(True, uri, "cmp"), RunDirWriter(run_dir, figures=False),
                {"policy.name": policy},
                {"seed": str(seed), "sweep": "s1"}, run_name=f"{policy}-{seed}",
            )
            tuner = Tuner(task, ReplayEvaluator(land, seed=seed), GraphRealizer(),
                          make_policy(policy, seed), load_catalog(),
                          parts=TunerParts(observers=[tracker], clock=VirtualClock()))
            tuner.run(Budget(iterations=8))
            assert tracker.failed is None
    return uri, root


def test_fetch_reads_one_curve_per_run_with_costs_and_seconds(store):
    uri, _ = store
    _, runs = fetch_runs(uri, "cmp")
    assert sorted((r.policy, r.seed) for r in runs) == sorted((p, s) for p in POLICIES for s in SEEDS)
    for r in runs:
        assert len(r.best) == 8 and np.all(np.diff(r.best) >= 0)
        assert len(r.seconds) == 8 and np.all(np.diff(r.seconds) >= 0) and r.seconds[-1] > 0
        assert r.tokens.sum() == 0 and sum(v[0] for v in r.families.values()) == 8


def test_compare_writes_tables_figures_and_a_linked_summary_run(store, tmp_path):
    uri, _ = store
    summary, rid = compare(uri, "cmp", tmp_path / "out", sweep="s1")
    text = summary.read_text()
    assert "## softmax" in text and "| hucb | 3 |" in text and "| random | 3 |" in text
    data = json.loads((tmp_path / "out" / "summary.json").read_text())
    rows = {r["policy"]: r for r in data["tasks"]["softmax"]}
    assert rows["hucb"]["p_value"] is None and 0.0 <= rows["random"]["p_value"] <= 1.0
    for name in ("best_so_far.png", "simple_regret.png", "cost_per_arm.png"):
        assert (tmp_path / "out" / "figures" / name).stat().st_size > 1000
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    summary_run = client.get_run(rid)
    assert summary_run.data.tags["kind"] == "comparison"
    names = {a.path for a in client.list_artifacts(rid)}
    assert {"summary.md", "summary.json", "runs.json", "figures"} <= names
    _, runs = fetch_runs(uri, "cmp")  # the summary run itself is not a tuning run
    assert len(runs) == 6
    assert all(client.get_run(r.run_id).data.tags["comparison_run"] == rid for r in runs)


def test_cli_errors_are_one_line(store, capsys):
    uri, _ = store
    assert main(["--experiment", "nope", "--uri", uri]) == 2
    assert "no MLflow experiment 'nope'" in capsys.readouterr().err
    with pytest.raises(CompareError, match="sweep other"):
        fetch_runs(uri, "cmp", sweep="other")


def _curve(policy, seed, best, task="t"):
    n = len(best)
    return RunCurve(f"{policy}{seed}", task, policy, seed, np.array(best, float),
                    np.arange(n) * 100.0, np.arange(n) * 0.5, np.arange(1, n + 1) * 2.0)


def test_summaries_reach_targets_and_intervals():
    runs = [_curve("hucb", s, [1.0, 1.5, 2.0]) for s in range(3)]
    runs += [_curve("random", s, [1.0, 1.1, 1.2 + 0.1 * s]) for s in range(3)]
    hucb, rnd = summarize(runs)
    assert hucb.policy == "hucb" and hucb.best.mean == 2.0 and hucb.reached == 3
    assert hucb.iterations.mean == 3 and hucb.tokens.mean == 200.0 and hucb.seconds.mean == 6.0
    assert rnd.reached == 0 and rnd.iterations.n == 0 and rnd.p_value < 0.1
    iv = interval([1.0, 2.0, 3.0])
    assert iv.mean == 2.0 and iv.low < 1.0 < 3.0 < iv.high  # t(2) is wide
    assert mann_whitney([], [1.0]) is None and mann_whitney([1.0], [1.0]) == 1.0
