"""The tune app's configuration as typed, frozen records.

The Hydra config is turned into a plain dict once, at the entry point, and then
into these dataclasses; nothing below the entry point sees a DictConfig. Bad
values and unknown keys raise a one-line ValueError naming the key. Defaults live
in the records they configure (`TunerSettings`, `RewardSpec`, `EvalSettings`,
`Budget`, ...); tests/experiments/test_settings.py holds conf/ against them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bandit.budget import Budget
from bandit.hardware import HARDWARE_KEYS, HardwareSettings
from bandit.reward import RewardSpec
from bandit.tuner import TunerSettings
from profiling.evaluator import EvalSettings
from profiling.probes.ncu import NcuSettings
from profiling.probes.registry import ProbeSettings
from profiling.replay import ReplaySettings

DEVICES = ("auto", "cuda", "interpret", "replay")
EXECUTORS = ("local", "ray")
TOP_LEVEL = (
    "task", "policy", "realizer", "budget", "device", "executor", "tracking", "reward",
    "seed", "parent_slack", "resume", "progress", "replay", "probe",
)  # fmt: skip
PROGRESS = ("auto", "bar", "plain")  # auto: a bar on a terminal, plain lines otherwise
_TUNER = TunerSettings()
PROBE_KEYS = ("names", "every_candidate", "executable", "timeout_s", "warmup")


@dataclass(frozen=True)
class TaskSettings:
    name: str
    size: str | None = None  # preset or "k=v,..."; None = the file's own sizes


@dataclass(frozen=True)
class PolicySettings:
    name: str
    options: Mapping[str, Any] = field(default_factory=dict)  # checked by make_policy


@dataclass(frozen=True)
class RealizerSettings:
    name: str
    options: Mapping[str, Any] = field(default_factory=dict)  # the section less name and
    # repair_turns; checked by strategies.factory.build_realizer (unknown keys: an error)
    repair_turns: int = _TUNER.repair_turns  # read by the tuner only

    @property
    def model(self) -> str:
        return str(self.options.get("model") or self.name)


@dataclass(frozen=True)
class DeviceSettings:
    name: str = "auto"
    evaluation: EvalSettings = field(default_factory=EvalSettings)  # device: set when resolved


@dataclass(frozen=True)
class ExecutorSettings:
    name: str = "local"  # "local": worker processes here; "ray": Ray actors
    workers: int | None = None  # None: one per visible GPU (one on the interpreter / replay)
    batch: int = 1  # proposals per round, realized and evaluated in parallel


@dataclass(frozen=True)
class TrackingSettings:
    enabled: bool = True
    uri: str | None = "sqlite:///mlflow.db"
    experiment: str = "kernel-bandit"


@dataclass(frozen=True)
class TuneSettings:
    task: TaskSettings
    policy: PolicySettings
    realizer: RealizerSettings
    budget: Budget
    device: DeviceSettings
    executor: ExecutorSettings
    tracking: TrackingSettings
    reward: RewardSpec
    seed: int = _TUNER.seed
    resume: str | None = None
    parent_slack: float = _TUNER.parent_slack
    progress: str = "auto"
    replay: ReplaySettings | None = None  # device=replay only
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    hardware: HardwareSettings = field(default_factory=HardwareSettings)  # policy group keys

    def tuner(self) -> TunerSettings:
        """What the tuner reads of this config."""
        return TunerSettings(self.seed, self.realizer.repair_turns, self.reward, self.parent_slack)

    @classmethod
    def from_plain(cls, cfg: Mapping[str, Any], cwd: Path | None = None) -> TuneSettings:
        """Build from the resolved config (plain containers). `cwd` anchors relative paths.
        Unknown keys anywhere but the policy and realizer options (checked where they are
        used) are a one-line ValueError, as are bad values."""
        cwd = cwd or Path.cwd()
        _known(cfg, TOP_LEVEL, "the config")
        task = _section(cfg, "task", ("name", "size"))
        policy = _section(cfg, "policy")
        realizer = _section(cfg, "realizer")
        budget = _section(cfg, "budget", tuple(f.name for f in fields(Budget)))
        evaluation = tuple(f.name for f in fields(EvalSettings) if f.name != "device")
        device = _section(cfg, "device", ("name", "resolved", *evaluation))
        executor = _section(cfg, "executor", tuple(f.name for f in fields(ExecutorSettings)))
        tracking = _section(cfg, "tracking", tuple(f.name for f in fields(TrackingSettings)))
        reward = dict(cfg.get("reward") or {})
        _known(reward, tuple(f.name for f in fields(RewardSpec)), "reward")

        device_name = str(device.get("name", DeviceSettings.name))
        if device_name not in DEVICES:
            raise ValueError(
                f"device.name must be one of {', '.join(DEVICES)}, got {device_name!r}"
            )
        executor_name = str(executor.get("name", ExecutorSettings.name))
        if executor_name not in EXECUTORS:
            raise ValueError(
                f"executor {executor_name!r} is not available (executors: {', '.join(EXECUTORS)})"
            )
        workers = executor.get("workers")
        size = task.get("size")
        spec = RewardSpec()
        progress = str(cfg.get("progress", "auto"))
        if progress not in PROGRESS:
            raise ValueError(f"progress must be one of {', '.join(PROGRESS)}, got {progress!r}")
        hardware = _hardware({k: v for k, v in policy.items() if k in HARDWARE_KEYS})
        return cls(
            task=TaskSettings(
                str(_required(task, "task", "name")), None if size is None else str(size)
            ),
            policy=PolicySettings(
                str(_required(policy, "policy", "name")),
                {k: v for k, v in policy.items() if k != "name" and k not in HARDWARE_KEYS},
            ),
            realizer=RealizerSettings(
                str(_required(realizer, "realizer", "name")),
                {k: v for k, v in realizer.items() if k not in ("name", "repair_turns")},
                _int(realizer.get("repair_turns", _TUNER.repair_turns), "realizer.repair_turns", 0),
            ),
            budget=Budget(**{k: budget.get(k) for k in (
                "iterations", "tokens", "usd", "seconds", "stop_at_roofline")}),
            device=DeviceSettings(device_name, _evaluation(device, evaluation)),
            executor=ExecutorSettings(
                executor_name,
                None if workers is None else _int(workers, "executor.workers", 1),
                _int(executor.get("batch", ExecutorSettings.batch), "executor.batch", 1),
            ),
            tracking=TrackingSettings(
                enabled=bool(tracking.get("enabled", TrackingSettings.enabled))
                and tracking.get("uri") is not None,
                uri=resolve_uri(tracking.get("uri"), cwd),
                experiment=str(tracking.get("experiment") or TrackingSettings.experiment),
            ),
            reward=RewardSpec(
                kind=str(reward.get("kind", spec.kind)),
                clip=_float(reward.get("clip", spec.clip), "reward.clip"),
                max_speedup=_float(
                    reward.get("max_speedup", spec.max_speedup), "reward.max_speedup"
                ),
            ),
            seed=_int(cfg.get("seed", _TUNER.seed), "seed", low=0),
            resume=None if cfg.get("resume") is None else str(cfg["resume"]),
            parent_slack=_nonneg(cfg.get("parent_slack", _TUNER.parent_slack), "parent_slack"),
            progress=progress,
            replay=_replay(cfg, device_name),
            probe=_probe(dict(cfg.get("probe") or {})),
            hardware=hardware,
        )


def _replay(cfg: Mapping[str, Any], device: str) -> ReplaySettings | None:
    """The replay section (device=replay only), seeded with the run's seed."""
    if device != "replay":
        if cfg.get("replay") is not None:
            raise ValueError("the replay section needs device=replay")
        return None
    section = _section(cfg, "replay", ("landscape", "noise"))
    landscape = section.get("landscape")
    return ReplaySettings(
        landscape=None if landscape in (None, "") else str(landscape),
        noise=str(section.get("noise", ReplaySettings.noise)),
        seed=_int(cfg.get("seed", _TUNER.seed), "seed", low=0),
    )


def _probe(section: Mapping[str, Any]) -> ProbeSettings:
    """The probe group as `ProbeSettings` (unknown probe names: a one-line error)."""
    _known(section, PROBE_KEYS, "probe")
    ncu = NcuSettings()
    names = section.get("names") or ()
    if isinstance(names, str):
        names = [names]
    every = section.get("every_candidate", False)
    if not isinstance(every, bool):
        raise ValueError(f"probe.every_candidate must be true or false, got {every!r}")
    return ProbeSettings(
        names=tuple(str(n) for n in names),
        every_candidate=every,
        ncu=replace(
            ncu,
            executable=str(section.get("executable", ncu.executable)),
            timeout_s=_float(section.get("timeout_s", ncu.timeout_s), "probe.timeout_s"),
            warmup=_int(section.get("warmup", ncu.warmup), "probe.warmup", low=1),
        ),
    )


def _hardware(section: Mapping[str, Any]) -> HardwareSettings:
    """The hardware-aware keys of the policy group as `HardwareSettings`."""
    d = HardwareSettings()
    masks = section.get("masks", d.masks) or ()
    if isinstance(masks, str):
        masks = [masks]
    saturation = section.get("saturation", d.saturation)
    if not isinstance(saturation, Mapping):
        raise ValueError(f"policy.saturation must be a mapping resource: fraction, got {saturation!r}")
    headroom = section.get("headroom", d.headroom)
    if not isinstance(headroom, bool):
        raise ValueError(f"policy.headroom must be true or false, got {headroom!r}")
    return HardwareSettings(
        clusters=_int(section.get("clusters", d.clusters), "policy.clusters", low=1),
        recluster_every=_int(
            section.get("recluster_every", d.recluster_every), "policy.recluster_every", low=1
        ),
        masks=tuple(str(m) for m in masks),
        saturation={str(k): _float(v, f"policy.saturation.{k}") for k, v in saturation.items()},
        headroom=headroom,
    )


def _evaluation(device: Mapping[str, Any], keys: tuple[str, ...]) -> EvalSettings:
    """The device section as `EvalSettings`, each value checked against its default's type."""
    default = EvalSettings()
    defaults = asdict(default)
    values: dict[str, Any] = {}
    for key in keys:
        if key not in device:
            continue
        v, base, name = device[key], defaults[key], f"device.{key}"
        if isinstance(base, bool):
            if not isinstance(v, bool):
                raise ValueError(f"{name} must be true or false, got {v!r}")
        elif isinstance(base, int):
            v = _int(v, name, low=1)
        elif isinstance(base, float):
            v = _float(v, name)
        elif isinstance(base, tuple):
            v = tuple(str(x) for x in (v or ()))
        values[key] = v
    return replace(default, **values)


def _known(section: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(section) - set(keys))
    if unknown:
        raise ValueError(
            f"unknown key(s) in {where}: {', '.join(unknown)} (known: {', '.join(keys)})"
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


def _section(
    cfg: Mapping[str, Any], name: str, keys: tuple[str, ...] | None = None
) -> dict[str, Any]:
    value = cfg.get(name)
    if not isinstance(value, Mapping):
        raise ValueError(f"config group {name!r} is missing (pick one, e.g. {name}=<option>)")
    if keys is not None:
        _known(value, keys, f"{name}")
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
