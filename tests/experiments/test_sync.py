"""Tracking store down: tuning goes on, `experiments.sync` uploads the run later."""

from __future__ import annotations

import time

import yaml

from bandit.budget import Budget
from bandit.policies import make_policy
from bandit.tuner import Tuner, TunerParts
from experiments import sync
from experiments.report import RunDirWriter
from experiments.settings import TrackingSettings
from experiments.tracking import HEADLINE, MlflowTracker, unreachable
from tests.bandit.tuner_fakes import (
    REF_SOURCE,
    STRATEGIES,
    TASK,
    FakeEvaluator,
    FakeRealizer,
    catalog,
)

DOWN = "http://127.0.0.1:9/"  # nothing listens on the discard port


def _run(run_dir, uri, warnings):
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(
        yaml.safe_dump({"seed": 0, "tracking": {"uri": uri, "experiment": "sync-test"}})
    )
    tracker = MlflowTracker(
        TrackingSettings(uri=uri, experiment="sync-test"),
        RunDirWriter(run_dir, figures=False),
        {"seed": 0},
        warn=warnings.append,
    )
    tuner = Tuner(
        TASK,
        FakeEvaluator(),
        FakeRealizer(tokens=(3, 2)),
        make_policy("ucb", 0),
        catalog(s for s in STRATEGIES if s.target != "cuda"),
        parts=TunerParts(
            run_log=run_dir / "runlog.jsonl",
            observers=[tracker],
            reference_source=REF_SOURCE,
        ),
    )
    return tuner.run(Budget(iterations=4)), tracker


def test_unreachable_server_is_noticed_in_seconds():
    t0 = time.monotonic()
    assert "unreachable" in unreachable(DOWN)
    assert time.monotonic() - t0 < 5
    assert unreachable("sqlite:///x.db") is None


def test_tuning_goes_on_without_the_store_and_sync_uploads_it_later(tmp_path):
    warnings: list[str] = []
    t0 = time.monotonic()
    result, tracker = _run(tmp_path / "run", DOWN, warnings)
    assert time.monotonic() - t0 < 20
    assert len(result.records) == 4 and tracker.failed is not None
    assert len(warnings) == 1 and "experiments.sync" in warnings[0]

    db = f"sqlite:///{tmp_path / 'later.db'}"
    assert sync.main([str(tmp_path / "run"), "--uri", db]) == 0
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=db)
    runs = client.search_runs([client.get_experiment_by_name("sync-test").experiment_id])
    assert len(runs) == 1
    steps = [m.step for m in client.get_metric_history(runs[0].info.run_id, HEADLINE + "reward")]
    assert sorted(steps) == [1, 2, 3, 4]
    assert runs[0].data.metrics[HEADLINE + "tokens_prompt"] == result.records[-1].tokens_prompt
    # a second sync continues the same MLflow run and adds nothing twice
    assert sync.main([str(tmp_path / "run"), "--uri", db]) == 0
    assert len(client.search_runs([runs[0].info.experiment_id])) == 1
    steps = [m.step for m in client.get_metric_history(runs[0].info.run_id, HEADLINE + "reward")]
    assert sorted(steps) == [1, 2, 3, 4]


def test_sync_of_something_else_is_one_line_and_exit_2(tmp_path, capsys):
    assert sync.main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a run directory" in err[0]


def test_a_locked_store_does_not_stop_tuning(tmp_path):
    import sqlite3

    db = tmp_path / "locked.db"
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("create table t(x)")
    con.execute("BEGIN EXCLUSIVE")  # another process holds the database
    try:
        warnings: list[str] = []
        result, tracker = _run(tmp_path / "run", f"sqlite:///{db}", warnings)
    finally:
        con.close()
    assert len(result.records) == 4 and tracker.failed and "locked" in tracker.failed
    assert len(warnings) == 1 and "experiments.sync" in warnings[0]
    later = f"sqlite:///{tmp_path / 'later.db'}"
    assert sync.main([str(tmp_path / "run"), "--uri", later]) == 0
