"""Starting a run: the run log header of a new run, or the state read back from the
log of a run that was stopped or killed.

A resumed run evaluates nothing again: the logged kernels rejoin the frontier in
their clusters, profiled counters are remembered, measurements taken in an
unfinished iteration (and its orphan kernels) wait to be reused by source hash,
logged realizer answers wait to be replayed (tokens counted once), the (parent,
strategy) pairs of recorded iterations stay tried, and the policy gets its state back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bandit.frontier import Member, source_hash
from bandit.hardware import HardwareView
from bandit.policies.base import Policy
from bandit.records import IterationRecord
from bandit.runlog import LoggedRun
from profiling.measurement import Measurement
from profiling.tasks import Task
from strategies.types import Candidate, Realization

Admit = Callable[[Candidate, Measurement, int, int | None], Member]


@dataclass(frozen=True)
class Restored:
    measured: dict[str, Measurement]  # source hash -> measurement not used yet
    realized: dict[str, Realization]  # request key -> realizer answer not used yet
    tried: set[tuple[str, str]]  # (parent id, strategy id) of recorded iterations
    next_iteration: int


def header(
    task: Task, policy: str, realizer: str, seed: int, device: str, meta: Mapping[str, Any]
) -> dict[str, Any]:
    """The run log's first line; a resume checks task, size, policy and seed against it."""
    return {
        "task": task.name,
        "kind": task.kind,
        "size": task.size,
        "policy": policy,
        "realizer": realizer,
        "seed": seed,
        "device": device,
        "meta": dict(meta),
    }


def restore(
    logged: LoggedRun,
    records: Sequence[IterationRecord],
    admit: Admit,
    hardware: HardwareView,
    policy: Policy,
) -> Restored:
    """Put the logged run back: frontier (through `admit`), counters, policy state."""
    for lc in logged.candidates:
        admit(lc.candidate, lc.measurement, lc.iteration, lc.cluster)
    for cid, counters in logged.counters.items():  # parents profiled before
        hardware.remember(cid, counters)
    if logged.policy_state is not None:
        policy.load_state_dict(dict(logged.policy_state))
    return Restored(
        {
            **dict(logged.measured),
            **{source_hash(o.candidate.source): o.measurement for o in logged.orphans},
        },
        dict(logged.realized),
        {(r.parent_id, r.arm.strategy) for r in records},
        len(records) + 1,
    )
