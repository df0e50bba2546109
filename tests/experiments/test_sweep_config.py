"""The sweep recipe, launcher configs and the sweep callback."""

from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from experiments.sweep_callback import SweepCallback
from tests.experiments.test_tune import compose_cfg


def _hydra_cfg(*overrides: str):
    from hydra import compose, initialize_config_dir

    from tests.experiments.test_tune import CONF

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=True)


POLICIES = ["hucb", "ucb", "thompson", "egreedy", "random", "greedy", "best_of_n"]


def test_the_recipe_sweeps_seven_policies_every_recorded_task_ten_seeds_on_replay():
    """Every bundled task with a committed landscape, and no task without one."""
    cfg = _hydra_cfg("+experiment=compare_policies")
    params = cfg.hydra.sweeper.params
    assert params.policy.split(",") == POLICIES
    from experiments import LANDSCAPES_DIR, TASKS_DIR
    from profiling.landscape import landscape_path
    from profiling.tasks import bundled_task_names

    recorded = [t for t in bundled_task_names(TASKS_DIR)
                if landscape_path(LANDSCAPES_DIR, t, "default").is_file()]
    assert len(recorded) >= 6 and sorted(params.task.split(",")) == recorded
    assert params.seed == "range(10)"
    assert cfg.device.name == "replay" and cfg.replay.noise == "recorded"
    assert cfg.hydra.callbacks.compare._target_ == "experiments.sweep_callback.SweepCallback"


def test_the_kernelbench_recipe_sweeps_every_recorded_problem_into_the_same_experiment():
    from experiments import LANDSCAPES_DIR, TASKS_DIR
    from profiling.landscape import landscape_path
    from profiling.tasks import load_task
    from tests.experiments.test_tune import ROOT

    cfg = _hydra_cfg("+experiment=compare_policies_kernelbench")
    params = cfg.hydra.sweeper.params
    assert params.policy.split(",") == POLICIES and params.seed == "range(10)"
    assert cfg.task.size == "bench" and cfg.device.name == "replay"
    assert cfg.tracking.experiment == _hydra_cfg("+experiment=compare_policies").tracking.experiment
    files = params["task.name"].split(",")
    recorded = sorted(p.name.split("@")[0] for p in LANDSCAPES_DIR.glob("*@bench.jsonl"))
    assert sorted(f.rsplit("/", 1)[1].removesuffix(".py") for f in files) == recorded
    for f in files:
        task = load_task(str(ROOT / f), "bench", TASKS_DIR)
        assert landscape_path(LANDSCAPES_DIR, task.name, task.size).is_file()


def test_callbacks_are_on_by_default_and_can_be_switched_off():
    assert "compare" in _hydra_cfg().hydra.callbacks
    assert not _hydra_cfg("hydra/callbacks=none").hydra.callbacks


@pytest.mark.parametrize(("launcher", "plugin", "key"), [
    ("parallel", "hydra_plugins.hydra_joblib_launcher", "n_jobs"),
    ("slurm", "hydra_plugins.hydra_submitit_launcher", "gpus_per_node"),
])
def test_launchers_compose(launcher, plugin, key):
    pytest.importorskip(plugin)  # optional third-party extras
    cfg = _hydra_cfg(f"hydra/launcher={launcher}")
    assert key in cfg.hydra.launcher and "_target_" in cfg.hydra.launcher


def test_the_callback_creates_the_experiment_before_the_jobs(tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    cfg = OmegaConf.create({"tracking": {"enabled": True, "uri": uri, "experiment": "pre"},
                            "hydra": {"sweep": {"dir": str(tmp_path / "sweep")}}})
    SweepCallback().on_multirun_start(cfg)
    from mlflow import MlflowClient

    assert MlflowClient(uri).get_experiment_by_name("pre") is not None
    SweepCallback().on_multirun_start(cfg)  # twice: no error


def test_the_callback_never_fails_the_sweep(tmp_path, capsys):
    cfg = OmegaConf.create({"tracking": {"enabled": True, "uri": f"sqlite:///{tmp_path / 'm.db'}",
                                         "experiment": "empty"},
                            "hydra": {"sweep": {"dir": str(tmp_path / "sweep")}}})
    SweepCallback().on_multirun_end(cfg)  # no such experiment: a warning, not a crash
    assert "warning: the sweep's comparison failed" in capsys.readouterr().err
    off = OmegaConf.create({"tracking": {"enabled": False, "uri": None},
                            "hydra": {"sweep": {"dir": "x"}}})
    SweepCallback().on_multirun_end(off)
    assert "nothing to compare" in capsys.readouterr().out


def test_compose_helper_still_works():
    assert compose_cfg("device=replay").device.name == "replay"


def test_the_callback_tags_the_experiment_so_parallel_jobs_need_not(tmp_path):
    """Jobs that each tag an untagged experiment collide on SQLite (UNIQUE constraint)."""
    from mlflow import MlflowClient

    from experiments.tracking import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG

    uri = f"sqlite:///{tmp_path / 'm.db'}"
    cfg = OmegaConf.create({"tracking": {"enabled": True, "uri": uri, "experiment": "tagged"},
                            "hydra": {"sweep": {"dir": str(tmp_path / "sweep")}}})
    SweepCallback().on_multirun_start(cfg)
    client = MlflowClient(uri)
    assert client.get_experiment_by_name("tagged").tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND
    client.create_experiment("old")  # made before this callback tagged (an older sweep)
    old = OmegaConf.merge(cfg, {"tracking": {"experiment": "old"}})
    SweepCallback().on_multirun_start(old)
    assert client.get_experiment_by_name("old").tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND
