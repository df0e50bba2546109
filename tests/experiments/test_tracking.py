"""MLflow observer with the fake tuner pieces: what lands in MLflow, resume, outages."""

from __future__ import annotations

from pathlib import Path

import pytest

from bandit import Budget, Tuner, TunerParts, TunerSettings, make_policy
from experiments.report import RunDirWriter
from experiments.settings import TrackingSettings, resolve_uri
from experiments.tracking import MlflowTracker, arm_metrics, ensure_experiment
from tests.bandit.tuner_fakes import (
    REF_SOURCE,
    TASK,
    FakeEvaluator,
    FakeRealizer,
    catalog,
)

mlflow = pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def run(run_dir: Path, uri: str, iterations: int, warnings: list[str] | None = None, **kw):
    writer = RunDirWriter(run_dir)
    tracker = MlflowTracker(
        TrackingSettings(True, uri, "tracking-test"),
        writer,
        params={"task.name": "fake", "policy.name": "ucb", "seed": 0, "device.extra_sizes": []},
        tags={"realizer_model": "fake-model"},
        run_name="fake-run",
        flush_s=0.0 if kw.pop("eager", False) else 10.0,
        warn=(warnings.append if warnings is not None else lambda m: None),
    )
    (run_dir / "config.yaml").parent.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text("seed: 0\n")
    tuner = Tuner(
        TASK,
        FakeEvaluator(),
        FakeRealizer(tokens=(100, 40), usd=0.002),
        make_policy("ucb", 0),
        catalog(),
        settings=TunerSettings(seed=0),
        parts=TunerParts(
            run_log=run_dir / "runlog.jsonl",
            observers=[tracker, writer],  # the upload does not depend on this order
            reference_source=REF_SOURCE,
        ),
    )
    return tuner.run(Budget(iterations=iterations)), tracker


def test_run_lands_in_mlflow(tmp_path, store):
    result, tracker = run(tmp_path / "run", store, 6)
    assert tracker.failed is None and tracker.run_id
    client = mlflow.MlflowClient(tracking_uri=store)
    r = client.get_run(tracker.run_id)
    assert r.info.status == "FINISHED"
    assert r.data.tags["task"] == "fake" and r.data.tags["policy"] == "ucb"
    assert r.data.tags["realizer"] == "fake" and r.data.tags["realizer_model"] == "fake-model"
    assert r.data.tags["gpu"] == "Fake GPU" and r.data.tags["git_revision"]
    assert r.data.tags["stop_reason"] == "iterations 6/6"
    assert r.data.params["seed"] == "0" and r.data.params["device.extra_sizes"] == "[]"
    for key in ("reward", "best_speedup", "best_runtime_ms", "tokens_prompt", "cost_usd"):
        hist = client.get_metric_history(tracker.run_id, "headline/" + key)
        assert [m.step for m in sorted(hist, key=lambda m: m.step)] == [1, 2, 3, 4, 5, 6]
    tokens = client.get_metric_history(tracker.run_id, "headline/tokens_prompt")
    assert max(m.value for m in tokens) == 600
    assert r.data.metrics == {**r.data.metrics, **arm_metrics(result)}
    by_strategy = result.by_strategy()
    total = sum(
        v
        for k, v in r.data.metrics.items()
        if k.startswith("per_strategy/") and k.endswith("/tokens")
    )
    assert total == sum(s.tokens for s in by_strategy.values()) == 6 * 140
    assert any(k.startswith("per_family/tiling/") for k in r.data.metrics)
    # per-arm metrics are curves: one point per iteration that pulled the arm, running totals
    for rec in result.records:
        so_far = result.records[: rec.iteration]
        want = sum(1 for x in so_far if x.arm.strategy == rec.arm.strategy)
        key = f"per_strategy/{rec.arm.strategy}/pulls"
        hist = {m.step: m.value for m in client.get_metric_history(tracker.run_id, key)}
        assert hist[rec.iteration] == want
    fam_steps = set()
    for fam in result.by_family():
        fam_steps |= {
            m.step for m in client.get_metric_history(tracker.run_id, f"per_family/{fam}/pulls")
        }
    assert fam_steps == {1, 2, 3, 4, 5, 6}
    exp = client.get_experiment(r.info.experiment_id)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    names = {a.path for a in client.list_artifacts(tracker.run_id)}
    assert {"best_kernel.py", "candidates.jsonl", "config.yaml", "runlog.jsonl", "figures"} <= names
    figs = {a.path for a in client.list_artifacts(tracker.run_id, "figures")}
    assert figs == {"figures/reward.png", "figures/cost_per_arm.png"}
    assert (
        (tmp_path / "run" / "best_kernel.py").read_text().startswith("# kernel-bandit best kernel")
    )
    lines = (tmp_path / "run" / "candidates.jsonl").read_text().splitlines()
    assert len(lines) == len(result.members)


def test_resume_continues_the_same_mlflow_run(tmp_path, store):
    _, first = run(tmp_path / "run", store, 3, eager=True)
    _, second = run(tmp_path / "run", store, 7)
    assert second.run_id == first.run_id
    client = mlflow.MlflowClient(tracking_uri=store)
    steps = sorted(m.step for m in client.get_metric_history(first.run_id, "headline/reward"))
    assert steps == [1, 2, 3, 4, 5, 6, 7]


def test_unwritable_store_warns_once_and_tuning_goes_on(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    warnings: list[str] = []
    result, tracker = run(tmp_path / "run", f"sqlite:///{blocker}/sub/mlflow.db", 4, warnings)
    assert len(result.records) == 4 and result.stop_reason == "iterations 4/4"
    assert tracker.failed and tracker.run_id is None
    assert len(warnings) == 1 and "MLflow tracking failed" in warnings[0]
    assert (tmp_path / "run" / "best_kernel.py").is_file()


def test_relative_sqlite_uri_is_anchored_at_the_launch_directory(tmp_path):
    assert resolve_uri("sqlite:///mlflow.db", tmp_path) == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert resolve_uri("sqlite:////abs/x.db", tmp_path) == "sqlite:////abs/x.db"
    assert resolve_uri("http://host:5000", tmp_path) == "http://host:5000"
    assert resolve_uri("mlruns", tmp_path) == str(tmp_path / "mlruns")


class _RacingClient:
    """An experiment that a parallel job tags between this job's read and its own tag."""

    def __init__(self, tagged_by_other: bool) -> None:
        self.reads, self.tagged_by_other = 0, tagged_by_other

    def get_experiment_by_name(self, name):
        from types import SimpleNamespace

        self.reads += 1
        tags = {"mlflow.experimentKind": "custom_model_development"} if self.reads > 1 else {}
        return SimpleNamespace(experiment_id="7", tags=tags if self.tagged_by_other else {})

    def set_experiment_tag(self, *args):
        raise RuntimeError("(sqlite3.IntegrityError) UNIQUE constraint failed: experiment_tags.key")


def test_an_experiment_tagged_meanwhile_by_a_parallel_job_is_used():
    assert ensure_experiment(_RacingClient(tagged_by_other=True), "race", "sqlite:///x.db") == "7"
    with pytest.raises(RuntimeError, match="UNIQUE"):  # not a race: the real error stands
        ensure_experiment(_RacingClient(tagged_by_other=False), "race", "sqlite:///x.db")
