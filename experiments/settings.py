"""The tune app's configuration as typed, frozen records.

The Hydra config is turned into a plain dict once, at the entry point, and then
into these dataclasses; nothing below the entry point sees a DictConfig. Bad
values raise a one-line ValueError naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bandit.budget import Budget
from bandit.reward import reward as compute_reward

DEVICES = ("auto", "cuda", "interpret")
EXECUTORS = ("local",)


@dataclass(frozen=True)
class TaskSettings:
    name: str
    size: str | None = None  # preset or "k=v,..."; None = the file's own sizes


@dataclass(frozen=True)
class PolicySettings:
    name: str
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RealizerSettings:
    name: str
    options: Mapping[str, Any] = field(default_factory=dict)  # the whole config section
    repair_turns: int = 0

    @property
    def model(self) -> str:
        return str(self.options.get("model") or self.name)


@dataclass(frozen=True)
class DeviceSettings:
    name: str = "auto"
    evaluation: Mapping[str, Any] = field(default_factory=dict)  # EvalSettings fields


@dataclass(frozen=True)
class ExecutorSettings:
    name: str = "local"
    workers: int = 1


@dataclass(frozen=True)
class TrackingSettings:
    enabled: bool = True
    uri: str | None = "sqlite:///mlflow.db"
    experiment: str = "kernel-bandit"


@dataclass(frozen=True)
class RewardSettings:
    kind: str = "relative_improvement"
    clip: float = 1.0
    max_speedup: float = 10.0


@dataclass(frozen=True)
class TuneSettings:
    task: TaskSettings
    policy: PolicySettings
    realizer: RealizerSettings
    budget: Budget
    device: DeviceSettings
    executor: ExecutorSettings
    tracking: TrackingSettings
    reward: RewardSettings
    seed: int = 0
    resume: str | None = None
    parent_slack: float = 0.25

    @classmethod
    def from_plain(cls, cfg: Mapping[str, Any], cwd: Path | None = None) -> TuneSettings:
        """Build from the resolved config (plain containers). `cwd` anchors relative paths."""
        cwd = cwd or Path.cwd()
        task = _section(cfg, "task")
        policy = _section(cfg, "policy")
        realizer = _section(cfg, "realizer")
        budget = _section(cfg, "budget")
        device = _section(cfg, "device")
        executor = _section(cfg, "executor")
        tracking = _section(cfg, "tracking")
        reward = dict(cfg.get("reward") or {})

        device_name = str(device.get("name", "auto"))
        if device_name not in DEVICES:
            raise ValueError(
                f"device.name must be one of {', '.join(DEVICES)}, got {device_name!r}"
            )
        executor_name = str(executor.get("name", "local"))
        if executor_name not in EXECUTORS:
            raise ValueError(
                f"executor {executor_name!r} is not available (executors: {', '.join(EXECUTORS)})"
            )
        size = task.get("size")
        rewards = RewardSettings(
            kind=str(reward.get("kind", "relative_improvement")),
            clip=_float(reward.get("clip", 1.0), "reward.clip"),
            max_speedup=_float(reward.get("max_speedup", 10.0), "reward.max_speedup"),
        )
        compute_reward(
            rewards.kind, 1.0, 1.0, 1.0, True, rewards.clip, max_speedup=rewards.max_speedup
        )
        return cls(
            task=TaskSettings(
                str(_required(task, "task", "name")), None if size is None else str(size)
            ),
            policy=PolicySettings(
                str(_required(policy, "policy", "name")),
                {k: v for k, v in policy.items() if k != "name"},
            ),
            realizer=RealizerSettings(
                str(_required(realizer, "realizer", "name")),
                dict(realizer),
                _int(realizer.get("repair_turns", 0), "realizer.repair_turns", low=0),
            ),
            budget=Budget(**{k: budget.get(k) for k in ("iterations", "tokens", "usd", "seconds")}),
            device=DeviceSettings(device_name, {k: v for k, v in device.items() if k != "name"}),
            executor=ExecutorSettings(
                executor_name, _int(executor.get("workers", 1), "executor.workers", low=1)
            ),
            tracking=TrackingSettings(
                enabled=bool(tracking.get("enabled", True)) and tracking.get("uri") is not None,
                uri=resolve_uri(tracking.get("uri"), cwd),
                experiment=str(tracking.get("experiment") or "kernel-bandit"),
            ),
            reward=rewards,
            seed=_int(cfg.get("seed", 0), "seed", low=0),
            resume=None if cfg.get("resume") is None else str(cfg["resume"]),
            parent_slack=_nonneg(cfg.get("parent_slack", 0.25), "parent_slack"),
        )


def _nonneg(value: Any, name: str) -> float:
    v = _float(value, name)
    if v < 0:
        raise ValueError(f"{name} must be >= 0, got {v}")
    return v


def resolve_uri(uri: str | None, cwd: Path) -> str | None:
    """Anchor a relative SQLite path or plain folder path at `cwd` (the launch directory)."""
    if uri is None:
        return None
    uri = str(uri)
    prefix = "sqlite:///"
    if uri.startswith(prefix):
        path = uri[len(prefix) :]
        if path and not path.startswith("/") and path != ":memory:":
            return prefix + str((cwd / path).resolve())
        return uri
    if "://" not in uri and not uri.startswith("file:"):
        return str((cwd / uri).resolve())
    return uri


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists stay values."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _section(cfg: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = cfg.get(name)
    if not isinstance(value, Mapping):
        raise ValueError(f"config group {name!r} is missing (pick one, e.g. {name}=<option>)")
    return dict(value)


def _required(section: Mapping[str, Any], group: str, key: str) -> Any:
    value = section.get(key)
    if value is None or value == "":
        raise ValueError(f"{group}.{key} must be set")
    return value


def _int(value: Any, key: str, low: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            if isinstance(value, bool) or float(value) != int(value):
                raise ValueError
            value = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{key} must be a whole number, got {value!r}") from None
    if low is not None and value < low:
        raise ValueError(f"{key} must be >= {low}, got {value!r}")
    return value


def _float(value: Any, key: str) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a number, got {value!r}") from None
