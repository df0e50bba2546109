"""KB_CPUS in the tune app: a bad share is one line and exit 2; several local GPU workers
each get their own share of the cores."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from experiments import TASKS_DIR
from profiling.affinity import ENV


def test_the_tune_app_refuses_a_bad_share_in_one_line() -> None:
    env = {**os.environ, ENV: "not-cpus"}
    proc = subprocess.run([sys.executable, "-m", "experiments.tune", "tracking=none"],
                          capture_output=True, text=True, env=env)  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: KB_CPUS wants CPU numbers and ranges like 0-3,8; got 'not-cpus'"]


def test_local_gpu_workers_get_disjoint_core_shares(monkeypatch) -> None:
    import experiments.evaluation as evaluation
    from experiments.settings import TuneSettings
    from profiling.tasks import load_task
    from strategies.graph.realizer import GraphRealizer

    from .test_tune import _plain, compose_cfg

    monkeypatch.setattr(evaluation, "visible_gpus", lambda: ["0", "1"])
    monkeypatch.setattr(evaluation.affinity, "available", lambda: set(range(8)))
    built = []

    def fake_make_executor(name, factory, workers, device):
        built.append(factory)
        raise evaluation.ExecutorError("stop here")

    monkeypatch.setattr(evaluation, "make_executor", fake_make_executor)
    settings = TuneSettings.from_plain(_plain(compose_cfg("device=cuda")))
    task = load_task("softmax", "smoke", TASKS_DIR)
    with pytest.raises(evaluation.UserError, match="stop here"):
        evaluation.open_evaluation(settings, task, "cuda", GraphRealizer())
    factory = built[0]
    assert factory.gpus == ("0", "1") and factory.cpus == ("0-3", "4-7")
    envs = [factory(i).env for i in range(2)]
    assert envs == [{"CUDA_VISIBLE_DEVICES": "0", ENV: "0-3"},
                    {"CUDA_VISIBLE_DEVICES": "1", ENV: "4-7"}]  # fmt: skip
    # one GPU: nothing to share
    monkeypatch.setattr(evaluation, "visible_gpus", lambda: ["0"])
    built.clear()
    with pytest.raises(evaluation.UserError, match="stop here"):
        evaluation.open_evaluation(settings, task, "cuda", GraphRealizer())
    assert built[0].cpus == () and built[0](0).env == {"CUDA_VISIBLE_DEVICES": "0"}
