"""What a `Tuner` is given besides its five plug-ins (task, evaluator, realizer,
policy, strategy catalog): its numbers (`TunerSettings`) and its optional
collaborators (`TunerParts`), each with a default that turns the feature off."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bandit.frontier import Clusterer
from bandit.hardware import HardwareView
from bandit.observer import Observer
from bandit.reward import RewardSpec
from profiling.clock import Clock


@dataclass(frozen=True)
class TunerSettings:
    seed: int = 0
    repair_turns: int = 0  # follow-up turns that feed a compile/runtime error back
    reward: RewardSpec = field(default_factory=RewardSpec)
    # a strategy used up on the best kernel moves on to kernels at most this much slower
    # than it (0.25: within 25 %), never to stragglers (see bandit.parents)
    parent_slack: float = 0.25


@dataclass(frozen=True)
class TunerParts:
    """Optional collaborators of a run.

    `run_log`: the JSONL run log (a run started on an existing one resumes from it);
    `observers`: told of the start, every iteration and the end; `clusterer` groups
    the frontier (the arms' top level; default one cluster); `hardware` profiles
    parents, masks arms whose target resource is saturated and prefers parents with
    headroom (`bandit.hardware`; default: nothing profiled or masked);
    `reference_source`: the reference as a ``ModelNew`` module (default: built from
    the task); `meta` goes into the run log header; `clock` measures the run's
    seconds (real time by default; under replay a `VirtualClock`, charged every
    evaluation's recorded ``wall_s``)."""

    run_log: str | Path | None = None
    observers: Sequence[Observer] = ()
    clusterer: Clusterer | None = None
    hardware: HardwareView | None = None
    reference_source: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    clock: Clock | None = None
