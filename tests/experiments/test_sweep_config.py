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


def test_the_recipe_sweeps_seven_policies_every_task_ten_seeds_on_replay():
    cfg = _hydra_cfg("+experiment=compare_policies")
    params = cfg.hydra.sweeper.params
    assert params.policy.split(",") == ["hucb", "ucb", "thompson", "egreedy", "random", "greedy",
                                        "best_of_n"]
    from experiments import TASKS_DIR
    from profiling.tasks import bundled_task_names

    assert sorted(params.task.split(",")) == bundled_task_names(TASKS_DIR)
    assert params.seed == "range(10)"
    assert cfg.device.name == "replay" and cfg.replay.noise == "recorded"
    assert cfg.hydra.callbacks.compare._target_ == "experiments.sweep_callback.SweepCallback"


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
