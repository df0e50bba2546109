"""The tune app on device=replay: a synthetic landscape, batch rounds, a sweep with its comparison."""

from __future__ import annotations

import subprocess
import sys

import pytest

from experiments import TASKS_DIR
from profiling.tasks import load_task
from tests.experiments.test_tune import ROOT, app
from tests.fakes.landscapes import synthetic_landscape


@pytest.fixture(scope="module")
def landscape(tmp_path_factory):
    path = tmp_path_factory.mktemp("land") / "softmax.jsonl"
    synthetic_landscape(load_task("softmax", None, TASKS_DIR), path, depth=2)
    return path


def test_replay_run_says_what_it_replays(tmp_path, landscape):
    code, out, err = app(tmp_path / "run", "device=replay", f"replay.landscape={landscape}",
                         "tracking=none", "budget.iterations=6")
    assert code == 0, err
    assert "replaying" in err and "SYNTHETIC" in err
    assert "on replay" in out
    from bandit.runlog import RunLog

    logged = RunLog(tmp_path / "run" / "runlog.jsonl").read()
    assert len(logged.records) == 6 and logged.header["device"] == "cuda"  # the replayed device


def test_replay_with_batch_rounds_on_two_workers(tmp_path, landscape):
    code, _out, err = app(tmp_path / "run", "device=replay", f"replay.landscape={landscape}",
                          "tracking=none", "budget.iterations=6", "executor.batch=3",
                          "executor.workers=2")
    assert code == 0, err
    from bandit.runlog import RunLog

    records = RunLog(tmp_path / "run" / "runlog.jsonl").read().records
    assert [r.iteration for r in records] == list(range(1, 7))
    assert len({r.wall_s for r in records}) == 2  # two rounds of three


def test_a_landscape_of_another_task_is_a_one_line_error(tmp_path, landscape):
    code, _out, err = app(tmp_path / "run", "device=replay", "task=rmsnorm",
                          f"replay.landscape={landscape}", "tracking=none")
    assert code == 2 and "recorded for task 'softmax'" in err and err.count("\n") == 1


def test_a_sweep_lands_in_one_experiment_and_ends_with_its_comparison(tmp_path, landscape):
    """A multirun (one process, four jobs) on replay: every job a run of one MLflow
    experiment, tagged with its sweep and job, then the sweep's comparison."""
    db = tmp_path / "mlflow.db"
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.tune", "-m", "+experiment=compare_policies",
         "task=softmax", "policy=hucb,random", "seed=0,1", "budget.iterations=5",
         f"replay.landscape={landscape}", f"tracking.uri=sqlite:///{db}",
         "tracking.experiment=sweep", f"hydra.sweep.dir={tmp_path}/sweep"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"comparison of this sweep: {tmp_path}/sweep/compare/summary.md" in proc.stdout
    summary = (tmp_path / "sweep" / "compare" / "summary.md").read_text()
    assert "| hucb | 2 |" in summary and "| random | 2 |" in summary
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{db}")
    exp = client.get_experiment_by_name("sweep")
    runs = client.search_runs([exp.experiment_id])
    runs = [r for r in runs if r.data.tags.get("kind") != "comparison"]  # the sweep's summary
    assert sorted((r.data.tags["policy"], r.data.params["seed"]) for r in runs) == [
        ("hucb", "0"),
        ("hucb", "1"),
        ("random", "0"),
        ("random", "1"),
    ]
    assert {r.data.tags["sweep"] for r in runs} == {str(tmp_path / "sweep")}
    assert sorted(r.data.tags["sweep_job"] for r in runs) == ["0", "1", "2", "3"]
    names = [r.info.run_name for r in runs]
    assert len(set(names)) == 4 and all("-sweep-" in n for n in names)


def test_ray_without_ray_is_a_one_line_error(tmp_path, landscape, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kw):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kw)

    monkeypatch.delitem(sys.modules, "ray", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_ray)
    code, _out, err = app(tmp_path / "run", "device=replay", f"replay.landscape={landscape}",
                          "tracking=none", "executor=ray")
    assert code == 2 and err.count("\n") == 1
    assert "executor=ray needs Ray, an optional extra: pip install 'kernel-bandit[ray]'" in err


@pytest.mark.slow
def test_replay_on_ray_actors(tmp_path, landscape):
    ray = pytest.importorskip("ray")  # an optional third-party extra
    try:
        code, _out, err = app(tmp_path / "run", "device=replay", f"replay.landscape={landscape}",
                              "tracking=none", "budget.iterations=4", "executor=ray",
                              "executor.workers=2", "executor.batch=2")
        assert code == 0, err
    finally:
        ray.shutdown()
