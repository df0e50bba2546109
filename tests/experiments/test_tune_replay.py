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


@pytest.mark.slow
def test_a_replayed_sweep_ends_with_its_comparison(tmp_path, landscape):
    db = tmp_path / "mlflow.db"
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.tune", "-m", "+experiment=compare_policies",
         "task=softmax", "policy=hucb,random", "seed=0,1", "budget.iterations=5",
         f"replay.landscape={landscape}", f"tracking.uri=sqlite:///{db}",
         f"hydra.sweep.dir={tmp_path}/sweep"],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"comparison of this sweep: {tmp_path}/sweep/compare/summary.md" in proc.stdout
    summary = (tmp_path / "sweep" / "compare" / "summary.md").read_text()
    assert "| hucb | 2 |" in summary and "| random | 2 |" in summary


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
