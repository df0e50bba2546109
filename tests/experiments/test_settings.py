"""conf/ against the typed settings: every YAML key is a field, and the default
presets write the same values as the dataclass defaults (each default written once
in code; the YAML repeats it only so that Hydra overrides find the key)."""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path

import pytest
import yaml

from bandit.budget import Budget
from bandit.reward import RewardSpec
from bandit.tuner import TunerSettings
from experiments.settings import TOP_LEVEL, ExecutorSettings, TrackingSettings, TuneSettings
from profiling.evaluator import EvalSettings
from profiling.replay import ReplaySettings

CONF = Path(__file__).resolve().parents[2] / "conf"


def load(group: str, option: str) -> dict:
    return yaml.safe_load((CONF / group / f"{option}.yaml").read_text()) or {}


def names(cls) -> set[str]:
    return {f.name for f in fields(cls)}


def test_top_level_defaults_match_the_tuner_and_reward_records():
    cfg = yaml.safe_load((CONF / "config.yaml").read_text())
    assert set(cfg) - {"defaults", "hydra"} <= set(TOP_LEVEL)
    assert cfg["reward"] == asdict(RewardSpec())
    assert (cfg["seed"], cfg["parent_slack"]) == (TunerSettings().seed, TunerSettings().parent_slack)


@pytest.mark.parametrize("option", ["auto", "cuda", "interpret"])
def test_device_presets_are_eval_settings(option):
    section = load("device", option)
    assert set(section) - {"name"} == names(EvalSettings) - {"device"}
    if option != "interpret":  # the interpreter preset deliberately differs
        default = asdict(EvalSettings())
        for key, value in section.items():
            if key != "name":
                want = list(default[key]) if isinstance(default[key], tuple) else default[key]
                assert value == want, f"conf/device/{option}.yaml {key}"


def test_tracking_and_budget_presets_are_their_records():
    assert load("tracking", "sqlite") == asdict(TrackingSettings())
    assert set(load("tracking", "none")) == names(TrackingSettings)
    for option in ("default", "smoke"):
        assert set(load("budget", option)) == names(Budget)
    for option in ("local", "ray"):
        assert set(load("executor", option)) == names(ExecutorSettings)
        assert {k: v for k, v in load("executor", option).items() if k != "name"} == {
            "workers": ExecutorSettings.workers, "batch": ExecutorSettings.batch
        }
    replay = load("device", "replay")  # a global package: device.name and the replay section
    assert replay["device"] == {"name": "replay"}
    assert set(replay["replay"]) == names(ReplaySettings) - {"seed"}
    assert replay["replay"]["noise"] == ReplaySettings.noise


def test_realizer_presets_hold_only_known_options():
    from strategies.factory import build_realizer
    from strategies.openai_realizer import OpenAIConfig

    for kind in ("offline", "graph"):
        preset = load("realizer", kind)
        assert set(preset) == {"name", "allow_tf32"} and preset["allow_tf32"] is False
        build_realizer(kind, preset)  # every option the preset holds is one the factory takes
    openai = load("realizer", "openai")
    assert set(openai) - {"name", "repair_turns"} == names(OpenAIConfig)
    default = asdict(OpenAIConfig())
    for key, value in openai.items():
        if key in default and not (isinstance(value, str) and "${" in value):
            assert value == default[key], f"conf/realizer/openai.yaml {key}"


def test_settings_defaults_come_from_the_records():
    s = TuneSettings.from_plain(
        {"task": {"name": "softmax"}, "policy": {"name": "ucb"}, "realizer": {"name": "offline"},
         "budget": {"iterations": 1}, "device": {}, "executor": {}, "tracking": {}}
    )  # fmt: skip
    assert s.tuner() == TunerSettings()
    assert s.device.evaluation == EvalSettings()
    assert s.reward == RewardSpec()


def test_unknown_keys_are_named():
    base = {"task": {"name": "softmax"}, "policy": {"name": "ucb"}, "realizer": {"name": "x"},
            "budget": {"iterations": 1}, "device": {}, "executor": {}, "tracking": {}}  # fmt: skip
    with pytest.raises(ValueError, match=r"unknown key\(s\) in device: speed"):
        TuneSettings.from_plain({**base, "device": {"speed": 1}})
    with pytest.raises(ValueError, match=r"unknown key\(s\) in the config: sede"):
        TuneSettings.from_plain({**base, "sede": 1})


def test_replay_and_executor_settings():
    base = {"task": {"name": "softmax"}, "policy": {"name": "hucb"}, "realizer": {"name": "offline"},
            "budget": {"iterations": 1}, "device": {"name": "replay"}, "executor": {},
            "tracking": {}, "seed": 3}  # fmt: skip
    s = TuneSettings.from_plain({**base, "replay": {"landscape": "x.jsonl", "noise": "none"}})
    assert s.replay == ReplaySettings("x.jsonl", "none", 3) and s.executor == ExecutorSettings()
    with pytest.raises(ValueError, match="config group 'replay' is missing"):
        TuneSettings.from_plain(base)
    with pytest.raises(ValueError, match=r"replay\.noise"):
        TuneSettings.from_plain({**base, "replay": {"noise": "loud"}})
    with pytest.raises(ValueError, match="needs device=replay"):
        TuneSettings.from_plain({**base, "device": {}, "replay": {}})
    s = TuneSettings.from_plain({**base, "replay": {}, "executor": {"name": "ray", "workers": 2, "batch": 4}})
    assert s.executor == ExecutorSettings("ray", 2, 4)
    with pytest.raises(ValueError, match=r"executor\.batch must be >= 1"):
        TuneSettings.from_plain({**base, "replay": {}, "executor": {"batch": 0}})
