"""kernel-bandit's search: policies, rewards, budgets and the tuning loop.

Names are re-exported lazily (PEP 562), so ``import bandit`` is cheap and does not
pull in every submodule: ``from bandit import Tuner, Budget, make_policy, Arm``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Arm": "bandit.arms",
    "ArmStats": "bandit.policies.base",
    "Attempt": "bandit.attempt",
    "ArmSummary": "bandit.records",
    "Budget": "bandit.budget",
    "Clusterer": "bandit.frontier",
    "Frontier": "bandit.frontier",
    "IterationRecord": "bandit.records",
    "Member": "bandit.frontier",
    "Observer": "bandit.observer",
    "ParentRule": "bandit.policies.base",
    "Policy": "bandit.policies.base",
    "Proposal": "bandit.attempt",
    "Recorder": "bandit.recorder",
    "RewardSpec": "bandit.reward",
    "RunLog": "bandit.runlog",
    "RunStart": "bandit.records",
    "SingleCluster": "bandit.frontier",
    "Spend": "bandit.budget",
    "TuneError": "bandit.stopping",
    "TuneResult": "bandit.records",
    "Tuner": "bandit.tuner",
    "TunerParts": "bandit.parts",
    "TunerSettings": "bandit.parts",
    "make_policy": "bandit.policies",
}

__all__ = [
    "Arm",
    "ArmStats",
    "ArmSummary",
    "Attempt",
    "Budget",
    "Clusterer",
    "Frontier",
    "IterationRecord",
    "Member",
    "Observer",
    "ParentRule",
    "Policy",
    "Proposal",
    "Recorder",
    "RewardSpec",
    "RunLog",
    "RunStart",
    "SingleCluster",
    "Spend",
    "TuneError",
    "TuneResult",
    "Tuner",
    "TunerParts",
    "TunerSettings",
    "make_policy",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'bandit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # pragma: no cover
    from bandit.arms import Arm
    from bandit.attempt import Attempt, Proposal
    from bandit.budget import Budget, Spend
    from bandit.frontier import Clusterer, Frontier, Member, SingleCluster
    from bandit.observer import Observer
    from bandit.parts import TunerParts, TunerSettings
    from bandit.policies import make_policy
    from bandit.policies.base import ArmStats, ParentRule, Policy
    from bandit.recorder import Recorder
    from bandit.records import ArmSummary, IterationRecord, RunStart, TuneResult
    from bandit.reward import RewardSpec
    from bandit.runlog import RunLog
    from bandit.stopping import TuneError
    from bandit.tuner import Tuner
