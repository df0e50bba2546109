"""One iteration's work between the policy's decision and its reward.

realize -> (reuse the measurement of an already-measured source) -> evaluate ->
up to ``repair_turns`` repair turns on compile/runtime errors. This is the part
an executor may run for several proposals at once; it touches no tuner state
(the frontier is only read, through ``lookup``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bandit.arms import Arm
from bandit.frontier import Member, source_hash
from profiling.errors import trim
from profiling.measurement import Measurement, Status
from strategies.errors import RealizerError
from strategies.types import Candidate, Realization, RealizationCost, Realizer, RealizeRequest

REPAIRABLE = frozenset({Status.COMPILE_ERROR, Status.RUNTIME_ERROR})
ERROR_CHARS = 300  # an iteration record's error text


@dataclass(frozen=True)
class Proposal:
    """The tuner's decision for one iteration: refine `parent` with `arm`'s strategy."""

    iteration: int
    arm: Arm
    parent: Member
    request: RealizeRequest
    masks: tuple[str, ...] = ()  # the arm-mask decisions this choice was made under


@dataclass(frozen=True)
class Attempt:
    """What came of a proposal."""

    measured: tuple[tuple[Candidate, Measurement], ...]  # newly evaluated, in order
    final_id: str | None  # whose measurement counts: a new candidate or an earlier member
    measurement: Measurement | None  # None: the realizer produced no source
    cost: RealizationCost = field(default_factory=RealizationCost)
    duplicate: bool = False  # the final source had been measured before
    repairs: int = 0
    error: str = ""
    fatal: str | None = None  # a RealizerError during repair: the run stops after this


def attempt(
    proposal: Proposal,
    realizer: Realizer,
    evaluate: Callable[[str], Measurement],
    lookup: Callable[[str], Member | None],
    repair_turns: int = 0,
) -> Attempt:
    """Realize, evaluate and repair one proposal. A RealizerError from the first
    realization propagates (nothing was measured); one during repair ends the
    attempt with what was measured and sets `fatal`."""
    req = proposal.request
    real = realizer.realize(req)
    cost = real.cost
    if real.source is None:
        return Attempt((), None, None, cost, error=trim(real.error or "no source", ERROR_CHARS))
    base_id = f"c{proposal.iteration}"
    measured: list[tuple[Candidate, Measurement]] = []
    seen: dict[str, tuple[str, Measurement]] = {}
    source: str = real.source
    params: Mapping[str, Any] = real.params
    step_cost = real.cost
    turn, fatal, error = 0, None, ""
    while True:
        prev = lookup(source)
        h = source_hash(source)
        if prev is not None:
            final_id, m, dup = prev.id, prev.measurement, True
        elif h in seen:
            (final_id, m), dup = seen[h], True
        else:
            final_id = base_id if turn == 0 else f"{base_id}.r{turn}"
            m = evaluate(source)
            cand = Candidate(
                final_id, source, proposal.parent.id, proposal.arm.strategy, step_cost, params
            )
            measured.append((cand, m))
            seen[h] = (final_id, m)
            dup = False
        error = m.error
        if m.status not in REPAIRABLE or turn >= repair_turns:
            break
        turn += 1
        try:
            rep: Realization = realizer.repair(req, source, m)
        except RealizerError as e:
            fatal = str(e)
            break
        cost = cost + rep.cost
        if rep.source is None:
            if rep.cost == RealizationCost():
                turn -= 1  # declined without a call (e.g. the offline realizer): no turn taken
            break
        source, step_cost = rep.source, rep.cost
        params = rep.params or params
    return Attempt(tuple(measured), final_id, m, cost, dup, turn, trim(error, ERROR_CHARS), fatal)

